"""Observed exposure from quiz_items against tau and the plan, on both backends."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from scipy import stats

from qbank.errors import InvalidInputError
from qbank.services.access.auth import create_user
from qbank.services.access.flags import (
    assign_cohort,
    selector_for_user,
    selector_overview,
    set_selector,
)
from qbank.services.delivery.quizzes import QuizFilters, create_quiz, next_item
from qbank.services.exposure.monitor import (
    binomial_upper_tail,
    exam_exposure_counts,
    monitor_exposure,
    observed_window,
    overlap_rate,
)
from qbank.state import InMemoryStateStore
from qbank.store.models import QuizItem, QuizSession
from tests.services.conftest import EXAM, TENANT

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def add_quiz(sessions, items, served_at, exam_code=EXAM, adaptive=True, tenant_id=TENANT):
    """A quiz that served ``items`` [(qid, ver)] at ``served_at``, as delivery records it."""
    quiz_id = uuid.uuid4()
    with sessions.begin() as session:
        session.add(QuizSession(
            id=quiz_id, user_id="s1", tenant_id=tenant_id, mode="tutor", adaptive=adaptive,
            exam_code=exam_code, filters={}, plan=None, num_questions=len(items), stop_se=None,
            status="active", theta=0.0, se=1.0, created_at=served_at,
            expires_at=served_at + timedelta(days=1),
        ))  # fmt: skip
        session.flush()
        for position, (qid, ver) in enumerate(items):
            session.add(QuizItem(
                quiz_id=quiz_id, question_id=qid, version=ver, position=position,
                selector="sympson_hetter", theta_at_selection=0.0, a=1.0, b=0.0, c=0.2, k=1.0,
                served_at=served_at,
            ))  # fmt: skip
    return quiz_id


@pytest.mark.parametrize(
    ("successes", "trials", "p"), [(0, 10, 0.2), (3, 10, 0.2), (9, 10, 0.2), (40, 120, 0.2),
                                   (700, 3000, 0.2), (5, 5, 0.5), (1, 1, 0.01)]
)  # fmt: skip
def test_the_binomial_tail_matches_scipy(successes, trials, p):
    expected = stats.binom.sf(successes - 1, trials, p)
    assert binomial_upper_tail(successes, trials, p) == pytest.approx(
        expected, rel=1e-9, abs=1e-300
    )


def test_the_binomial_tail_refuses_nonsense():
    with pytest.raises(InvalidInputError):
        binomial_upper_tail(5, 3, 0.2)
    with pytest.raises(InvalidInputError):
        binomial_upper_tail(1, 3, 1.5)


def overlap_rate_is_the_mean_share_two_quizzes_have_in_common():
    quizzes = [{1, 2, 3}, {1, 2, 4}, {1, 5, 6}]
    counts = {}
    for quiz in quizzes:
        for item in quiz:
            counts[(item, 1)] = counts.get((item, 1), 0) + 1
    pairs = [(a, b) for i, a in enumerate(quizzes) for b in quizzes[i + 1 :]]
    brute = sum(len(a & b) / 3 for a, b in pairs) / len(pairs)  # 2/3, 1/3, 1/3 → 4/9
    assert overlap_rate(counts, 3, 9) == pytest.approx(brute)
    assert overlap_rate(counts, 1, 3) is None


def test_observed_rates_windows_and_alerts(session_factory, exam):
    keys = [(item.question_id, 1) for item in exam]
    hot, warm, cold = keys[0], keys[1], keys[2]
    # 40 quizzes in the last 7 days, 10 of them today: `hot` in 30 of 40 (0.75 against tau 0.2
    # is far beyond sampling error), `warm` in 10 of 40 (0.25: above tau, within error).
    for index in range(40):
        items = [keys[3 + index % 30], keys[4 + index % 30]]
        if index < 30:
            items.append(hot)
        if index % 4 == 0:
            items.append(warm)
        when = NOW - timedelta(hours=1) if index < 10 else NOW - timedelta(days=3)
        add_quiz(session_factory, items, when)
    add_quiz(session_factory, [hot], NOW - timedelta(days=9))  # too old for either window
    add_quiz(session_factory, [hot], NOW - timedelta(hours=1), adaptive=False)  # not adaptive
    add_quiz(session_factory, [hot], NOW - timedelta(hours=1), exam_code="OTHER")
    add_quiz(session_factory, [hot], NOW - timedelta(hours=1), tenant_id="t2")
    planned = {hot: 0.21, warm: 0.19, cold: 0.05}
    report = monitor_exposure(session_factory, TENANT, EXAM, tau=0.2, planned=planned, now=NOW)
    week = report.last_7_days
    assert (week.n_quizzes, report.today.n_quizzes) == (40, 10)
    rates = {(item.question_id, item.version): item for item in week.items}
    assert (rates[hot].quizzes, rates[hot].rate, rates[hot].planned_rate) == (30, 0.75, 0.21)
    assert rates[warm].rate == 0.25
    assert (rates[cold].quizzes, rates[cold].rate, rates[cold].planned_rate) == (0, 0.0, 0.05)
    assert [(item.question_id, item.version) for item in week.alerts] == [hot]
    assert rates[hot].p_value == pytest.approx(stats.binom.sf(29, 40, 0.2))
    assert rates[warm].p_value == pytest.approx(stats.binom.sf(9, 40, 0.2))
    assert not rates[warm].alert
    assert rates[cold].p_value is None
    assert week.items[0].question_id == hot[0]  # most exposed first
    assert week.selectors == {"sympson_hetter": 40}
    assert week.mean_test_len == pytest.approx((40 * 2 + 30 + 10) / 40)
    today = {(item.question_id, item.version): item for item in report.today.items}
    assert today[hot].quizzes == 10


def test_r_max_counts_are_the_monitors_over_the_whole_history(session_factory, exam):
    """The counts r_max delivery reads agree with ``observed_window`` over all time, leave out
    other exams, non-adaptive quizzes and (when asked) the quiz asking, and count a quiz once."""
    first = add_quiz(session_factory, [(1, 1), (2, 1), (2, 1)], NOW - timedelta(days=30))
    add_quiz(session_factory, [(2, 1), (3, 1)], NOW)
    add_quiz(session_factory, [(1, 1)], NOW, exam_code="OTHER")
    add_quiz(session_factory, [(1, 1)], NOW, adaptive=False)
    add_quiz(session_factory, [(1, 1), (2, 1)], NOW, tenant_id="other-tenant")  # same exam code
    counts, n_quizzes = exam_exposure_counts(session_factory, TENANT, EXAM, exclude_quiz=None)
    assert (counts, n_quizzes) == ({(1, 1): 1, (2, 1): 2, (3, 1): 1}, 2)
    window = observed_window(session_factory, TENANT, EXAM, label="all", since=NOW - timedelta(
        days=365), until=NOW + timedelta(days=1), tau=0.5)  # fmt: skip
    assert {(i.question_id, i.version): i.quizzes for i in window.items} == counts
    assert window.n_quizzes == n_quizzes
    others = exam_exposure_counts(session_factory, TENANT, EXAM, exclude_quiz=str(first))
    assert others == ({(2, 1): 1, (3, 1): 1}, 1)


def test_a_window_without_quizzes_is_empty_not_an_error(session_factory, exam):
    window = observed_window(session_factory, TENANT, EXAM, label="today", since=NOW,
                             until=NOW + timedelta(hours=1), tau=0.2)  # fmt: skip
    assert (window.n_quizzes, window.items, window.overlap, window.alerts) == (0, [], None, [])
    with pytest.raises(InvalidInputError, match="tau"):
        monitor_exposure(session_factory, TENANT, EXAM, tau=0.0)


def test_real_delivery_is_counted(session_factory, exam):
    state = InMemoryStateStore()
    served = []
    for user in ("s1", "s2"):
        quiz = create_quiz(session_factory, TENANT, user,
                           QuizFilters(num_questions=3, exam_code=EXAM), adaptive=True)  # fmt: skip
        served.append(next_item(session_factory, state, TENANT, user, quiz.quiz_id, 500))
    report = monitor_exposure(session_factory, TENANT, EXAM, tau=0.2)
    assert report.today.n_quizzes == 2
    counted = {(item.question_id, item.version): item.quizzes for item in report.today.items}
    for item in served:
        assert counted[(item.question_id, item.version)] >= 1
    assert sum(counted.values()) == 2
    assert report.today.selectors == {"vanilla": 2}


def test_selector_overview_counts_students_and_the_switch_writes_the_flag(session_factory):
    for name in ("s1", "s2", "s3"):
        create_user(session_factory, TENANT, name, "long enough secret", ("student",))
    create_user(session_factory, TENANT, "ada", "long enough secret", ("admin",))
    assign_cohort(session_factory, TENANT, "s1", "selector_strategy", "sympson_hetter")
    overview = selector_overview(session_factory, TENANT)
    assert (overview.flag_selector, overview.flag_enabled) == ("vanilla", False)
    assert overview.cohorts == {"sympson_hetter": 1}
    assert overview.students_by_selector == {"vanilla": 2, "sympson_hetter": 1}
    set_selector(session_factory, TENANT, "sympson_hetter")
    overview = selector_overview(session_factory, TENANT)
    assert overview.students_by_selector == {"vanilla": 0, "sympson_hetter": 3}
    assert selector_for_user(session_factory, TENANT, "s2") == "sympson_hetter"
    set_selector(session_factory, TENANT, "vanilla")
    assert selector_for_user(session_factory, TENANT, "s2") == "vanilla"
    with pytest.raises(InvalidInputError, match="one of"):
        set_selector(session_factory, TENANT, "random")


def test_each_item_is_tested_against_its_own_tau(session_factory, exam):
    keys = [(item.question_id, 1) for item in exam]
    hot, warm = keys[0], keys[1]
    for index in range(40):  # hot in 30 of 40 quizzes (0.75), warm in 10 of 40 (0.25)
        items = [keys[3 + index % 30], keys[4 + index % 30]]
        if index < 30:
            items.append(hot)
        if index % 4 == 0:
            items.append(warm)
        add_quiz(session_factory, items, NOW - timedelta(days=1))
    # warm's topic has tau 0.05: 10 of 40 is far beyond it; hot's has 0.9: 0.75 is within it.
    report = monitor_exposure(session_factory, TENANT, EXAM, tau=0.2, now=NOW,
                              item_tau={hot: 0.9, warm: 0.05})  # fmt: skip
    rates = {(item.question_id, item.version): item for item in report.last_7_days.items}
    assert (rates[hot].tau, rates[warm].tau, rates[keys[3]].tau) == (0.9, 0.05, 0.2)
    assert rates[hot].p_value is None
    assert not rates[hot].alert
    assert rates[warm].p_value == pytest.approx(stats.binom.sf(9, 40, 0.05))
    assert [(item.question_id, item.version) for item in report.last_7_days.alerts] == [warm]
    with pytest.raises(InvalidInputError, match="tau"):
        monitor_exposure(session_factory, TENANT, EXAM, tau=0.2, item_tau={hot: 1.5})


def test_an_applied_runs_tau_per_item_follows_its_topic(session_factory, exam):
    from qbank.cat import CalibrationParams
    from qbank.services.calibration.run_views import get_run, planned_item_tau
    from qbank.services.calibration.sh import create_run
    from tests.services.conftest import TOPICS

    params = CalibrationParams(tau=0.2, topic_tau={"Cardiology": 0.1},
                               topic_weights={"Nephrology": 1, "Neurology": 3})  # fmt: skip
    run = get_run(session_factory, TENANT, create_run(session_factory, TENANT, EXAM, params))
    by_item = planned_item_tau(session_factory, TENANT, run)
    # DESIGN: topic_tau wins; weights give tau·w/Σw (0.2·1/4, 0.2·3/4); other topics use tau.
    expected = {"Cardiology": 0.1, "Nephrology": 0.05, "Neurology": 0.15, "Oncology": 0.2}
    assert len(by_item) == len(exam)
    for index, item in enumerate(exam):
        assert by_item[(item.question_id, 1)] == pytest.approx(expected[TOPICS[index % 4]])
