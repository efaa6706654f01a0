"""Answering a quiz: grade an answer exactly once, re-estimate θ̂, finish, summarise."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat.delivery import estimate_ability, estimate_ability_with
from qbank.cat.stop import classify
from qbank.errors import ConflictError, InvalidInputError, RequestMismatchError
from qbank.figures import round_figure
from qbank.services.delivery.item_content import ItemContent, item_content
from qbank.services.delivery.quiz_cursor import (
    Answered,
    QuizCursor,
    ServedRow,
    end_quiz,
    load_cursor,
    save_cursor,
)
from qbank.services.delivery.quizzes import (
    _INSERT_RESPONSE,
    _lock_active,
    _now,
    serves_another_item,
)
from qbank.state import StateStore
from qbank.store.models import UserResponse

__all__ = [
    "AnswerResult",
    "answer_item",
    "finish_quiz",
    "get_quiz",
]


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """Tutor mode: feedback; exam mode: an acknowledgement until the quiz is finished."""

    question_id: int
    accepted: bool
    mode: str
    finished: bool
    feedback: dict[str, Any] = field(default_factory=dict)
    version: int | None = None
    position: int | None = None  # the item's place in the quiz, from 1
    theta: float | None = None  # θ̂ (EAP) after the quiz's answers so far: tutor mode, or finished
    se: float | None = None  # its posterior SD, likewise


def _feedback(content: ItemContent, row: ServedRow, correct: bool) -> dict[str, Any]:
    return {
        "correct": correct,
        "correct_option": content.correct_label,
        "explanation": {"rationale_md": content.rationale_md},
        "difficulty": {"b": row.b, "label": content.difficulty_label},
    }


def _result(sessions: sessionmaker[Session], cursor: QuizCursor, row: ServedRow) -> AnswerResult:
    finished = cursor.status == "finished"
    if cursor.mode == "exam" and not finished:
        return AnswerResult(row.question_id, True, cursor.mode, finished, version=row.version,
                            position=row.position)  # fmt: skip
    answer = cursor.answered[(row.question_id, row.version)]
    content = item_content(sessions, row.question_id, row.version)
    return AnswerResult(row.question_id, True, cursor.mode, finished,
                        _feedback(content, row, answer.correct), row.version, row.position,
                        cursor.theta, cursor.se)  # fmt: skip


def _ability(cursor: QuizCursor) -> tuple[float, float]:
    rows = [row for row in cursor.served if (row.question_id, row.version) in cursor.answered]
    responses = (
        [row.a for row in rows], [row.b for row in rows], [row.c for row in rows],
        [cursor.answered[(row.question_id, row.version)].correct for row in rows],
    )  # fmt: skip
    design = cursor.test_design() if cursor.adaptive else None
    estimate = (
        estimate_ability(*responses) if design is None
        else estimate_ability_with(design.estimator, *responses)
    )  # fmt: skip
    return round_figure(estimate.theta), round_figure(estimate.se)


def answer_item(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
    question_id: int,
    selected: str,
    time_taken_ms: int | None = None,
    idempotency_key: str | None = None,
) -> AnswerResult:
    """Grade an answer to the served item against the version that was served.

    A retry carrying the same ``idempotency_key`` and the same request (quiz, question id,
    selected option) returns the first result; another request under a used key is refused
    (``RequestMismatchError``, HTTP 422). θ̂ and SE are
    re-estimated by EAP from all answers; the response and the new θ̂ are written in one
    transaction.

    Raises:
        ConflictError: the item was not served, or was answered already.
        InvalidInputError: ``selected`` is not one of the item's options, or a bad time.
    """
    if time_taken_ms is not None and not 0 <= time_taken_ms <= 24 * 3600 * 1000:
        raise InvalidInputError("time_taken_ms must be in [0, 86400000]")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise InvalidInputError("Idempotency-Key must be 1 to 128 characters")
    cursor, fresh = load_cursor(sessions, state, tenant_id, user_id, quiz_id)
    while True:
        try:
            return _answer(sessions, state, cursor, question_id, selected, time_taken_ms,
                           idempotency_key)  # fmt: skip
        except (ConflictError, IntegrityError) as error:
            if fresh:  # the database itself says no
                if isinstance(error, IntegrityError):
                    raise ConflictError(f"question {question_id} was already answered") from None
                raise
            # A cached cursor may be behind the database: decide again on a fresh one.
            cursor, fresh = load_cursor(sessions, state, tenant_id, user_id, quiz_id, fresh=True)


def _answer(
    sessions: sessionmaker[Session],
    state: StateStore,
    cursor: QuizCursor,
    question_id: int,
    selected: str,
    time_taken_ms: int | None,
    idempotency_key: str | None,
) -> AnswerResult:
    label = str(selected).strip().upper()
    if idempotency_key is not None:
        earlier = cursor.by_idempotency_key(idempotency_key)
        if earlier is not None:
            _check_same_request(cursor, earlier, idempotency_key, question_id, label)
            return _result(sessions, cursor, earlier)
    if cursor.status != "active":
        raise ConflictError(f"quiz {cursor.quiz_id} is {cursor.status}")
    row = cursor.served_item(question_id)
    if row is None:
        raise ConflictError(f"question {question_id} was not served in this quiz")
    key = (row.question_id, row.version)
    if key in cursor.answered:
        raise ConflictError(f"question {question_id} was already answered")
    content = item_content(sessions, row.question_id, row.version)
    if label not in content.labels:
        raise InvalidInputError(f"selected must be one of {', '.join(sorted(content.labels))}")
    correct = label == content.correct_label
    cursor.answered[key] = Answered(label, correct, idempotency_key)
    cursor.theta, cursor.se = _ability(cursor)
    finished = not serves_another_item(sessions, state, cursor)
    now = _now()
    try:
        with sessions.begin() as session:
            _lock_active(session, cursor, {
                "theta": cursor.theta, "se": cursor.se,
                "status": "finished" if finished else "active",
                "finished_at": now if finished else None,
            })  # fmt: skip
            if idempotency_key is not None:
                _check_key_unused_elsewhere(session, cursor, idempotency_key)
            session.connection().execute(_INSERT_RESPONSE, {
                "quiz_id": uuid.UUID(cursor.quiz_id), "user_id": cursor.user_id,
                "tenant_id": cursor.tenant_id, "question_id": row.question_id,
                "version": row.version, "option_label": label, "is_correct": correct,
                "time_taken_ms": time_taken_ms, "idempotency_key": idempotency_key,
                "created_at": now,
            })  # fmt: skip
    except (IntegrityError, ConflictError):
        del cursor.answered[key]
        raise
    if finished:
        cursor.status = "finished"
    save_cursor(state, cursor)
    return _result(sessions, cursor, row)


def _check_same_request(
    cursor: QuizCursor, earlier: ServedRow, key: str, question_id: int, label: str
) -> None:
    """The fingerprint of a keyed answer is (quiz, question id, selected option).

    Raises:
        RequestMismatchError: the key's first request had another fingerprint (the IETF
            Idempotency-Key draft answers 422 then).
    """
    first = cursor.answered[(earlier.question_id, earlier.version)].label
    if (earlier.question_id, first) != (question_id, label):
        raise RequestMismatchError(
            f"Idempotency-Key {key!r} was first used for question {earlier.question_id}, "
            f"option {first} in quiz {cursor.quiz_id}; this request is question {question_id}, "
            f"option {label}: use a new key for each answer"
        )


def _check_key_unused_elsewhere(session: Session, cursor: QuizCursor, key: str) -> None:
    other = session.execute(
        select(UserResponse.quiz_id, UserResponse.question_id, UserResponse.option_label)
        .where(UserResponse.tenant_id == cursor.tenant_id, UserResponse.user_id == cursor.user_id,
               UserResponse.idempotency_key == key,
               UserResponse.quiz_id != uuid.UUID(cursor.quiz_id))
        .limit(1)
    ).first()  # fmt: skip
    if other is not None:
        raise RequestMismatchError(
            f"Idempotency-Key {key!r} was first used for question {other.question_id}, option "
            f"{other.option_label} in quiz {other.quiz_id}: use a new key for each answer"
        )


def finish_quiz(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
) -> dict[str, Any]:
    """End a quiz now (unanswered items stay unanswered) and return its summary."""
    cursor, _ = load_cursor(sessions, state, tenant_id, user_id, quiz_id)
    if cursor.status == "active":
        cursor = end_quiz(sessions, state, cursor, "finished")
    return _summary(sessions, cursor)


def get_quiz(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
) -> dict[str, Any]:
    """A quiz's summary: status, score, θ̂ and SE, per-topic results and items.

    Each item shows the chosen and correct option, with its rationale except in exam mode
    before the quiz is finished.
    """
    cursor, _ = load_cursor(sessions, state, tenant_id, user_id, quiz_id)
    return _summary(sessions, cursor)


def _summary(sessions: sessionmaker[Session], cursor: QuizCursor) -> dict[str, Any]:
    reveal = cursor.mode == "tutor" or cursor.status != "active"
    items: list[dict[str, Any]] = []
    per_topic: dict[str, dict[str, int]] = {}
    for row in cursor.served:
        answer = cursor.answered.get((row.question_id, row.version))
        content = item_content(sessions, row.question_id, row.version)
        stats = per_topic.setdefault(content.topic_name, {"correct": 0, "total": 0})
        entry: dict[str, Any] = {
            "question_id": row.question_id,
            "version": row.version,
            "position": row.position,
            "topic": content.topic_name,
            "chosen": answer.label if answer else None,
        }
        if answer is not None:
            stats["total"] += 1
            stats["correct"] += int(answer.correct)
            if reveal:
                entry.update(_feedback(content, row, answer.correct))
        items.append(entry)
    answered = len(cursor.answered)
    correct = sum(int(answer.correct) for answer in cursor.answered.values())
    if not reveal:  # exam mode, not finished: nothing that tells right from wrong
        per_topic = {name: {"total": stats["total"]} for name, stats in per_topic.items()}
    summary: dict[str, Any] = {
        "quiz_id": cursor.quiz_id,
        "status": cursor.status,
        "mode": cursor.mode,
        "adaptive": cursor.adaptive,
        "exam_code": cursor.exam_code,
        "answered": answered,
        "num_questions": cursor.num_questions,
        "score": correct if reveal else None,
        "score_pct": round(100 * correct / answered, 1) if answered and reveal else None,
        "theta": cursor.theta if reveal else None,
        "se": cursor.se if reveal else None,
        "per_topic": per_topic,
        "items": items,
        "expires_at": cursor.expires_at.isoformat(),
    }
    design = cursor.test_design() if cursor.adaptive else None
    if design is not None:
        summary["design"] = design.as_json()
        cut = design.stopping.cut
        if cut is not None and reveal:
            # Kingsbury & Weiss (1983): decided once θ̂ ± z·SE excludes the cut.
            decided = abs(cursor.theta - cut) > design.stopping.z * cursor.se
            summary["classification"] = {
                "cut": cut, "z": design.stopping.z, "decided": bool(decided),
                "passed": bool(classify(cursor.theta, cut)) if answered else None,
            }  # fmt: skip
    return summary
