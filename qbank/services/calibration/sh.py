"""Sympson–Hetter calibration of a pool, and the sh run kind that runs it on an exam."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import CalibrationParams, IterationProgress
from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.jobs.queue import JobQueue
from qbank.services.calibration.runs import (
    ChangedItem,
    RunContext,
    RunKind,
    create_run_record,
    enqueue_run,
)
from qbank.services.calibration.sh_pool import CalibrationReport, calibrate_pool
from qbank.services.delivery.item_pool import load_exam_pool
from qbank.services.exposure.sh_p import write_sh_p
from qbank.store.models import ItemExposureControl, Question

__all__ = [
    "SH_RUN",
    "CalibrationReport",
    "calibrate_pool",
    "create_run",
    "params_from_json",
    "start_run",
]


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
        InvalidInputError: the parameters do not fit the exam's pool, or ask for conditional
            k, which an exam cannot store yet.
    """
    if params.conditional:
        raise InvalidInputError(
            "conditional S–H runs on a pool file or a generated pool for now: an exam stores "
            "one k per item, not one per θ stratum"
        )
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
        "update_rule": report.params.update_rule,
        "stop_reason": result.stop_reason,
        "history": result.history,
        "metrics": result.metrics,
        "diff": diff,
        "exposure_rates_before": [round(float(x), 6) for x in result.initial_exposure_rates],
        "exposure_rates_after": [round(float(x), 6) for x in result.final_exposure_rates],
        "timing": {"compile_s": report.compile_s, "run_s": report.run_s,
                   "simulee_steps_per_s": report.simulee_steps_per_s},
    }  # fmt: skip


def _execute_sh(sessions: sessionmaker[Session], context: RunContext) -> dict[str, Any]:
    params = params_from_json(context.params)

    def progress(step: IterationProgress) -> None:
        context.report(step.current_iter, step.total_iters, step.row)

    pool = load_exam_pool(sessions, context.tenant_id, context.exam_code)
    return _result(calibrate_pool(pool, params, on_iteration=progress))


def _write_sh(
    session: Session, tenant_id: str, result: dict[str, Any], side: str, changed_by: str
) -> int:
    # Applied values carry the rule that produced them; restored ones count as the seed's.
    rule = result.get("update_rule") if side == "after" else None
    rule = None if rule == "multiplicative" else rule
    return _write_values(session, tenant_id, result["diff"], side, changed_by, rule)


# The diff keeps k to 6 decimals, so a stored k within this of the diff's value is that value.
_K_TOLERANCE = 1e-6


def _changed_sh(session: Session, result: dict[str, Any], side: str) -> list[ChangedItem]:
    """Items whose stored k is not the diff's ``side`` (an item without a row has k = 1)."""
    rows = result["diff"]
    stored = {
        (row.question_id, row.version): row
        for row in session.scalars(
            select(ItemExposureControl)
            .where(ItemExposureControl.question_id.in_(sorted({int(r["qid"]) for r in rows})))
            .with_for_update()
        )
    }
    changed = []
    for row in rows:
        key = (int(row["qid"]), int(row["ver"]))
        found = stored.get(key)
        if abs((found.sh_p if found else 1.0) - float(row[side])) > _K_TOLERANCE:
            changed.append(ChangedItem(*key, found.changed_by if found else None))
    return changed


SH_RUN = RunKind("sh", _execute_sh, _write_sh, _changed_sh)


def _write_values(
    session: Session,
    tenant_id: str,
    rows: list[dict[str, Any]],
    key: str,
    changed_by: str,
    update_rule: str | None = None,
) -> int:
    question_ids = sorted({int(row["qid"]) for row in rows})
    owned = set(session.scalars(
        select(Question.id).where(Question.id.in_(question_ids), Question.tenant_id == tenant_id)
    ))  # fmt: skip
    missing = [qid for qid in question_ids if qid not in owned]
    if missing:
        raise ConflictError(f"questions {missing[:10]} of the run no longer exist; nothing changed")
    write_sh_p(session, [(int(row["qid"]), int(row["ver"]), float(row[key])) for row in rows],
               changed_by, update_rule)  # fmt: skip
    return len(rows)


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
