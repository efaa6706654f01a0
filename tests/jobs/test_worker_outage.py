"""`qbank worker` survives a Redis outage: it logs it, reconnects with backoff and goes on.

The Redis here is a private `redis-server` on a free port, stopped and restarted by the test;
the shared Redis of the machine is never touched.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

import pytest

from qbank.cat import CalibrationParams
from qbank.jobs import CALIBRATION_TASK, RqJobQueue
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import set_job_id
from qbank.services.calibration.sh import create_run
from qbank.store.db import init_schema, make_engine, make_session_factory
from tests.api.test_serve import free_port
from tests.backends import postgres_schema, private_redis_server
from tests.services.conftest import EXAM, TENANT, build_exam


def _wait_for(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _run_status(sessions, run_id):
    return get_run(sessions, TENANT, run_id).status


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_the_worker_survives_redis_going_away_while_a_job_runs():
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    with private_redis_server(port) as server, postgres_schema() as database_url:
        engine = make_engine(database_url)
        init_schema(engine)
        sessions = make_session_factory(engine)
        build_exam(sessions, n_items=20)
        queue_name = f"qbank-test-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, "QBANK_DATABASE_URL": database_url, "QBANK_REDIS_URL": redis_url,
               "QBANK_TENANT_ID": TENANT, "QBANK_RQ_QUEUE": queue_name, "QBANK_ENV": "dev",
               "QBANK_SECRET": "w" * 40}  # fmt: skip
        worker = subprocess.Popen([sys.executable, "-m", "qbank.cli", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)  # fmt: skip
        log: list[str] = []
        reader = threading.Thread(target=lambda: log.extend(worker.stderr), daemon=True)
        reader.start()
        try:
            slow = CalibrationParams(n=400, test_len=8, iters=40, seed=1)
            first = create_run(sessions, TENANT, EXAM, slow, dry_run=True)
            queue = RqJobQueue(redis_url, queue_name)
            set_job_id(sessions, TENANT, first, queue.enqueue(CALIBRATION_TASK, first))
            _wait_for(lambda: _run_status(sessions, first) == "running", 180, "the first run")
            server.stop()  # Redis goes away while the job runs
            _wait_for(lambda: _run_status(sessions, first) == "done", 300, "the first run to end")
            time.sleep(3)  # the worker now finds Redis gone as it records the job's end
            assert worker.poll() is None, "".join(log)[-3000:]
            server.start()  # back, empty
            quick = CalibrationParams(n=100, test_len=3, iters=2, seed=2)
            second = create_run(sessions, TENANT, EXAM, quick)
            queue = RqJobQueue(redis_url, queue_name)
            set_job_id(sessions, TENANT, second, queue.enqueue(CALIBRATION_TASK, second))
            _wait_for(lambda: _run_status(sessions, second) == "done", 180, "the second run")
            assert worker.poll() is None
            text = "".join(log)
            assert "is unreachable" in text, text[-3000:]
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            engine.dispose()


def test_a_killed_workers_run_is_failed_by_the_sweep_within_60_s():
    """SIGKILL a real worker mid-run; the sweep of another process (as in an API process) fails
    the run within 60 s, without anybody reading the runs."""
    from qbank.services.calibration.run_sweep import RunSweeper
    from qbank.store.models import CalibrationRun
    from tests.backends import redis_url_or_skip

    redis_url = redis_url_or_skip()
    with postgres_schema() as database_url:
        engine = make_engine(database_url)
        init_schema(engine)
        sessions = make_session_factory(engine)
        build_exam(sessions, n_items=20)
        queue_name = f"qbank-test-{uuid.uuid4().hex[:8]}"
        queue = RqJobQueue(redis_url, queue_name)
        env = {**os.environ, "QBANK_DATABASE_URL": database_url, "QBANK_REDIS_URL": redis_url,
               "QBANK_TENANT_ID": TENANT, "QBANK_RQ_QUEUE": queue_name, "QBANK_ENV": "dev",
               "QBANK_SECRET": "w" * 40}  # fmt: skip
        worker = subprocess.Popen([sys.executable, "-m", "qbank.cli", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        sweeper = None
        try:
            slow = CalibrationParams(n=400, test_len=8, iters=500, seed=1)
            run_id = create_run(sessions, TENANT, EXAM, slow)
            set_job_id(sessions, TENANT, run_id, queue.enqueue(CALIBRATION_TASK, run_id))
            _wait_for(lambda: _run_status(sessions, run_id) == "running", 180, "the run to start")
            worker.kill()
            worker.wait(timeout=30)
            killed_at = time.monotonic()
            sweeper = RunSweeper(sessions, queue).start()

            def failed():
                with sessions() as session:
                    return session.get(CalibrationRun, uuid.UUID(run_id)).status == "failed"

            _wait_for(failed, 90, "the sweep to fail the run")
            assert time.monotonic() - killed_at <= 60 + 2  # + one polling step and some slack
            assert "stopped responding" in get_run(sessions, TENANT, run_id).error
        finally:
            if sweeper is not None:
                sweeper.stop()
            if worker.poll() is None:
                worker.kill()
            queue._queue.delete(delete_jobs=True)
            engine.dispose()
