"""Password hashing off the request workers: one low-priority child process per process.

scrypt (16 MiB and ~50 ms of CPU per check) is what a login flood spends. Every hash of this
process runs in one child process, one at a time (``HASH_CONCURRENCY``); callers queue on a
lock instead of running scrypt on the threads that serve quiz steps. The child starts a session
of its own (on Linux a scheduling autogroup of its own) at nice 19, so it gets only the CPU that
the API, PostgreSQL and Redis leave: a flood slows logins, not quiz delivery.

The child is started on the first hash, imports nothing but this module, exits when its parent
does (end of its pipe; a daemon process at a normal exit), and is replaced if it dies.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
import threading
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["HASH_CONCURRENCY", "HASH_NICE", "scrypt", "worker_info"]

HASH_CONCURRENCY = 1  # hashes at once per API/dashboard process
HASH_NICE = 19


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


def _serve(connection: Connection) -> None:
    """The child's loop: answer each request until the parent's end of the pipe closes."""
    _lower_priority()
    while True:
        try:
            kind, args = connection.recv()
        except (EOFError, OSError):
            return
        answer: tuple[str, Any]
        if kind == "scrypt":
            password, salt, n, r, p, dklen = args
            try:
                answer = ("ok", hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=dklen))
            except (ValueError, MemoryError) as error:
                answer = ("error", str(error))
        else:
            answer = ("ok", (os.getpid(), os.getpriority(os.PRIO_PROCESS, 0), os.getsid(0)))
        connection.send(answer)


class _Hasher:
    """The parent's side: one request at a time over a pipe to the child."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._process: Any = None

    def _start(self) -> Connection:
        context = multiprocessing.get_context("spawn")  # never fork a threaded server
        ours, theirs = context.Pipe()
        process = context.Process(target=_serve, args=(theirs,), daemon=True,
                                  name="qbank-hashing")  # fmt: skip
        process.start()
        theirs.close()  # the child's EOF is the parent's exit
        self._connection, self._process = ours, process
        return ours

    def _discard(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._process is not None:
            self._process.kill()
            self._process.join(5)
        self._connection = self._process = None

    def call(self, kind: str, args: tuple[Any, ...]) -> Any:
        with self._lock:
            for attempt in (1, 2):  # a child that died (killed, out of memory) is replaced
                connection = self._connection or self._start()
                try:
                    connection.send((kind, args))
                    status, value = connection.recv()
                    break
                except (EOFError, OSError):
                    self._discard()
                    if attempt == 2:
                        raise
        if status == "error":
            raise ValueError(value)
        return value


_HASHER = _Hasher()


def scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """``hashlib.scrypt`` in the hashing process (the caller's thread waits for its turn).

    Raises:
        ValueError: parameters scrypt refuses (as ``hashlib.scrypt``).
    """
    digest: bytes = _HASHER.call("scrypt", (password, salt, n, r, p, dklen))
    return digest


def worker_info() -> tuple[int, int, int]:
    """The hashing process's pid, nice value and session id (for checks and diagnostics)."""
    pid, nice, session = _HASHER.call("info", ())
    return int(pid), int(nice), int(session)
