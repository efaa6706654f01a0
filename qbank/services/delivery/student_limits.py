"""Per-student limits on starting quizzes, so one student cannot exhaust a tenant's exposure cap.

Checked in the transaction that creates the quiz, under a per-student lock (an advisory lock on
PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already runs writers one at a time), so two racing
creates cannot both slip under a limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from qbank.errors import InvalidInputError, RateLimitedError
from qbank.store.models import QuizSession

__all__ = ["StudentLimits", "check_quiz_limits"]

_RETRY_ACTIVE_S = 60


@dataclass(frozen=True, slots=True)
class StudentLimits:
    """How many quizzes one student may have active at a time and start per UTC day."""

    max_active_quizzes: int = 10
    max_quizzes_per_day: int = 100

    def __post_init__(self) -> None:
        if self.max_active_quizzes < 1 or self.max_quizzes_per_day < 1:
            raise InvalidInputError("per-student quiz limits must be >= 1")


def _lock_student(session: Session, tenant_id: str, user_id: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"quiz-limits:{tenant_id}:{user_id}"})  # fmt: skip


def check_quiz_limits(
    session: Session, tenant_id: str, user_id: str, limits: StudentLimits, now: datetime
) -> None:
    """Refuse a new quiz when the student is at a limit (inside the creating transaction).

    An active quiz past its expiry does not count; finishing a quiz frees its place.

    Raises:
        RateLimitedError: a limit is reached (HTTP 429; ``retry_after_s`` says when to retry).
    """
    _lock_student(session, tenant_id, user_id)
    mine = (QuizSession.tenant_id == tenant_id, QuizSession.user_id == user_id)
    active = session.scalar(select(func.count()).select_from(QuizSession).where(
        *mine, QuizSession.status == "active", QuizSession.expires_at > now))  # fmt: skip
    if (active or 0) >= limits.max_active_quizzes:
        raise RateLimitedError(
            f"you have {active} active quizzes, the most allowed at a time "
            f"(QBANK_MAX_ACTIVE_QUIZZES={limits.max_active_quizzes}); finish one first",
            retry_after_s=_RETRY_ACTIVE_S,
        )
    day_start = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    today = session.scalar(select(func.count()).select_from(QuizSession).where(
        *mine, QuizSession.created_at >= day_start))  # fmt: skip
    if (today or 0) >= limits.max_quizzes_per_day:
        tomorrow = day_start + timedelta(days=1)
        raise RateLimitedError(
            f"you started {today} quizzes today, the most allowed per UTC day "
            f"(QBANK_MAX_QUIZZES_PER_DAY={limits.max_quizzes_per_day})",
            retry_after_s=max(1, int((tomorrow - now).total_seconds())),
        )
