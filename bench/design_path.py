"""Throughput of the simulation under a test design against today's fast path, in one run.

    python bench/design_path.py

Prints scan simulee-steps per second (n simulees × max_len positions, whether or not a test has
already stopped) for pool 300, n 1000, max_len 10: today's step (max information, EAP, fixed
length), the design step with an SE rule that never fires (the cost of the stopping masks and
the generic rule), with a 5-topic Kingsbury–Zara blueprint as well, and with an r_max cap of 0.2
(the design step run in ``R_MAX_WAVES`` sequential waves of 50 simulees).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qbank.cat import TestDesign, simulate, synthetic_pool
from qbank.irt import make_grid, prior_log_density

N_ITEMS, N, MAX_LEN, REPEATS = 300, 1000, 10, 5
TOPICS = [f"T{i % 5}" for i in range(N_ITEMS)]
DESIGNS = {
    "today's step (no design)": None,
    "design: SE rule (never fires)": {"stopping": {"max_len": MAX_LEN, "se": 0.001}},
    "design: SE rule + blueprint": {
        "stopping": {"max_len": MAX_LEN, "se": 0.001},
        "blueprint": {f"T{i}": 0.2 for i in range(5)},
    },
    "design: r_max 0.2 (20 waves)": {
        "stopping": {"max_len": MAX_LEN},
        "exposure": {"method": "r_max", "r_max": 0.2},
    },
}


def rate(design: TestDesign | None) -> float:
    items = synthetic_pool(jax.random.key(0), N_ITEMS)
    grid = make_grid()
    theta = jax.random.normal(jax.random.key(1), (N,))
    blueprint = None if design is None else design.blueprint_for(TOPICS)
    run = jax.jit(lambda key: simulate(key, items, jnp.full(N_ITEMS, 0.5), theta, grid,
                                       prior_log_density(grid), MAX_LEN, design=design,
                                       blueprint=blueprint).theta_hat)  # fmt: skip
    run(jax.random.key(2)).block_until_ready()
    best = float("inf")
    for repeat in range(REPEATS):
        started = time.perf_counter()
        run(jax.random.key(3 + repeat)).block_until_ready()
        best = min(best, time.perf_counter() - started)
    return N * MAX_LEN / best


def main() -> None:
    print(f"jax {jax.__version__}; pool {N_ITEMS}, n {N}, max_len {MAX_LEN}, best of {REPEATS}")
    for label, data in DESIGNS.items():
        design = None if data is None else TestDesign.from_json(data)
        print(f"  {label:32s} {rate(design):>10,.0f} simulee-steps/s")


if __name__ == "__main__":
    main()
