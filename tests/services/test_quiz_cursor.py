"""The quiz cursor is a write-through cache: losing it or finding it stale never loses an answer."""

import copy
import uuid

import pytest
from sqlalchemy import event, func, select

from qbank.errors import ConflictError, NotFoundError, RequestMismatchError
from qbank.services.delivery.answers import answer_item, finish_quiz, get_quiz
from qbank.services.delivery.quizzes import QuizFilters, create_quiz
from qbank.services.delivery.quizzes import next_item as serve
from qbank.state import InMemoryStateStore
from qbank.store.models import QuizItem, UserResponse
from tests.services.conftest import EXAM, TENANT
from tests.services.test_quizzes import correct_label

CAP = 500


def start(sessions, num_questions=10):
    filters = QuizFilters(num_questions=num_questions, exam_code=EXAM)
    return create_quiz(sessions, TENANT, "s1", filters, adaptive=True).quiz_id


def step(sessions, state, quiz_id, **kwargs):
    item = serve(sessions, state, TENANT, "s1", quiz_id, CAP)
    label = correct_label(sessions, item.question_id, item.version)
    return item, answer_item(sessions, state, TENANT, "s1", quiz_id, item.question_id, label,
                             **kwargs)  # fmt: skip


def count_rows(sessions, model, quiz_id):
    with sessions() as session:
        return session.scalar(
            select(func.count()).select_from(model).where(model.quiz_id == uuid.UUID(quiz_id))
        )


def test_a_quiz_goes_on_after_the_state_store_is_lost(session_factory, exam):
    quiz_id = start(session_factory)
    first_store = InMemoryStateStore()
    for _ in range(3):
        step(session_factory, first_store, quiz_id)
    theta = get_quiz(session_factory, first_store, TENANT, "s1", quiz_id)["theta"]
    second_store = InMemoryStateStore()  # e.g. Redis restarted empty
    summary = get_quiz(session_factory, second_store, TENANT, "s1", quiz_id)
    assert (summary["answered"], summary["theta"]) == (3, pytest.approx(theta))
    item, _ = step(session_factory, second_store, quiz_id)
    assert item.position == 4
    assert get_quiz(session_factory, second_store, TENANT, "s1", quiz_id)["answered"] == 4


def test_a_stale_cursor_never_grades_twice_and_keeps_idempotency(session_factory, exam):
    quiz_id = start(session_factory)
    state = InMemoryStateStore()
    item = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
    before_answer = copy.deepcopy(state.get_quiz_state(TENANT, quiz_id))
    first = answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "A",
                        idempotency_key="retry-1")  # fmt: skip
    # The cursor write of that answer was lost: the store still says "served, not answered".
    state.put_quiz_state(TENANT, quiz_id, before_answer, 3600)
    retry = answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "a ",
                        idempotency_key="retry-1")  # fmt: skip
    assert retry == first
    state.put_quiz_state(TENANT, quiz_id, before_answer, 3600)
    with pytest.raises(RequestMismatchError, match="option A"):
        answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "B",
                    idempotency_key="retry-1")  # fmt: skip
    state.put_quiz_state(TENANT, quiz_id, before_answer, 3600)
    with pytest.raises(ConflictError, match="already answered"):
        answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "A")
    assert count_rows(session_factory, UserResponse, quiz_id) == 1


def test_a_stale_cursor_cannot_serve_into_a_finished_quiz(session_factory, exam):
    quiz_id = start(session_factory)
    state, other_process = InMemoryStateStore(), InMemoryStateStore()
    step(session_factory, state, quiz_id)
    finish_quiz(session_factory, other_process, TENANT, "s1", quiz_id)
    with pytest.raises(NotFoundError, match="finished"):
        serve(session_factory, state, TENANT, "s1", quiz_id, CAP)  # its cursor still says active
    assert count_rows(session_factory, QuizItem, quiz_id) == 1


def test_a_stale_cursor_cannot_answer_into_a_finished_quiz(session_factory, exam):
    quiz_id = start(session_factory)
    state, other_process = InMemoryStateStore(), InMemoryStateStore()
    item = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
    finish_quiz(session_factory, other_process, TENANT, "s1", quiz_id)
    with pytest.raises(ConflictError, match="finished"):
        answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "A")
    assert count_rows(session_factory, UserResponse, quiz_id) == 0


def test_a_stale_cursor_serves_what_the_database_served(session_factory, exam):
    quiz_id = start(session_factory)
    state = InMemoryStateStore()
    step(session_factory, state, quiz_id)
    stale = copy.deepcopy(state.get_quiz_state(TENANT, quiz_id))
    served = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
    state.put_quiz_state(TENANT, quiz_id, stale, 3600)  # lost: "position 2 not served yet"
    again = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
    assert (again.question_id, again.position) == (served.question_id, 2)
    assert count_rows(session_factory, QuizItem, quiz_id) == 2


def test_a_warm_step_reads_nothing_but_writes_its_rows(session_factory, engine, exam):
    """Per step: next locks the quiz and inserts the item; answer updates θ̂ and inserts."""
    quiz_id = start(session_factory)
    state = InMemoryStateStore()
    step(session_factory, state, quiz_id)  # warms the pool and the item cache
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        verb = statement.split()[0].upper()
        if verb not in ("BEGIN", "PRAGMA", "SAVEPOINT", "RELEASE"):
            statements.append(verb)

    event.listen(engine, "before_cursor_execute", note)
    try:
        item = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
        next_statements = sorted(statements)
        statements.clear()
        answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "A")
        answer_statements = sorted(statements)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    writes = [verb for verb in next_statements if verb != "SELECT"]
    assert writes == ["INSERT", "UPDATE"]
    # Reads: at most the pool's change stamp (once a second) and the new item's content
    # (version + options, the first time this process shows it).
    assert next_statements.count("SELECT") <= 3
    assert answer_statements == ["INSERT", "UPDATE"]


def test_an_answer_racing_a_finish_is_in_the_summary(session_factory, exam, monkeypatch):
    """An answer that commits while finish is under way shows in every later summary."""
    from qbank.services.delivery import answers

    quiz_id = start(session_factory)
    state = InMemoryStateStore()
    item = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
    real_end = answers.end_quiz

    def end_with_an_answer_in_between(sessions, state_store, cursor, status):
        # finish has loaded its cursor; another worker's answer commits and saves now
        label = correct_label(session_factory, item.question_id, item.version)
        answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, label)
        return real_end(sessions, state_store, cursor, status)

    monkeypatch.setattr(answers, "end_quiz", end_with_an_answer_in_between)
    summary = finish_quiz(session_factory, state, TENANT, "s1", quiz_id)
    monkeypatch.setattr(answers, "end_quiz", real_end)
    later = get_quiz(session_factory, state, TENANT, "s1", quiz_id)
    assert count_rows(session_factory, UserResponse, quiz_id) == 1
    assert (summary["status"], summary["answered"], summary["score"]) == ("finished", 1, 1)
    assert (later["status"], later["answered"]) == ("finished", 1)


def test_a_slow_older_cursor_write_does_not_overwrite_a_newer_one(session_factory, exam):
    quiz_id = start(session_factory)
    state = InMemoryStateStore()
    step(session_factory, state, quiz_id)
    older = copy.deepcopy(state.get_quiz_state(TENANT, quiz_id))
    step(session_factory, state, quiz_id)
    from qbank.services.delivery.quiz_cursor import QuizCursor, save_cursor

    save_cursor(state, QuizCursor.from_json(older))  # e.g. a slow request saving late
    assert get_quiz(session_factory, state, TENANT, "s1", quiz_id)["answered"] == 2


def test_an_idempotent_retry_sends_no_statement(session_factory, engine, exam):
    """The key is kept in the cached cursor: a retry is answered from it, without the database."""
    quiz_id = start(session_factory)
    state = InMemoryStateStore()
    item = serve(session_factory, state, TENANT, "s1", quiz_id, CAP)
    first = answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "A",
                        idempotency_key="k-1")  # fmt: skip
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        retry = answer_item(session_factory, state, TENANT, "s1", quiz_id, item.question_id, "A",
                            idempotency_key="k-1")  # fmt: skip
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert retry == first
    assert statements == []


def test_a_key_reused_in_another_quiz_is_refused(session_factory, exam):
    state = InMemoryStateStore()
    first_quiz, second_quiz = start(session_factory), start(session_factory)
    item = serve(session_factory, state, TENANT, "s1", first_quiz, CAP)
    answer_item(session_factory, state, TENANT, "s1", first_quiz, item.question_id, "A",
                idempotency_key="same")  # fmt: skip
    other = serve(session_factory, state, TENANT, "s1", second_quiz, CAP)
    with pytest.raises(RequestMismatchError, match=first_quiz):
        answer_item(session_factory, state, TENANT, "s1", second_quiz, other.question_id, "A",
                    idempotency_key="same")  # fmt: skip
    assert count_rows(session_factory, UserResponse, second_quiz) == 0
