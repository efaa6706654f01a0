import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from qbank.cat import CalibrationParams
from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.services.authoring.versions import retire_version
from qbank.services.calibration.run_apply import apply_run, rollback_run
from qbank.services.calibration.run_views import diff_csv, get_run, list_runs
from qbank.services.calibration.runs import cancel_run, execute_run, fail_stale_runs
from qbank.services.calibration.sh import create_run
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.store.models import CalibrationRun, ItemExposureControl
from tests.services.conftest import EXAM, TENANT

PARAMS = CalibrationParams(n=200, test_len=5, iters=3, tau=0.2, alpha=1.0, seed=4)


def stored_k(sessions):
    with sessions() as session:
        return {(row.question_id, row.version): row.sh_p
                for row in session.scalars(select(ItemExposureControl))}  # fmt: skip


def test_run_lifecycle_applies_k_in_the_same_step(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    queued = get_run(session_factory, TENANT, run_id)
    assert (queued.status, queued.current_iter, queued.total_iters) == ("queued", 0, 3)
    seen = []
    assert execute_run(session_factory, run_id, on_progress=seen.append) == "done"
    assert [step.current_iter for step in seen] == [1, 2, 3]
    run = get_run(session_factory, TENANT, run_id)
    assert run.status == "done"
    assert run.current_iter == 3
    assert [row["iter"] for row in run.history] == [1, 2, 3]
    assert run.max_over == pytest.approx(run.history[-1]["max_over"])
    assert run.started_at
    assert run.finished_at
    assert run.applied_at
    diff = run.result["diff"]
    assert len(diff) == 40
    assert run.result["updated"] == sum(row["delta"] != 0 for row in diff) > 0
    assert stored_k(session_factory) == {
        (r["qid"], r["ver"]): pytest.approx(r["after"]) for r in diff
    }
    pool = load_exam_pool(session_factory, TENANT, EXAM)
    assert pool.k.tolist() == pytest.approx([row["after"] for row in diff])


def test_a_retried_job_does_nothing_twice(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    execute_run(session_factory, run_id)
    first = stored_k(session_factory)
    finished = get_run(session_factory, TENANT, run_id).finished_at
    assert execute_run(session_factory, run_id) == "done"
    assert stored_k(session_factory) == first
    assert get_run(session_factory, TENANT, run_id).finished_at == finished


def test_dry_run_changes_nothing_until_applied_and_rolls_back(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS, dry_run=True)
    execute_run(session_factory, run_id)
    assert stored_k(session_factory) == {}
    assert get_run(session_factory, TENANT, run_id).applied_at is None
    assert apply_run(session_factory, TENANT, run_id) == 40
    after = {(r["qid"], r["ver"]): pytest.approx(r["after"])
             for r in get_run(session_factory, TENANT, run_id).result["diff"]}  # fmt: skip
    assert stored_k(session_factory) == after
    with pytest.raises(ConflictError, match="already applied"):
        apply_run(session_factory, TENANT, run_id)
    rollback_run(session_factory, TENANT, run_id)
    assert set(stored_k(session_factory).values()) == {1.0}
    with pytest.raises(ConflictError, match="not applied"):
        rollback_run(session_factory, TENANT, run_id)


def test_diff_csv_has_the_agreed_header_and_a_row_per_item(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    with pytest.raises(ConflictError, match="no result"):
        diff_csv(session_factory, TENANT, run_id)
    execute_run(session_factory, run_id)
    rows = list(csv.reader(io.StringIO(diff_csv(session_factory, TENANT, run_id))))
    assert rows[0] == ["qid", "ver", "sh_p_before", "sh_p_after", "delta"]
    assert len(rows) == 41
    _qid, _ver, before, after, delta = rows[1]
    assert float(after) - float(before) == pytest.approx(float(delta), abs=1e-5)


def test_apply_is_all_or_nothing(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS, dry_run=True)
    execute_run(session_factory, run_id)
    with session_factory.begin() as session:  # a run whose diff names a question that is gone
        run = session.get(CalibrationRun, __import__("uuid").UUID(run_id))
        result = dict(run.result)
        result["diff"] = [*result["diff"], {"qid": 999999, "ver": 1, "before": 1.0,
                                             "after": 0.5, "delta": -0.5}]  # fmt: skip
        run.result = result
    with pytest.raises(ConflictError, match="nothing changed"):
        apply_run(session_factory, TENANT, run_id)
    assert stored_k(session_factory) == {}


def test_cancel_while_running_stops_and_applies_nothing(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)

    def cancel_after_first(step):
        if step.current_iter == 1:
            cancel_run(session_factory, TENANT, run_id)

    assert execute_run(session_factory, run_id, on_progress=cancel_after_first) == "cancelled"
    run = get_run(session_factory, TENANT, run_id)
    assert run.current_iter == 1
    assert run.result is None
    assert stored_k(session_factory) == {}
    with pytest.raises(ConflictError, match="cancelled"):
        cancel_run(session_factory, TENANT, run_id)


def test_cancelled_queued_run_never_starts(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    cancel_run(session_factory, TENANT, run_id)
    assert execute_run(session_factory, run_id) == "cancelled"
    assert get_run(session_factory, TENANT, run_id).started_at is None


def test_failure_is_recorded_and_changes_nothing(session_factory, exam):
    run_id = create_run(
        session_factory, TENANT, EXAM, CalibrationParams(test_len=38, iters=1, n=50)
    )
    for item in exam[:5]:  # the pool shrinks below test_len before the job runs
        retire_version(session_factory, TENANT, item.question_id, 1)
    with pytest.raises(InvalidInputError):
        execute_run(session_factory, run_id)
    run = get_run(session_factory, TENANT, run_id)
    assert run.status == "failed"
    assert "exceeds the pool size" in run.error
    assert stored_k(session_factory) == {}


def test_stale_running_runs_are_failed(session_factory, exam):
    run_id = create_run(session_factory, TENANT, EXAM, PARAMS)
    with session_factory.begin() as session:
        run = session.get(CalibrationRun, __import__("uuid").UUID(run_id))
        run.status = "running"
        run.heartbeat_at = datetime.now(UTC) - timedelta(minutes=10)
    assert fail_stale_runs(session_factory) == [run_id]
    run = get_run(session_factory, TENANT, run_id)
    assert run.status == "failed"
    assert "stopped responding" in run.error
    assert fail_stale_runs(session_factory) == []


def test_create_validates_before_writing(session_factory, exam):
    with pytest.raises(NotFoundError, match="no live"):
        create_run(session_factory, TENANT, "NO-SUCH-EXAM", PARAMS)
    with pytest.raises(InvalidInputError, match="exceeds"):
        create_run(session_factory, TENANT, EXAM, CalibrationParams(test_len=41))
    with pytest.raises(InvalidInputError, match="not in the pool"):
        create_run(session_factory, TENANT, EXAM, CalibrationParams(topic_tau={"Nowhere": 0.1}))
    assert list_runs(session_factory, TENANT) == ([], 0)


def test_list_filters_and_pages(session_factory, exam):
    ids = [create_run(session_factory, TENANT, EXAM, PARAMS, dry_run=True) for _ in range(5)]
    cancel_run(session_factory, TENANT, ids[0])
    runs, total = list_runs(session_factory, TENANT, page=1, page_size=2)
    assert total == 5
    assert len(runs) == 2
    assert runs[0].id == ids[-1]  # newest first
    assert list_runs(session_factory, TENANT, status="cancelled")[1] == 1
    today = datetime.now(UTC).date()
    assert (
        list_runs(session_factory, TENANT, start=today.isoformat(), end=today.isoformat())[1] == 5
    )
    assert list_runs(session_factory, TENANT, end=(today - timedelta(days=1)).isoformat())[1] == 0
    assert list_runs(session_factory, "other-tenant")[1] == 0
    with pytest.raises(InvalidInputError, match="ISO date"):
        list_runs(session_factory, TENANT, start="yesterday")
    with pytest.raises(InvalidInputError, match="page_size"):
        list_runs(session_factory, TENANT, page_size=201)
    with pytest.raises(NotFoundError):
        get_run(session_factory, "other-tenant", ids[1])
    with pytest.raises(NotFoundError):
        get_run(session_factory, TENANT, "not-a-uuid")


def test_start_run_queues_and_status_follows_it(session_factory, exam, database_url, monkeypatch):
    from qbank.jobs import InProcessJobQueue
    from qbank.services.calibration.run_views import run_status
    from qbank.services.calibration.sh import start_run

    monkeypatch.setenv("QBANK_DATABASE_URL", database_url)
    queue = InProcessJobQueue()
    job_id, run_id = start_run(session_factory, queue, TENANT, EXAM, PARAMS)
    queue.wait(job_id, timeout_s=300)
    by_job = run_status(session_factory, TENANT, job_id=job_id)
    assert by_job == run_status(session_factory, TENANT, run_id=run_id)
    assert (by_job["state"], by_job["current_iter"], by_job["total_iters"]) == ("done", 3, 3)
    assert len(by_job["result"]["diff"]) == 40
    with pytest.raises(NotFoundError):
        run_status(session_factory, "other-tenant", job_id=job_id)
    with pytest.raises(InvalidInputError):
        run_status(session_factory, TENANT)
    queue.shutdown()


def test_a_job_that_cannot_be_queued_fails_its_run(session_factory, exam):
    from qbank.errors import ConfigError
    from qbank.jobs import RqJobQueue
    from qbank.services.calibration.sh import start_run

    unreachable = RqJobQueue("redis://127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="Redis"):
        start_run(session_factory, unreachable, TENANT, EXAM, PARAMS)
    runs, total = list_runs(session_factory, TENANT)
    assert total == 1
    assert runs[0].status == "failed"
    assert "could not queue" in runs[0].error


def test_start_after_end_is_refused(session_factory):
    with pytest.raises(InvalidInputError, match="after end"):
        list_runs(session_factory, TENANT, start="2026-02-01", end="2026-01-01")
    with pytest.raises(InvalidInputError, match="ISO date"):
        list_runs(session_factory, TENANT, start="2026-01-01xyz")
