"""Sympson–Hetter calibration of a pool, and the sh run kind that runs it on an exam."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import CalibrationParams, IterationProgress
from qbank.cat.design import TestDesign
from qbank.errors import ConflictError, InvalidInputError
from qbank.figures import round_figure, round_figures
from qbank.jobs.queue import JobQueue
from qbank.services.authoring.exams import exam_not_found
from qbank.services.calibration.runs import (
    ChangedItem,
    RunContext,
    RunKind,
    create_run_record,
    enqueue_run,
)
from qbank.services.calibration.sh_pool import CalibrationReport, calibrate_pool, k_pairs
from qbank.services.delivery.exam_design import load_exam_design
from qbank.services.delivery.item_pool import ItemPool, load_exam_pool
from qbank.services.exposure.sh_p import ExposureControl, write_exposure_control
from qbank.store.models import ItemExposureControl, Question

__all__ = [
    "SH_RUN",
    "CalibrationReport",
    "calibrate_pool",
    "create_run",
    "design_params",
    "params_from_json",
    "split_design",
    "start_run",
]


def design_params(params: CalibrationParams, design: TestDesign | None) -> CalibrationParams:
    """The calibration's parameters under a design: its tests are ``stopping.max_len`` long."""
    if design is None:
        return params
    return dataclasses.replace(params, test_len=design.stopping.max_len)


def split_design(values: dict[str, Any]) -> tuple[dict[str, Any], TestDesign | None]:
    """A run's stored ``params`` without its ``design``, and that design (None: none)."""
    rest = dict(values)
    stored = rest.pop("design", None)
    return rest, None if stored is None else TestDesign.from_json(stored)


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
        InvalidInputError: the parameters do not fit the exam's pool.
    """
    pool = load_exam_pool(sessions, tenant_id, exam_code)
    if pool.n_items == 0:
        raise exam_not_found(exam_code)
    design = load_exam_design(sessions, tenant_id, exam_code)
    params = design_params(params, design)
    if params.test_len > pool.n_items:
        raise InvalidInputError(
            f"test_len ({params.test_len}) exceeds the exam's pool size ({pool.n_items})"
        )
    params.item_tau(pool.topics)
    recorded = dataclasses.asdict(params)
    if design is not None:  # the run simulates under the exam's design, and says so
        recorded["design"] = design.as_json()
    return create_run_record(
        sessions, tenant_id, "sh", exam_code, recorded, total_iters=params.iters, dry_run=dry_run,
    )  # fmt: skip


def _stored_state(pool: ItemPool, index: int) -> dict[str, Any]:
    """What the item stores now, as a diff row keeps it for an exact rollback."""
    entry = pool.stratified[index] if pool.stratified else None
    return {
        "rule_before": pool.update_rules[index] if pool.update_rules else None,
        "strata_before": None if entry is None else list(entry.strata),
        "by_stratum_before": None if entry is None else list(entry.k),
    }


def _diff_rows(report: CalibrationReport) -> list[dict[str, Any]]:
    """One row per item: k before and after, and for a conditional run the k per stratum.

    ``before`` is the item's stored one k; a conditional run's ``after`` is its new k in the
    stratum holding θ = 0 (what sh_p keeps for a conditional item), ``after_by_stratum`` all of
    them, ``start_by_stratum`` the k each stratum started from, and ``delta`` the largest change
    over the strata.
    """
    result, pool, params = report.result, report.pool, report.params
    if not params.conditional:
        return [
            {"qid": int(qid), "ver": ver, "question_id": int(qid), "version": ver,
             "before": before, "after": after, "delta": round_figure(after - before),
             **_stored_state(pool, index)}
            for index, (qid, ver, (before, after)) in enumerate(
                zip(pool.qids, pool.versions, k_pairs(report), strict=True))
        ]  # fmt: skip
    stored_k = pool.stored.k if pool.stored is not None else pool.k
    middle = int(np.searchsorted(np.asarray(params.strata_edges), 0.0, side="right"))
    rows = []
    for index, (qid, ver) in enumerate(zip(pool.qids, pool.versions, strict=True)):
        start = [round_figure(float(x)) for x in result.k_before[:, index]]
        after = [round_figure(float(x)) for x in result.k_after[:, index]]
        changes: list[float] = [b - a for a, b in zip(start, after, strict=True)]
        largest = max(changes, key=abs)
        rows.append({
            "qid": int(qid), "ver": ver, "question_id": int(qid), "version": ver,
            "before": float(stored_k[index]), "after": after[middle],
            "delta": round_figure(largest), "start_by_stratum": start, "after_by_stratum": after,
            **_stored_state(pool, index),
        })  # fmt: skip
    return rows


def _changes(row: dict[str, Any]) -> bool:
    """Whether applying the row writes a new value (any stratum's, for a conditional run)."""
    if "after_by_stratum" in row:
        return bool(
            row["after_by_stratum"] != row["start_by_stratum"] or row["after"] != row["before"]
        )
    return bool(row["after"] != row["before"])


def _rounded_rows(table: np.ndarray | None) -> list[list[float]] | None:
    return None if table is None else np.round(np.asarray(table, np.float64), 4).tolist()


def _result(report: CalibrationReport) -> dict[str, Any]:
    result = report.result
    diff = _diff_rows(report)
    return {
        "updated": sum(1 for row in diff if _changes(row)),
        "update_rule": report.params.update_rule,
        "conditional": report.params.conditional,
        "strata": list(report.params.strata_edges),
        "stop_reason": result.stop_reason,
        "history": round_figures(result.history),
        "metrics": round_figures(result.metrics),
        "diff": diff,
        "exposure_rates_before": round_figures([float(x) for x in result.initial_exposure_rates]),
        "exposure_rates_after": round_figures([float(x) for x in result.final_exposure_rates]),
        # (n_strata, n_items) by true-θ stratum of ``strata``: what the stratum heatmap shows.
        "exposure_by_stratum_before": _rounded_rows(result.initial_exposure_by_stratum),
        "exposure_by_stratum_after": _rounded_rows(result.final_exposure_by_stratum),
        "timing": round_figures({"compile_s": report.compile_s, "run_s": report.run_s,
                                 "simulee_steps_per_s": report.simulee_steps_per_s}),
        "design": None if report.design is None else report.design.as_json(),
    }  # fmt: skip


def _execute_sh(sessions: sessionmaker[Session], context: RunContext) -> dict[str, Any]:
    values, design = split_design(context.params)
    params = params_from_json(values)

    def progress(step: IterationProgress) -> None:
        context.report(step.current_iter, step.total_iters, round_figures(step.row))

    pool = load_exam_pool(sessions, context.tenant_id, context.exam_code)
    return _result(calibrate_pool(pool, params, on_iteration=progress, design=design))


def _exposure_rows(result: dict[str, Any], side: str) -> list[ExposureControl]:
    """The stored state a run's diff gives for ``side``: ``after`` applies, ``before`` restores.

    Applied values carry the rule that produced them and, for a conditional run, the cut points
    and the k per stratum. Restored values are exactly what the item stored before the run
    (runs recorded before diffs kept that restore one k, as the seed's rule).
    """
    rows = []
    for row in result["diff"]:
        qid, ver = int(row["qid"]), int(row["ver"])
        if side == "after":
            rule = result.get("update_rule")
            rule = None if rule == "multiplicative" else rule
            by_stratum = row.get("after_by_stratum") if result.get("conditional") else None
            strata = result.get("strata") if by_stratum is not None else None
        else:
            rule, strata = row.get("rule_before"), row.get("strata_before")
            by_stratum = row.get("by_stratum_before") if strata is not None else None
        rows.append(ExposureControl(
            qid, ver, float(row[side]), rule,
            None if strata is None else tuple(float(x) for x in strata),
            None if by_stratum is None else tuple(float(x) for x in by_stratum),
        ))  # fmt: skip
    return rows


def _write_sh(
    session: Session, tenant_id: str, result: dict[str, Any], side: str, changed_by: str
) -> int:
    rows = _exposure_rows(result, side)
    _check_owned(session, tenant_id, sorted({row.question_id for row in rows}))
    write_exposure_control(session, rows, changed_by)
    return len(rows)


# The diff keeps k to 6 decimals, so a stored k within this of the diff's value is that value.
_K_TOLERANCE = 1e-6


def _same(stored: Sequence[float] | None, expected: Sequence[float] | None) -> bool:
    if stored is None or expected is None:
        return stored is None and expected is None
    return len(stored) == len(expected) and all(
        abs(float(a) - float(b)) <= _K_TOLERANCE for a, b in zip(stored, expected, strict=True)
    )


def _changed_sh(session: Session, result: dict[str, Any], side: str) -> list[ChangedItem]:
    """Items whose stored k is not the diff's ``side`` (an item without a row has k = 1).

    The k per stratum count too: a run's ``after`` of a conditional run is its k per stratum,
    its ``before`` whatever the item stored. Diffs recorded before the strata were stored
    compare the one k only.
    """
    stored = {
        (row.question_id, row.version): row
        for row in session.scalars(
            select(ItemExposureControl)
            .where(ItemExposureControl.question_id.in_(
                sorted({int(r["qid"]) for r in result["diff"]})))
            .with_for_update()
        )
    }  # fmt: skip
    knows_strata = all("strata_before" in row for row in result["diff"])
    changed = []
    for expected in _exposure_rows(result, side):
        key = (expected.question_id, expected.version)
        found = stored.get(key)
        same = abs((found.sh_p if found else 1.0) - expected.sh_p) <= _K_TOLERANCE
        if same and knows_strata:
            same = _same(found.strata if found else None, expected.strata) and _same(
                found.sh_p_by_stratum if found else None, expected.sh_p_by_stratum
            )
        if not same:
            changed.append(ChangedItem(*key, found.changed_by if found else None))
    return changed


SH_RUN = RunKind("sh", _execute_sh, _write_sh, _changed_sh)


def _check_owned(session: Session, tenant_id: str, question_ids: list[int]) -> None:
    owned = set(session.scalars(
        select(Question.id).where(Question.id.in_(question_ids), Question.tenant_id == tenant_id)
    ))  # fmt: skip
    missing = [qid for qid in question_ids if qid not in owned]
    if missing:
        raise ConflictError(f"questions {missing[:10]} of the run no longer exist; nothing changed")


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
