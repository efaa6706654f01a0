"""The hard daily exposure cap: what each item was served today, per tenant (UTC days).

An adaptive quiz reserves an exposure before it serves the item: the state store checks the
count and increments it in one atomic step (a Lua script on Redis, a lock in process), so no
item is ever served more than ``QBANK_MAX_DAILY_EXPOSURES`` times a day, however many API
processes race. The counters are a cache of ``quiz_items``: when a day's counters are missing
(the first exposure of the day, or Redis restarted empty) they are rebuilt from the items served
today, so a restart never resets the cap. A served item counts whether or not it was answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError
from qbank.state import StateStore
from qbank.state.base import EXPOSURE_REFUSED, EXPOSURE_UNSEEDED
from qbank.store.models import QuizItem, QuizSession

__all__ = [
    "capped_today",
    "items_under_cap",
    "release_exposure",
    "reserve_exposure",
    "served_counts",
    "utc_day",
]


def utc_day(now: datetime | None = None) -> date:
    """The UTC day of ``now`` (an aware datetime in any zone; the current time by default)."""
    return (now or datetime.now(UTC)).astimezone(UTC).date()


def served_counts(
    sessions: sessionmaker[Session], tenant_id: str, day: date
) -> dict[tuple[int, int], int]:
    """How often each item version was served to the tenant on ``day`` (UTC), from quiz_items."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    with sessions() as session:
        rows = session.execute(
            select(QuizItem.question_id, QuizItem.version, func.count())
            .join(QuizSession, QuizSession.id == QuizItem.quiz_id)
            .where(QuizSession.tenant_id == tenant_id, QuizItem.served_at >= start,
                   QuizItem.served_at < start + timedelta(days=1))
            .group_by(QuizItem.question_id, QuizItem.version)
        ).all()  # fmt: skip
    return {(int(qid), int(ver)): int(count) for qid, ver, count in rows}


def reserve_exposure(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    question_id: int,
    version: int,
    max_daily_exposures: int,
    now: datetime | None = None,
    *,
    enforce: bool = True,
) -> bool:
    """Count one exposure of an item version today (UTC) if it is under the cap.

    Returns False, counting nothing, when the item is at the cap. ``enforce=False`` counts
    anyway (a planned quiz serves its fixed list). The day's counters are rebuilt from
    ``quiz_items`` first when the store does not know them.
    """
    day = utc_day(now)
    for _ in range(3):
        count = state.reserve_exposure(tenant_id, question_id, version, day,
                                       max_daily_exposures, enforce=enforce)  # fmt: skip
        if count != EXPOSURE_UNSEEDED:
            return count != EXPOSURE_REFUSED
        state.seed_exposures(tenant_id, day, served_counts(sessions, tenant_id, day),
                             max_daily_exposures)  # fmt: skip
    raise ConflictError("the day's exposure counters are being rebuilt; try again")


def release_exposure(
    state: StateStore, tenant_id: str, question_id: int, version: int, now: datetime | None = None
) -> None:
    """Give back a reservation whose item was not served after all."""
    state.release_exposure(tenant_id, question_id, version, utc_day(now))


def capped_today(
    state: StateStore, tenant_id: str, now: datetime | None = None
) -> set[tuple[int, int]]:
    """The (question_id, version) pairs at today's (UTC) exposure cap: one small read."""
    return state.capped_items(tenant_id, utc_day(now))


def items_under_cap(
    state: StateStore,
    tenant_id: str,
    items: Sequence[tuple[int, int]],
    now: datetime | None = None,
) -> list[bool]:
    """For each (question_id, version): is it still under today's (UTC) exposure cap?

    The capped set is kept when exposures are reserved (``reserve_exposure``), so this is one
    read of the day's capped set, not a counter per item.
    """
    capped = capped_today(state, tenant_id, now)
    return [item not in capped for item in items]
