"""Sympson–Hetter calibration of a pool in memory, and its report: no database involved."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from qbank.cat import CalibrationParams, CalibrationResult, IterationProgress, calibrate_sh
from qbank.cat.calibration.sh import compile_simulation
from qbank.cat.design import TestDesign
from qbank.figures import round_figure, round_figures
from qbank.services.delivery.pool import ItemPool

__all__ = ["CalibrationReport", "calibrate_pool", "k_pairs"]


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """A calibration's result with its pool and timing, ready to print or store."""

    pool: ItemPool
    params: CalibrationParams
    result: CalibrationResult
    compile_s: float
    run_s: float
    design: TestDesign | None = None  # the exam's test design the simulees took, if any

    @property
    def simulee_steps_per_s(self) -> float:
        """Items administered per second over the iterations and the final evaluation.

        Counted as given: a variable-length design's tests that stop early count their items,
        not ``test_len`` each.
        """
        steps = self.result.simulee_steps
        return steps / self.run_s if self.run_s > 0 else float("inf")

    def k_rows(self) -> list[dict[str, Any]]:
        """One row per item: qid, ver, before, after (lists by θ stratum when conditional)."""
        # (n_items,) gives a float per item, (n_strata, n_items) a list per item in stratum order.
        if np.ndim(self.result.k_before) == 1:  # stored k back exactly, computed k rounded
            before, after = (list(side) for side in zip(*k_pairs(self), strict=True))
        else:
            before = self.result.k_before.T.tolist()
            after = round_figures(self.result.k_after.T.tolist())
        return [
            {"qid": qid, "ver": ver, "before": item_before, "after": item_after}
            for qid, ver, item_before, item_after in zip(
                self.pool.qids, self.pool.versions, before, after, strict=True
            )
        ]

    def as_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object: history, metrics, why it stopped, timing and k.

        A calibration under an exam's test design adds that ``design``.
        """
        report: dict[str, Any] = {
            "update_rule": self.params.update_rule,
            "conditional": self.params.conditional,
            "strata": list(self.params.strata_edges),
            "history": round_figures(self.result.history),
            "metrics": round_figures(self.result.metrics),
            "stop_reason": self.result.stop_reason,
            "timing": round_figures(
                {
                    "compile_s": self.compile_s,
                    "run_s": self.run_s,
                    "simulee_steps_per_s": self.simulee_steps_per_s,
                }
            ),
            "k": self.k_rows(),
        }
        if self.design is not None:
            report["design"] = self.design.as_json()
        return report


def calibrate_pool(
    pool: ItemPool,
    params: CalibrationParams,
    on_iteration: Callable[[IterationProgress], Any] | None = None,
    design: TestDesign | None = None,
) -> CalibrationReport:
    """Calibrate k for ``pool``; compile time is measured apart from the run.

    With an exam's ``design`` the simulees take its tests (selection rule, estimator, stopping
    rules, blueprint); ``params`` should come from ``design_params``.

    Raises:
        InvalidInputError: the parameters do not fit the pool (test longer than the pool,
            topics not in the pool).
    """
    params.item_tau(pool.topics)  # unknown topics fail before the compile
    started = time.perf_counter()
    blueprint = None if design is None else design.blueprint_for(pool.topics)
    simulation = compile_simulation(params, pool.n_items, design, blueprint)
    compiled = time.perf_counter()
    # A conditional run starts from the k per stratum an exam stores for the same cut points.
    k = pool.k_by_stratum(params.strata_edges) if params.conditional else pool.k
    result = calibrate_sh(
        params, pool.items, k, pool.topics, on_iteration=on_iteration, simulation=simulation
    )
    finished = time.perf_counter()
    return CalibrationReport(pool, params, result, compiled - started, finished - compiled, design)


def k_pairs(report: CalibrationReport) -> list[tuple[float, float]]:
    """Each item's k before (as stored) and after (computed: 6 significant digits).

    An item the calibration left alone keeps its stored value exactly, so it shows no delta.
    """
    stored = report.pool.stored
    result = report.result
    before_32 = np.asarray(result.k_before, np.float32)
    after_32 = np.asarray(result.k_after, np.float32)
    before = stored.k if stored is not None else before_32.astype(np.float64)
    return [
        (float(b), float(b) if a32 == b32 else round_figure(float(a32)))
        for b, b32, a32 in zip(before, before_32, after_32, strict=True)
    ]
