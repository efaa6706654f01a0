"""Per-student quiz limits: active quizzes at a time, quizzes per UTC day; racing creates too."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from qbank.errors import RateLimitedError
from qbank.services.delivery.answers import finish_quiz
from qbank.services.delivery.quizzes import QuizFilters, create_quiz
from qbank.services.delivery.student_limits import StudentLimits
from qbank.state import InMemoryStateStore
from tests.services.conftest import EXAM, TENANT

FILTERS = QuizFilters(num_questions=2, exam_code=EXAM)


def _start(sessions, user, limits):
    return create_quiz(sessions, TENANT, user, FILTERS, adaptive=True, limits=limits)


def test_active_quizzes_are_limited_until_one_is_finished(session_factory, exam):
    limits = StudentLimits(max_active_quizzes=2, max_quizzes_per_day=10)
    first = _start(session_factory, "s1", limits)
    _start(session_factory, "s1", limits)
    with pytest.raises(RateLimitedError, match="2 active quizzes") as refused:
        _start(session_factory, "s1", limits)
    assert refused.value.retry_after_s == 60
    _start(session_factory, "s2", limits)  # another student is not affected
    finish_quiz(session_factory, InMemoryStateStore(), TENANT, "s1", first.quiz_id)
    _start(session_factory, "s1", limits)


def test_quizzes_per_day_are_limited(session_factory, exam):
    limits = StudentLimits(max_active_quizzes=10, max_quizzes_per_day=3)
    state = InMemoryStateStore()
    for _ in range(3):
        quiz = _start(session_factory, "s1", limits)
        finish_quiz(session_factory, state, TENANT, "s1", quiz.quiz_id)
    with pytest.raises(RateLimitedError, match="3 quizzes today") as refused:
        _start(session_factory, "s1", limits)
    assert 0 < refused.value.retry_after_s <= 24 * 3600


def test_racing_creates_cannot_slip_under_the_limit(session_factory, exam):
    limits = StudentLimits(max_active_quizzes=3, max_quizzes_per_day=100)

    def attempt(_):
        try:
            return _start(session_factory, "s1", limits)
        except RateLimitedError:
            return None

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(attempt, range(12)))
    assert sum(quiz is not None for quiz in made) == 3
