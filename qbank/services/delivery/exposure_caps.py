"""The daily exposure cap: count what each item was served today, per tenant (UTC days)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from qbank.state import StateStore

__all__ = [
    "capped_today",
    "items_under_cap",
    "record_exposure",
]


def _utc_day(now: datetime | None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


def record_exposure(
    state: StateStore,
    tenant_id: str,
    question_id: int,
    version: int,
    max_daily_exposures: int,
    now: datetime | None = None,
) -> int:
    """Count one more exposure of an item version today (UTC); returns today's count.

    An item reaching the cap joins the day's capped set, which is all delivery reads.
    """
    day = _utc_day(now)
    count = state.incr_exposure(tenant_id, question_id, version, day)
    if count >= max_daily_exposures:
        state.mark_capped(tenant_id, question_id, version, day)
    return count


def capped_today(
    state: StateStore, tenant_id: str, now: datetime | None = None
) -> set[tuple[int, int]]:
    """The (question_id, version) pairs at today's (UTC) exposure cap: one small read."""
    return state.capped_items(tenant_id, _utc_day(now))


def items_under_cap(
    state: StateStore,
    tenant_id: str,
    items: Sequence[tuple[int, int]],
    now: datetime | None = None,
) -> list[bool]:
    """For each (question_id, version): is it still under today's (UTC) exposure cap?

    The cap is applied when exposures are recorded (``record_exposure``), so this is one read
    of the day's capped set, not a counter per item.
    """
    capped = capped_today(state, tenant_id, now)
    return [item not in capped for item in items]
