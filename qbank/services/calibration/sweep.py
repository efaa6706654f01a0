"""tau × alpha sweeps: one S–H calibration per grid cell on an exam's pool, a run of kind ``sweep``.

Every cell starts from the pool's current k and uses the same seed, so cells differ only in tau
and alpha, and the same sweep gives the same grid. One compiled simulation serves every cell
(tau and alpha are arguments of the compiled step, not constants). A cell reports the metrics
under its final k: maximum exposure, share of the pool never given and θ̂ RMSE (plus avg_exp
and max_over). The sweep only reports: nothing is written to the item bank.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import CalibrationParams, calibrate_sh, compile_simulation
from qbank.errors import InvalidInputError
from qbank.figures import round_figure
from qbank.jobs.queue import JobQueue
from qbank.services.authoring.exams import exam_not_found
from qbank.services.calibration.runs import RunContext, RunKind, create_run_record, enqueue_run
from qbank.services.calibration.sh import split_design
from qbank.services.delivery.exam_design import load_exam_design
from qbank.services.delivery.item_pool import load_exam_pool

__all__ = [
    "SWEEP_CSV_HEADER",
    "SWEEP_METRICS",
    "SWEEP_RUN",
    "SweepParams",
    "parse_grid",
    "start_sweep",
    "sweep_csv",
]

MAX_GRID_VALUES = 12
MAX_CELLS = 64
SWEEP_METRICS = ("max_exp", "unused_share", "rmse", "max_over", "avg_exp")
SWEEP_CSV_HEADER = ("tau", "alpha", *SWEEP_METRICS)


def parse_grid(name: str, text: str) -> tuple[float, ...]:
    """Grid values from text such as ``"0.1, 0.2, 0.3"`` (commas or spaces), sorted, unique.

    Raises:
        InvalidInputError: no values, a non-number, or more than ``MAX_GRID_VALUES`` values.
    """
    parts = [part for part in text.replace(",", " ").split() if part]
    if not parts:
        raise InvalidInputError(f"{name}: give at least one value, e.g. 0.1, 0.2, 0.3")
    try:
        values = sorted({float(part) for part in parts})
    except ValueError:
        raise InvalidInputError(f"{name}: {text!r} holds a value that is not a number") from None
    if len(values) > MAX_GRID_VALUES:
        raise InvalidInputError(f"{name}: at most {MAX_GRID_VALUES} values, got {len(values)}")
    return tuple(values)


@dataclass(frozen=True, slots=True)
class SweepParams:
    """A tau × alpha grid and the calibration settings shared by every cell.

    Each tau must be in (0, 1] and each alpha in (0, 5] (``CalibrationParams``' rules); the other
    fields have ``CalibrationParams``' names, defaults and limits (``update_rule``,
    ``until_converged`` and ``tol`` apply to every cell; under ``sympson-hetter`` alpha plays no
    part, so its cells differ by tau only).
    """

    taus: tuple[float, ...] = (0.1, 0.2, 0.3)
    alphas: tuple[float, ...] = (0.4, 0.6, 1.0)
    n: int = 400
    test_len: int = 25
    iters: int = 5
    theta_dist: str = "normal0,1"
    floor: float = 0.02
    ceil: float = 1.0
    seed: int = 0
    ability: str = "estimated"
    update_rule: str = "multiplicative"
    until_converged: bool = False
    tol: float = 0.01
    base: CalibrationParams = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        taus, alphas = tuple(self.taus), tuple(self.alphas)
        object.__setattr__(self, "taus", taus)
        object.__setattr__(self, "alphas", alphas)
        if not taus or not alphas:
            raise InvalidInputError("a sweep needs at least one tau and one alpha")
        if len(taus) * len(alphas) > MAX_CELLS:
            raise InvalidInputError(
                f"a sweep has at most {MAX_CELLS} cells, got {len(taus)} × {len(alphas)}"
            )
        base = CalibrationParams(
            n=self.n, test_len=self.test_len, iters=self.iters, theta_dist=self.theta_dist,
            floor=self.floor, ceil=self.ceil, seed=self.seed, ability=self.ability,
            update_rule=self.update_rule, until_converged=self.until_converged, tol=self.tol,
        )  # fmt: skip
        for tau in taus:
            dataclasses.replace(base, tau=tau)
        for alpha in alphas:
            dataclasses.replace(base, alpha=alpha)
        object.__setattr__(self, "base", base)

    @property
    def n_cells(self) -> int:
        """Cells of the grid."""
        return len(self.taus) * len(self.alphas)

    def cells(self) -> list[CalibrationParams]:
        """The calibration of each cell, tau-major (all alphas of the first tau first)."""
        return [
            dataclasses.replace(self.base, tau=tau, alpha=alpha)
            for tau in self.taus
            for alpha in self.alphas
        ]

    def as_json(self) -> dict[str, Any]:
        """JSON-ready fields (the run's ``params``)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        return {**values, "taus": list(self.taus), "alphas": list(self.alphas)}


def start_sweep(
    sessions: sessionmaker[Session],
    queue: JobQueue,
    tenant_id: str,
    exam_code: str,
    params: SweepParams,
) -> tuple[str, str]:
    """Record a sweep run of an exam and queue its job; returns ``(job_id, run_id)``.

    Raises:
        NotFoundError: the exam has no live items.
        InvalidInputError: the test is longer than the exam's pool.
    """
    pool = load_exam_pool(sessions, tenant_id, exam_code)
    if pool.n_items == 0:
        raise exam_not_found(exam_code)
    design = load_exam_design(sessions, tenant_id, exam_code)
    if design is not None:  # the cells simulate the exam's tests: their length is its max_len
        params = dataclasses.replace(params, test_len=design.stopping.max_len)
    if params.test_len > pool.n_items:
        raise InvalidInputError(
            f"test_len ({params.test_len}) exceeds the exam's pool size ({pool.n_items})"
        )
    recorded = params.as_json()
    if design is not None:
        recorded["design"] = design.as_json()
    run_id = create_run_record(
        sessions, tenant_id, "sweep", exam_code, recorded, total_iters=params.n_cells
    )
    return enqueue_run(sessions, queue, tenant_id, run_id), run_id


def _params_from_json(values: dict[str, Any]) -> SweepParams:
    try:
        return SweepParams(**values)
    except TypeError as error:
        raise InvalidInputError(f"bad sweep parameters: {error}") from None


def _execute_sweep(sessions: sessionmaker[Session], context: RunContext) -> dict[str, Any]:
    values, design = split_design(context.params)
    params = _params_from_json(values)
    pool = load_exam_pool(sessions, context.tenant_id, context.exam_code)
    blueprint = None if design is None else design.blueprint_for(pool.topics)
    simulation = compile_simulation(params.base, pool.n_items, design, blueprint)
    cells = []
    for index, cell in enumerate(params.cells()):
        result = calibrate_sh(cell, pool.items, pool.k, pool.topics, simulation=simulation)
        row = {"cell": index + 1, "tau": cell.tau, "alpha": cell.alpha,
               **{name: round_figure(result.metrics[name]) for name in SWEEP_METRICS}}  # fmt: skip
        cells.append(row)
        context.report(index + 1, params.n_cells, row)
    return {"taus": list(params.taus), "alphas": list(params.alphas), "cells": cells,
            "n_items": pool.n_items,
            "design": None if design is None else design.as_json()}  # fmt: skip


SWEEP_RUN = RunKind("sweep", _execute_sweep, None)


def sweep_csv(result: dict[str, Any]) -> str:
    """A finished sweep's grid as CSV: ``tau,alpha,max_exp,unused_share,rmse,max_over,avg_exp``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SWEEP_CSV_HEADER)
    for cell in result.get("cells", []):
        writer.writerow([cell[name] for name in SWEEP_CSV_HEADER])
    return buffer.getvalue()
