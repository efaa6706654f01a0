"""The run sweep fails runs whose job or worker vanished, periodically, within 60 s."""

import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from qbank.jobs.queue import InProcessJobQueue, RqJobQueue
from qbank.services.calibration.run_sweep import RunSweeper, sweep_runs
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import execute_run, set_job_id
from qbank.services.calibration.sh import create_run
from qbank.store.models import CalibrationRun
from tests.services.conftest import EXAM, TENANT
from tests.services.test_runs import PARAMS


@pytest.fixture
def queue(database_url):
    """The backend's job queue: in process, or RQ on a queue of its own."""
    if database_url.startswith("sqlite"):
        yield InProcessJobQueue()
        return
    from tests.backends import redis_url_or_skip

    rq_queue = RqJobQueue(redis_url_or_skip(), f"qbank-test-{uuid.uuid4().hex[:8]}")
    yield rq_queue
    rq_queue._queue.delete(delete_jobs=True)


def _lost_job_id(queue):
    """A job id whose job is gone: a dead process's in-process job, or one Redis lost."""
    if isinstance(queue, InProcessJobQueue):
        done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
        dead = done.stdout.strip()
        owner = queue._owner.split("~")
        return f"inproc~{owner[1]}~{dead}~deadbeef~{uuid.uuid4().hex}"
    job_id = queue.enqueue("qbank.tasks.run_calibration", str(uuid.uuid4()))
    queue._connection.delete(f"rq:job:{job_id}")  # as if Redis restarted without its data
    return job_id


def test_a_queued_run_whose_job_vanished_is_failed_with_a_reason(session_factory, exam, queue):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    set_job_id(session_factory, TENANT, run_id, _lost_job_id(queue))
    alive = create_run(session_factory, TENANT, EXAM, PARAMS, dry_run=True)
    set_job_id(session_factory, TENANT, alive, _live_job_id(queue))
    swept = sweep_runs(session_factory, queue)
    assert [run.run_id for run in swept] == [run_id]
    failed = get_run(session_factory, TENANT, run_id)
    assert failed.status == "failed"
    assert "gone" in failed.error
    assert get_run(session_factory, TENANT, alive).status in ("queued", "running", "done")


def _live_job_id(queue):
    """A job that exists (done in process; waiting for a worker on RQ) and did not fail."""
    job_id = queue.enqueue("os.getcwd")
    if isinstance(queue, InProcessJobQueue):
        queue.wait(job_id, timeout_s=60)
    return job_id


def test_a_running_run_without_heartbeat_for_50_s_is_failed(session_factory, exam, queue):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    with session_factory.begin() as session:
        run = session.get(CalibrationRun, uuid.UUID(run_id))
        run.status, run.job_id = "running", "an-unknown-job"
        run.heartbeat_at = datetime.now(UTC) - timedelta(seconds=50)
    assert [run.run_id for run in sweep_runs(session_factory, queue)] == [run_id]
    assert "stopped responding" in get_run(session_factory, TENANT, run_id).error


def test_a_run_that_never_got_a_job_is_failed_after_the_grace(session_factory, exam, queue):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    assert sweep_runs(session_factory, queue) == []  # just created: its enqueue may be under way
    later = datetime.now(UTC) + timedelta(seconds=31)
    assert [run.run_id for run in sweep_runs(session_factory, queue, now=later)] == [run_id]
    assert "never queued" in get_run(session_factory, TENANT, run_id).error


def test_the_sweeper_thread_fails_lost_runs_without_anyone_reading(session_factory, exam, queue):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    set_job_id(session_factory, TENANT, run_id, _lost_job_id(queue))
    sweeper = RunSweeper(session_factory, queue, interval_s=0.2).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with session_factory() as session:
                if session.get(CalibrationRun, uuid.UUID(run_id)).status == "failed":
                    break
            time.sleep(0.1)
    finally:
        sweeper.stop()
    with session_factory() as session:
        assert session.get(CalibrationRun, uuid.UUID(run_id)).status == "failed"
    assert execute_run(session_factory, run_id) == "failed"  # a late job does nothing
