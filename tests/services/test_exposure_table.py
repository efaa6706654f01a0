from datetime import UTC, datetime, timedelta

import pytest

from qbank.errors import InvalidInputError
from qbank.services.delivery.exposure_caps import reserve_exposure
from qbank.services.exposure.sh_p import set_sh_p
from qbank.services.exposure.table import list_exams, list_exposure_rows, list_topics
from qbank.state import InMemoryStateStore
from qbank.store.models import UserResponse
from tests.services.conftest import EXAM, TENANT, TOPICS, build_exam


def add_responses(sessions, question_id, days_ago):
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for days in days_ago:
            created_at = now - timedelta(days=days)
            session.add(UserResponse(user_id="u1", tenant_id=TENANT, question_id=question_id,
                                     version=1, option_label="A", is_correct=True,
                                     time_taken_ms=900, created_at=created_at))  # fmt: skip


def test_rows_show_parameters_attempts_and_todays_exposures(session_factory, exam):
    state = InMemoryStateStore()
    target = exam[5].question_id
    add_responses(session_factory, target, (0, 2, 6, 9))
    for _ in range(3):
        reserve_exposure(session_factory, state, TENANT, target, 1, 500)
    set_sh_p(session_factory, TENANT, target, 1, 0.4)
    found = list_exposure_rows(session_factory, state, TENANT, exam_code=EXAM, page_size=5)
    assert (found.total, found.n_pages, len(found.rows)) == (40, 8, 5)
    top = found.rows[0]
    assert (top.question_id, top.version, top.attempts_7d, top.exposures_today) == (target, 1, 3, 3)
    assert top.sh_p == pytest.approx(0.4)
    assert top.topic == TOPICS[5 % 4]
    assert "patient number 5" in top.question
    assert 0.4 <= top.a <= 2.5
    assert 0.1 <= top.c <= 0.25
    others = found.rows[1:]
    assert all(row.sh_p == 1.0 and row.attempts_7d == 0 and row.exposures_today == 0
               for row in others)  # fmt: skip


def test_filters_sorting_and_pages(session_factory, exam):
    state = InMemoryStateStore()
    by_topic = list_exposure_rows(session_factory, state, TENANT, topic="Neurology", page_size=50)
    assert by_topic.total == 10
    assert {row.topic for row in by_topic.rows} == {"Neurology"}
    by_text = list_exposure_rows(session_factory, state, TENANT, text="PATIENT NUMBER 17 ")
    assert [row.question_id for row in by_text.rows] == [exam[17].question_id]
    by_b = list_exposure_rows(session_factory, state, TENANT, sort="b", descending=False,
                              page_size=200).rows  # fmt: skip
    assert [row.b for row in by_b] == sorted(row.b for row in by_b)
    page_2 = list_exposure_rows(session_factory, state, TENANT, sort="question_id",
                                descending=False, page=2, page_size=15).rows  # fmt: skip
    assert [row.question_id for row in page_2] == [item.question_id for item in exam[15:30]]
    nothing = list_exposure_rows(session_factory, state, TENANT, text="no such words")
    assert (nothing.total, nothing.rows, nothing.n_pages) == (0, [], 1)
    assert list_exposure_rows(session_factory, state, "other", exam_code=EXAM).total == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"page": 0}, "page"), ({"page_size": 500}, "page_size"), ({"sort": "stem"}, "sort")],
)
def test_bad_paging_or_sort_is_refused(session_factory, fields, message):
    with pytest.raises(InvalidInputError, match=message):
        list_exposure_rows(session_factory, InMemoryStateStore(), TENANT, **fields)


def test_exams_and_topics_for_the_filters(session_factory, exam):
    build_exam(session_factory, n_items=4, exam_code="EXAM-2")
    assert list_exams(session_factory, TENANT) == [EXAM, "EXAM-2"]
    assert list_exams(session_factory, "other") == []
    assert list_topics(session_factory, TENANT, EXAM) == sorted(TOPICS)
