"""Redis-backed state, shared by every API process and worker when ``QBANK_REDIS_URL`` is set."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from qbank.errors import ConfigError
from qbank.state.base import (
    DEFAULT_PREFIX,
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

__all__ = ["RedisStateStore"]

_SCAN_BATCH = 500
# SET the new state unless the stored one carries a version at least as high: atomic in Redis.
_PUT_IF_NEWER = """
local stored = redis.call('GET', KEYS[1])
if stored then
  local ok, decoded = pcall(cjson.decode, stored)
  if ok and type(decoded) == 'table' and tonumber(decoded['version'])
     and tonumber(decoded['version']) >= tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
"""
# The hard daily cap: check and INCR in one step. KEYS: seeded marker, counter, capped set;
# ARGV: cap, TTL, capped-set member, enforce (1/0).
_RESERVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local cap = tonumber(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[2]) or '0')
if ARGV[4] == '1' and count >= cap then
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[2])
  return 0
end
count = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
if count >= cap then
  redis.call('SADD', KEYS[3], ARGV[3])
  redis.call('EXPIRE', KEYS[3], ARGV[2])
end
return count
"""
# Seed a day once. KEYS: seeded marker, capped set, then one counter per item; ARGV: cap, TTL,
# then (member, count) per item.
_SEED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local cap, ttl = tonumber(ARGV[1]), ARGV[2]
for i = 3, #KEYS do
  local member, count = ARGV[2 * i - 3], tonumber(ARGV[2 * i - 2])
  count = math.max(count, tonumber(redis.call('GET', KEYS[i]) or '0'))
  redis.call('SET', KEYS[i], count, 'EX', ttl)
  if count >= cap then redis.call('SADD', KEYS[2], member) end
end
redis.call('SET', KEYS[1], '1', 'EX', ttl)
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ttl) end
return 1
"""
_RELEASE = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return count
"""
_GLOB_SPECIAL = re.compile(r"([*?\[\]\\])")


class RedisStateStore:
    """A ``StateStore`` on Redis: INCR/EXPIRE counters, JSON strings with ``SET … EX``.

    A Redis that cannot be reached (refused, timed out, bad password) raises ``ConfigError``
    naming the server, never a raw redis-py exception.

    Args:
        client: A redis-py client; the store does not close it (``close`` does, if asked).
        prefix: First segment of every key (``{prefix}:{tenant_id}:…``).
    """

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = _check_prefix(prefix)
        self._server = _describe_server(client)
        self._put_if_newer = client.register_script(_PUT_IF_NEWER)
        self._reserve = client.register_script(_RESERVE)
        self._seed = client.register_script(_SEED)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def from_url(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisStateStore:
        """A store on a new client for ``url`` (``redis://``, ``rediss://`` or ``unix://``).

        No connection is made here; the first command connects.

        Raises:
            ConfigError: ``url`` is not a Redis URL.
        """
        try:
            client = redis.Redis.from_url(url)
        except ValueError as exc:
            raise ConfigError(f"invalid Redis URL (QBANK_REDIS_URL): {exc}") from exc
        return cls(client, prefix)

    def incr_exposure(self, tenant_id: str, question_id: int, version: int, day: date) -> int:
        """Count one more administration of an item version on ``day`` (a UTC date).

        INCR and EXPIRE run in one MULTI/EXEC, so no counter is ever left without a TTL.

        Returns:
            The new count; the counter expires 48 h after ``day`` starts (00:00 UTC).

        Raises:
            InvalidInputError: ``tenant_id`` is empty or holds ``':'``.
            ConfigError: Redis cannot be reached.
        """
        _check_tenant(tenant_id)
        key = _exposure_key(self._prefix, tenant_id, question_id, version, day)
        with self._translate_errors(), self._client.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, _exposure_ttl_s(day))
            count, _ = pipe.execute()
        return int(count)

    def exposure_counts(
        self, tenant_id: str, items: Sequence[tuple[int, int]], day: date
    ) -> list[int]:
        """Counts on ``day`` of many ``(question_id, version)`` pairs, with one MGET.

        Returns:
            One count per pair, in order; 0 where no counter exists (or it expired).

        Raises:
            InvalidInputError: ``tenant_id`` is empty or holds ``':'``.
            ConfigError: Redis cannot be reached.
        """
        _check_tenant(tenant_id)
        if not items:
            return []
        keys = [_exposure_key(self._prefix, tenant_id, q, v, day) for q, v in items]
        with self._translate_errors():
            values = self._client.mget(keys)
        return [0 if value is None else int(value) for value in values]

    def mark_capped(self, tenant_id: str, question_id: int, version: int, day: date) -> None:
        """Record that an item version reached the daily cap on ``day`` (SADD + EXPIRE)."""
        _check_tenant(tenant_id)
        key = _capped_key(self._prefix, tenant_id, day)
        with self._translate_errors(), self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(key, f"{question_id}:{version}")
            pipe.expire(key, _exposure_ttl_s(day))
            pipe.execute()

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
        """Check and count one exposure in one Lua script (see ``StateStore``)."""  # fmt: skip
        _check_tenant(tenant_id)
        keys = [_seeded_key(self._prefix, tenant_id, day),
                _exposure_key(self._prefix, tenant_id, question_id, version, day),
                _capped_key(self._prefix, tenant_id, day)]  # fmt: skip
        args: list[str | int] = [cap, _exposure_ttl_s(day), f"{question_id}:{version}",
                                 "1" if enforce else "0"]  # fmt: skip
        with self._translate_errors():
            return int(self._reserve(keys=keys, args=args))

    def seed_exposures(
        self, tenant_id: str, day: date, counts: dict[tuple[int, int], int], cap: int
    ) -> bool:
        """Set the day's counters from a recount, once, in one Lua script (see ``StateStore``)."""
        _check_tenant(tenant_id)
        keys = [
            _seeded_key(self._prefix, tenant_id, day),
            _capped_key(self._prefix, tenant_id, day),
        ]
        args: list[Any] = [cap, _exposure_ttl_s(day)]
        for (question_id, version), count in counts.items():
            keys.append(_exposure_key(self._prefix, tenant_id, question_id, version, day))
            args += [f"{question_id}:{version}", count]
        with self._translate_errors():
            return bool(self._seed(keys=keys, args=args))

    def release_exposure(self, tenant_id: str, question_id: int, version: int, day: date) -> None:
        """Give back one reservation (never below zero)."""
        _check_tenant(tenant_id)
        key = _exposure_key(self._prefix, tenant_id, question_id, version, day)
        with self._translate_errors():
            self._release(keys=[key])

    def capped_items(self, tenant_id: str, day: date) -> set[tuple[int, int]]:
        """Item versions at the daily cap on ``day`` (one SMEMBERS)."""
        _check_tenant(tenant_id)
        with self._translate_errors():
            members = self._client.smembers(_capped_key(self._prefix, tenant_id, day))
        pairs = (
            member.decode() if isinstance(member, bytes) else str(member) for member in members
        )
        return {(int(q), int(v)) for q, v in (pair.split(":") for pair in pairs)}

    def put_quiz_state(
        self, tenant_id: str, quiz_id: str, state: dict[str, Any], ttl_s: int
    ) -> None:
        """Store a quiz's state as JSON for ``ttl_s`` seconds, replacing any earlier state.

        Raises:
            InvalidInputError: Bad tenant or quiz id, ``ttl_s`` < 1, or ``state`` is not
                JSON-serialisable.
            ConfigError: Redis cannot be reached.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        _check_ttl(ttl_s)
        raw = _dump_state(state)
        with self._translate_errors():
            self._client.set(_quiz_key(self._prefix, tenant_id, quiz_id), raw, ex=ttl_s)

    def put_quiz_state_if_newer(
        self, tenant_id: str, quiz_id: str, state: dict[str, Any], ttl_s: int
    ) -> bool:
        """Store ``state`` only if its ``version`` is above the stored state's (one Lua call).

        Raises:
            InvalidInputError: as ``put_quiz_state``, or no integer ``version``.
            ConfigError: Redis cannot be reached.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        _check_ttl(ttl_s)
        version = _state_version(state)
        raw = _dump_state(state)
        key = _quiz_key(self._prefix, tenant_id, quiz_id)
        with self._translate_errors():
            return bool(self._put_if_newer(keys=[key], args=[raw, version, ttl_s]))

    def get_quiz_state(self, tenant_id: str, quiz_id: str) -> dict[str, Any] | None:
        """The quiz's stored state, or None when it is missing or expired.

        Raises:
            InvalidInputError: Bad tenant or quiz id.
            ConfigError: Redis cannot be reached.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        with self._translate_errors():
            raw = self._client.get(_quiz_key(self._prefix, tenant_id, quiz_id))
        return None if raw is None else _load_state(raw)

    def delete_quiz_state(self, tenant_id: str, quiz_id: str) -> None:
        """Forget a quiz's state; deleting a missing state is not an error.

        Raises:
            InvalidInputError: Bad tenant or quiz id.
            ConfigError: Redis cannot be reached.
        """
        _check_tenant(tenant_id)
        _check_quiz_id(quiz_id)
        with self._translate_errors():
            self._client.delete(_quiz_key(self._prefix, tenant_id, quiz_id))

    def ping(self) -> bool:
        """True when Redis answers PING; False (not an error) when it cannot be reached."""
        try:
            return bool(self._client.ping())
        except (RedisConnectionError, RedisTimeoutError):
            return False

    def clear(self) -> int:
        """Delete every key under this store's prefix, every tenant's (for tests).

        Uses SCAN, never KEYS, so a large Redis is not blocked.

        Returns:
            How many keys were deleted.

        Raises:
            ConfigError: Redis cannot be reached.
        """
        pattern = _GLOB_SPECIAL.sub(r"\\\1", self._prefix) + ":*"
        deleted = 0
        with self._translate_errors():
            batch: list[Any] = []
            for key in self._client.scan_iter(match=pattern, count=_SCAN_BATCH):
                batch.append(key)
                if len(batch) >= _SCAN_BATCH:
                    deleted += self._client.delete(*batch)
                    batch.clear()
            if batch:
                deleted += self._client.delete(*batch)
        return deleted

    def close(self) -> None:
        """Close the client and its connections (for a store made by ``from_url``)."""
        self._client.close()

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise ConfigError(
                f"cannot reach Redis at {self._server} (check QBANK_REDIS_URL): {exc}"
            ) from exc


def _describe_server(client: redis.Redis) -> str:
    """``host:port/db`` or the socket path, for messages; never the password."""
    kwargs: dict[str, Any] = client.connection_pool.connection_kwargs
    if kwargs.get("path"):
        return f"unix://{kwargs['path']}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
