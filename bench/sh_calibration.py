"""Throughput of the vectorised S–H calibration against a plain-Python reference, in one run.

    python bench/sh_calibration.py            # full figures (about a minute)
    python bench/sh_calibration.py --quick    # smaller, for a smoke run

Prints simulee-steps per second (one step = choose, answer, update θ̂ by EAP) for pool 1000,
test_len 30, ability=estimated; the reference runs the same per-step work on fewer simulees.
Then compile time, the wall time of a full calibration (pool 1000, n 10 000, test_len 30,
10 iterations plus the final evaluation) and how time scales with n and pool size.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qbank.cat import CalibrationParams, calibrate_sh, compile_simulation, synthetic_pool
from qbank.cat.calibration.sh import run_simulation
from tests.cat.reference import simulate_reference


def _pool(n_items: int):
    return synthetic_pool(jax.random.key(0), n_items)


def vectorised_rate(
    n_items: int, n: int, test_len: int, repeats: int = 3, update_rule: str = "multiplicative"
) -> tuple[float, float]:
    """(compile seconds, best simulee-steps/s) of one simulated administration."""
    params = CalibrationParams(n=n, test_len=test_len, iters=1, update_rule=update_rule)
    items = _pool(n_items)
    k = jax.numpy.full(n_items, 0.5)
    tau = jax.numpy.full(n_items, 0.2)
    started = time.perf_counter()
    simulation = compile_simulation(params, n_items)
    compile_s = time.perf_counter() - started
    best = float("inf")
    for repeat in range(repeats):
        started = time.perf_counter()
        run_simulation(simulation, params, repeat, items, k, tau)
        best = min(best, time.perf_counter() - started)
    return compile_s, n * test_len / best


def reference_rate(n_items: int, n: int, test_len: int) -> float:
    items = [np.asarray(x, np.float64) for x in _pool(n_items)]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    simulate_reference(rng, *items, np.full(n_items, 0.5), rng.normal(size=n), test_len)
    return n * test_len / (time.perf_counter() - started)


def full_calibration_s(n_items: int, n: int, test_len: int, iters: int) -> float:
    params = CalibrationParams(n=n, test_len=test_len, iters=iters, tau=0.2, alpha=0.6)
    items = _pool(n_items)
    simulation = compile_simulation(params, n_items)
    started = time.perf_counter()
    calibrate_sh(params, items, np.ones(n_items), simulation=simulation)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    quick = parser.parse_args().quick
    n_items, test_len = (300, 10) if quick else (1000, 30)
    n_fast, n_ref = (1000, 5) if quick else (10_000, 40)

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {jax.device_count()} device(s)")
    compile_s, fast = vectorised_rate(n_items, n_fast, test_len)
    reference = reference_rate(n_items, n_ref, test_len)
    print(f"pool {n_items}, test_len {test_len}, ability=estimated (EAP after every response)")
    print(f"  vectorised JAX      {fast:>12,.0f} simulee-steps/s  (n {n_fast})")
    print(f"  plain Python ref.   {reference:>12,.0f} simulee-steps/s  (n {n_ref})")
    print(f"  ratio               {fast / reference:>12,.0f}x")
    print(f"  compile             {compile_s:>12.2f} s")
    # The published rule's set-aside lottery, timed in the same run: issue 18 allows 1.3x.
    _, published = vectorised_rate(n_items, n_fast, test_len, update_rule="sympson-hetter")
    print(f"  sympson-hetter rule {published:>12,.0f} simulee-steps/s  (set-aside lottery)")
    print(f"  step cost vs seed   {fast / published:>12.2f}x")

    iters = 2 if quick else 10
    wall = full_calibration_s(n_items, n_fast, test_len, iters)
    print(
        f"full calibration: pool {n_items}, n {n_fast}, test_len {test_len}, {iters} iterations "
        f"+ final evaluation: {wall:.2f} s after compile"
    )

    print("scaling (seconds per simulated administration; linear means the ratio tracks size):")
    base_n, base_pool = (n_fast // 2, n_items // 2)
    for label, pool_size, n in [
        ("n", base_pool, base_n),
        ("n", base_pool, 2 * base_n),
        ("pool", base_pool, base_n),
        ("pool", 2 * base_pool, base_n),
    ]:
        _, rate = vectorised_rate(pool_size, n, test_len, repeats=2)
        print(
            f"  {label:<4} pool {pool_size:>5}  n {n:>6}: {n * test_len / rate:6.3f} s "
            f"({rate:,.0f} steps/s)"
        )


if __name__ == "__main__":
    main()
