"""Conditional S–H on an exam: k per θ stratum stored, applied, rolled back and delivered."""

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select, text

from qbank.cat import CalibrationParams
from qbank.cat.calibration.params import DEFAULT_STRATA
from qbank.errors import ChangedSinceError, InvalidInputError
from qbank.services.access.flags import set_feature_flag
from qbank.services.calibration.run_apply import apply_run, rollback_run
from qbank.services.calibration.run_views import diff_csv, get_run
from qbank.services.calibration.runs import execute_run
from qbank.services.calibration.sh import create_run
from qbank.services.delivery.item_pool import DeliveryPool, load_exam_pool
from qbank.services.delivery.quizzes import QuizFilters, create_quiz
from qbank.services.exposure.conditional import conditional_exposure
from qbank.services.exposure.sh_p import ExposureControl, write_exposure_control, write_sh_p
from qbank.state import InMemoryStateStore
from qbank.store.db import init_schema, make_engine
from qbank.store.models import ItemCalibration, ItemExposureControl, QuizItem, QuizSession
from tests.services.conftest import EXAM, TENANT
from tests.services.test_quizzes import take
from tests.services.test_set_aside_delivery import take_quizzes

STRATA = [-0.5, 0.5]  # three strata; θ = 0 is in the middle one
PARAMS = CalibrationParams(
    n=300, test_len=5, iters=3, tau=0.15, update_rule="sympson-hetter", conditional=True,
    strata=STRATA,
)  # fmt: skip


def stored_rows(sessions):
    with sessions() as session:
        return {
            row.question_id: (row.sh_p, row.update_rule, row.strata, row.sh_p_by_stratum)
            for row in session.scalars(select(ItemExposureControl))
        }


def run(sessions, params=PARAMS, dry_run=False):
    run_id = create_run(sessions, TENANT, EXAM, params, dry_run=dry_run)
    assert execute_run(sessions, run_id) == "done"
    return run_id


def test_a_conditional_run_stores_one_k_per_stratum_and_rolls_back_exactly(session_factory, exam):
    with session_factory.begin() as session:  # what the items held: the 1985 rule's one k
        write_sh_p(session, [(item.question_id, 1, 0.7) for item in exam], "test", "sympson-hetter")
    before = stored_rows(session_factory)
    run_id = run(session_factory)
    result = get_run(session_factory, TENANT, run_id).result
    assert result["conditional"]
    assert result["strata"] == STRATA
    after = stored_rows(session_factory)
    for row in result["diff"]:
        sh_p, rule, strata, by_stratum = after[row["qid"]]
        assert strata == STRATA
        assert rule == "sympson-hetter"
        assert by_stratum == pytest.approx(row["after_by_stratum"], abs=1e-6)
        assert len(by_stratum) == 3
        assert sh_p == pytest.approx(by_stratum[1], abs=1e-6)  # the stratum holding θ = 0
        assert row["start_by_stratum"] == [0.7, 0.7, 0.7]  # one k started every stratum
    changed = [row for row in result["diff"] if row["delta"] != 0]
    assert changed
    assert result["updated"] == len(changed)
    table = np.asarray(result["exposure_by_stratum_after"])  # what the heatmap shows
    assert table.shape == (3, len(exam))
    assert table.max(axis=1) == pytest.approx(result["metrics"]["conditional_max_exp"], abs=1e-4)
    # The k differ between strata: a pool's items are not equally exposed at every θ.
    assert any(len(set(row["after_by_stratum"])) > 1 for row in result["diff"])

    rollback_run(session_factory, TENANT, run_id)
    restored = stored_rows(session_factory)
    assert restored.keys() == before.keys()
    for qid, (sh_p, rule, strata, by_stratum) in before.items():
        assert restored[qid][0] == pytest.approx(sh_p, abs=1e-6)
        assert restored[qid][1:] == (rule, strata, by_stratum) == ("sympson-hetter", None, None)


def test_the_next_conditional_run_starts_from_the_stored_k_per_stratum(session_factory, exam):
    first = get_run(session_factory, TENANT, run(session_factory)).result
    second = get_run(session_factory, TENANT, run(session_factory)).result
    first_after = {row["qid"]: row["after_by_stratum"] for row in first["diff"]}
    for row in second["diff"]:
        assert row["start_by_stratum"] == pytest.approx(first_after[row["qid"]], abs=1e-6)
        assert row["strata_before"] == STRATA
    # Other cut points cannot reuse them: every stratum starts from the one k (sh_p).
    other = dataclasses.replace(PARAMS, strata=[0.0], iters=1)
    third = get_run(session_factory, TENANT, run(session_factory, other)).result
    stored = {row["qid"]: row["before"] for row in third["diff"]}
    for row in third["diff"]:
        assert row["start_by_stratum"] == [stored[row["qid"]]] * 2


def test_rolling_back_a_run_restores_the_rule_and_strata_an_older_run_wrote(session_factory, exam):
    older = run(session_factory)
    older_rows = stored_rows(session_factory)
    seed_rule = run(session_factory, CalibrationParams(n=300, test_len=5, iters=1, tau=0.15))
    assert {rule for _sh_p, rule, _s, _k in stored_rows(session_factory).values()} == {None}
    rollback_run(session_factory, TENANT, seed_rule)
    restored = stored_rows(session_factory)
    for qid, (sh_p, rule, strata, by_stratum) in older_rows.items():
        assert restored[qid][1:3] == (rule, strata) == ("sympson-hetter", STRATA)
        assert restored[qid][3] == pytest.approx(by_stratum, abs=1e-6)
        assert restored[qid][0] == pytest.approx(sh_p, abs=1e-6)
    assert get_run(session_factory, TENANT, older).in_effect


def test_a_changed_k_per_stratum_blocks_the_rollback_until_forced(session_factory, exam):
    run_id = run(session_factory)
    qid = exam[0].question_id
    sh_p, rule, strata, by_stratum = stored_rows(session_factory)[qid]
    with session_factory.begin() as session:  # same sh_p, another k in the lowest stratum
        write_exposure_control(session, [ExposureControl(qid, 1, sh_p, rule, tuple(strata),
                                                  (0.01, *by_stratum[1:]))], "manual")  # fmt: skip
    assert not get_run(session_factory, TENANT, run_id).in_effect
    with pytest.raises(ChangedSinceError, match="manual exposure/set"):
        rollback_run(session_factory, TENANT, run_id)
    assert stored_rows(session_factory)[qid][3][0] == pytest.approx(0.01)
    rollback_run(session_factory, TENANT, run_id, force=True)
    assert stored_rows(session_factory)[qid][2:] == (None, None)


def test_a_dry_conditional_run_applies_later(session_factory, exam):
    run_id = run(session_factory, dry_run=True)
    assert all(strata is None for _p, _r, strata, _k in stored_rows(session_factory).values())
    assert apply_run(session_factory, TENANT, run_id) == len(exam)
    rows = stored_rows(session_factory)
    assert all(strata == STRATA for _p, _r, strata, _k in rows.values())


def test_the_diff_csv_of_a_conditional_run_has_a_row_per_item_and_stratum(session_factory, exam):
    run_id = run(session_factory, dry_run=True)
    lines = diff_csv(session_factory, TENANT, run_id).splitlines()
    assert lines[0] == "qid,ver,stratum,theta_from,theta_to,sh_p_before,sh_p_after,delta"
    assert len(lines) == 1 + 3 * len(exam)
    first = lines[1].split(",")
    assert first[2:5] == ["0", "-inf", "-0.5"]
    assert lines[3].split(",")[2:5] == ["2", "0.5", "inf"]


# ---- delivery --------------------------------------------------------------------------------


def _conditional_k(sessions, exam, best, best_k):
    """Cut point 0; every item k = 1 in both strata but ``best``, which gets ``best_k``."""
    rows = [
        ExposureControl(item.question_id, 1, 1.0, "sympson-hetter", (0.0,), (1.0, 1.0))
        if item is not best
        else ExposureControl(item.question_id, 1, best_k[1], "sympson-hetter", (0.0,), best_k)
        for item in exam
    ]
    with sessions.begin() as session:
        write_exposure_control(session, rows, "test")
        # The best item at θ = 0 by far: a = 2.5, b = 0, c = 0.
        calibration = session.get(ItemCalibration, (best.question_id, 1))
        calibration.a, calibration.b, calibration.c = 2.5, 0.0, 0.0
        calibration.updated_at = datetime.now(UTC)


def served(sessions):
    with sessions() as session:
        return session.scalars(select(QuizItem).order_by(QuizItem.quiz_id, QuizItem.position)).all()


@pytest.mark.parametrize("best_k", [(1.0, 0.0), (0.0, 1.0)])
def test_delivery_draws_the_lottery_with_the_k_of_the_current_theta_stratum(
    session_factory, exam, best_k
):
    set_feature_flag(session_factory, TENANT, "selector_strategy", True, "sympson_hetter")
    best = exam[0]
    _conditional_k(session_factory, exam, best, best_k)
    state = InMemoryStateStore()
    take_quizzes(session_factory, state, 6, length=6)
    rows = served(session_factory)
    assert rows
    for row in rows:  # the record names the stratum of θ̂ at selection and the k it drew with
        stratum = 0 if row.theta_at_selection < 0 else 1
        assert row.stratum == stratum
        assert row.k == (best_k[stratum] if row.question_id == best.question_id else 1.0)
    first_items = [row.question_id for row in rows if row.position == 1]
    if best_k[1] == 1.0:  # k = 1 where every quiz starts (θ̂ = 0): the best item comes first
        assert first_items == [best.question_id] * 6
    else:  # k = 0 there: never at θ̂ ≥ 0, and so never first
        assert best.question_id not in first_items
        assert all(
            row.theta_at_selection < 0 for row in rows if row.question_id == best.question_id
        )


def test_the_delivery_pool_takes_each_items_k_at_theta(session_factory, exam):
    best = exam[0]
    _conditional_k(session_factory, exam, best, (0.25, 0.75))
    pool = DeliveryPool.of(load_exam_pool(session_factory, TENANT, EXAM))
    index = pool.index[(best.question_id, 1)]
    for theta, stratum, k in [(-2.0, 0, 0.25), (-1e-3, 0, 0.25), (0.0, 1, 0.75), (3.0, 1, 0.75)]:
        prepared, k_used, strata = pool.at_theta(theta)
        assert strata[index] == stratum
        assert k_used[index] == pytest.approx(k)
        assert float(prepared.k[index]) == pytest.approx(k)
        assert np.all(strata == stratum)


def test_vanilla_delivery_records_no_stratum(session_factory, exam):
    _conditional_k(session_factory, exam, exam[0], (1.0, 0.0))
    take_quizzes(session_factory, InMemoryStateStore(), 2, length=4)
    assert all(row.stratum is None and row.selector == "vanilla" for row in served(session_factory))


def test_a_database_from_before_the_strata_keeps_its_k(tmp_path):
    """The migration: init_schema adds the strata columns to an older database, k kept."""
    path = tmp_path / "old.db"
    engine = make_engine(f"sqlite:///{path}")
    init_schema(engine)
    engine.dispose()
    old = sqlite3.connect(path)  # today's schema without the strata, with a k in it
    old.execute("ALTER TABLE item_exposure_control DROP COLUMN strata")
    old.execute("ALTER TABLE item_exposure_control DROP COLUMN sh_p_by_stratum")
    old.execute(
        "INSERT INTO item_exposure_control (question_id, version, sh_p, updated_at) "
        "VALUES (7, 1, 0.35, '2026-01-01 00:00:00')"
    )
    old.commit()
    old.close()
    engine = make_engine(f"sqlite:///{path}")
    init_schema(engine)
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT sh_p, strata, sh_p_by_stratum FROM item_exposure_control WHERE question_id = 7"
        )).one()  # fmt: skip
    assert tuple(row) == (0.35, None, None)
    engine.dispose()


# ---- exposure conditional on the final θ̂ -----------------------------------------------------


def _brute_force(sessions, cuts):
    """Per stratum of the final θ̂: finished quizzes and, per item, the quizzes that gave it."""
    with sessions() as session:
        quizzes = {
            quiz.id: int(np.searchsorted(cuts, quiz.theta, side="right"))
            for quiz in session.scalars(select(QuizSession))
            if quiz.status == "finished"
        }
        items = session.scalars(select(QuizItem)).all()
    per_stratum = np.bincount(list(quizzes.values()), minlength=len(cuts) + 1)
    given: dict[tuple[int, int, int], set] = {}
    for row in items:
        if row.quiz_id in quizzes:
            key = (quizzes[row.quiz_id], row.question_id, row.version)
            given.setdefault(key, set()).add(row.quiz_id)
    return per_stratum, {key: len(ids) for key, ids in given.items()}


def test_delivery_measures_exposure_by_the_stratum_of_the_final_theta(session_factory, exam):
    set_feature_flag(session_factory, TENANT, "selector_strategy", True, "sympson_hetter")
    _conditional_k(session_factory, exam, exam[0], (0.5, 0.5))
    state = InMemoryStateStore()
    take_quizzes(session_factory, state, 8, length=5)  # half always right, half always wrong
    filters = QuizFilters(num_questions=5, exam_code=EXAM)
    unfinished = create_quiz(session_factory, TENANT, "late", filters, adaptive=True)
    take(session_factory, state, unfinished.quiz_id, True, user="late")  # not finished: no count

    measured = conditional_exposure(session_factory, TENANT, EXAM, top=1000)
    assert measured.strata == [0.0]  # the exam's conditional k were cut there
    assert measured.strata_source == "exam"
    per_stratum, given = _brute_force(session_factory, [0.0])
    assert measured.quizzes == 8
    assert [s.quizzes for s in measured.by_stratum] == per_stratum.tolist()
    assert per_stratum.tolist() == [4, 4]  # always wrong ends below 0, always right above
    for stratum in measured.by_stratum:
        expected = {(qid, ver): n for (s, qid, ver), n in given.items() if s == stratum.stratum}
        assert {(i.question_id, i.version): i.quizzes for i in stratum.items} == expected
        for item in stratum.items:
            assert item.rate == pytest.approx(item.quizzes / stratum.quizzes)
        assert stratum.max_exp == max(i.rate for i in stratum.items)
        assert [i.quizzes for i in stratum.items] == sorted((i.quizzes for i in stratum.items),
                                                            reverse=True)  # fmt: skip

    five = conditional_exposure(session_factory, TENANT, EXAM, strata=[-1, -0.5, 0, 0.5])
    assert five.strata_source == "given"
    assert len(five.by_stratum) == 5
    assert sum(s.quizzes for s in five.by_stratum) == 8
    assert five.by_stratum[0].theta_from == -np.inf
    assert five.by_stratum[4].theta_to == np.inf
    later = conditional_exposure(session_factory, TENANT, EXAM, days=7,
                                 now=datetime.now(UTC) + timedelta(days=8))  # fmt: skip
    assert later.quizzes == 0
    assert later.conditional_max_exp == [0.0, 0.0]
    assert conditional_exposure(session_factory, "other", EXAM).quizzes == 0  # tenant scoped


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"strata": [1, 0]}, "increase"), ({"strata": []}, "at least one"),
     ({"strata": ["x"]}, "numbers"), ({"days": 0}, "days"), ({"top": 0}, "top")],
)  # fmt: skip
def test_conditional_exposure_refuses_bad_input(session_factory, kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        conditional_exposure(session_factory, TENANT, EXAM, **kwargs)


def test_without_conditional_k_the_default_strata_apply(session_factory, exam):
    measured = conditional_exposure(session_factory, TENANT, EXAM)
    assert measured.strata_source == "default"
    assert measured.strata == list(DEFAULT_STRATA)
