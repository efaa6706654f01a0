from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import delete, insert, select

from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.services.calibration.irt import IrtParams, create_irt_run
from qbank.services.calibration.run_apply import apply_run, rollback_run
from qbank.services.calibration.run_views import diff_csv, get_run
from qbank.services.calibration.runs import execute_run
from qbank.store.models import ItemCalibration, UserResponse
from tests.services.conftest import EXAM, TENANT, build_exam

N_ITEMS, N_PERSONS, FEW = 20, 600, 40
PARAMS = IrtParams(model="2pl", min_respondents=100)


def stored(sessions):
    with sessions() as session:
        return {(row.question_id, row.version): (row.model, row.a, row.b, row.c, row.se_a,
                                                 row.se_b, row.n_respondents)
                for row in session.scalars(select(ItemCalibration))}  # fmt: skip


@pytest.fixture
def responses_exam(session_factory):
    """20 items; the last two answered by only 40 persons. Item 0 has no calibration row."""
    items = build_exam(session_factory, n_items=N_ITEMS)
    rng = np.random.default_rng(5)
    a, b = np.exp(rng.normal(0, 0.3, N_ITEMS)), rng.normal(0, 1, N_ITEMS)
    theta = rng.normal(size=(N_PERSONS, 1))
    correct = rng.random((N_PERSONS, N_ITEMS)) < 1 / (1 + np.exp(-1.7 * a * (theta - b)))
    start = datetime.now(UTC) - timedelta(days=1)
    rows = [
        {"user_id": f"u{person}", "tenant_id": TENANT, "question_id": items[item].question_id,
         "version": 1, "option_label": "A" if correct[person, item] else "B",
         "is_correct": bool(correct[person, item]), "created_at": start}
        for person in range(N_PERSONS) for item in range(N_ITEMS)
        if item < N_ITEMS - 2 or person < FEW
    ]  # fmt: skip
    # A second, later attempt is ignored: the first response counts.
    rows.append({**rows[0], "is_correct": not rows[0]["is_correct"],
                 "created_at": start + timedelta(hours=1)})  # fmt: skip
    with session_factory.begin() as session:
        session.execute(insert(UserResponse), rows)
        session.execute(delete(ItemCalibration).where(
            ItemCalibration.question_id == items[0].question_id))  # fmt: skip
    return items, a, b


def test_irt_run_writes_estimates_with_errors_in_the_step_that_ends_it(
    session_factory, responses_exam
):
    items, a, b = responses_exam
    before = stored(session_factory)
    run_id = create_irt_run(session_factory, TENANT, EXAM, PARAMS)
    progress = []
    assert execute_run(session_factory, run_id, on_progress=progress.append) == "done"
    run = get_run(session_factory, TENANT, run_id)
    result = run.result
    assert result["converged"]
    assert result["updated"] == N_ITEMS - 2
    assert result["n_persons"] == N_PERSONS
    assert result["n_responses"] == 18 * 600 + 2 * FEW
    assert [row["n"] for row in result["skipped"]] == [FEW, FEW]
    assert run.current_iter == result["cycles"] == len(run.history) == len(progress)
    logliks = [row["loglik"] for row in run.history]
    assert np.all(np.diff(logliks) >= -1e-6 * abs(logliks[0]))
    after = stored(session_factory)
    estimated = [after[(item.question_id, 1)] for item in items[:-2]]
    assert all(row[0] == "2pl" and row[3] == 0 and row[4] > 0 and row[6] == N_PERSONS
               for row in estimated)  # fmt: skip
    assert np.corrcoef([row[2] for row in estimated], b[:-2])[0, 1] > 0.95
    assert np.sqrt(np.mean((np.array([row[1] for row in estimated]) - a[:-2]) ** 2)) < 0.2
    for item in items[-2:]:  # too few respondents: kept
        assert after[(item.question_id, 1)] == before[(item.question_id, 1)]
    assert result["items"][0]["before"] is None
    assert run.applied_at is not None


def test_dry_run_changes_nothing_until_applied_and_rolls_back(session_factory, responses_exam):
    items, _, _ = responses_exam
    before = stored(session_factory)
    run_id = create_irt_run(session_factory, TENANT, EXAM, PARAMS, dry_run=True)
    execute_run(session_factory, run_id)
    assert stored(session_factory) == before
    assert apply_run(session_factory, TENANT, run_id) == N_ITEMS - 2
    applied = stored(session_factory)
    assert applied[(items[1].question_id, 1)][0] == "2pl"
    assert (items[0].question_id, 1) in applied
    assert rollback_run(session_factory, TENANT, run_id) == N_ITEMS - 2
    assert stored(session_factory) == before  # item 0 has no row again
    with pytest.raises(ConflictError, match=r"diff\.csv"):
        diff_csv(session_factory, TENANT, run_id)


def test_bad_irt_runs_are_refused_before_anything_is_written(session_factory, responses_exam):
    with pytest.raises(InvalidInputError, match="model must be one of"):
        IrtParams(model="4pl")
    with pytest.raises(InvalidInputError, match="min_respondents"):
        IrtParams(min_respondents=0)
    with pytest.raises(ConflictError, match="700 or more respondents"):
        create_irt_run(session_factory, TENANT, EXAM, IrtParams(min_respondents=700))
    with pytest.raises(NotFoundError, match="no live published items"):
        create_irt_run(session_factory, TENANT, "NO-SUCH-EXAM", PARAMS)
    with pytest.raises(InvalidInputError, match="unknown irt parameter"):
        IrtParams.from_json({"model": "2pl", "tau": 0.2})
