"""The run sweep: no run stays queued or running after its job or worker is gone.

Every API process and every ``qbank worker`` runs ``RunSweeper``, which calls ``sweep_runs``
every ``SWEEP_INTERVAL_S``. A sweep marks ``failed``, with a reason saying what happened:

- a running run whose heartbeat (every 10 s) stopped for ``STALE_AFTER_S``: its worker died;
- a queued or running run whose job the queue reports lost: gone from Redis (Redis lost its
  data), failed in RQ, or held by an in-process runner whose process is gone;
- a queued run that never got a job id within ``UNQUEUED_GRACE_S`` (its enqueue failed).

So a vanished run is failed within STALE_AFTER_S + SWEEP_INTERVAL_S = 60 s. Such runs are
failed, not re-queued: a calibration is cheap to start again, and re-running one whose result
may already have been applied would need the very certainty that was lost.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import QBankError
from qbank.jobs.queue import JobQueue
from qbank.services.calibration.runs import STALE_AFTER_S, _now, fail_stale_runs
from qbank.store.models import CalibrationRun

__all__ = ["SWEEP_INTERVAL_S", "UNQUEUED_GRACE_S", "RunSweeper", "SweptRun", "sweep_runs"]

SWEEP_INTERVAL_S = 15.0
UNQUEUED_GRACE_S = 30.0

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweptRun:
    """A run the sweep marked failed, and why."""

    run_id: str
    reason: str


def _fail_if_unchanged(
    sessions: sessionmaker[Session], run: tuple[object, str, str | None], reason: str
) -> bool:
    run_id, status, job_id = run
    with sessions.begin() as session:
        changed = session.execute(
            update(CalibrationRun)
            .where(CalibrationRun.id == run_id, CalibrationRun.status == status,
                   CalibrationRun.job_id.is_(None) if job_id is None
                   else CalibrationRun.job_id == job_id)
            .values(status="failed", error=reason, finished_at=_now())
        )  # fmt: skip
        return bool(changed.rowcount == 1)  # type: ignore[attr-defined]


def sweep_runs(
    sessions: sessionmaker[Session],
    queue: JobQueue,
    now: datetime | None = None,
    stale_after_s: float = STALE_AFTER_S,
) -> list[SweptRun]:
    """One sweep over every tenant's queued and running runs; returns the runs it failed."""
    now = (now or _now()).astimezone(UTC)
    swept = [SweptRun(run_id, "heartbeat stopped")
             for run_id in fail_stale_runs(sessions, stale_after_s, now)]  # fmt: skip
    with sessions() as session:
        open_runs = session.execute(
            select(CalibrationRun.id, CalibrationRun.status, CalibrationRun.job_id,
                   CalibrationRun.created_at)
            .where(CalibrationRun.status.in_(("queued", "running")))
        ).all()  # fmt: skip
    unqueued_before = now - timedelta(seconds=UNQUEUED_GRACE_S)
    for run_id, status, job_id, created_at in open_runs:
        if job_id is None:
            created = created_at if created_at.tzinfo else created_at.replace(tzinfo=UTC)
            reason = "its job was never queued" if created < unqueued_before else None
        else:
            lost = queue.lost(job_id)
            reason = None if lost is None else f"{lost}; nothing was applied, start it again"
        if reason is not None and _fail_if_unchanged(sessions, (run_id, status, job_id), reason):
            swept.append(SweptRun(str(run_id), reason))
    for run in swept:
        _log.warning("run %s marked failed: %s", run.run_id, run.reason)
    return swept


class RunSweeper:
    """A daemon thread that sweeps every ``interval_s`` until stopped; outages are logged."""

    def __init__(
        self, sessions: sessionmaker[Session], queue: JobQueue,
        interval_s: float = SWEEP_INTERVAL_S,
    ) -> None:  # fmt: skip
        self._sessions, self._queue, self._interval_s = sessions, queue, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="qbank-run-sweep", daemon=True)

    def start(self) -> RunSweeper:
        """Start sweeping (the first sweep runs at once)."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the current sweep."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                sweep_runs(self._sessions, self._queue)
                if failing:
                    _log.warning("run sweep: the database and queue answer again")
                failing = False
            except (SQLAlchemyError, QBankError) as error:  # an outage: try again next time
                if not failing:
                    _log.warning("run sweep failed (%s: %s); retrying every %.0f s",
                                 type(error).__name__, error, self._interval_s)  # fmt: skip
                failing = True
            self._stop.wait(self._interval_s)
