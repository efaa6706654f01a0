"""A quiz's cursor: what delivery needs per step, cached in the state store, written through.

The database stays the source of truth (``quiz_sessions``, ``quiz_items``, ``user_responses``).
Every step writes the database first and then the cursor, so a lost or stale cursor costs one
rebuild, never an answer: a missing cursor (new quiz, Redis restarted, TTL over) is rebuilt
from the database, and a step that finds the database ahead of its cursor (a unique constraint
fires) drops the cursor and retries on a fresh one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat.design import TestDesign
from qbank.cat.stop import should_stop
from qbank.errors import NotFoundError
from qbank.state import StateStore
from qbank.store.models import QuizItem, QuizSession, UserResponse

__all__ = [
    "Answered",
    "QuizCursor",
    "ServedRow",
    "end_quiz",
    "load_cursor",
    "save_cursor",
]

_FORMAT = 4  # bump when the stored shape changes: older cursors are then rebuilt
_TTL_SLACK_S = 60


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass(slots=True)
class ServedRow:
    """One served item and the 3PL parameters it was chosen (and is scored) with."""

    question_id: int
    version: int
    position: int
    a: float
    b: float
    c: float


@dataclass(slots=True)
class Answered:
    """One graded answer."""

    label: str
    correct: bool
    idempotency_key: str | None


@dataclass(slots=True)
class QuizCursor:
    """Everything a quiz step reads, in one state-store value."""

    quiz_id: str
    tenant_id: str
    user_id: str
    mode: str
    adaptive: bool
    exam_code: str
    topics: list[str]
    difficulty: list[str]
    plan: list[list[int]] | None
    num_questions: int
    stop_se: float | None
    status: str
    expires_at: datetime
    theta: float
    se: float
    selector: str | None = None  # fixed at the first adaptive step; a quiz keeps its selector
    served: list[ServedRow] = field(default_factory=list)
    answered: dict[tuple[int, int], Answered] = field(default_factory=dict)
    # Items that lost their lottery under Sympson & Hetter's (1985) rule: never offered again.
    set_aside: set[tuple[int, int]] = field(default_factory=set)
    # The exam's test design (JSON form) fixed when the quiz was created; None: no design.
    design: dict[str, Any] | None = None

    def test_design(self) -> TestDesign | None:
        """The quiz's design, validated."""
        return None if self.design is None else TestDesign.from_json(self.design)

    def pending(self) -> ServedRow | None:
        """The served item not yet answered, if any."""
        return next(
            (row for row in self.served if (row.question_id, row.version) not in self.answered),
            None,
        )

    def served_item(self, question_id: int) -> ServedRow | None:
        """The served row of a question, if it was served."""
        return next((row for row in self.served if row.question_id == question_id), None)

    def by_idempotency_key(self, key: str) -> ServedRow | None:
        """The served row whose answer carried this Idempotency-Key."""
        for row in self.served:
            answer = self.answered.get((row.question_id, row.version))
            if answer is not None and answer.idempotency_key == key:
                return row
        return None

    def reached_stop(self) -> bool:
        """The adaptive precision target (stop_se) is met, or a rule of the quiz's design fired.

        The design's SE and classification rules are checked here, after each answer; its
        minimum-information rule needs the pool and is checked when the next item is chosen.
        """
        design = self.test_design() if self.adaptive else None
        if design is not None:
            return bool(should_stop(
                design.stop_rules(), len(self.answered), self.theta, self.se, float("inf")
            ))  # fmt: skip
        return bool(
            self.adaptive and self.stop_se is not None and self.answered
            and self.se <= self.stop_se
        )  # fmt: skip

    @property
    def version(self) -> int:
        """How many writes the quiz row has seen: each served item, answer and the ending.

        Every step that writes the database moves it up by one, so of two cursors of a quiz the
        one with the higher version is the newer; the store keeps only the newest.
        """
        return len(self.served) + len(self.answered) + (self.status != "active")

    def is_over(self) -> bool:
        """No further item is to be served."""
        return len(self.served) >= self.num_questions or self.reached_stop()

    def as_json(self) -> dict[str, Any]:
        """The stored form (JSON has no tuple keys: answers are a list)."""
        return {
            "format": _FORMAT, "version": self.version, "quiz_id": self.quiz_id,
            "tenant_id": self.tenant_id,
            "user_id": self.user_id, "mode": self.mode, "adaptive": self.adaptive,
            "exam_code": self.exam_code, "topics": self.topics, "difficulty": self.difficulty,
            "plan": self.plan, "num_questions": self.num_questions, "stop_se": self.stop_se,
            "status": self.status, "expires_at": self.expires_at.isoformat(),
            "theta": self.theta, "se": self.se, "selector": self.selector,
            "served": [[r.question_id, r.version, r.position, r.a, r.b, r.c] for r in self.served],
            "answered": [[qid, ver, ans.label, ans.correct, ans.idempotency_key]
                         for (qid, ver), ans in self.answered.items()],
            "set_aside": sorted([qid, ver] for qid, ver in self.set_aside),
            "design": self.design,
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuizCursor:
        """Inverse of ``as_json``."""
        return cls(
            quiz_id=data["quiz_id"], tenant_id=data["tenant_id"], user_id=data["user_id"],
            mode=data["mode"], adaptive=data["adaptive"], exam_code=data["exam_code"],
            topics=list(data["topics"]), difficulty=list(data["difficulty"]), plan=data["plan"],
            num_questions=data["num_questions"], stop_se=data["stop_se"],
            status=data["status"], expires_at=datetime.fromisoformat(data["expires_at"]),
            theta=data["theta"], se=data["se"], selector=data["selector"],
            served=[ServedRow(int(q), int(v), int(p), a, b, c)
                    for q, v, p, a, b, c in data["served"]],
            answered={(int(q), int(v)): Answered(label, bool(correct), key)
                      for q, v, label, correct, key in data["answered"]},
            set_aside={(int(q), int(v)) for q, v in data["set_aside"]},
            design=data["design"],
        )  # fmt: skip


def _quiz_key(quiz_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(quiz_id))
    except ValueError:
        raise NotFoundError(f"quiz {quiz_id!r} not found") from None


def _rebuild(session: Session, tenant_id: str, key: uuid.UUID) -> QuizCursor:
    quiz = session.scalars(
        select(QuizSession).where(QuizSession.id == key, QuizSession.tenant_id == tenant_id)
    ).one_or_none()
    if quiz is None:
        raise NotFoundError(f"quiz {key} not found")
    items = session.scalars(
        select(QuizItem).where(QuizItem.quiz_id == key).order_by(QuizItem.position)
    ).all()
    responses = session.scalars(select(UserResponse).where(UserResponse.quiz_id == key)).all()
    filters = quiz.filters or {}
    return QuizCursor(
        quiz_id=str(key), tenant_id=quiz.tenant_id, user_id=quiz.user_id, mode=quiz.mode,
        adaptive=quiz.adaptive, exam_code=quiz.exam_code,
        topics=list(filters.get("topics") or []), difficulty=list(filters.get("difficulty") or []),
        plan=quiz.plan, num_questions=quiz.num_questions, stop_se=quiz.stop_se,
        status=quiz.status, expires_at=_aware(quiz.expires_at), theta=quiz.theta, se=quiz.se,
        selector=items[0].selector if items and quiz.adaptive else None,
        served=[ServedRow(i.question_id, i.version, i.position, i.a, i.b, i.c) for i in items],
        answered={(r.question_id, r.version): Answered(r.option_label, r.is_correct,
                                                       r.idempotency_key) for r in responses},
        set_aside={(int(q), int(v)) for i in items for q, v in (i.set_aside or [])},
        design=filters.get("design"),
    )  # fmt: skip


def save_cursor(state: StateStore, cursor: QuizCursor) -> None:
    """Write the cursor through to the state store until shortly after the quiz expires.

    Only a newer cursor replaces the stored one: a slow request that saves after a faster one
    cannot put an older view of the quiz back.
    """
    ttl_s = int((cursor.expires_at - _now()).total_seconds()) + _TTL_SLACK_S
    state.put_quiz_state_if_newer(cursor.tenant_id, cursor.quiz_id, cursor.as_json(), max(ttl_s, 1))


def end_quiz(
    sessions: sessionmaker[Session], state: StateStore, cursor: QuizCursor, status: str
) -> QuizCursor:
    """Move an active quiz to ``finished`` or ``expired``; returns its cursor, fresh and saved.

    The cursor is rebuilt from the database after the update, so it holds every step that
    committed before the quiz ended, whatever the caller's cursor had seen.
    """
    key = uuid.UUID(cursor.quiz_id)
    with sessions.begin() as session:
        session.execute(
            update(QuizSession)
            .where(QuizSession.id == key, QuizSession.status == "active")
            .values(status=status, finished_at=_now() if status == "finished" else None)
        )
    with sessions() as session:
        fresh = _rebuild(session, cursor.tenant_id, key)
    save_cursor(state, fresh)
    return fresh


def load_cursor(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
    *,
    fresh: bool = False,
) -> tuple[QuizCursor, bool]:
    """The quiz's cursor and whether it was just rebuilt from the database.

    ``user_id`` None means an admin (any quiz of the tenant); a student sees only their own
    quizzes. An active quiz past its expiry is marked expired here.

    Raises:
        NotFoundError: no such quiz for this caller.
    """
    key = str(_quiz_key(quiz_id))
    stored = None if fresh else state.get_quiz_state(tenant_id, key)
    rebuilt = stored is None or stored.get("format") != _FORMAT
    if rebuilt:
        with sessions() as session:
            cursor = _rebuild(session, tenant_id, uuid.UUID(key))
    else:
        assert stored is not None
        cursor = QuizCursor.from_json(stored)
    if user_id is not None and cursor.user_id != user_id:
        raise NotFoundError(f"quiz {quiz_id} not found")
    if cursor.status == "active" and cursor.expires_at <= _now():
        return end_quiz(sessions, state, cursor, "expired"), True
    if rebuilt:
        save_cursor(state, cursor)
    return cursor, rebuilt
