"""Jobs end to end: the in-process runner, and a real `qbank worker` on Redis + PostgreSQL."""

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from qbank.cat import CalibrationParams
from qbank.jobs import CALIBRATION_TASK, InProcessJobQueue, RqJobQueue
from qbank.jobs.queue import LEGACY_TASK_PATHS
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import set_job_id
from qbank.services.calibration.sh import create_run
from qbank.store.db import init_schema, make_engine, make_session_factory
from qbank.store.models import CalibrationRun, ItemExposureControl
from tests.backends import postgres_schema, purge_rq_queue, redis_url_or_skip
from tests.services.conftest import EXAM, TENANT, build_exam

PARAMS = CalibrationParams(n=150, test_len=5, iters=2, seed=3)


def test_in_process_queue_runs_the_same_task(session_factory, database_url, monkeypatch):
    monkeypatch.setenv("QBANK_DATABASE_URL", database_url)
    build_exam(session_factory, n_items=20)
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    queue = InProcessJobQueue()
    job_id = queue.enqueue(CALIBRATION_TASK, run_id)
    queue.wait(job_id, timeout_s=300)
    assert queue.status(job_id).state == "finished"
    run = get_run(session_factory, TENANT, run_id)
    assert run.status == "done"
    assert run.applied_at is not None
    queue.shutdown()


@pytest.mark.parametrize("legacy_path", sorted(LEGACY_TASK_PATHS))
def test_in_process_queue_runs_jobs_queued_under_a_legacy_path(
    session_factory, database_url, monkeypatch, legacy_path
):
    monkeypatch.setenv("QBANK_DATABASE_URL", database_url)
    build_exam(session_factory, n_items=20)
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    queue = InProcessJobQueue()
    job_id = queue.enqueue(legacy_path, run_id)
    queue.wait(job_id, timeout_s=300)
    assert queue.status(job_id).state == "finished"
    assert get_run(session_factory, TENANT, run_id).status == "done"
    queue.shutdown()


def test_in_process_queue_reports_failures(session_factory, database_url, monkeypatch):
    monkeypatch.setenv("QBANK_DATABASE_URL", database_url)
    queue = InProcessJobQueue()
    job_id = queue.enqueue(CALIBRATION_TASK, str(uuid.uuid4()))
    queue.wait(job_id, timeout_s=60)
    status = queue.status(job_id)
    assert status.state == "failed"
    assert "not found" in status.error
    queue.shutdown()


def test_real_worker_runs_a_calibration_and_fails_orphaned_runs():
    redis_url = redis_url_or_skip()
    with postgres_schema() as database_url:
        engine = make_engine(database_url)
        init_schema(engine)
        sessions = make_session_factory(engine)
        build_exam(sessions, n_items=20)
        orphan = create_run(sessions, TENANT, EXAM, PARAMS, dry_run=True)
        with sessions.begin() as session:  # a run whose worker died long ago
            run = session.get(CalibrationRun, uuid.UUID(orphan))
            run.status, run.heartbeat_at = "running", datetime.now(UTC) - timedelta(hours=1)
        run_id = create_run(sessions, TENANT, EXAM, PARAMS)
        queue_name = f"qbank-test-{uuid.uuid4().hex[:8]}"
        queue = RqJobQueue(redis_url, queue_name)  # all its rq:* keys go in the end
        job_id = queue.enqueue(CALIBRATION_TASK, run_id)
        set_job_id(sessions, TENANT, run_id, job_id)
        legacy_run = create_run(sessions, TENANT, EXAM, PARAMS, dry_run=True)  # an older release
        legacy_job = queue.enqueue("qbank.jobs.tasks.run_sh_calibration", legacy_run)
        env = {**os.environ, "QBANK_DATABASE_URL": database_url, "QBANK_REDIS_URL": redis_url,
               "QBANK_TENANT_ID": TENANT, "QBANK_SECRET": "w" * 40}  # fmt: skip  # prod: unset env
        try:
            worker = subprocess.run(
                [sys.executable, "-m", "qbank.cli", "worker", "--queue", queue_name, "--burst"],
                env=env, capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            assert worker.returncode == 0, worker.stderr[-2000:]
            assert f"run {orphan} had lost its worker" in worker.stderr
            run = get_run(sessions, TENANT, run_id)
            assert run.status == "done", (run.status, run.error)
            assert [row["iter"] for row in run.history] == [1, 2]
            status = queue.status(job_id)
            assert status.state == "finished"
            assert status.meta["current_iter"] == 2
            with sessions() as session:
                stored = {(r.question_id, r.version): r.sh_p
                          for r in session.scalars(select(ItemExposureControl))}  # fmt: skip
            assert stored == {(r["qid"], r["ver"]): pytest.approx(r["after"])
                              for r in run.result["diff"]}  # fmt: skip
            assert get_run(sessions, TENANT, orphan).status == "failed"
            assert get_run(sessions, TENANT, legacy_run).status == "done"
            assert queue.status(legacy_job).state == "finished"
        finally:
            purge_rq_queue(redis_url, queue_name)
            engine.dispose()


def test_worker_needs_redis(tmp_path):
    env = {**os.environ, "QBANK_DATABASE_URL": f"sqlite:///{tmp_path / 'q.db'}"}
    env.pop("QBANK_REDIS_URL", None)
    done = subprocess.run([sys.executable, "-m", "qbank.cli", "worker", "--burst"], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2
    assert "QBANK_REDIS_URL" in done.stderr


def test_a_test_queue_leaves_no_rq_key_behind():
    """What a test's RQ queue leaves in Redis after a finished and a failed job: nothing."""
    import redis

    from tests.backends import rq_queue

    redis_url = redis_url_or_skip()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with rq_queue(redis_url) as queue_name:
        queue = RqJobQueue(redis_url, queue_name)
        ok = queue.enqueue("os.getpid")
        failed = queue.enqueue("qbank.errors.no_such_task")
        queue.worker().work(burst=True)
        assert queue.status(failed).state == "failed"
        assert queue.status(ok).state == "finished"
        mine = [k for k in client.scan_iter("rq:*") if queue_name in k or ok in k or failed in k]
        assert mine  # the registries and job hashes exist until the queue is purged
    left = [k for k in client.scan_iter("rq:*") if queue_name in k or ok in k or failed in k]
    assert left == []
    hashes = [k for k in client.scan_iter("rq:worker:*") if client.type(k) == "hash"]
    assert [k for k in hashes if queue_name in (client.hget(k, "queues") or "")] == []
    assert f"rq:queue:{queue_name}" not in client.smembers("rq:queues")
    client.close()
