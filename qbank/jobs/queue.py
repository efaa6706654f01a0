"""Job queues. Services enqueue tasks by dotted path; both runtimes run the same task code.

- ``RqJobQueue``: jobs go to an RQ queue on Redis (JSON serializer) and ``qbank worker``
  processes run them; any number of workers on any number of hosts.
- ``InProcessJobQueue``: the embedded default; a single background thread runs jobs in order.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from qbank.errors import ConfigError, NotFoundError

__all__ = [
    "CALIBRATION_TASK",
    "InProcessJobQueue",
    "JobQueue",
    "JobStatus",
    "RqJobQueue",
    "make_job_queue",
    "report_progress",
]

CALIBRATION_TASK = "qbank.tasks.run_calibration"
# Jobs queued by earlier releases name their task by an old path: they run the task it became.
LEGACY_TASK_PATHS = {
    "qbank.jobs.tasks.run_calibration": CALIBRATION_TASK,
    "qbank.jobs.tasks.run_sh_calibration": CALIBRATION_TASK,
}
DEFAULT_QUEUE = "qbank"
JOB_TIMEOUT_S = 6 * 3600


@dataclass(frozen=True, slots=True)
class JobStatus:
    """What a queue knows about a job (the run row knows more)."""

    job_id: str
    state: str  # queued | started | finished | failed | canceled | …
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class JobQueue(Protocol):
    """Where services send background work."""

    def enqueue(self, task_path: str, *args: str) -> str:
        """Queue ``task_path(*args)``; returns the job id."""
        ...

    def status(self, job_id: str) -> JobStatus:
        """The job's state; raises NotFoundError for an unknown id."""
        ...

    def lost(self, job_id: str) -> str | None:
        """Why the job can no longer run (gone, failed, its process dead), or None if it may.

        None also when the queue cannot tell (a job of another process that may be alive).
        """
        ...


def _resolve(task_path: str) -> Callable[..., Any]:
    module_name, _, name = LEGACY_TASK_PATHS.get(task_path, task_path).rpartition(".")
    task: Callable[..., Any] = getattr(importlib.import_module(module_name), name)
    return task


class InProcessJobQueue:
    """Runs jobs one at a time in a background thread of this process."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qbank-job")
        self._futures: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        # A job id names its owner, so another process can tell a job whose process died.
        host = socket.gethostname()[:40].replace("~", "-")
        self._owner = f"inproc~{host}~{os.getpid()}~{uuid.uuid4().hex[:8]}"

    def enqueue(self, task_path: str, *args: str) -> str:
        """Queue ``task_path(*args)`` on the background thread."""
        task = _resolve(task_path)
        job_id = f"{self._owner}~{uuid.uuid4().hex}"
        with self._lock:
            self._futures[job_id] = self._executor.submit(task, *args)
        return job_id

    def status(self, job_id: str) -> JobStatus:
        """Queued, started, finished or failed (with the error text)."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is None:
            raise NotFoundError(f"job {job_id!r} not found")
        if future.running():
            return JobStatus(job_id, "started")
        if not future.done():
            return JobStatus(job_id, "queued")
        error = future.exception()
        if error is not None:
            text = "".join(traceback.format_exception_only(type(error), error)).strip()
            return JobStatus(job_id, "failed", error=text)
        return JobStatus(job_id, "finished")

    def lost(self, job_id: str) -> str | None:
        """A job of this queue that failed, or of a process on this host that is gone."""
        with self._lock:
            future = self._futures.get(job_id)
        if future is not None:
            error = future.exception() if future.done() else None
            return None if error is None else f"its job failed: {type(error).__name__}: {error}"
        owner = _in_process_owner(job_id)
        if owner is None or owner == self._owner:  # an id of an older format, or forgotten
            return None if owner is None else "its job is unknown to the process that owns it"
        _, host, pid, _ = owner.split("~")
        if host == self._owner.split("~")[1] and pid.isdigit() and not _alive(int(pid)):
            return f"the process that ran its in-process job (pid {pid}) is gone"
        return None

    def wait(self, job_id: str, timeout_s: float | None = None) -> None:
        """Block until the job ends (for the CLI and tests)."""
        with self._lock:
            future = self._futures[job_id]
        future.exception(timeout=timeout_s)

    def shutdown(self) -> None:
        """Finish queued jobs and stop the thread."""
        self._executor.shutdown(wait=True)


def _in_process_owner(job_id: str) -> str | None:
    """``inproc~<host>~<pid>~<instance>`` of an in-process job id, or None (an older id)."""
    if not job_id.startswith("inproc~") or job_id.count("~") != 4:
        return None
    return job_id.rsplit("~", 1)[0]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


@functools.cache
def _task_job_class() -> type[Any]:
    """RQ's ``Job``, resolving a legacy task path (``LEGACY_TASK_PATHS``) to its new one.

    Built on first use, so that importing this module does not import rq.
    """
    from rq.job import Job
    from rq.utils import import_attribute

    class TaskJob(Job):
        @property
        def func(self) -> Any:
            name = self.func_name
            if name in LEGACY_TASK_PATHS and not self.instance:
                return import_attribute(LEGACY_TASK_PATHS[name])
            return super().func

    return TaskJob


class RqJobQueue:
    """Jobs on an RQ queue in Redis, run by ``qbank worker``."""

    def __init__(self, redis_url: str, queue_name: str = DEFAULT_QUEUE) -> None:
        import redis
        from rq import Queue
        from rq.serializers import JSONSerializer

        try:
            self._connection = redis.Redis.from_url(redis_url)
        except ValueError as error:
            raise ConfigError(f"QBANK_REDIS_URL is not a Redis URL: {error}") from None
        self._queue = Queue(queue_name, connection=self._connection, serializer=JSONSerializer,
                            job_class=_task_job_class())  # fmt: skip
        self.redis_url, self.queue_name = redis_url, queue_name

    def enqueue(self, task_path: str, *args: str) -> str:
        """Put ``task_path(*args)`` on the queue."""
        import redis

        try:
            job = self._queue.enqueue(task_path, *args, job_timeout=JOB_TIMEOUT_S,
                                      result_ttl=7 * 86400, failure_ttl=30 * 86400)  # fmt: skip
        except redis.exceptions.RedisError as error:
            raise ConfigError(f"cannot reach Redis to queue a job: {error}") from None
        return str(job.id)

    def status(self, job_id: str) -> JobStatus:
        """RQ's view of the job, with the progress the task wrote to ``job.meta``."""
        from rq.exceptions import NoSuchJobError
        from rq.serializers import JSONSerializer

        try:
            job = _task_job_class().fetch(
                job_id, connection=self._connection, serializer=JSONSerializer
            )
        except NoSuchJobError:
            raise NotFoundError(f"job {job_id!r} not found") from None
        state = str(job.get_status(refresh=True))
        error = None
        if state.endswith("failed"):
            latest = job.latest_result()
            error = latest.exc_string if latest is not None else None
        return JobStatus(job_id, state.rsplit(".", 1)[-1].lower(), dict(job.meta), error)

    def lost(self, job_id: str) -> str | None:
        """Gone from Redis (lost its data), or failed, stopped or cancelled in RQ.

        Raises:
            ConfigError: Redis cannot be reached (then nothing can be told).
        """
        import redis

        try:
            status = self.status(job_id)
        except NotFoundError:
            return "its job is gone from Redis (was Redis restarted without its data?)"
        except redis.exceptions.RedisError as error:
            raise ConfigError(f"cannot reach Redis to check job {job_id}: {error}") from None
        if status.state in ("failed", "stopped", "canceled"):
            tail = (status.error or "").strip().splitlines()[-1:] or ["no error recorded"]
            return f"its job {status.state} in RQ ({tail[0][:200]})"
        return None

    def worker(self, name: str | None = None) -> Any:
        """An RQ worker on this queue that runs jobs in its own process.

        No fork per job, so JAX's compiled functions are reused from one job to the next.
        """
        from rq import SimpleWorker
        from rq.serializers import JSONSerializer

        return SimpleWorker([self._queue], connection=self._connection, serializer=JSONSerializer,
                            name=name, job_class=_task_job_class())  # fmt: skip


def report_progress(meta: dict[str, Any]) -> None:
    """Copy progress into the current RQ job's meta, when running under RQ."""
    try:
        from rq import get_current_job
    except ImportError:  # pragma: no cover - rq is a dependency; kept for the embedded runtime
        return
    import redis

    job = get_current_job()
    if job is not None:
        job.meta.update(meta)
        # Progress in job.meta is best effort: the run row has it anyway.
        with contextlib.suppress(redis.exceptions.RedisError):
            job.save_meta()  # type: ignore[no-untyped-call]


_IN_PROCESS: dict[str, InProcessJobQueue] = {}


def make_job_queue(redis_url: str | None, queue_name: str = DEFAULT_QUEUE) -> JobQueue:
    """RQ when ``redis_url`` is set; otherwise the process's in-process queue."""
    if redis_url:
        return RqJobQueue(redis_url, queue_name)
    return _IN_PROCESS.setdefault(queue_name, InProcessJobQueue())
