"""Background jobs: an RQ queue on Redis, or an in-process runner, behind one interface."""

from qbank.jobs.queue import (
    CALIBRATION_TASK,
    InProcessJobQueue,
    JobQueue,
    JobStatus,
    RqJobQueue,
    make_job_queue,
)

__all__ = [
    "CALIBRATION_TASK",
    "InProcessJobQueue",
    "JobQueue",
    "JobStatus",
    "RqJobQueue",
    "make_job_queue",
]
