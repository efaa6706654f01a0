"""Sympson–Hetter calibration of a pool in memory, and its report: no database involved."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qbank.cat import CalibrationParams, CalibrationResult, IterationProgress, calibrate_sh
from qbank.cat.calibration.sh import compile_simulation
from qbank.services.delivery.pool import ItemPool

__all__ = ["CalibrationReport", "calibrate_pool"]


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """A calibration's result with its pool and timing, ready to print or store."""

    pool: ItemPool
    params: CalibrationParams
    result: CalibrationResult
    compile_s: float
    run_s: float

    @property
    def simulee_steps_per_s(self) -> float:
        """Simulated item administrations per second (iterations plus the final evaluation)."""
        steps = (len(self.result.history) + 1) * self.params.n * self.params.test_len
        return steps / self.run_s if self.run_s > 0 else float("inf")

    def k_rows(self) -> list[dict[str, Any]]:
        """One row per item: qid, ver, before, after (lists by θ stratum when conditional)."""
        # (n_items,) gives a float per item, (n_strata, n_items) a list per item in stratum order.
        before: list[Any] = self.result.k_before.T.tolist()
        after: list[Any] = self.result.k_after.T.tolist()
        return [
            {"qid": qid, "ver": ver, "before": item_before, "after": item_after}
            for qid, ver, item_before, item_after in zip(
                self.pool.qids, self.pool.versions, before, after, strict=True
            )
        ]

    def as_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object: history, metrics, why it stopped, timing and k."""
        return {
            "update_rule": self.params.update_rule,
            "conditional": self.params.conditional,
            "strata": list(self.params.strata_edges),
            "history": self.result.history,
            "metrics": self.result.metrics,
            "stop_reason": self.result.stop_reason,
            "timing": {
                "compile_s": self.compile_s,
                "run_s": self.run_s,
                "simulee_steps_per_s": self.simulee_steps_per_s,
            },
            "k": self.k_rows(),
        }


def calibrate_pool(
    pool: ItemPool,
    params: CalibrationParams,
    on_iteration: Callable[[IterationProgress], Any] | None = None,
) -> CalibrationReport:
    """Calibrate k for ``pool``; compile time is measured apart from the run.

    Raises:
        InvalidInputError: the parameters do not fit the pool (test longer than the pool,
            topics not in the pool).
    """
    params.item_tau(pool.topics)  # unknown topics fail before the compile
    started = time.perf_counter()
    simulation = compile_simulation(params, pool.n_items)
    compiled = time.perf_counter()
    result = calibrate_sh(
        params, pool.items, pool.k, pool.topics, on_iteration=on_iteration, simulation=simulation
    )
    finished = time.perf_counter()
    return CalibrationReport(pool, params, result, compiled - started, finished - compiled)
