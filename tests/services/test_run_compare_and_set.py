"""Apply and rollback compare and set per item: never silently undo a newer change."""

import dataclasses

import pytest

from qbank.errors import ChangedSinceError, ConflictError
from qbank.services.calibration.irt import IrtParams, create_irt_run
from qbank.services.calibration.run_apply import apply_run, rollback_run
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import execute_run
from qbank.services.calibration.sh import create_run
from qbank.services.exposure.sh_p import set_sh_p
from tests.services.conftest import EXAM, TENANT
from tests.services.test_irt_calibration import responses_exam, stored  # noqa: F401
from tests.services.test_runs import PARAMS, stored_k


def _dry_sh_run(sessions, seed):
    params = dataclasses.replace(PARAMS, seed=seed)
    run_id = create_run(sessions, TENANT, EXAM, params, dry_run=True)
    assert execute_run(sessions, run_id) == "done"
    return run_id


def _after(sessions, run_id):
    return {
        (r["qid"], r["ver"]): r["after"] for r in get_run(sessions, TENANT, run_id).result["diff"]
    }


def test_rolling_back_an_older_run_is_refused_while_a_newer_one_holds(session_factory, exam):
    older = _dry_sh_run(session_factory, 1)
    apply_run(session_factory, TENANT, older)
    newer = _dry_sh_run(session_factory, 2)  # starts from the older run's k
    apply_run(session_factory, TENANT, newer)
    with pytest.raises(ChangedSinceError, match=f"run {newer}") as refused:
        rollback_run(session_factory, TENANT, older)
    assert refused.value.extra[0]["changed_by"] == f"run:{newer}"
    assert stored_k(session_factory) == pytest.approx(_after(session_factory, newer))
    detail = get_run(session_factory, TENANT, older)
    assert detail.in_effect is False
    assert [change["changed_by"] for change in detail.superseded_by] == [f"run:{newer}"]
    assert get_run(session_factory, TENANT, newer).in_effect is True
    rollback_run(session_factory, TENANT, newer)  # newest first: each finds its own values
    assert get_run(session_factory, TENANT, older).in_effect is True
    rollback_run(session_factory, TENANT, older)
    assert set(stored_k(session_factory).values()) == {1.0}


def test_a_manual_set_blocks_the_rollback_until_forced(session_factory, exam):
    run_id = _dry_sh_run(session_factory, 3)
    apply_run(session_factory, TENANT, run_id)
    qid = exam[0].question_id
    set_sh_p(session_factory, TENANT, qid, 1, 0.123)
    with pytest.raises(ChangedSinceError, match="manual exposure/set"):
        rollback_run(session_factory, TENANT, run_id)
    assert stored_k(session_factory)[(qid, 1)] == 0.123  # nothing written
    assert get_run(session_factory, TENANT, run_id).superseded_by[0]["items"] == 1
    rollback_run(session_factory, TENANT, run_id, force=True)
    assert set(stored_k(session_factory).values()) == {1.0}
    assert "rollback forced over a manual exposure/set (1 items)" in get_run(
        session_factory, TENANT, run_id).apply_note  # fmt: skip


def test_applying_a_dry_run_over_a_newer_change_is_refused(session_factory, exam):
    run_id = _dry_sh_run(session_factory, 4)
    qid = exam[1].question_id
    set_sh_p(session_factory, TENANT, qid, 1, 0.5)
    with pytest.raises(ChangedSinceError, match="manual"):
        apply_run(session_factory, TENANT, run_id)
    assert stored_k(session_factory) == {(qid, 1): 0.5}
    apply_run(session_factory, TENANT, run_id, force=True)
    assert stored_k(session_factory) == pytest.approx(_after(session_factory, run_id))


def test_irt_rollback_under_a_newer_irt_run_is_refused(session_factory, responses_exam):  # noqa: F811
    before = stored(session_factory)
    first = create_irt_run(session_factory, TENANT, EXAM, IrtParams(model="2pl",
                                                                   min_respondents=100),
                           dry_run=True)  # fmt: skip
    execute_run(session_factory, first)
    apply_run(session_factory, TENANT, first)
    second = create_irt_run(session_factory, TENANT, EXAM, IrtParams(model="1pl",
                                                                    min_respondents=100),
                            dry_run=True)  # fmt: skip
    execute_run(session_factory, second)
    apply_run(session_factory, TENANT, second)
    applied = stored(session_factory)
    with pytest.raises(ChangedSinceError, match=f"run {second}"):
        rollback_run(session_factory, TENANT, first)
    assert stored(session_factory) == applied
    assert get_run(session_factory, TENANT, first).superseded_by[0]["changed_by"] == f"run:{second}"
    rollback_run(session_factory, TENANT, second)
    rollback_run(session_factory, TENANT, first)
    assert stored(session_factory) == before


def test_a_second_writing_calibration_of_an_exam_is_refused_while_one_is_queued(
    session_factory, exam
):
    first = create_run(session_factory, TENANT, EXAM, PARAMS)
    with pytest.raises(ConflictError, match=f"run {first}"):
        create_run(session_factory, TENANT, EXAM, PARAMS)
    create_run(session_factory, TENANT, EXAM, PARAMS, dry_run=True)  # a dry run writes nothing
    execute_run(session_factory, first)
    create_run(session_factory, TENANT, EXAM, PARAMS)  # done: the next may start


def test_racing_starts_of_writing_calibrations_record_one(session_factory, exam):
    from concurrent.futures import ThreadPoolExecutor

    def attempt(_):
        try:
            return create_run(session_factory, TENANT, EXAM, PARAMS)
        except ConflictError:
            return None

    with ThreadPoolExecutor(6) as pool:
        made = list(pool.map(attempt, range(6)))
    assert sum(run is not None for run in made) == 1
