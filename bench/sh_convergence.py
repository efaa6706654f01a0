"""How many S–H iterations reach max exposure ≤ tau + 0.035, by alpha and number of simulees.

    python bench/sh_convergence.py     # about a minute

300-item synthetic pool (key 2026), test_len 25, tau 0.2, ability=estimated, seed 1, 40 iterations.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qbank.cat import CalibrationParams, calibrate_sh, synthetic_pool

TARGET = 0.235


def main() -> None:
    items = synthetic_pool(jax.random.key(2026), 300)
    print("alpha  n      first iter max_exp<=0.235  max_exp after 5/10/20/40   final  rmse")
    for alpha in (0.6, 1.0):
        for n in (400, 5000):
            params = CalibrationParams(tau=0.2, n=n, test_len=25, iters=40, alpha=alpha, seed=1)
            result = calibrate_sh(params, items, np.ones(300))
            max_exp = [row["max_exp"] for row in result.history]
            first = next((i for i, value in enumerate(max_exp, 1) if value <= TARGET), None)
            checkpoints = " ".join(f"{max_exp[i - 1]:.3f}" for i in (5, 10, 20, 40))
            print(
                f"{alpha:<6} {n:<6} {first!s:<26} {checkpoints}    "
                f"{result.metrics['max_exp']:.3f}  {result.metrics['rmse']:.3f}"
            )


if __name__ == "__main__":
    main()
