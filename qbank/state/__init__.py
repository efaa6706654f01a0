"""Shared state (exposure counters, quiz cursors): Redis when configured, in-process otherwise.

Build one with ``make_state_store(settings.redis_url)``; code depends on the ``StateStore``
protocol only.
"""

from __future__ import annotations

from qbank.state.base import DEFAULT_PREFIX, EXPOSURE_RETENTION, StateStore
from qbank.state.factory import make_state_store
from qbank.state.memory import InMemoryStateStore
from qbank.state.redis_store import RedisStateStore

__all__ = [
    "DEFAULT_PREFIX",
    "EXPOSURE_RETENTION",
    "InMemoryStateStore",
    "RedisStateStore",
    "StateStore",
    "make_state_store",
]
