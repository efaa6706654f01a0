"""Quiz delivery: create, serve the next item (adaptive or planned), grade, summarise.

The database is the source of truth: every served item is a ``quiz_items`` row recording what
it was chosen with, every answer a ``user_responses`` row, and θ̂/SE are recomputed from them by
EAP after each answer. So a quiz survives a restart of the API and of Redis; the state store
only keeps the daily exposure counters.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat.delivery import choose_item, estimate_ability
from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.services.authoring import DEFAULT_EXAM_CODE, DIFFICULTY_LABELS
from qbank.services.exposure import items_under_cap, record_exposure
from qbank.services.flags import selector_for_user
from qbank.services.item_pool import cached_exam_pool, load_exam_pool
from qbank.state import StateStore
from qbank.store.models import (
    ItemCalibration,
    QuestionOption,
    QuestionVersion,
    QuizItem,
    QuizSession,
    Topic,
    UserResponse,
)

__all__ = [
    "AnswerResult",
    "QuizCreated",
    "QuizFilters",
    "ServedItem",
    "answer_item",
    "create_quiz",
    "finish_quiz",
    "get_quiz",
    "next_item",
]

QUIZ_LIFETIME = timedelta(hours=24)
MODES = ("tutor", "exam")
MAX_QUESTIONS = 120


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class QuizFilters:
    """What a student asks for; validated once."""

    topics: tuple[str, ...] = ()
    difficulty: tuple[str, ...] = ()
    num_questions: int = 40
    mode: str = "tutor"
    exam_code: str = DEFAULT_EXAM_CODE
    stop_se: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.num_questions, bool) or not isinstance(self.num_questions, int):
            raise InvalidInputError("num_questions must be an integer")
        if not 1 <= self.num_questions <= MAX_QUESTIONS:
            raise InvalidInputError(f"num_questions must be in [1, {MAX_QUESTIONS}]")
        if self.mode not in MODES:
            raise InvalidInputError(f"mode must be tutor or exam, got {self.mode!r}")
        bad = [label for label in self.difficulty if label not in DIFFICULTY_LABELS]
        if bad:
            raise InvalidInputError(f"difficulty must be among {', '.join(DIFFICULTY_LABELS)}")
        if self.stop_se is not None and not 0 < self.stop_se <= 1:
            raise InvalidInputError(f"stop_se must be in (0, 1], got {self.stop_se}")
        if not self.exam_code.strip():
            raise InvalidInputError("exam_code must not be empty")

    def as_json(self) -> dict[str, Any]:
        """Stored with the quiz."""
        return {
            "topics": list(self.topics),
            "difficulty": list(self.difficulty),
            "num_questions": self.num_questions,
            "mode": self.mode,
            "exam_code": self.exam_code,
            "stop_se": self.stop_se,
        }


@dataclass(frozen=True, slots=True)
class QuizCreated:
    """A new quiz; ``question_ids`` is the planned order (empty for adaptive quizzes)."""

    quiz_id: str
    question_ids: list[int]
    expires_at: str
    mode: str
    adaptive: bool


@dataclass(frozen=True, slots=True)
class ServedItem:
    """The item to show: never the answer."""

    question_id: int
    version: int
    position: int
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AnswerResult:
    """Tutor mode: feedback; exam mode: an acknowledgement until the quiz is finished."""

    question_id: int
    accepted: bool
    mode: str
    finished: bool
    feedback: dict[str, Any] = field(default_factory=dict)


def create_quiz(
    sessions: sessionmaker[Session],
    tenant_id: str,
    user_id: str,
    filters: QuizFilters,
    adaptive: bool,
) -> QuizCreated:
    """Start a quiz over the exam's live items matching the filters.

    Raises:
        InvalidInputError: no live item matches the filters.
    """
    pool = load_exam_pool(
        sessions,
        tenant_id,
        filters.exam_code,
        topics=filters.topics,
        difficulties=filters.difficulty,
    )
    if pool.n_items == 0:
        raise InvalidInputError(f"no live items of {filters.exam_code} match the filters")
    plan = None
    if not adaptive:  # non-adaptive quizzes deliver the filtered items in a random order
        order = np.random.default_rng(secrets.randbits(64)).permutation(pool.n_items)
        plan = [[int(pool.qids[i]), pool.versions[i]] for i in order[: filters.num_questions]]
    now = _now()
    quiz = QuizSession(
        id=uuid.uuid4(),
        user_id=user_id,
        tenant_id=tenant_id,
        mode=filters.mode,
        adaptive=adaptive,
        exam_code=filters.exam_code,
        filters=filters.as_json(),
        plan=plan,
        num_questions=min(filters.num_questions, pool.n_items),
        stop_se=filters.stop_se,
        status="active",
        theta=0.0,
        se=1.0,
        created_at=now,
        expires_at=now + QUIZ_LIFETIME,
    )
    with sessions.begin() as session:
        session.add(quiz)
    return QuizCreated(
        str(quiz.id),
        [qid for qid, _ in plan or []],
        quiz.expires_at.isoformat(),
        quiz.mode,
        adaptive,
    )


def _quiz(session: Session, tenant_id: str, user_id: str | None, quiz_id: str) -> QuizSession:
    try:
        key = uuid.UUID(str(quiz_id))
    except ValueError:
        raise NotFoundError(f"quiz {quiz_id!r} not found") from None
    query = select(QuizSession).where(QuizSession.id == key, QuizSession.tenant_id == tenant_id)
    if user_id is not None:  # a student sees only their own quizzes
        query = query.where(QuizSession.user_id == user_id)
    quiz = session.scalars(query).one_or_none()
    if quiz is None:
        raise NotFoundError(f"quiz {quiz_id} not found")
    if quiz.status == "active" and _aware(quiz.expires_at) <= _now():
        quiz.status = "expired"
    return quiz


def _served(session: Session, quiz: QuizSession) -> list[QuizItem]:
    return list(
        session.scalars(
            select(QuizItem).where(QuizItem.quiz_id == quiz.id).order_by(QuizItem.position)
        )
    )


def _answered(session: Session, quiz: QuizSession) -> dict[tuple[int, int], UserResponse]:
    rows = session.scalars(select(UserResponse).where(UserResponse.quiz_id == quiz.id))
    return {(row.question_id, row.version): row for row in rows}


def _version_row(session: Session, question_id: int, version: int) -> QuestionVersion:
    return session.scalars(
        select(QuestionVersion).where(
            QuestionVersion.question_id == question_id, QuestionVersion.version == version
        )
    ).one()


def _payload(session: Session, question_id: int, version: int) -> dict[str, Any]:
    row = _version_row(session, question_id, version)
    options = session.scalars(
        select(QuestionOption)
        .where(QuestionOption.question_version_id == row.id)
        .order_by(QuestionOption.option_label)
    )
    return {
        "stem_md": row.stem_md,
        "lead_in": row.lead_in,
        "options": [{"label": o.option_label, "text": o.option_text_md} for o in options],
    }


def _is_over(quiz: QuizSession, served: list[QuizItem], answered: int) -> bool:
    if len(served) >= quiz.num_questions:
        return True
    return bool(
        quiz.adaptive and quiz.stop_se is not None and answered > 0 and quiz.se <= quiz.stop_se
    )


def _choose_adaptive(
    sessions: sessionmaker[Session],
    state: StateStore,
    quiz: QuizSession,
    served: list[QuizItem],
) -> dict[str, Any] | None:
    filters = quiz.filters
    pool = cached_exam_pool(
        sessions,
        quiz.tenant_id,
        quiz.exam_code,
        topics=filters["topics"],
        difficulties=filters["difficulty"],
    )
    keys = list(zip((int(q) for q in pool.qids), pool.versions, strict=True))
    given = {item.question_id for item in served}
    under_cap = items_under_cap(state, quiz.tenant_id, keys)
    available = np.array(
        [qid not in given and ok for (qid, _), ok in zip(keys, under_cap, strict=True)]
    )
    if not available.any():
        return None
    selector = selector_for_user(sessions, quiz.tenant_id, quiz.user_id)
    a, b, c = (np.asarray(values) for values in pool.items)
    index = choose_item(secrets.randbits(32), a, b, c, pool.k, available, quiz.theta, selector)
    qid, ver = keys[index]
    return {
        "question_id": qid,
        "version": ver,
        "selector": selector,
        "a": float(a[index]),
        "b": float(b[index]),
        "c": float(c[index]),
        "k": float(pool.k[index]),
    }


def _choose_planned(
    sessions: sessionmaker[Session], quiz: QuizSession, served: list[QuizItem]
) -> dict[str, Any] | None:
    plan = quiz.plan or []
    if len(served) >= len(plan):
        return None
    qid, ver = plan[len(served)]
    with sessions() as session:
        calibration = session.get(ItemCalibration, (qid, ver))
    a, b, c = (calibration.a, calibration.b, calibration.c) if calibration else (1.0, 0.0, 0.2)
    return {
        "question_id": qid,
        "version": ver,
        "selector": "random",
        "a": a,
        "b": b,
        "c": c,
        "k": 1.0,
    }


def next_item(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
    max_daily_exposures: int,
) -> ServedItem:
    """The item to answer now: the pending one if any, else a newly chosen one.

    Adaptive quizzes choose at θ̂ with the user's selector among live items not yet given and
    under the daily exposure cap, and count the exposure. ``user_id`` None means an admin.

    Raises:
        NotFoundError: unknown quiz, or the quiz is over or expired.
    """
    with sessions.begin() as session:
        quiz = _quiz(session, tenant_id, user_id, quiz_id)
        if quiz.status != "active":
            raise NotFoundError(f"quiz {quiz_id} is {quiz.status}")
        served, answered = _served(session, quiz), _answered(session, quiz)
        pending = [item for item in served if (item.question_id, item.version) not in answered]
        if pending:
            item = pending[0]
            return ServedItem(
                item.question_id,
                item.version,
                item.position,
                _payload(session, item.question_id, item.version),
            )
        if _is_over(quiz, served, len(answered)):
            quiz.status, quiz.finished_at = "finished", _now()
            raise NotFoundError(f"quiz {quiz_id} is over")
        quiz_snapshot = quiz
    choice = (
        _choose_adaptive(sessions, state, quiz_snapshot, served)
        if quiz_snapshot.adaptive
        else _choose_planned(sessions, quiz_snapshot, served)
    )
    if choice is None:
        with sessions.begin() as session:
            quiz = _quiz(session, tenant_id, user_id, quiz_id)
            quiz.status, quiz.finished_at = "finished", _now()
        raise NotFoundError(f"quiz {quiz_id} is over: no more items available")
    position = len(served) + 1
    try:
        with sessions.begin() as session:
            session.add(
                QuizItem(
                    quiz_id=quiz_snapshot.id,
                    position=position,
                    theta_at_selection=quiz_snapshot.theta,
                    served_at=_now(),
                    **choice,
                )
            )
    except IntegrityError:
        # A concurrent request served this position first: return what it served.
        return next_item(sessions, state, tenant_id, user_id, quiz_id, max_daily_exposures)
    record_exposure(state, tenant_id, choice["question_id"], choice["version"], max_daily_exposures)
    with sessions() as session:
        payload = _payload(session, choice["question_id"], choice["version"])
    return ServedItem(choice["question_id"], choice["version"], position, payload)


def _update_ability(
    quiz: QuizSession, served: list[QuizItem], answered: dict[tuple[int, int], UserResponse]
) -> None:
    by_key = {(i.question_id, i.version): i for i in served}
    items = [(by_key[key], response) for key, response in answered.items()]
    estimate = estimate_ability(
        [i.a for i, _ in items],
        [i.b for i, _ in items],
        [i.c for i, _ in items],
        [r.is_correct for _, r in items],
    )
    quiz.theta, quiz.se = estimate.theta, estimate.se


def _feedback(session: Session, item: QuizItem, response: UserResponse) -> dict[str, Any]:
    version = _version_row(session, item.question_id, item.version)
    correct = session.scalar(
        select(QuestionOption.option_label).where(
            QuestionOption.question_version_id == version.id, QuestionOption.is_correct
        )
    )
    return {
        "correct": response.is_correct,
        "correct_option": correct,
        "explanation": {"rationale_md": version.rationale_md},
        "difficulty": {"b": item.b, "label": version.difficulty_label},
    }


def answer_item(
    sessions: sessionmaker[Session],
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
    question_id: int,
    selected: str,
    time_taken_ms: int | None = None,
    idempotency_key: str | None = None,
) -> AnswerResult:
    """Grade an answer to the served item against the version that was served.

    A retry carrying the same ``idempotency_key`` returns the first result.

    Raises:
        ConflictError: the item was not served, or was answered already.
        InvalidInputError: ``selected`` is not one of the item's options, or a bad time.
    """
    if time_taken_ms is not None and not 0 <= time_taken_ms <= 24 * 3600 * 1000:
        raise InvalidInputError("time_taken_ms must be in [0, 86400000]")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise InvalidInputError("Idempotency-Key must be 1 to 128 characters")
    try:
        with sessions.begin() as session:
            quiz = _quiz(session, tenant_id, user_id, quiz_id)
            answered = _answered(session, quiz)
            if idempotency_key is not None:
                earlier = next(
                    (r for r in answered.values() if r.idempotency_key == idempotency_key), None
                )
                if earlier is not None:
                    return _result(session, quiz, earlier)
            if quiz.status != "active":
                raise ConflictError(f"quiz {quiz_id} is {quiz.status}")
            served = _served(session, quiz)
            item = next((i for i in served if i.question_id == question_id), None)
            if item is None:
                raise ConflictError(f"question {question_id} was not served in this quiz")
            if (item.question_id, item.version) in answered:
                raise ConflictError(f"question {question_id} was already answered")
            return _grade(
                session, quiz, served, answered, item, selected, time_taken_ms, idempotency_key
            )
    except IntegrityError:
        raise ConflictError(f"question {question_id} was already answered") from None


def _grade(
    session: Session,
    quiz: QuizSession,
    served: list[QuizItem],
    answered: dict[tuple[int, int], UserResponse],
    item: QuizItem,
    selected: str,
    time_taken_ms: int | None,
    idempotency_key: str | None,
) -> AnswerResult:
    version = _version_row(session, item.question_id, item.version)
    options = {
        o.option_label: o.is_correct
        for o in session.scalars(
            select(QuestionOption).where(QuestionOption.question_version_id == version.id)
        )
    }
    label = str(selected).strip().upper()
    if label not in options:
        raise InvalidInputError(f"selected must be one of {', '.join(sorted(options))}")
    response = UserResponse(
        quiz_id=quiz.id,
        user_id=quiz.user_id,
        tenant_id=quiz.tenant_id,
        question_id=item.question_id,
        version=item.version,
        option_label=label,
        is_correct=options[label],
        time_taken_ms=time_taken_ms,
        idempotency_key=idempotency_key,
        created_at=_now(),
    )
    session.add(response)
    session.flush()
    answered = {**answered, (item.question_id, item.version): response}
    _update_ability(quiz, served, answered)
    if len(answered) >= quiz.num_questions or (
        quiz.adaptive and quiz.stop_se is not None and quiz.se <= quiz.stop_se
    ):
        quiz.status, quiz.finished_at = "finished", _now()
    return _result(session, quiz, response, item)


def _result(
    session: Session, quiz: QuizSession, response: UserResponse, item: QuizItem | None = None
) -> AnswerResult:
    finished = quiz.status == "finished"
    if quiz.mode == "exam" and not finished:
        return AnswerResult(response.question_id, True, quiz.mode, finished)
    item = (
        item
        or session.scalars(
            select(QuizItem).where(
                QuizItem.quiz_id == quiz.id, QuizItem.question_id == response.question_id
            )
        ).one()
    )
    return AnswerResult(
        response.question_id, True, quiz.mode, finished, _feedback(session, item, response)
    )


def finish_quiz(
    sessions: sessionmaker[Session], tenant_id: str, user_id: str | None, quiz_id: str
) -> dict[str, Any]:
    """End a quiz now (unanswered items stay unanswered) and return its summary."""
    with sessions.begin() as session:
        quiz = _quiz(session, tenant_id, user_id, quiz_id)
        if quiz.status == "active":
            quiz.status, quiz.finished_at = "finished", _now()
    return get_quiz(sessions, tenant_id, user_id, quiz_id)


def get_quiz(
    sessions: sessionmaker[Session], tenant_id: str, user_id: str | None, quiz_id: str
) -> dict[str, Any]:
    """A quiz's summary: status, score, θ̂ and SE, per-topic results and items.

    Each item shows the chosen and correct option, with its rationale except in exam mode
    before the quiz is finished.
    """
    with sessions.begin() as session:
        quiz = _quiz(session, tenant_id, user_id, quiz_id)
        served, answered = _served(session, quiz), _answered(session, quiz)
        reveal = quiz.mode == "tutor" or quiz.status != "active"
        items: list[dict[str, Any]] = []
        per_topic: dict[str, dict[str, int]] = {}
        for item in served:
            response = answered.get((item.question_id, item.version))
            version = _version_row(session, item.question_id, item.version)
            topic = session.get(Topic, version.topic_id)
            topic_name = topic.name if topic else ""
            stats = per_topic.setdefault(topic_name, {"correct": 0, "total": 0})
            entry: dict[str, Any] = {
                "question_id": item.question_id,
                "version": item.version,
                "position": item.position,
                "topic": topic_name,
                "chosen": response.option_label if response else None,
            }
            if response is not None:
                stats["total"] += 1
                stats["correct"] += int(response.is_correct)
                if reveal:
                    entry.update(_feedback(session, item, response))
            items.append(entry)
        correct = sum(int(r.is_correct) for r in answered.values())
        if not reveal:  # exam mode, not finished: nothing that tells right from wrong
            per_topic = {name: {"total": stats["total"]} for name, stats in per_topic.items()}
        return {
            "quiz_id": str(quiz.id),
            "status": quiz.status,
            "mode": quiz.mode,
            "adaptive": quiz.adaptive,
            "exam_code": quiz.exam_code,
            "answered": len(answered),
            "num_questions": quiz.num_questions,
            "score": correct if reveal else None,
            "score_pct": round(100 * correct / len(answered), 1) if answered and reveal else None,
            "theta": quiz.theta if reveal else None,
            "se": quiz.se if reveal else None,
            "per_topic": per_topic,
            "items": items,
            "expires_at": _aware(quiz.expires_at).isoformat(),
        }
