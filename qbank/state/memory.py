"""In-process state: the embedded default when ``QBANK_REDIS_URL`` is unset (one process only)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, TypeVar

from qbank.state.base import (
    DEFAULT_PREFIX,
    EXPOSURE_REFUSED,
    EXPOSURE_UNSEEDED,
    _capped_key,
    _check_prefix,
    _check_quiz_id,
    _check_tenant,
    _check_ttl,
    _dump_state,
    _exposure_key,
    _exposure_ttl_s,
    _load_state,
    _quiz_key,
    _seeded_key,
    _state_version,
)

__all__ = ["InMemoryStateStore"]

_T = TypeVar("_T")

# Expired entries are dropped when read, and all of them once every this many writes, so a
# long-running process does not keep every day's counters forever.
_SWEEP_EVERY_WRITES = 1024


class InMemoryStateStore:
    """A thread-safe ``StateStore`` in a dict, with Redis's semantics (TTLs included).

    Values are kept as Redis would keep them (counters as ints, quiz state as JSON text), so
    the state a caller gets back is a fresh copy, never the dict it stored.

    Args:
        prefix: Key prefix, as for ``RedisStateStore``.
        clock: Monotonic seconds, ``time.monotonic`` by default; tests pass a fake one to
            advance time without sleeping.
    """

    def __init__(
        self, prefix: str = DEFAULT_PREFIX, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._prefix = _check_prefix(prefix)
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, expires at)
        self._capped: dict[str, tuple[frozenset[tuple[int, int]], float]] = {}
        self._quiz_states: dict[str, tuple[str, float]] = {}  # key -> (JSON, expires at)
        self._writes = 0

    def incr_exposure(self, tenant_id: str, question_id: int, version: int, day: date) -> int:
        """Count one more administration of an item version on ``day`` (a UTC date).

        Returns:
            The new count; the counter expires 48 h after ``day`` starts (00:00 UTC).

        Raises:
            InvalidInputError: ``tenant_id`` is empty or holds ``':'``.
        """
        _check_tenant(tenant_id)
        key = _exposure_key(self._prefix, tenant_id, question_id, version, day)
        ttl_s = _exposure_ttl_s(day)
        with self._lock:
            now = self._clock()
            count = self._live(self._counters, key, now)
            new_count = (count or 0) + 1
            self._counters[key] = (new_count, now + ttl_s)
            self._after_write(now)
        return new_count

    def exposure_counts(
        self, tenant_id: str, items: Sequence[tuple[int, int]], day: date
    ) -> list[int]:
        """Counts on ``day`` of many ``(question_id, version)`` pairs.

        Returns:
            One count per pair, in order; 0 where no counter exists (or it expired).

        Raises:
            InvalidInputError: ``tenant_id`` is empty or holds ``':'``.
        """
        _check_tenant(tenant_id)
        keys = [_exposure_key(self._prefix, tenant_id, q, v, day) for q, v in items]
        with self._lock:
            now = self._clock()
            return [self._live(self._counters, key, now) or 0 for key in keys]

    def mark_capped(self, tenant_id: str, question_id: int, version: int, day: date) -> None:
        """Record that an item version reached the daily cap on ``day``."""
        _check_tenant(tenant_id)
        key = _capped_key(self._prefix, tenant_id, day)
        with self._lock:
            now = self._clock()
            members = self._live(self._capped, key, now) or frozenset()
            self._capped[key] = (members | {(question_id, version)}, now + _exposure_ttl_s(day))

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
        """Check and count one exposure under the store's lock (see ``StateStore``)."""  # fmt: skip
        _check_tenant(tenant_id)
        key = _exposure_key(self._prefix, tenant_id, question_id, version, day)
        seeded = _seeded_key(self._prefix, tenant_id, day)
        ttl_s = _exposure_ttl_s(day)
        with self._lock:
            now = self._clock()
            if self._live(self._counters, seeded, now) is None:
                return EXPOSURE_UNSEEDED
            count = self._live(self._counters, key, now) or 0
            if enforce and count >= cap:
                self._add_capped(tenant_id, question_id, version, day, now)
                return EXPOSURE_REFUSED
            self._counters[key] = (count + 1, now + ttl_s)
            if count + 1 >= cap:
                self._add_capped(tenant_id, question_id, version, day, now)
            self._after_write(now)
            return count + 1

    def seed_exposures(
        self, tenant_id: str, day: date, counts: dict[tuple[int, int], int], cap: int
    ) -> bool:
        """Set the day's counters from a recount unless the day is seeded (see ``StateStore``)."""
        _check_tenant(tenant_id)
        seeded = _seeded_key(self._prefix, tenant_id, day)
        ttl_s = _exposure_ttl_s(day)
        with self._lock:
            now = self._clock()
            if self._live(self._counters, seeded, now) is not None:
                return False
            for (question_id, version), count in counts.items():
                key = _exposure_key(self._prefix, tenant_id, question_id, version, day)
                old = self._live(self._counters, key, now) or 0
                self._counters[key] = (max(old, count), now + ttl_s)
                if max(old, count) >= cap:
                    self._add_capped(tenant_id, question_id, version, day, now)
            self._counters[seeded] = (1, now + ttl_s)
            self._after_write(now)
            return True

    def release_exposure(self, tenant_id: str, question_id: int, version: int, day: date) -> None:
        """Give back one reservation (never below zero)."""
        _check_tenant(tenant_id)
        key = _exposure_key(self._prefix, tenant_id, question_id, version, day)
        with self._lock:
            now = self._clock()
            count = self._live(self._counters, key, now)
            if count:
                self._counters[key] = (count - 1, self._counters[key][1])

    def _add_capped(
        self, tenant_id: str, question_id: int, version: int, day: date, now: float
    ) -> None:
        key = _capped_key(self._prefix, tenant_id, day)
        members = self._live(self._capped, key, now) or frozenset()
        self._capped[key] = (members | {(question_id, version)}, now + _exposure_ttl_s(day))

    def capped_items(self, tenant_id: str, day: date) -> set[tuple[int, int]]:
        """Item versions at the daily cap on ``day``."""
        _check_tenant(tenant_id)
        key = _capped_key(self._prefix, tenant_id, day)
        with self._lock:
            return set(self._live(self._capped, key, self._clock()) or ())

    def put_quiz_state(
        self, tenant_id: str, quiz_id: str, state: dict[str, Any], ttl_s: int
    ) -> None:
        """Store a quiz's state as JSON for ``ttl_s`` seconds, replacing any earlier state.

        Raises:
            InvalidInputError: Bad tenant or quiz id, ``ttl_s`` < 1, or ``state`` is not
                JSON-serialisable.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        _check_ttl(ttl_s)
        raw = _dump_state(state)
        key = _quiz_key(self._prefix, tenant_id, quiz_id)
        with self._lock:
            now = self._clock()
            self._quiz_states[key] = (raw, now + ttl_s)
            self._after_write(now)

    def put_quiz_state_if_newer(
        self, tenant_id: str, quiz_id: str, state: dict[str, Any], ttl_s: int
    ) -> bool:
        """Store ``state`` only if its ``version`` is above the stored state's (atomic).

        Raises:
            InvalidInputError: as ``put_quiz_state``, or no integer ``version``.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        _check_ttl(ttl_s)
        version = _state_version(state)
        raw = _dump_state(state)
        key = _quiz_key(self._prefix, tenant_id, quiz_id)
        with self._lock:
            now = self._clock()
            stored = self._live(self._quiz_states, key, now)
            if stored is not None:
                stored_version = _load_state(stored).get("version")
                if isinstance(stored_version, int) and stored_version >= version:
                    return False
            self._quiz_states[key] = (raw, now + ttl_s)
            self._after_write(now)
            return True

    def get_quiz_state(self, tenant_id: str, quiz_id: str) -> dict[str, Any] | None:
        """The quiz's stored state, or None when it is missing or expired.

        Raises:
            InvalidInputError: Bad tenant or quiz id.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        key = _quiz_key(self._prefix, tenant_id, quiz_id)
        with self._lock:
            raw = self._live(self._quiz_states, key, self._clock())
        return None if raw is None else _load_state(raw)

    def delete_quiz_state(self, tenant_id: str, quiz_id: str) -> None:
        """Forget a quiz's state; deleting a missing state is not an error.

        Raises:
            InvalidInputError: Bad tenant or quiz id.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        key = _quiz_key(self._prefix, tenant_id, quiz_id)
        with self._lock:
            self._quiz_states.pop(key, None)

    def ping(self) -> bool:
        """Always True: the store lives in this process."""
        return True

    @staticmethod
    def _live(entries: dict[str, tuple[_T, float]], key: str, now: float) -> _T | None:
        """The value under ``key`` unless expired (then dropped); the caller holds the lock."""
        entry = entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if now >= expires_at:
            del entries[key]
            return None
        return value

    def _after_write(self, now: float) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY_WRITES:
            return
        for entries in (self._counters, self._quiz_states):
            expired = [key for key, (_, expires_at) in entries.items() if now >= expires_at]
            for key in expired:
                del entries[key]
