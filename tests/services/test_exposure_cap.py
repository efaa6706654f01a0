"""The daily exposure cap is hard: racing servers never pass it, a restarted store keeps it."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from qbank.errors import NotFoundError
from qbank.services.delivery.exposure_caps import reserve_exposure, served_counts, utc_day
from qbank.services.delivery.quizzes import QuizFilters, create_quiz, next_item
from qbank.state import InMemoryStateStore
from qbank.store.models import QuizItem
from tests.services.conftest import EXAM, TENANT, build_exam


@pytest.fixture
def make_store(database_url):
    """A fresh store of the backend's kind: in process, or Redis under a new key prefix."""
    made = []

    def make():
        if database_url.startswith("sqlite"):
            return InMemoryStateStore()
        from qbank.state import RedisStateStore
        from tests.backends import redis_url_or_skip

        store = RedisStateStore.from_url(
            redis_url_or_skip(), prefix=f"qbank-test-{uuid.uuid4().hex}"
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.clear()
        store.close()


def _serve_once(sessions, state, user, cap):
    quiz = create_quiz(sessions, TENANT, user, QuizFilters(num_questions=1, exam_code=EXAM),
                       adaptive=True)  # fmt: skip
    try:
        return next_item(sessions, state, TENANT, user, quiz.quiz_id, cap).question_id
    except NotFoundError:  # every item is at the cap: the quiz is over
        return None


def test_racing_quizzes_never_pass_the_cap(session_factory, make_store):
    build_exam(session_factory, n_items=2)
    state, cap = make_store(), 3
    with ThreadPoolExecutor(8) as pool:
        served = list(pool.map(lambda i: _serve_once(session_factory, state, f"s{i}", cap),
                               range(12)))  # fmt: skip
    counts = served_counts(session_factory, TENANT, utc_day())
    assert sorted(counts.values()) == [cap, cap]
    assert served.count(None) == 12 - 2 * cap


def test_a_restarted_store_rebuilds_todays_counts_from_quiz_items(session_factory, make_store):
    exam = build_exam(session_factory, n_items=1)
    qid, cap = exam[0].question_id, 3
    first = make_store()
    assert _serve_once(session_factory, first, "s1", cap) == qid
    assert _serve_once(session_factory, first, "s2", cap) == qid  # served, never answered
    restarted = make_store()  # e.g. Redis came back empty
    assert restarted.exposure_counts(TENANT, [(qid, 1)], utc_day()) == [0]
    assert reserve_exposure(session_factory, restarted, TENANT, qid, 1, cap)
    assert restarted.exposure_counts(TENANT, [(qid, 1)], utc_day()) == [3]
    assert not reserve_exposure(session_factory, restarted, TENANT, qid, 1, cap)
    assert _serve_once(session_factory, restarted, "s3", cap) is None
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(QuizItem)) == 2
