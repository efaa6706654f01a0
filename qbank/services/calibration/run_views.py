"""Reading runs: one run, the paged list, its progress by job or run id, the k diff as CSV."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import CalibrationParams
from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.services.calibration.run_apply import run_effect
from qbank.services.calibration.runs import (
    RUN_STATUSES,
    RunDetail,
    _detail,
    _done_result,
    _run,
    fail_stale_runs,
)
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.store.models import CalibrationRun

__all__ = [
    "CONDITIONAL_DIFF_CSV_HEADER",
    "DIFF_CSV_HEADER",
    "MAX_PAGE_SIZE",
    "applied_sh_run",
    "diff_csv",
    "get_run",
    "list_runs",
    "planned_item_tau",
    "planned_rates",
    "run_status",
]
DIFF_CSV_HEADER = ("qid", "ver", "sh_p_before", "sh_p_after", "delta")
# A conditional run's k change per item and θ stratum (theta_from ≤ θ < theta_to).
CONDITIONAL_DIFF_CSV_HEADER = (
    "qid", "ver", "stratum", "theta_from", "theta_to", "sh_p_before", "sh_p_after", "delta",
)  # fmt: skip
MAX_PAGE_SIZE = 200


def get_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> RunDetail:
    """One run of the tenant.

    With whether its values are still in effect, or what superseded them (newer runs,
    rollbacks, manual changes).
    """
    fail_stale_runs(sessions)
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id)
        in_effect, superseded_by = run_effect(session, run)
        return dataclasses.replace(_detail(run), in_effect=in_effect, superseded_by=superseded_by)


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


def diff_csv(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> str:
    """The run's k changes as CSV: ``qid,ver,sh_p_before,sh_p_after,delta``.

    A conditional run has one row per item and θ stratum (``CONDITIONAL_DIFF_CSV_HEADER``):
    the k the stratum started from and the k the run found for it.
    """
    with sessions() as session:
        run = _run(session, tenant_id, run_id)
        if run.kind != "sh":
            raise ConflictError(
                f"run {run_id} is a {run.kind} run; diff.csv lists the k changes of sh runs"
            )
        result = _done_result(run)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    if result.get("conditional"):
        writer.writerow(CONDITIONAL_DIFF_CSV_HEADER)
        bounds = [-math.inf, *result["strata"], math.inf]
        for row in result["diff"]:
            pairs = zip(row["start_by_stratum"], row["after_by_stratum"], strict=True)
            for stratum, (start, after) in enumerate(pairs):
                low, high = bounds[stratum], bounds[stratum + 1]
                delta = round(after - start, 6)
                writer.writerow([row["qid"], row["ver"], stratum, low, high, start, after, delta])
        return buffer.getvalue()
    writer.writerow(DIFF_CSV_HEADER)
    for row in result["diff"]:
        writer.writerow([row["qid"], row["ver"], row["before"], row["after"], row["delta"]])
    return buffer.getvalue()


def run_status(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    job_id: str | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Progress of a run, found by its job id or its run id.

    Returns the status (``state`` too, a deprecated alias), iterations, last figures and,
    once done, the result.
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
        "run_id": run.id, "job_id": run.job_id, "kind": run.kind, "status": run.status,
        "state": run.status,  # deprecated alias of status
        "current_iter": run.current_iter, "total_iters": run.total_iters,
        "avg_exp": run.avg_exp, "max_over": run.max_over, "error": run.error,
        "result": run.result if run.status == "done" else None,
    }  # fmt: skip


def applied_sh_run(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str
) -> RunDetail | None:
    """The exam's most recently applied S–H run whose values are still applied, or None.

    (Applied then partly superseded still counts: its simulated rates are the plan closest to
    what delivery uses; ``in_effect`` says whether all of its k still hold.)
    """
    fail_stale_runs(sessions)
    with sessions.begin() as session:
        runs = session.scalars(
            select(CalibrationRun)
            .where(CalibrationRun.tenant_id == tenant_id, CalibrationRun.exam_code == exam_code,
                   CalibrationRun.kind == "sh", CalibrationRun.status == "done",
                   CalibrationRun.applied_at.is_not(None))
            .order_by(CalibrationRun.applied_at.desc())
        ).all()  # fmt: skip
        for run in runs:
            in_effect, superseded_by = run_effect(session, run)
            detail = _detail(run)
            if _applied(detail):
                return dataclasses.replace(detail, in_effect=in_effect, superseded_by=superseded_by)
    return None


def _applied(run: RunDetail) -> bool:
    applied = datetime.fromisoformat(run.applied_at) if run.applied_at else None
    rolled_back = datetime.fromisoformat(run.rolled_back_at) if run.rolled_back_at else None
    return applied is not None and (rolled_back is None or rolled_back < applied)


def planned_item_tau(
    sessions: sessionmaker[Session], tenant_id: str, run: RunDetail
) -> dict[tuple[int, int], float]:
    """The target exposure the run set for each live item of its exam: the item's topic's τ.

    DESIGN.md: ``topic_tau`` gives a topic its own τ, ``topic_weights`` give τ·w/Σw, and items
    of other topics use the run's ``tau`` (``CalibrationParams.item_tau``). Topics are read from
    the exam as it is now.
    """
    recorded = run.params or {}
    names = ("tau", "topic_tau", "topic_weights")
    params = CalibrationParams(**{name: recorded[name] for name in names if name in recorded})
    per_topic = params.topic_taus()
    pool = load_exam_pool(sessions, tenant_id, run.exam_code)
    return {
        (int(qid), int(version)): per_topic.get(topic, params.tau)
        for qid, version, topic in zip(pool.qids, pool.versions, pool.topics, strict=True)
    }


def planned_rates(run: RunDetail) -> dict[tuple[int, int], float]:
    """The exposure rate of each item that the run simulated under its new k."""
    result = run.result or {}
    rates = result.get("exposure_rates_after") or []
    return {
        (int(row["qid"]), int(row["ver"])): float(rate)
        for row, rate in zip(result.get("diff") or [], rates, strict=False)
    }
