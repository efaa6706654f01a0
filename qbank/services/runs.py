"""Calibration runs: queued → running (progress, history) → done | failed | cancelled.

A run row is the source of truth for its progress and result. ``execute_run`` is the job body
(the RQ worker and the in-process runner both call it through ``qbank.jobs.tasks``); it claims
the run atomically, so a retried job never runs or applies twice, and it applies new values in
the same transaction that marks the run done: all or nothing.

A run has a *kind* (``sh`` for Sympson–Hetter exposure control; more kinds plug in through
``RUN_KIND_PATHS``). The lifecycle here is shared; a ``RunKind`` says how a kind executes and
what it writes when applied or rolled back.
"""

from __future__ import annotations

import csv
import dataclasses
import importlib
import io
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import CalibrationParams, IterationProgress
from qbank.errors import ConflictError, InvalidInputError, NotFoundError, QBankError
from qbank.jobs.queue import CALIBRATION_TASK, JobQueue
from qbank.services.exposure import write_sh_p
from qbank.services.item_pool import load_exam_pool
from qbank.services.sh_calibration import calibrate_pool
from qbank.store.models import CalibrationRun, Question

__all__ = [
    "DIFF_CSV_HEADER",
    "RUN_KIND_PATHS",
    "RUN_STATUSES",
    "RunContext",
    "RunDetail",
    "RunKind",
    "RunProgress",
    "apply_run",
    "cancel_run",
    "create_run",
    "create_run_record",
    "diff_csv",
    "enqueue_run",
    "execute_run",
    "fail_stale_runs",
    "get_run",
    "list_runs",
    "params_from_json",
    "rollback_run",
    "run_status",
    "set_job_id",
    "start_run",
]

RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled")
DIFF_CSV_HEADER = ("qid", "ver", "sh_p_before", "sh_p_after", "delta")
MAX_PAGE_SIZE = 200
HEARTBEAT_INTERVAL_S = 10.0
STALE_AFTER_S = 120.0


_log = logging.getLogger(__name__)


class RunProgress(NamedTuple):
    """One progress report of a running job: handed to ``execute_run``'s ``on_progress``."""

    current_iter: int
    total_iters: int
    row: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RunContext:
    """What a running job knows about its run, and how it reports progress.

    ``report(current_iter, total_iters, row)`` appends ``row`` (figures of one iteration or
    cycle) to the run's history, refreshes its heartbeat and stops the job when the run was
    cancelled meanwhile.
    """

    run_id: str
    tenant_id: str
    exam_code: str
    params: dict[str, Any]
    dry_run: bool
    report: Callable[[int, int, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class RunKind:
    """One kind of run: how it executes and what applying its result writes.

    ``execute(sessions, context)`` returns the JSON-ready result. ``write(session, tenant_id,
    result, side)`` writes the ``"after"`` values (apply) or the ``"before"`` values (rollback)
    inside the caller's transaction and returns the number of rows; ``None`` means the kind only
    reports (nothing to apply).
    """

    name: str
    execute: Callable[[sessionmaker[Session], RunContext], dict[str, Any]]
    write: Callable[[Session, str, dict[str, Any], str], int] | None = None


# Kinds by name, as "module:attribute" so kind modules can import this one without a cycle.
RUN_KIND_PATHS: dict[str, str] = {
    "sh": "qbank.services.runs:SH_RUN",
    "sweep": "qbank.services.sweep:SWEEP_RUN",
    "irt": "qbank.services.irt_calibration:IRT_RUN",
}


def _run_kind(name: str) -> RunKind:
    path = RUN_KIND_PATHS.get(name)
    if path is None:
        raise InvalidInputError(f"unknown run kind {name!r}; known: {', '.join(RUN_KIND_PATHS)}")
    module_name, attribute = path.split(":")
    kind = getattr(importlib.import_module(module_name), attribute)
    assert isinstance(kind, RunKind)
    return kind


class _CancelledError(Exception):
    """Raised inside a running calibration when its run was cancelled."""


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every timestamp QBank writes is UTC.
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def _iso(moment: datetime | None) -> str | None:
    aware = _aware(moment)
    return aware.isoformat() if aware else None


@dataclass(frozen=True, slots=True)
class RunDetail:
    """Everything known about a run, as plain data."""

    id: str
    kind: str
    exam_code: str
    status: str
    dry_run: bool
    params: dict[str, Any]
    history: list[dict[str, float]]
    result: dict[str, Any] | None
    error: str | None
    current_iter: int
    total_iters: int
    avg_exp: float | None
    max_over: float | None
    job_id: str | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    heartbeat_at: str | None
    applied_at: str | None
    rolled_back_at: str | None

    def summary(self) -> dict[str, Any]:
        """The fields of a run listing."""
        keys = ("id", "exam_code", "status", "dry_run", "current_iter", "total_iters",
                "created_at", "started_at", "finished_at")  # fmt: skip
        return {key: getattr(self, key) for key in keys}

    def as_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready."""
        return dataclasses.asdict(self)


def _detail(run: CalibrationRun) -> RunDetail:
    return RunDetail(
        id=str(run.id), kind=run.kind, exam_code=run.exam_code, status=run.status,
        dry_run=run.dry_run, params=dict(run.params), history=list(run.history),
        result=run.result, error=run.error, current_iter=run.current_iter,
        total_iters=run.total_iters, avg_exp=run.avg_exp, max_over=run.max_over,
        job_id=run.job_id, created_at=_iso(run.created_at), started_at=_iso(run.started_at),
        finished_at=_iso(run.finished_at), heartbeat_at=_iso(run.heartbeat_at),
        applied_at=_iso(run.applied_at), rolled_back_at=_iso(run.rolled_back_at),
    )  # fmt: skip


def params_from_json(values: dict[str, Any]) -> CalibrationParams:
    """Rebuild validated parameters from a run's stored ``params``."""
    names = {field.name for field in dataclasses.fields(CalibrationParams)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise InvalidInputError(f"unknown calibration parameter(s): {', '.join(unknown)}")
    try:
        return CalibrationParams(**values)
    except TypeError as error:
        raise InvalidInputError(f"bad calibration parameters: {error}") from None


def _parse_run_id(run_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(run_id))
    except ValueError:
        raise NotFoundError(f"run {run_id!r} not found") from None


def _run(session: Session, tenant_id: str, run_id: str, *, lock: bool = False) -> CalibrationRun:
    query = select(CalibrationRun).where(
        CalibrationRun.id == _parse_run_id(run_id), CalibrationRun.tenant_id == tenant_id
    )
    if lock:
        query = query.with_for_update()
    run = session.scalars(query).one_or_none()
    if run is None:
        raise NotFoundError(f"run {run_id} not found")
    return run


def create_run(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    params: CalibrationParams,
    *,
    dry_run: bool = False,
) -> str:
    """Record a queued S–H calibration run of an exam; returns its id.

    Raises:
        NotFoundError: the exam has no live items.
        InvalidInputError: the parameters do not fit the exam's pool.
    """
    pool = load_exam_pool(sessions, tenant_id, exam_code)
    if pool.n_items == 0:
        raise NotFoundError(f"exam {exam_code!r} has no live published items")
    if params.test_len > pool.n_items:
        raise InvalidInputError(
            f"test_len ({params.test_len}) exceeds the exam's pool size ({pool.n_items})"
        )
    params.item_tau(pool.topics)
    return create_run_record(
        sessions, tenant_id, "sh", exam_code, dataclasses.asdict(params),
        total_iters=params.iters, dry_run=dry_run,
    )  # fmt: skip


def create_run_record(
    sessions: sessionmaker[Session],
    tenant_id: str,
    kind: str,
    exam_code: str,
    params: dict[str, Any],
    *,
    total_iters: int,
    dry_run: bool = False,
) -> str:
    """Record a queued run of any kind with already validated, JSON-ready params; returns its id."""
    _run_kind(kind)
    run_id = uuid.uuid4()
    with sessions.begin() as session:
        session.add(CalibrationRun(
            id=run_id, tenant_id=tenant_id, kind=kind, exam_code=exam_code, status="queued",
            dry_run=dry_run, params=params, history=[], current_iter=0,
            total_iters=total_iters, created_at=_now(),
        ))  # fmt: skip
    return str(run_id)


def set_job_id(sessions: sessionmaker[Session], tenant_id: str, run_id: str, job_id: str) -> None:
    """Remember which job runs the run."""
    with sessions.begin() as session:
        _run(session, tenant_id, run_id).job_id = job_id


def _claim(sessions: sessionmaker[Session], run_id: uuid.UUID) -> bool:
    with sessions.begin() as session:
        now = _now()
        claimed = session.execute(
            update(CalibrationRun)
            .where(CalibrationRun.id == run_id, CalibrationRun.status == "queued")
            .values(status="running", started_at=now, heartbeat_at=now)
        )
        return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _record_progress(
    sessions: sessionmaker[Session],
    run_id: uuid.UUID,
    current_iter: int,
    total_iters: int,
    row: dict[str, Any],
) -> None:
    with sessions.begin() as session:
        run = session.get(CalibrationRun, run_id)
        if run is None or run.status != "running":
            raise _CancelledError
        run.current_iter, run.total_iters = current_iter, total_iters
        if "avg_exp" in row:
            run.avg_exp = row["avg_exp"]
        if "max_over" in row:
            run.max_over = row["max_over"]
        run.history = [*run.history, row]
        run.heartbeat_at = _now()


def _beat(sessions: sessionmaker[Session], run_id: uuid.UUID, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_INTERVAL_S):
        try:
            with sessions.begin() as session:
                session.execute(
                    update(CalibrationRun)
                    .where(CalibrationRun.id == run_id, CalibrationRun.status == "running")
                    .values(heartbeat_at=_now())
                )
        except SQLAlchemyError as error:  # a missed beat is retried; one failure is not death
            _log.warning("heartbeat of run %s failed: %s", run_id, error)


def _result(report: Any) -> dict[str, Any]:
    result = report.result
    pool = report.pool
    diff = [
        {"qid": int(qid), "ver": ver, "before": round(float(before), 6),
         "after": round(float(after), 6), "delta": round(float(after) - float(before), 6)}
        for qid, ver, before, after in zip(pool.qids, pool.versions, result.k_before,
                                           result.k_after, strict=True)
    ]  # fmt: skip
    return {
        "updated": sum(1 for row in diff if row["delta"] != 0),
        "history": result.history,
        "metrics": result.metrics,
        "diff": diff,
        "exposure_rates_before": [round(float(x), 6) for x in result.initial_exposure_rates],
        "exposure_rates_after": [round(float(x), 6) for x in result.final_exposure_rates],
        "timing": {"compile_s": report.compile_s, "run_s": report.run_s,
                   "simulee_steps_per_s": report.simulee_steps_per_s},
    }  # fmt: skip


def _finish(
    sessions: sessionmaker[Session], run_id: uuid.UUID, kind: RunKind, result: dict[str, Any]
) -> None:
    with sessions.begin() as session:
        run = session.scalars(
            select(CalibrationRun).where(CalibrationRun.id == run_id).with_for_update()
        ).one()
        if run.status != "running":
            return  # cancelled (or failed as stale) meanwhile: change nothing
        if not run.dry_run and kind.write is not None:
            kind.write(session, run.tenant_id, result, "after")
            run.applied_at = _now()
        run.status, run.result, run.finished_at = "done", result, _now()


def _fail(sessions: sessionmaker[Session], run_id: uuid.UUID, error: str) -> None:
    with sessions.begin() as session:
        run = session.get(CalibrationRun, run_id)
        if run is not None and run.status in ("queued", "running"):
            run.status, run.error, run.finished_at = "failed", error, _now()


def _execute_sh(sessions: sessionmaker[Session], context: RunContext) -> dict[str, Any]:
    params = params_from_json(context.params)

    def progress(step: IterationProgress) -> None:
        context.report(step.current_iter, step.total_iters, step.row)

    pool = load_exam_pool(sessions, context.tenant_id, context.exam_code)
    return _result(calibrate_pool(pool, params, on_iteration=progress))


def _write_sh(session: Session, tenant_id: str, result: dict[str, Any], side: str) -> int:
    return _write_values(session, tenant_id, result["diff"], side)


SH_RUN = RunKind("sh", _execute_sh, _write_sh)


def execute_run(
    sessions: sessionmaker[Session],
    run_id: str,
    on_progress: Callable[[RunProgress], Any] | None = None,
) -> str:
    """Run a queued run of any kind to its end; returns the final status.

    Does nothing (and returns the current status) when the run is not queued, so a retried or
    duplicated job is harmless. Errors are recorded on the run as ``failed`` and re-raised.
    """
    key = _parse_run_id(run_id)
    if not _claim(sessions, key):
        with sessions() as session:
            run = session.get(CalibrationRun, key)
            if run is None:
                raise NotFoundError(f"run {run_id} not found")
            return run.status
    stop_beating = threading.Event()
    beat = threading.Thread(target=_beat, args=(sessions, key, stop_beating), daemon=True)
    beat.start()
    try:
        with sessions() as session:
            run = session.get(CalibrationRun, key)
            assert run is not None  # claimed above
            kind = _run_kind(run.kind)

            def report(current_iter: int, total_iters: int, row: dict[str, Any]) -> None:
                _record_progress(sessions, key, current_iter, total_iters, row)
                if on_progress is not None:
                    on_progress(RunProgress(current_iter, total_iters, row))

            context = RunContext(
                run_id=str(key), tenant_id=run.tenant_id, exam_code=run.exam_code,
                params=dict(run.params), dry_run=run.dry_run, report=report,
            )  # fmt: skip
        _finish(sessions, key, kind, kind.execute(sessions, context))
    except _CancelledError:
        pass
    except BaseException as error:
        _fail(sessions, key, f"{type(error).__name__}: {error}")
        raise
    finally:
        stop_beating.set()
        beat.join(timeout=5)
    with sessions() as session:
        run = session.get(CalibrationRun, key)
        return run.status if run is not None else "failed"


def cancel_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> RunDetail:
    """Cancel a queued or running run; a running calibration stops after its iteration.

    Raises:
        ConflictError: the run already ended.
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        if run.status not in ("queued", "running"):
            raise ConflictError(
                f"run {run_id} is {run.status}; only queued or running runs can be cancelled"
            )
        run.status, run.finished_at = "cancelled", _now()
        return _detail(run)


def get_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> RunDetail:
    """One run of the tenant."""
    fail_stale_runs(sessions)
    with sessions() as session:
        return _detail(_run(session, tenant_id, run_id))


def _parse_day(name: str, value: str | date | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        if not value:
            return None
        return (
            date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value).date()
        )
    except ValueError:
        raise InvalidInputError(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def list_runs(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    exam_code: str | None = None,
    start: str | date | None = None,
    end: str | date | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
    kind: str | None = None,
) -> tuple[list[RunDetail], int]:
    """Runs of the tenant (of one kind, or all), newest first, and the total count.

    ``end`` is inclusive.
    """
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page must be >= 1 and page_size in [1, {MAX_PAGE_SIZE}]")
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInputError(f"status must be one of {', '.join(RUN_STATUSES)}")
    first, last = _parse_day("start", start), _parse_day("end", end)
    if last is not None and last >= date.max:
        last = None  # "until the end of time" is no filter
    if first and last and first > last:
        raise InvalidInputError(f"start ({first}) is after end ({last})")
    fail_stale_runs(sessions)
    query = select(CalibrationRun).where(CalibrationRun.tenant_id == tenant_id)
    if exam_code:
        query = query.where(CalibrationRun.exam_code == exam_code)
    if status:
        query = query.where(CalibrationRun.status == status)
    if kind:
        query = query.where(CalibrationRun.kind == kind)
    if first:
        query = query.where(
            CalibrationRun.created_at >= datetime.combine(first, datetime.min.time(), UTC)
        )
    if last:
        query = query.where(
            CalibrationRun.created_at
            < datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC)
        )
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        runs = session.scalars(
            query.order_by(CalibrationRun.created_at.desc(), CalibrationRun.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        return [_detail(run) for run in runs], int(total)


def _done_result(run: CalibrationRun) -> dict[str, Any]:
    if run.status != "done" or run.result is None:
        raise ConflictError(f"run {run.id} is {run.status}; it has no result yet")
    return run.result


def diff_csv(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> str:
    """The run's k changes as CSV: ``qid,ver,sh_p_before,sh_p_after,delta``."""
    with sessions() as session:
        run = _run(session, tenant_id, run_id)
        if run.kind != "sh":
            raise ConflictError(
                f"run {run_id} is a {run.kind} run; diff.csv lists the k changes of sh runs"
            )
        result = _done_result(run)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(DIFF_CSV_HEADER)
    for row in result["diff"]:
        writer.writerow([row["qid"], row["ver"], row["before"], row["after"], row["delta"]])
    return buffer.getvalue()


def _is_applied(run: CalibrationRun) -> bool:
    applied, rolled_back = _aware(run.applied_at), _aware(run.rolled_back_at)
    return applied is not None and (rolled_back is None or rolled_back < applied)


def _writer(run: CalibrationRun) -> Callable[[Session, str, dict[str, Any], str], int]:
    write = _run_kind(run.kind).write
    if write is None:
        raise ConflictError(f"a {run.kind} run only reports; it has nothing to apply")
    return write


def _write_values(session: Session, tenant_id: str, rows: list[dict[str, Any]], key: str) -> int:
    question_ids = sorted({int(row["qid"]) for row in rows})
    owned = set(session.scalars(
        select(Question.id).where(Question.id.in_(question_ids), Question.tenant_id == tenant_id)
    ))  # fmt: skip
    missing = [qid for qid in question_ids if qid not in owned]
    if missing:
        raise ConflictError(f"questions {missing[:10]} of the run no longer exist; nothing changed")
    write_sh_p(session, [(int(row["qid"]), int(row["ver"]), float(row[key])) for row in rows])
    return len(rows)


def apply_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> int:
    """Write a finished run's new k (e.g. a dry run's) in one transaction; returns the rows.

    Raises:
        ConflictError: the run is not done, or its values are already applied.
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        result = _done_result(run)
        if _is_applied(run):
            raise ConflictError(f"run {run_id} is already applied")
        count = _writer(run)(session, tenant_id, result, "after")
        run.applied_at = _now()
        return count


def rollback_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> int:
    """Restore the k values a run found (its ``before``), in one transaction.

    Raises:
        ConflictError: the run's values are not applied.
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        result = _done_result(run)
        if not _is_applied(run):
            raise ConflictError(f"run {run_id} is not applied; nothing to roll back")
        count = _writer(run)(session, tenant_id, result, "before")
        run.rolled_back_at = _now()
        return count


def fail_stale_runs(
    sessions: sessionmaker[Session],
    stale_after_s: float = STALE_AFTER_S,
    now: datetime | None = None,
) -> list[str]:
    """Mark running runs whose heartbeat stopped as failed (their worker died); returns ids."""
    cutoff = (now or _now()).astimezone(UTC) - timedelta(seconds=stale_after_s)
    with sessions.begin() as session:
        stale = session.scalars(
            select(CalibrationRun).where(CalibrationRun.status == "running",
                                         CalibrationRun.heartbeat_at < cutoff).with_for_update()
        ).all()  # fmt: skip
        for run in stale:
            run.status, run.finished_at = "failed", _now()
            last_beat = _iso(run.heartbeat_at)
            run.error = f"the worker stopped responding (last heartbeat {last_beat}); k unchanged"
        return [str(run.id) for run in stale]


def start_run(
    sessions: sessionmaker[Session],
    queue: JobQueue,
    tenant_id: str,
    exam_code: str,
    params: CalibrationParams,
    *,
    dry_run: bool = False,
) -> tuple[str, str]:
    """Record a run and queue its job; returns ``(job_id, run_id)``.

    If the job cannot be queued the run is marked failed with the reason, and the error raised.
    """
    run_id = create_run(sessions, tenant_id, exam_code, params, dry_run=dry_run)
    return enqueue_run(sessions, queue, tenant_id, run_id), run_id


def enqueue_run(
    sessions: sessionmaker[Session], queue: JobQueue, tenant_id: str, run_id: str
) -> str:
    """Queue the job of a recorded run (any kind); returns the job id.

    If the job cannot be queued the run is marked failed with the reason, and the error raised.
    """
    try:
        job_id = queue.enqueue(CALIBRATION_TASK, run_id)
    except QBankError as error:
        _fail(sessions, uuid.UUID(run_id), f"could not queue the job: {error}")
        raise
    set_job_id(sessions, tenant_id, run_id, job_id)
    return job_id


def run_status(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    job_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Progress of a run, found by its job id or its run id.

    Returns the state, iterations, last figures and, once done, the result.
    """
    if (job_id is None) == (run_id is None):
        raise InvalidInputError("give exactly one of job_id and run_id")
    if run_id is None:
        with sessions() as session:
            found = session.scalar(
                select(CalibrationRun.id).where(CalibrationRun.tenant_id == tenant_id,
                                                CalibrationRun.job_id == job_id)
            )  # fmt: skip
        if found is None:
            raise NotFoundError(f"job {job_id!r} not found")
        run_id = str(found)
    run = get_run(sessions, tenant_id, run_id)
    return {
        "run_id": run.id, "job_id": run.job_id, "state": run.status,
        "current_iter": run.current_iter, "total_iters": run.total_iters,
        "avg_exp": run.avg_exp, "max_over": run.max_over, "error": run.error,
        "result": run.result if run.status == "done" else None,
    }  # fmt: skip
