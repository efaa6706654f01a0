"""Calibration runs: queued → running (progress, history) → done | failed | cancelled.

A run row is the source of truth for its progress and result. ``execute_run`` is the job body
(the RQ worker and the in-process runner both call it through ``qbank.tasks``); it claims
the run atomically, so a retried job never runs or applies twice, and it applies new values in
the same transaction that marks the run done: all or nothing.

A run has a *kind* (``sh`` for Sympson–Hetter exposure control; more kinds plug in through
``RUN_KIND_PATHS``). The lifecycle here is shared; a ``RunKind`` says how a kind executes and
what it writes when applied or rolled back.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import select, text, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError, NotFoundError, QBankError
from qbank.figures import round_figure
from qbank.jobs.queue import CALIBRATION_TASK, JobQueue
from qbank.store.models import CalibrationRun

__all__ = [
    "HEARTBEAT_INTERVAL_S",
    "RUN_KIND_PATHS",
    "RUN_STATUSES",
    "STALE_AFTER_S",
    "ChangedItem",
    "RunContext",
    "RunDetail",
    "RunKind",
    "RunProgress",
    "cancel_run",
    "create_run_record",
    "enqueue_run",
    "execute_run",
    "fail_stale_runs",
    "set_job_id",
]

RUN_STATUSES = ("queued", "running", "done", "failed", "cancelled")
HEARTBEAT_INTERVAL_S = 10.0
STALE_AFTER_S = 45.0  # four missed beats; with a 15 s sweep, failed within 60 s


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


class ChangedItem(NamedTuple):
    """An item whose stored values are not the ones a run expected, and who last wrote them."""

    question_id: int
    version: int
    changed_by: str | None  # 'run:<id>', 'rollback:<id>', 'manual', 'import'; None: unrecorded


@dataclass(frozen=True, slots=True)
class RunKind:
    """One kind of run: how it executes and what applying its result writes.

    ``execute(sessions, context)`` returns the JSON-ready result. ``write(session, tenant_id,
    result, side, changed_by)`` writes the ``"after"`` values (apply) or the ``"before"`` values
    (rollback) inside the caller's transaction, recording ``changed_by`` on each row, and
    returns the number of rows; ``None`` means the kind only reports (nothing to apply).
    ``changed(session, result, side)`` lists the items whose stored values differ from the
    result's ``side`` (locking the rows it reads): the compare of compare-and-set.
    """

    name: str
    execute: Callable[[sessionmaker[Session], RunContext], dict[str, Any]]
    write: Callable[[Session, str, dict[str, Any], str, str], int] | None = None
    changed: Callable[[Session, dict[str, Any], str], list[ChangedItem]] | None = None


# Kinds by name, as "module:attribute" so kind modules can import this one without a cycle.
RUN_KIND_PATHS: dict[str, str] = {
    "sh": "qbank.services.calibration.sh:SH_RUN",
    "sweep": "qbank.services.calibration.sweep:SWEEP_RUN",
    "irt": "qbank.services.calibration.irt:IRT_RUN",
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
    apply_note: str | None = None  # forced applies/rollbacks, or why the values were not applied
    in_effect: bool = False  # applied, and every item still holds the run's values
    superseded_by: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The fields of a run listing: kind, status, progress, timestamps and parameters."""
        keys = ("id", "kind", "exam_code", "status", "dry_run", "params", "current_iter",
                "total_iters", "created_at", "started_at", "finished_at")  # fmt: skip
        return {"run_id": self.id, **{key: getattr(self, key) for key in keys}}

    def as_dict(self) -> dict[str, Any]:
        """All fields, JSON-ready (``run_id`` is ``id`` again, the name other routes use)."""
        return {"run_id": self.id, **dataclasses.asdict(self)}


def _with_item_names(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """A result whose item rows (``qid``, ``ver``) also say ``question_id`` and ``version``.

    Runs stored before the API spoke one vocabulary name items ``qid``/``ver`` only; those
    keys stay (the diff CSV and older readers use them).
    """
    if result is None:
        return None
    named = dict(result)
    for key in ("diff", "items", "skipped"):
        rows = result.get(key)
        if isinstance(rows, list):
            named[key] = [
                {"question_id": int(row["qid"]), "version": int(row["ver"]), **row}
                if isinstance(row, dict) and "qid" in row and "ver" in row
                else row
                for row in rows
            ]
    return named


def _figure(value: float | None) -> float | None:
    return None if value is None else round_figure(value)


def _detail(run: CalibrationRun) -> RunDetail:
    return RunDetail(
        id=str(run.id), kind=run.kind, exam_code=run.exam_code, status=run.status,
        dry_run=run.dry_run, params=dict(run.params), history=list(run.history),
        result=_with_item_names(run.result), error=run.error, current_iter=run.current_iter,
        total_iters=run.total_iters, avg_exp=_figure(run.avg_exp), max_over=_figure(run.max_over),
        job_id=run.job_id, created_at=_iso(run.created_at), started_at=_iso(run.started_at),
        finished_at=_iso(run.finished_at), heartbeat_at=_iso(run.heartbeat_at),
        applied_at=_iso(run.applied_at), rolled_back_at=_iso(run.rolled_back_at),
        apply_note=run.apply_note,
    )  # fmt: skip


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
    """Record a queued run of any kind with already validated, JSON-ready params; returns its id.

    Raises:
        ConflictError: a run that writes (not a dry run) of this kind and exam is already queued
            or running; two would each compute from the same values and the later would
            overwrite the earlier.
    """
    writes = _run_kind(kind).write is not None and not dry_run
    run_id = uuid.uuid4()
    with sessions.begin() as session:
        if writes:
            _refuse_a_second_writer(session, tenant_id, kind, exam_code)
        session.add(CalibrationRun(
            id=run_id, tenant_id=tenant_id, kind=kind, exam_code=exam_code, status="queued",
            dry_run=dry_run, params=params, history=[], current_iter=0,
            total_iters=total_iters, created_at=_now(),
        ))  # fmt: skip
    return str(run_id)


def _refuse_a_second_writer(session: Session, tenant_id: str, kind: str, exam_code: str) -> None:
    if session.get_bind().dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE serialises
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                        {"key": f"run:{tenant_id}:{kind}:{exam_code}"})  # fmt: skip
    busy = session.scalar(
        select(CalibrationRun.id).where(
            CalibrationRun.tenant_id == tenant_id, CalibrationRun.kind == kind,
            CalibrationRun.exam_code == exam_code, CalibrationRun.dry_run.is_(False),
            CalibrationRun.status.in_(("queued", "running"))).limit(1)
    )  # fmt: skip
    if busy is not None:
        raise ConflictError(
            f"run {busy} ({kind}) of exam {exam_code} is still queued or running; wait for it, "
            "cancel it, or start a dry run"
        )


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
            # Compare and set, as apply_run does: values changed while the run ran stay.
            changed = [] if kind.changed is None else kind.changed(session, result, "before")
            if changed:
                who = sorted({str(item.changed_by) for item in changed})
                run.apply_note = (
                    f"not applied: {len(changed)} items changed while the run ran "
                    f"(by {', '.join(who)}); apply it with force to write anyway"
                )
            else:
                kind.write(session, run.tenant_id, result, "after", f"run:{run.id}")
                run.applied_at = _now()
        run.status, run.result, run.finished_at = "done", result, _now()


def _fail(sessions: sessionmaker[Session], run_id: uuid.UUID, error: str) -> None:
    with sessions.begin() as session:
        run = session.get(CalibrationRun, run_id)
        if run is not None and run.status in ("queued", "running"):
            run.status, run.error, run.finished_at = "failed", error, _now()


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


def _done_result(run: CalibrationRun) -> dict[str, Any]:
    if run.status != "done" or run.result is None:
        raise ConflictError(f"run {run.id} is {run.status}; it has no result yet")
    return run.result


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
