"""Failed-login throttling (qbank.services.access.throttle) on both backends, with a fake clock."""

import os
import threading
import uuid

import pytest

from qbank.errors import PermissionDeniedError
from qbank.services.access.auth import create_user
from qbank.services.access.throttle import (
    ACCOUNT_POLICY,
    ADDRESS_POLICY,
    InMemoryLoginThrottle,
    LoginThrottledError,
    Policy,
    RedisLoginThrottle,
    throttled_login,
)

GOOD = "the right password"


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture(params=["memory", "redis"])
def make_throttle(request):
    """A factory: every call is another process's view of the same throttle state."""
    if request.param == "memory":
        shared = InMemoryLoginThrottle()
        yield lambda: shared
        return
    import redis

    from tests.backends import redis_url_or_skip

    url, prefix = redis_url_or_skip(), f"qbank-test-{uuid.uuid4().hex[:12]}"
    yield lambda: RedisLoginThrottle(url, prefix)
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def users(session_factory):
    for name in ("ana", "bob"):
        create_user(session_factory, "t1", name, GOOD, ("student",))
    return session_factory


def _try(sessions, throttle, clock, user="ana", password="wrong guess", address="10.0.0.1"):
    try:
        throttled_login(sessions, throttle, "t1", user, password, address, now=clock)
    except LoginThrottledError as error:
        return error.retry_after_s
    except PermissionDeniedError:
        return "denied"
    return "ok"


def test_policy_backoff_doubles_after_the_free_attempts():
    policy = Policy(free=5, base_s=1.0, max_s=300.0)
    assert [policy.wait_after(n) for n in range(4, 9)] == [0, 1, 2, 4, 8]
    assert policy.wait_after(40) == 300


def test_after_five_failures_each_attempt_waits_twice_as_long(users, make_throttle):
    throttle, clock = make_throttle(), Clock()
    assert [_try(users, throttle, clock) for _ in range(5)] == ["denied"] * 5
    assert _try(users, throttle, clock, password=GOOD) == 1  # even the right password waits
    clock.now += 1.0
    assert _try(users, throttle, clock) == "denied"
    assert _try(users, throttle, clock) == 2
    clock.now += 1.5
    assert _try(users, throttle, clock) == 1  # 0.5 s left: Retry-After rounds up
    clock.now += 0.5
    assert _try(users, throttle, clock) == "denied"
    assert _try(users, throttle, clock) == 4
    assert _try(users, throttle, clock, user="bob", password=GOOD) == "ok"  # per account


def test_a_success_resets_the_account(users, make_throttle):
    throttle, clock = make_throttle(), Clock()
    assert [_try(users, throttle, clock) for _ in range(4)] == ["denied"] * 4
    assert _try(users, throttle, clock, password=GOOD) == "ok"
    assert [_try(users, throttle, clock) for _ in range(5)] == ["denied"] * 5  # free again
    assert _try(users, throttle, clock) == 1


def test_one_address_guessing_many_accounts_is_throttled(users, make_throttle):
    throttle, clock = make_throttle(), Clock()
    results = [_try(users, throttle, clock, user=f"user{i}") for i in range(ADDRESS_POLICY.free)]
    assert results == ["denied"] * ADDRESS_POLICY.free
    assert _try(users, throttle, clock, user="ana", password=GOOD) == 1
    assert _try(users, throttle, clock, user="ana", password=GOOD, address="10.0.0.2") == "ok"


def test_the_state_is_shared_by_every_process(users, make_throttle):
    first, second, clock = make_throttle(), make_throttle(), Clock()
    for throttle in (first, second, first, second, first):
        assert _try(users, throttle, clock) == "denied"
    assert _try(users, second, clock) == 1


def test_parallel_guesses_cannot_slip_past_the_count(make_throttle):
    """32 simultaneous attempts on one account: exactly the free ones are admitted."""
    throttles = [make_throttle() for _ in range(4)]
    admitted, barrier = [], threading.Barrier(32)

    def attempt(i):
        barrier.wait()
        keys = [(f"account:race-{id(throttles)}", ACCOUNT_POLICY)]
        admitted.append(throttles[i % 4].admit(keys, 1_800_000_000.0) == 0)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(admitted) == ACCOUNT_POLICY.free


def test_passwords_are_hashed_in_one_low_priority_process_of_its_own():
    from concurrent.futures import ThreadPoolExecutor

    from qbank.services.access import auth, hashing

    stored = auth.hash_password("some password")
    with ThreadPoolExecutor(8) as threads:  # parallel logins…
        checks = list(threads.map(lambda _: auth.verify_password("guess", stored), range(8)))
        workers = set(threads.map(lambda _: hashing.worker_info(), range(8)))
    assert checks == [False] * 8
    assert auth.verify_password("some password", stored)
    assert hashing.HASH_CONCURRENCY == 1
    ((pid, nice, session),) = workers  # …all hash in the same single process, one at a time
    assert pid != os.getpid()  # off the request workers
    assert nice == hashing.HASH_NICE  # the lowest priority
    assert session == pid != os.getsid(0)  # its own session, so its own Linux autogroup


def test_a_dead_hashing_process_is_replaced():
    import signal

    from qbank.services.access import auth, hashing

    pid = hashing.worker_info()[0]
    os.kill(pid, signal.SIGKILL)
    stored = auth.hash_password("some password")  # the next hash starts a new process
    assert auth.verify_password("some password", stored)
    assert hashing.worker_info()[0] != pid
