"""The shared-state contract: exposure counters and quiz cursors, scoped by tenant.

Both implementations (Redis and in-process) build the same keys with the helpers below, so a key
looks alike everywhere: ``{prefix}:{tenant_id}:exposure:{day}:{question_id}:{version}`` and
``{prefix}:{tenant_id}:quiz:{quiz_id}``. Every key carries a TTL (STYLE.md §7).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, runtime_checkable

from qbank.errors import ConfigError, InvalidInputError

__all__ = ["DEFAULT_PREFIX", "EXPOSURE_REFUSED", "EXPOSURE_RETENTION", "EXPOSURE_UNSEEDED",
           "StateStore"]  # fmt: skip

DEFAULT_PREFIX = "qbank"
# A day's counters stay readable through the next day (yesterday's exposure rates), then go.
EXPOSURE_RETENTION = timedelta(hours=48)
# What ``reserve_exposure`` answers besides a new count (which is >= 1).
EXPOSURE_REFUSED = 0  # the item is at the cap: nothing was counted
EXPOSURE_UNSEEDED = -1  # the day's counters are not known here (new day, store restarted)


@runtime_checkable
class StateStore(Protocol):
    """Tenant-scoped shared state: daily exposure counters and quiz cursors.

    Implementations: ``RedisStateStore`` (several processes share it) and ``InMemoryStateStore``
    (one process). Both raise ``InvalidInputError`` for an empty tenant id, a tenant id holding
    ``':'`` or a TTL below one second.
    """

    def incr_exposure(self, tenant_id: str, question_id: int, version: int, day: date) -> int:
        """Count one more administration of an item version on ``day`` (a UTC date).

        The counter expires ``EXPOSURE_RETENTION`` (48 h) after ``day`` starts (00:00 UTC).

        Returns:
            The new count.
        """
        ...

    def exposure_counts(
        self, tenant_id: str, items: Sequence[tuple[int, int]], day: date
    ) -> list[int]:
        """Counts on ``day`` of many ``(question_id, version)`` pairs, read in one round trip.

        Returns:
            One count per pair, in order; 0 where no counter exists (or it expired).
        """
        ...

    def mark_capped(self, tenant_id: str, question_id: int, version: int, day: date) -> None:
        """Record that an item version reached the daily exposure cap on ``day``."""
        ...

    def reserve_exposure(
        self,
        tenant_id: str,
        question_id: int,
        version: int,
        day: date,
        cap: int,
        *,
        enforce: bool = True,
    ) -> int:
        """Check and count one exposure in one atomic step (the hard daily cap).

        Under the cap the counter goes up by one and the new count comes back; an item reaching
        the cap joins the day's capped set. At the cap nothing is counted and the answer is
        ``EXPOSURE_REFUSED`` (with ``enforce=False`` the exposure is counted anyway: a planned
        quiz's item). Until ``seed_exposures`` has run for the day the answer is
        ``EXPOSURE_UNSEEDED`` and nothing changes.
        """  # fmt: skip
        ...

    def seed_exposures(
        self, tenant_id: str, day: date, counts: dict[tuple[int, int], int], cap: int
    ) -> bool:
        """Set the day's counters from a recount, once, atomically; True if this call did it.

        A day already seeded is left alone (a concurrent seeder won, and counting went on).
        """
        ...

    def release_exposure(self, tenant_id: str, question_id: int, version: int, day: date) -> None:
        """Give back a reservation whose item was not served after all (never below zero)."""
        ...

    def capped_items(self, tenant_id: str, day: date) -> set[tuple[int, int]]:
        """The ``(question_id, version)`` pairs at the cap on ``day``.

        One small read, so quiz delivery need not read a counter per item of the pool.
        """
        ...

    def put_quiz_state(
        self, tenant_id: str, quiz_id: str, state: dict[str, Any], ttl_s: int
    ) -> None:
        """Store a quiz's state as JSON for ``ttl_s`` seconds, replacing any earlier state.

        JSON has no tuples and only string keys: they come back as lists and strings.

        Raises:
            InvalidInputError: ``state`` is not JSON-serialisable (NaN and infinity included)
                or ``ttl_s`` < 1.
        """
        ...

    def put_quiz_state_if_newer(
        self, tenant_id: str, quiz_id: str, state: dict[str, Any], ttl_s: int
    ) -> bool:
        """Store ``state`` only if its integer ``version`` is above the stored one's (atomic).

        A missing state, or one without a version, counts as older. Returns whether it was
        stored. Concurrent writers of one quiz thus never put an older state over a newer one.

        Raises:
            InvalidInputError: as ``put_quiz_state``, or ``state`` has no integer ``version``.
        """
        ...

    def get_quiz_state(self, tenant_id: str, quiz_id: str) -> dict[str, Any] | None:
        """The quiz's stored state, or None when it is missing or expired."""
        ...

    def delete_quiz_state(self, tenant_id: str, quiz_id: str) -> None:
        """Forget a quiz's state; deleting a missing state is not an error."""
        ...

    def ping(self) -> bool:
        """True when the store answers (a health check; never raises for an unreachable store)."""
        ...


def _check_prefix(prefix: str) -> str:
    if not prefix:
        raise ConfigError("state key prefix must be a non-empty string")
    return prefix


def _check_tenant(tenant_id: str) -> None:
    if not tenant_id or ":" in tenant_id:
        raise InvalidInputError(
            f"tenant_id must be non-empty and contain no ':', got {tenant_id!r}"
        )


def _check_quiz_id(quiz_id: str) -> None:
    if not quiz_id:
        raise InvalidInputError("quiz_id must be a non-empty string")


def _check_ttl(ttl_s: int) -> None:
    if isinstance(ttl_s, bool) or not isinstance(ttl_s, int) or ttl_s < 1:
        raise InvalidInputError(f"ttl_s must be a whole number of seconds >= 1, got {ttl_s!r}")


def _exposure_key(prefix: str, tenant_id: str, question_id: int, version: int, day: date) -> str:
    return f"{prefix}:{tenant_id}:exposure:{day.isoformat()}:{question_id}:{version}"


def _seeded_key(prefix: str, tenant_id: str, day: date) -> str:
    return f"{prefix}:{tenant_id}:exposure-seeded:{day.isoformat()}"


def _capped_key(prefix: str, tenant_id: str, day: date) -> str:
    return f"{prefix}:{tenant_id}:capped:{day.isoformat()}"


def _quiz_key(prefix: str, tenant_id: str, quiz_id: str) -> str:
    return f"{prefix}:{tenant_id}:quiz:{quiz_id}"


def _exposure_ttl_s(day: date, now: datetime | None = None) -> int:
    """Seconds from ``now`` until ``day`` 00:00 UTC + 48 h, at least 1.

    A past day's counter is already due, so it goes at once.
    """
    now = now or datetime.now(UTC)
    expires_at = datetime.combine(day, time(), tzinfo=UTC) + EXPOSURE_RETENTION
    return max(1, int((expires_at - now).total_seconds()))


def _dump_state(state: dict[str, Any]) -> str:
    if not isinstance(state, dict):
        raise InvalidInputError(f"quiz state must be a dict, got {type(state).__name__}")
    try:
        return json.dumps(state, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"quiz state must be JSON-serialisable: {exc}") from exc


def _state_version(state: dict[str, Any]) -> int:
    version = state.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidInputError("a versioned quiz state needs an integer 'version'")
    return version


def _load_state(raw: str | bytes) -> dict[str, Any]:
    state = json.loads(raw)
    if not isinstance(state, dict):
        # Only put_quiz_state writes these keys, and it writes objects: anything else is a bug.
        raise TypeError(f"stored quiz state is not a JSON object: {type(state).__name__}")
    return state
