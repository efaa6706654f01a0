"""How many S–H iterations reach max exposure ≤ tau + 0.035, by rule, alpha and simulees.

    python bench/sh_convergence.py     # about two minutes

300-item synthetic pool (key 2026), test_len 25, tau 0.2, ability=estimated, seed 1, 40
iterations; the seed's multiplicative rule at alpha 0.6 and 1.0, and Sympson & Hetter's (1985)
rule with its set-aside lottery (alpha plays no part in it).
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
    print(
        "rule            alpha  n      first iter max_exp<=0.235  max_exp after 5/10/20/40"
        "   final  rmse"
    )
    for rule, alpha in (("multiplicative", 0.6), ("multiplicative", 1.0), ("sympson-hetter", 1.0)):
        for n in (400, 5000):
            params = CalibrationParams(tau=0.2, n=n, test_len=25, iters=40, alpha=alpha, seed=1,
                                       update_rule=rule)  # fmt: skip
            result = calibrate_sh(params, items, np.ones(300))
            max_exp = [row["max_exp"] for row in result.history]
            first = next((i for i, value in enumerate(max_exp, 1) if value <= TARGET), None)
            checkpoints = " ".join(f"{max_exp[i - 1]:.3f}" for i in (5, 10, 20, 40))
            print(
                f"{rule:<15} {alpha if rule == 'multiplicative' else '-'!s:<6} {n:<6} "
                f"{first!s:<26} {checkpoints}    "
                f"{result.metrics['max_exp']:.3f}  {result.metrics['rmse']:.3f}"
            )


if __name__ == "__main__":
    main()
