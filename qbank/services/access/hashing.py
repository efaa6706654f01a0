"""Password hashing off the request workers: a low-priority process of its own per process.

scrypt (16 MiB and ~50 ms of CPU per check) is what a login flood spends. Every hash of this
process runs in one child process (``HASH_CONCURRENCY``), so hashes queue there one at a time
instead of running on the threads that serve quiz steps. The child starts a session of its own
(on Linux a scheduling autogroup of its own) at nice 19, so it gets only the CPU that the API,
PostgreSQL and Redis leave: a flood slows logins, not quiz delivery. The child is started on
the first hash and imports nothing but this module.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

__all__ = ["HASH_CONCURRENCY", "HASH_NICE", "scrypt", "worker_info"]

HASH_CONCURRENCY = 1  # hashing processes per API/dashboard process: one hash at a time
HASH_NICE = 19
T = TypeVar("T")

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _lower_priority() -> None:
    """In the child: a session (and so a Linux autogroup) of its own, at the lowest priority.

    Within a shared autogroup a nice value only orders the group's own threads; in its own
    group it also yields to every other process on the machine.
    """
    with contextlib.suppress(AttributeError, OSError):
        os.setsid()
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, HASH_NICE)
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as autogroup:
        autogroup.write(str(HASH_NICE))


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            spawn = multiprocessing.get_context("spawn")  # no fork of a threaded server
            _pool = ProcessPoolExecutor(HASH_CONCURRENCY, spawn, initializer=_lower_priority)
        return _pool


def scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """``hashlib.scrypt`` in the hashing process (the caller's thread waits for it).

    Raises:
        ValueError: parameters scrypt refuses (as ``hashlib.scrypt``).
    """
    job = functools.partial(hashlib.scrypt, password, salt=salt, n=n, r=r, p=p, dklen=dklen)
    result: bytes = _submit(job)
    return result


def _submit(job: Callable[[], T]) -> T:
    pool = _executor()
    try:
        return pool.submit(job).result()
    except BrokenProcessPool:  # the hashing process died (killed, out of memory): start anew
        global _pool
        with _pool_lock:
            if _pool is pool:
                _pool = None
        return _executor().submit(job).result()


def _info() -> tuple[int, int, int]:
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), os.getsid(0)


def worker_info() -> tuple[int, int, int]:
    """The hashing process's pid, nice value and session id (for checks and diagnostics)."""
    return _submit(_info)
