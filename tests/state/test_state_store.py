"""One behaviour, two stores: every test runs on the in-process store and on a real Redis.

Redis comes from ``QBANK_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); unreachable
means skip, or fail under ``CI=true``. Each test owns a fresh key prefix and deletes its keys.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import redis

from qbank.errors import ConfigError, InvalidInputError
from qbank.state import (
    InMemoryStateStore,
    RedisStateStore,
    StateStore,
    make_state_store,
)

REDIS_URL = os.environ.get("QBANK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
HOUR_S = 3600
TODAY = datetime.now(UTC).date()
YESTERDAY = TODAY - timedelta(days=1)


class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Backend:
    name: str
    store: StateStore
    prefix: str
    clock: FakeClock | None = None  # memory only
    client: redis.Redis | None = None  # redis only

    def wait(self, seconds: float) -> None:
        """Let time pass: the fake clock for memory, a real sleep for Redis."""
        if self.clock is not None:
            self.clock.advance(seconds)
        else:
            time.sleep(seconds)

    def redis_keys(self, tenant_id: str) -> list[str]:
        assert self.client is not None
        return sorted(
            key.decode() for key in self.client.scan_iter(match=f"{self.prefix}:{tenant_id}:*")
        )


@pytest.fixture(scope="module")
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        client.close()
        reason = f"Redis not reachable at {REDIS_URL} ({exc}); set QBANK_TEST_REDIS_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    yield client
    client.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    prefix = f"qbank-test-{uuid4().hex}"
    if request.param == "memory":
        clock = FakeClock()
        yield Backend("memory", InMemoryStateStore(prefix, clock=clock), prefix, clock=clock)
        return
    client: redis.Redis = request.getfixturevalue("redis_client")
    store = RedisStateStore(client, prefix)
    yield Backend("redis", store, prefix, client=client)
    store.clear()
    assert list(client.scan_iter(match=f"{prefix}:*")) == []


def only(name: str) -> pytest.MarkDecorator:
    """Run a test on one backend only (semantics are the same; the way to observe them isn't)."""
    return pytest.mark.parametrize("backend", [name], indirect=True)


# --- exposure counters -------------------------------------------------------------------------


def test_incr_exposure_returns_running_count(backend: Backend) -> None:
    counts = [backend.store.incr_exposure("t1", 7, 1, TODAY) for _ in range(3)]

    assert counts == [1, 2, 3]


def test_exposure_counts_are_independent_per_day_tenant_and_version(backend: Backend) -> None:
    store = backend.store
    for _ in range(3):
        store.incr_exposure("t1", 7, 1, TODAY)
    store.incr_exposure("t1", 7, 2, TODAY)
    store.incr_exposure("t1", 7, 1, YESTERDAY)
    for _ in range(5):
        store.incr_exposure("t2", 7, 1, TODAY)

    assert store.exposure_counts("t1", [(7, 1), (7, 2)], TODAY) == [3, 1]
    assert store.exposure_counts("t1", [(7, 1), (7, 2)], YESTERDAY) == [1, 0]
    assert store.exposure_counts("t2", [(7, 1), (7, 2)], TODAY) == [5, 0]


def test_exposure_counts_are_zero_for_missing_items_and_keep_order(backend: Backend) -> None:
    backend.store.incr_exposure("t1", 2, 1, TODAY)

    assert backend.store.exposure_counts("t1", [(1, 1), (2, 1), (3, 1)], TODAY) == [0, 1, 0]
    assert backend.store.exposure_counts("t1", [], TODAY) == []
    assert backend.store.exposure_counts("nobody", [(2, 1)], TODAY) == [0]


@pytest.fixture
def busy_thread_switching() -> Iterator[None]:
    """Switch threads as often as possible, so a missing lock shows up as lost increments."""
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old_interval)


@pytest.mark.usefixtures("busy_thread_switching")
def test_concurrent_increments_are_all_counted(backend: Backend) -> None:
    n_threads, n_incr = (8, 500) if backend.name == "memory" else (8, 50)
    barrier = threading.Barrier(n_threads)

    def work() -> None:
        barrier.wait()
        for _ in range(n_incr):
            backend.store.incr_exposure("t1", 1, 1, TODAY)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert backend.store.exposure_counts("t1", [(1, 1)], TODAY) == [n_threads * n_incr]


@only("memory")
def test_memory_exposure_counter_expires_48h_after_day_start(backend: Backend) -> None:
    assert backend.clock is not None
    backend.store.incr_exposure("t1", 1, 1, TODAY)
    backend.store.incr_exposure("t1", 1, 1, YESTERDAY)

    backend.clock.advance(23 * HOUR_S)  # today's counter has > 24 h left, yesterday's < 24 h
    assert backend.store.exposure_counts("t1", [(1, 1)], TODAY) == [1]

    backend.clock.advance(25 * HOUR_S)
    assert backend.store.exposure_counts("t1", [(1, 1)], TODAY) == [0]
    assert backend.store.exposure_counts("t1", [(1, 1)], YESTERDAY) == [0]


@only("memory")
def test_memory_counter_of_a_long_past_day_does_not_linger(backend: Backend) -> None:
    assert backend.clock is not None
    assert backend.store.incr_exposure("t1", 1, 1, TODAY - timedelta(days=5)) == 1

    backend.clock.advance(1)

    assert backend.store.exposure_counts("t1", [(1, 1)], TODAY - timedelta(days=5)) == [0]


@only("redis")
def test_redis_exposure_counter_expires_48h_after_day_start(backend: Backend) -> None:
    assert backend.client is not None
    backend.store.incr_exposure("t1", 1, 1, TODAY)

    (key,) = backend.redis_keys("t1")
    # Today started at most 24 h ago, so between 24 h and 48 h are left (a minute of slack).
    assert 24 * HOUR_S - 60 < backend.client.ttl(key) <= 48 * HOUR_S


@only("redis")
def test_redis_counter_of_a_long_past_day_does_not_linger(backend: Backend) -> None:
    assert backend.client is not None
    assert backend.store.incr_exposure("t1", 1, 1, TODAY - timedelta(days=5)) == 1

    # At most a second left; gone already (TTL -2, or not listed) is as good; -1 (no TTL) is a bug.
    assert all(backend.client.ttl(key) in {-2, 0, 1} for key in backend.redis_keys("t1"))


# --- quiz state --------------------------------------------------------------------------------

STATE = {
    "theta_hat": -0.25,
    "posterior_sd": 0.71,
    "items_given": [3, 17, 42],
    "answers": {"3": True, "17": False},
    "topic": "Ölçme – θ",
    "done": None,
}


def test_quiz_state_round_trips_as_json(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "quiz-1", STATE, ttl_s=60)

    assert backend.store.get_quiz_state("t1", "quiz-1") == STATE


def test_json_turns_tuples_into_lists_and_keys_into_strings(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "quiz-1", {"pair": (1, 2), "by_id": {5: "x"}}, ttl_s=60)

    assert backend.store.get_quiz_state("t1", "quiz-1") == {"pair": [1, 2], "by_id": {"5": "x"}}


def test_returned_quiz_state_is_a_copy(backend: Backend) -> None:
    state = {"items_given": [1]}
    backend.store.put_quiz_state("t1", "quiz-1", state, ttl_s=60)
    state["items_given"].append(2)
    loaded = backend.store.get_quiz_state("t1", "quiz-1")
    assert loaded is not None
    loaded["items_given"].append(3)

    assert backend.store.get_quiz_state("t1", "quiz-1") == {"items_given": [1]}


def test_get_quiz_state_is_none_when_missing(backend: Backend) -> None:
    assert backend.store.get_quiz_state("t1", "no-such-quiz") is None


def test_quiz_state_is_scoped_by_tenant(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "quiz-1", {"owner": "t1"}, ttl_s=60)

    assert backend.store.get_quiz_state("t2", "quiz-1") is None
    backend.store.put_quiz_state("t2", "quiz-1", {"owner": "t2"}, ttl_s=60)
    backend.store.delete_quiz_state("t2", "quiz-1")
    assert backend.store.get_quiz_state("t1", "quiz-1") == {"owner": "t1"}


def test_put_quiz_state_replaces_earlier_state(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "quiz-1", {"step": 1}, ttl_s=60)
    backend.store.put_quiz_state("t1", "quiz-1", {"step": 2}, ttl_s=60)

    assert backend.store.get_quiz_state("t1", "quiz-1") == {"step": 2}


def test_delete_quiz_state_removes_it_and_tolerates_missing(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "quiz-1", STATE, ttl_s=60)

    backend.store.delete_quiz_state("t1", "quiz-1")
    backend.store.delete_quiz_state("t1", "quiz-1")

    assert backend.store.get_quiz_state("t1", "quiz-1") is None


def test_quiz_state_expires_after_ttl(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "quiz-1", STATE, ttl_s=1)

    backend.wait(1.2)

    assert backend.store.get_quiz_state("t1", "quiz-1") is None


@only("memory")
def test_memory_quiz_state_lives_exactly_ttl_seconds(backend: Backend) -> None:
    assert backend.clock is not None
    backend.store.put_quiz_state("t1", "quiz-1", STATE, ttl_s=600)

    backend.clock.advance(599.9)
    assert backend.store.get_quiz_state("t1", "quiz-1") == STATE
    backend.clock.advance(0.1)
    assert backend.store.get_quiz_state("t1", "quiz-1") is None


@only("memory")
def test_memory_put_restarts_the_ttl(backend: Backend) -> None:
    assert backend.clock is not None
    backend.store.put_quiz_state("t1", "quiz-1", {"step": 1}, ttl_s=60)
    backend.clock.advance(50)
    backend.store.put_quiz_state("t1", "quiz-1", {"step": 2}, ttl_s=60)
    backend.clock.advance(50)

    assert backend.store.get_quiz_state("t1", "quiz-1") == {"step": 2}


@only("redis")
def test_redis_quiz_state_key_carries_the_ttl(backend: Backend) -> None:
    assert backend.client is not None
    backend.store.put_quiz_state("t1", "quiz-1", STATE, ttl_s=600)

    (key,) = backend.redis_keys("t1")
    assert 0 < backend.client.ttl(key) <= 600


@only("redis")
def test_redis_keys_are_tenant_prefixed_and_all_expire(backend: Backend) -> None:
    assert backend.client is not None
    backend.store.incr_exposure("t1", 1, 1, TODAY)
    backend.store.put_quiz_state("t1", "quiz-1", STATE, ttl_s=60)
    backend.store.put_quiz_state("t2", "quiz-1", STATE, ttl_s=60)

    keys = backend.redis_keys("t1")
    assert len(keys) == 2
    assert all(key.startswith(f"{backend.prefix}:t1:") for key in keys)
    assert all(backend.client.ttl(key) > 0 for key in keys)  # -1 would mean no TTL


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize("tenant_id", ["", "a:b", ":"])
def test_invalid_tenant_id_is_rejected_everywhere(backend: Backend, tenant_id: str) -> None:
    store = backend.store
    calls: list[Callable[[], object]] = [
        lambda: store.incr_exposure(tenant_id, 1, 1, TODAY),
        lambda: store.exposure_counts(tenant_id, [(1, 1)], TODAY),
        lambda: store.put_quiz_state(tenant_id, "quiz-1", {}, ttl_s=60),
        lambda: store.get_quiz_state(tenant_id, "quiz-1"),
        lambda: store.delete_quiz_state(tenant_id, "quiz-1"),
    ]
    for call in calls:
        with pytest.raises(InvalidInputError, match="tenant_id"):
            call()


@pytest.mark.parametrize("ttl_s", [0, -1])
def test_ttl_below_one_second_is_rejected(backend: Backend, ttl_s: int) -> None:
    with pytest.raises(InvalidInputError, match="ttl_s"):
        backend.store.put_quiz_state("t1", "quiz-1", {}, ttl_s=ttl_s)

    assert backend.store.get_quiz_state("t1", "quiz-1") is None


def test_empty_quiz_id_is_rejected(backend: Backend) -> None:
    with pytest.raises(InvalidInputError, match="quiz_id"):
        backend.store.get_quiz_state("t1", "")


@pytest.mark.parametrize("state", [{"items": {1, 2}}, {"theta_hat": math.nan}])
def test_state_that_is_not_json_is_rejected(backend: Backend, state: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError, match="JSON"):
        backend.store.put_quiz_state("t1", "quiz-1", state, ttl_s=60)


def test_ping_answers_true(backend: Backend) -> None:
    assert backend.store.ping() is True
    assert isinstance(backend.store, StateStore)


# --- factory and connection errors -------------------------------------------------------------


def test_make_state_store_is_in_process_without_a_url() -> None:
    assert isinstance(make_state_store(None), InMemoryStateStore)
    assert isinstance(make_state_store(""), InMemoryStateStore)


def test_make_state_store_uses_redis_with_a_url() -> None:
    store = make_state_store(REDIS_URL, prefix=f"qbank-test-{uuid4().hex}")

    assert isinstance(store, RedisStateStore)
    store.close()


def test_make_state_store_rejects_a_url_that_is_not_redis() -> None:
    with pytest.raises(ConfigError, match="Redis URL"):
        make_state_store("http://127.0.0.1:6379")


def test_unreachable_redis_raises_config_error_naming_the_host() -> None:
    # Port 1 on loopback refuses at once: no server, no waiting.
    store = RedisStateStore.from_url("redis://127.0.0.1:1/0", prefix="qbank-test-unreachable")
    try:
        assert store.ping() is False
        with pytest.raises(ConfigError, match=r"127\.0\.0\.1:1"):
            store.incr_exposure("t1", 1, 1, TODAY)
        with pytest.raises(ConfigError, match="cannot reach Redis"):
            store.get_quiz_state("t1", "quiz-1")
    finally:
        store.close()


def test_capped_items_are_per_tenant_and_day(backend: Backend) -> None:
    store = backend.store
    monday, tuesday = TODAY, TODAY + timedelta(days=1)
    assert store.capped_items("t1", monday) == set()
    store.mark_capped("t1", 5, 2, monday)
    store.mark_capped("t1", 5, 2, monday)
    store.mark_capped("t1", 7, 1, monday)
    assert store.capped_items("t1", monday) == {(5, 2), (7, 1)}
    assert store.capped_items("t2", monday) == set()
    assert store.capped_items("t1", tuesday) == set()


def test_put_if_newer_keeps_the_newest_version(backend: Backend) -> None:
    store = backend.store
    assert store.put_quiz_state_if_newer("t1", "q1", {"version": 2, "step": "b"}, 60)
    assert not store.put_quiz_state_if_newer("t1", "q1", {"version": 1, "step": "a"}, 60)
    assert not store.put_quiz_state_if_newer("t1", "q1", {"version": 2, "step": "c"}, 60)
    assert store.get_quiz_state("t1", "q1") == {"version": 2, "step": "b"}
    assert store.put_quiz_state_if_newer("t1", "q1", {"version": 3, "step": "d"}, 60)
    assert store.get_quiz_state("t1", "q1") == {"version": 3, "step": "d"}


def test_put_if_newer_replaces_an_unversioned_state(backend: Backend) -> None:
    backend.store.put_quiz_state("t1", "q1", {"old": True}, 60)
    assert backend.store.put_quiz_state_if_newer("t1", "q1", {"version": 0}, 60)
    assert backend.store.get_quiz_state("t1", "q1") == {"version": 0}


def test_put_if_newer_needs_an_integer_version(backend: Backend) -> None:
    with pytest.raises(InvalidInputError, match="version"):
        backend.store.put_quiz_state_if_newer("t1", "q1", {"version": "2"}, 60)


def test_put_if_newer_never_goes_back_under_concurrent_writers(
    backend: Backend, busy_thread_switching: None
) -> None:
    store = backend.store

    def write(versions: range) -> None:
        for version in versions:
            store.put_quiz_state_if_newer("t1", "q1", {"version": version}, 60)

    threads = [threading.Thread(target=write, args=(range(start, 200, 4),)) for start in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.get_quiz_state("t1", "q1") == {"version": 199}
