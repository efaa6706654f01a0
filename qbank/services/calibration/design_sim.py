"""``qbank simulate``: run a test design on simulees over an exam's pool or a pool file.

Prints what a psychometrician checks before using a design: exposure, overlap and conditional
exposure, bias and RMSE, test length, the share of tests that met the blueprint and, with a cut
score, the share classified correctly (Kingsbury & Weiss 1983).
"""

from __future__ import annotations

import itertools
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import parse_theta_dist
from qbank.cat.calibration.evaluate import evaluate_design
from qbank.cat.design import TestDesign
from qbank.cat.summary import DesignMetrics
from qbank.errors import InvalidInputError, NotFoundError
from qbank.services.delivery.exam_design import load_exam_design
from qbank.services.delivery.item_pool import ItemPool, load_exam_pool

__all__ = [
    "DEFAULT_STRATA",
    "DesignSimulation",
    "exam_pool_and_design",
    "read_design",
    "simulate_design",
]

DEFAULT_STRATA = (-1.0, 0.0, 1.0)


@dataclass(frozen=True, slots=True)
class DesignSimulation:
    """A simulated administration under a design, ready to print or emit as JSON."""

    pool: ItemPool
    design: TestDesign
    n: int
    seed: int
    theta_dist: str
    strata: tuple[float, ...]
    metrics: DesignMetrics
    compile_s: float
    run_s: float

    def scalars(self) -> dict[str, Any]:
        """The summary figures; ``None`` where the design has no blueprint or no cut."""
        m = self.metrics
        lengths = np.asarray(m.test_length)

        def number(value: Any) -> float | None:
            x = float(value)
            return None if math.isnan(x) else round(x, 6)

        return {
            "max_exp": number(m.max_exp), "overlap": number(m.overlap),
            "unused_share": number(m.unused_share),
            "conditional_max_exp": [round(float(x), 6) for x in np.asarray(m.conditional_max_exp)],
            "bias": number(m.bias), "rmse": number(m.rmse),
            "mean_test_length": number(m.mean_test_length),
            "min_test_length": int(lengths.min()), "max_test_length": int(lengths.max()),
            "blueprint_met_share": number(m.blueprint_met_share),
            "classified_correctly": number(m.classified_correctly),
            "passed_share": number(m.passed_share),
        }  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        """The CLI's ``--json`` object (``calibrate-sh``'s conventions: metrics, timing, items)."""
        rates = np.asarray(self.metrics.exposure_rates)
        by_stratum = np.asarray(self.metrics.conditional_exposure_rates).T
        steps = float(np.asarray(self.metrics.test_length).sum())
        return {
            "design": self.design.as_json(),
            "n": self.n, "seed": self.seed, "theta_dist": self.theta_dist,
            "strata": list(self.strata),
            "metrics": self.scalars(),
            "timing": {"compile_s": self.compile_s, "run_s": self.run_s,
                       "simulee_steps_per_s": steps / self.run_s if self.run_s > 0 else None},
            "items": [
                {"qid": qid, "ver": ver, "topic": topic, "exposure": round(float(rate), 6),
                 "conditional_exposure": [round(float(x), 6) for x in row]}
                for qid, ver, topic, rate, row in zip(self.pool.qids, self.pool.versions,
                                                      self.pool.topics, rates, by_stratum,
                                                      strict=True)
            ],
        }  # fmt: skip


def read_design(text: str) -> TestDesign:
    """A design from JSON text, or from the JSON file that ``text`` names.

    Raises:
        InvalidInputError: neither valid JSON nor a readable file, or an invalid design.
    """
    source = text
    if not text.lstrip().startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise InvalidInputError(f"--design is neither a JSON object nor a file: {text!r}")
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise InvalidInputError(f"cannot read design file {text}: {error}") from None
    try:
        data = json.loads(source)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"--design is not valid JSON ({error.msg})") from None
    return TestDesign.from_json(data)


def exam_pool_and_design(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str
) -> tuple[ItemPool, TestDesign | None]:
    """The exam's live pool and its stored design (None: it has none).

    Raises:
        NotFoundError: the exam has no live items.
    """
    pool = load_exam_pool(sessions, tenant_id, exam_code)
    if pool.n_items == 0:
        raise NotFoundError(f"exam {exam_code!r} has no live published items")
    return pool, load_exam_design(sessions, tenant_id, exam_code)


def simulate_design(
    pool: ItemPool,
    design: TestDesign,
    *,
    n: int = 1000,
    seed: int = 0,
    theta_dist: str = "normal0,1",
    strata: tuple[float, ...] | None = None,
) -> DesignSimulation:
    """Run ``design`` on ``n`` simulees over ``pool``; compile time is measured apart.

    Conditional exposure is by true-θ stratum: the design's S–H strata if it has them, else
    ``strata`` or ``DEFAULT_STRATA``.

    Raises:
        InvalidInputError: the design does not fit the pool, or bad n, theta_dist or strata.
    """
    dist = parse_theta_dist(theta_dist)
    edges = tuple(strata) if strata else (design.strata_edges or DEFAULT_STRATA)
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise InvalidInputError("strata must be increasing θ cut points")
    arguments = (design, pool.items, pool.k, pool.topics)
    options: dict[str, Any] = {"n": n, "seed": seed, "dist": dist, "strata_edges": edges}
    started = time.perf_counter()
    evaluate_design(*arguments, **options).max_exp.block_until_ready()  # compile (and warm)
    compiled = time.perf_counter()
    metrics = evaluate_design(*arguments, **options)
    metrics.max_exp.block_until_ready()
    finished = time.perf_counter()
    # The first call compiles and runs; the compile time is its excess over the second.
    run_s = finished - compiled
    return DesignSimulation(pool, design, n, seed, theta_dist, edges, metrics,
                            max(compiled - started - run_s, 0.0), run_s)  # fmt: skip
