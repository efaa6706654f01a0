"""Failed-login throttling per account and per client address, with exponential backoff.

Every login attempt counts against its account (tenant + username) and its client address
before the password is checked, so parallel guesses cannot slip past the count; a success
forgets the account's count and gives the address its attempt back. Once a key has ``free``
counted attempts, each further one must wait ``base_s · 2^(n − free)`` seconds (capped at
``max_s``) after the previous one; earlier it is refused with the time left, without hashing.

The state lives in Redis when ``QBANK_REDIS_URL`` is set (every API and dashboard process
shares it) and in the process otherwise. A key is forgotten ``FORGET_AFTER_S`` after its last
attempt.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConfigError, PermissionDeniedError
from qbank.services.access.auth import Principal, authenticate

__all__ = [
    "ACCOUNT_POLICY",
    "ADDRESS_POLICY",
    "InMemoryLoginThrottle",
    "LoginThrottle",
    "LoginThrottledError",
    "Policy",
    "RedisLoginThrottle",
    "make_login_throttle",
    "throttled_login",
]

FORGET_AFTER_S = 24 * 3600
MAX_IN_PROCESS_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class Policy:
    """How many attempts are free, and the backoff after them."""

    free: int
    base_s: float = 1.0
    max_s: float = 300.0

    def wait_after(self, attempts: int) -> float:
        """Seconds a key with ``attempts`` counted attempts waits before the next one."""
        if attempts < self.free:
            return 0.0
        return min(self.max_s, self.base_s * 2.0 ** (attempts - self.free))


ACCOUNT_POLICY = Policy(free=5)
# An address is shared by everyone behind one NAT or proxy: a little more room before backoff.
ADDRESS_POLICY = Policy(free=20)


class LoginThrottledError(PermissionDeniedError):
    """Too many failed logins: retry after ``retry_after_s`` seconds."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        super().__init__(f"too many failed logins; try again in {self.retry_after_s} s")


class LoginThrottle(Protocol):
    """Counts login attempts per key; see the module docstring."""

    def admit(self, keys: list[tuple[str, Policy]], now: float) -> float:
        """Count an attempt on every key and return 0, or (counting nothing) the seconds left."""
        ...

    def succeeded(self, account: str, address: str | None) -> None:
        """Forget the account's attempts; give the address back the one just counted."""
        ...


def _key(kind: str, *parts: str) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


class InMemoryLoginThrottle:
    """The embedded runtime's throttle: this process only."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[int, float, float]] = {}  # key → attempts, last, until
        self._lock = threading.Lock()

    def admit(self, keys: list[tuple[str, Policy]], now: float) -> float:
        """Count an attempt on every key, or return the longest wait left (counting nothing)."""
        with self._lock:
            if len(self._state) > MAX_IN_PROCESS_KEYS:
                self._sweep(now)
            for key, _ in keys:
                if now - self._state.get(key, (0, now, 0.0))[1] > FORGET_AFTER_S:
                    self._state.pop(key, None)
            wait = max(self._state.get(key, (0, 0.0, 0.0))[2] - now for key, _ in keys)
            if wait > 0:
                return wait
            for key, policy in keys:
                attempts = self._state.get(key, (0, now, 0.0))[0] + 1
                self._state[key] = (attempts, now, now + policy.wait_after(attempts))
            return 0.0

    def _sweep(self, now: float) -> None:
        """Drop keys nobody has to wait for (a spray of usernames must not grow memory)."""
        for key in [k for k, (_, last, until) in self._state.items()
                    if until <= now or now - last > FORGET_AFTER_S]:  # fmt: skip
            del self._state[key]

    def succeeded(self, account: str, address: str | None) -> None:
        """Forget the account; the address keeps its other attempts."""
        with self._lock:
            self._state.pop(account, None)
            if address is not None and address in self._state:
                attempts, last, until = self._state[address]
                if attempts <= 1:
                    del self._state[address]
                else:
                    self._state[address] = (attempts - 1, last, until)


# KEYS: the keys; ARGV: now, forget_after_s, then (free, base_s, max_s) per key.
_ADMIT = """
local now = tonumber(ARGV[1])
local wait = 0
for i, key in ipairs(KEYS) do
  local until_ = tonumber(redis.call('HGET', key, 'until') or '0')
  if until_ - now > wait then wait = until_ - now end
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[3 * i]); local base = tonumber(ARGV[3 * i + 1])
  local cap = tonumber(ARGV[3 * i + 2])
  local n = redis.call('HINCRBY', key, 'n', 1)
  local delay = 0
  if n >= free then delay = math.min(cap, base * 2 ^ (n - free)) end
  redis.call('HSET', key, 'until', tostring(now + delay))
  redis.call('EXPIRE', key, tonumber(ARGV[2]))
end
return '0'
"""
_SUCCEEDED = """
redis.call('DEL', KEYS[1])
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then
  if redis.call('HINCRBY', KEYS[2], 'n', -1) <= 0 then redis.call('DEL', KEYS[2]) end
end
return 1
"""


class RedisLoginThrottle:
    """Attempt counts in Redis hashes under ``<prefix>:login:``: shared by every process."""

    def __init__(self, redis_url: str, prefix: str) -> None:
        import redis

        try:
            self._client = redis.Redis.from_url(redis_url, socket_timeout=5)
        except ValueError as error:
            raise ConfigError(f"QBANK_REDIS_URL is not a Redis URL: {error}") from None
        self._prefix = f"{prefix}:login:"
        self._admit = self._client.register_script(_ADMIT)
        self._succeeded = self._client.register_script(_SUCCEEDED)

    def _call(self, call: Callable[[], object]) -> object:
        import redis

        try:
            return call()
        except redis.exceptions.RedisError as error:  # fail closed: no Redis, no login
            raise ConfigError(f"cannot reach Redis to check login attempts: {error}") from None

    def admit(self, keys: list[tuple[str, Policy]], now: float) -> float:
        """Count an attempt on every key, or return the longest wait left (counting nothing)."""
        argv: list[float] = [now, FORGET_AFTER_S]
        for _, policy in keys:
            argv += [policy.free, policy.base_s, policy.max_s]
        names = [self._prefix + key for key, _ in keys]
        result = self._call(lambda: self._admit(keys=names, args=argv))
        return float(result.decode() if isinstance(result, bytes) else str(result))

    def succeeded(self, account: str, address: str | None) -> None:
        """Forget the account; the address keeps its other attempts."""
        names = [self._prefix + account] + ([self._prefix + address] if address else [])
        self._call(lambda: self._succeeded(keys=names))


_IN_PROCESS: dict[str, InMemoryLoginThrottle] = {}
_IN_PROCESS_LOCK = threading.Lock()


def make_login_throttle(redis_url: str | None, prefix: str) -> LoginThrottle:
    """Redis-backed when ``redis_url`` is set; otherwise this process's throttle for ``prefix``.

    The API and the dashboard of one ``qbank demo`` process share the in-process one.
    """
    if redis_url:
        return RedisLoginThrottle(redis_url, prefix)
    with _IN_PROCESS_LOCK:
        return _IN_PROCESS.setdefault(prefix, InMemoryLoginThrottle())


def throttled_login(
    sessions: sessionmaker[Session],
    throttle: LoginThrottle,
    tenant_id: str,
    username: str,
    password: str,
    address: str | None,
    now: Callable[[], float] = time.time,
) -> Principal:
    """``authenticate``, counted per account and client address.

    Raises:
        LoginThrottledError: the account or the address must wait (the password is not checked).
        PermissionDeniedError: unknown user or wrong password.
    """
    account = _key("account", tenant_id, username)
    origin = _key("address", address) if address else None
    keys = [(account, ACCOUNT_POLICY)] + ([(origin, ADDRESS_POLICY)] if origin else [])
    wait = throttle.admit(keys, now())
    if wait > 0:
        raise LoginThrottledError(wait)
    principal = authenticate(sessions, tenant_id, username, password)
    throttle.succeeded(account, origin)
    return principal
