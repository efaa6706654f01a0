"""Choose the state store from configuration: Redis when a URL is set, in-process otherwise."""

from __future__ import annotations

from qbank.state.base import DEFAULT_PREFIX, StateStore
from qbank.state.memory import InMemoryStateStore
from qbank.state.redis_store import RedisStateStore

__all__ = ["make_state_store"]


def make_state_store(redis_url: str | None, prefix: str = DEFAULT_PREFIX) -> StateStore:
    """The state store ``Settings.redis_url`` asks for (DESIGN.md, Runtime).

    Args:
        redis_url: ``QBANK_REDIS_URL``; None or empty selects the in-process store.
        prefix: First segment of every key.

    Returns:
        A ``RedisStateStore`` (connects on first use) or an ``InMemoryStateStore``.

    Raises:
        ConfigError: ``redis_url`` is not a Redis URL or ``prefix`` is empty.
    """
    if not redis_url:
        return InMemoryStateStore(prefix)
    return RedisStateStore.from_url(redis_url, prefix)
