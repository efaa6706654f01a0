"""Throughput of each next-item rule and each ability estimator in a vectorised CAT.

    python bench/cat_rules.py            # pool 1000, test_len 30, 4000 simulees (a few minutes)
    python bench/cat_rules.py --quick    # pool 300, test_len 10, 500 simulees

Prints simulee-steps per second (one step = score the pool by the rule, choose, answer, update
θ̂) for every rule of ``qbank.cat.RULES`` with EAP, then for every estimator of
``qbank.irt.ESTIMATORS`` with MFI, and today's ``qbank.cat.simulate`` (MFI + EAP, the S–H
calibration's fast path) as the baseline. Each rule runs through its scoring function
(``rule_scorer``) vmapped over simulees inside one ``lax.scan``, as a batched simulation does.
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qbank.cat import RULES, SelectionContext, choose_from_scores, rule_scorer, simulate
from qbank.cat.exposure.lottery_rng import word_to_uniform
from qbank.cat.synthetic import synthetic_pool
from qbank.irt import ESTIMATORS, ItemParams, estimate_theta_batched, probability
from qbank.irt.eap import eap_estimate, make_grid, prior_log_density
from qbank.irt.model import log_likelihood

_CHUNK = 256


def _one_cat(key, true_theta, items, rule, estimator, test_len, n_best):
    """One simulee's fixed-length CAT under ``rule`` and ``estimator`` (a bench, not the core)."""
    grid = make_grid()
    log_prior = prior_log_density(grid)
    scorer = rule_scorer(rule, items, **({"test_len": test_len} if RULES[rule].options else {}))
    table = log_likelihood(
        jnp.array([0, 1])[:, None, None], grid, items.a[:, None], items.b[:, None],
        items.c[:, None],
    )  # fmt: skip
    words = jax.random.bits(key, (test_len, 3), jnp.uint32)
    n_items = items.a.shape[0]

    def step(carry, inputs):
        given, loglik, theta_hat, buffers = carry
        position, word = inputs
        context = SelectionContext(theta_hat, loglik, log_prior, grid, position, word[0])
        chosen = choose_from_scores(word[1], scorer(items, context, ~given), n_best)
        a, b, c = items.a[chosen], items.b[chosen], items.c[chosen]
        correct = word_to_uniform(word[2]) < probability(true_theta, a, b, c)
        loglik = loglik + table[correct.astype(jnp.int32), chosen]
        buffers = tuple(
            buffer.at[position].set(value)
            for buffer, value in zip(buffers, (a, b, c, correct.astype(jnp.float32)), strict=True)
        )
        if estimator == "eap":  # static: today's estimate from the carried log posterior
            theta_hat = eap_estimate(loglik + log_prior, grid).theta_hat
        else:
            mask = jnp.arange(test_len) <= position
            theta_hat = estimate_theta_batched(
                ItemParams(*(x[None] for x in buffers[:3])), buffers[3][None], mask[None],
                estimator, grid_log_likelihood=loglik[None],
            ).theta_hat[0]  # fmt: skip
        return (given.at[chosen].set(True), loglik, theta_hat, buffers), chosen

    buffers = tuple(jnp.zeros(test_len) for _ in range(4))
    start = (jnp.zeros(n_items, bool), jnp.zeros_like(grid), jnp.float32(0.0), buffers)
    (_, _, theta_hat, _), chosen = jax.lax.scan(
        step, start, (jnp.arange(test_len, dtype=jnp.int32), words)
    )
    return chosen, theta_hat


@partial(jax.jit, static_argnames=("rule", "estimator", "test_len", "n_best"))
def _simulate(key, true_theta, items, rule, estimator, test_len, n_best=1):
    keys = jax.random.split(key, true_theta.shape[0])
    run = jax.vmap(partial(_one_cat, items=items, rule=rule, estimator=estimator,
                           test_len=test_len, n_best=n_best))  # fmt: skip
    chunks = true_theta.shape[0] // _CHUNK

    def by_chunk(x):
        return x.reshape(chunks, _CHUNK, *x.shape[1:])

    chosen, theta_hat = jax.lax.map(lambda args: run(*args), (by_chunk(keys), by_chunk(true_theta)))
    return chosen.reshape(-1, test_len), theta_hat


def _rate(function, n: int, test_len: int, repeats: int = 1) -> float:
    jax.block_until_ready(function(0))  # compile and warm up
    best = float("inf")
    for repeat in range(repeats):
        started = time.perf_counter()
        jax.block_until_ready(function(repeat + 1))
        best = min(best, time.perf_counter() - started)
    return n * test_len / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    quick = parser.parse_args().quick
    n_items, test_len, n = (300, 10, 512) if quick else (1000, 30, 4096)
    items = synthetic_pool(jax.random.key(0), n_items)
    true_theta = jax.random.normal(jax.random.key(1), (n,))
    grid = make_grid()
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {jax.device_count()} device(s)")
    print(f"pool {n_items}, test_len {test_len}, n {n}: simulee-steps/s")

    def today(seed):
        return simulate(jax.random.key(seed), items, jnp.ones(n_items), true_theta, grid,
                        prior_log_density(grid), test_len).theta_hat  # fmt: skip

    print(f"  {'today: simulate (mfi + eap)':<32} {_rate(jax.jit(today), n, test_len):>12,.0f}")
    for rule in RULES:
        n_best = 5 if rule == "randomesque" else 1
        rate = _rate(lambda seed, rule=rule, n_best=n_best: _simulate(
            jax.random.key(seed), true_theta, items, rule, "eap", test_len, n_best),
            n, test_len)  # fmt: skip
        print(f"  {'rule ' + rule + ' + eap':<32} {rate:>12,.0f}")
    for estimator in ESTIMATORS:
        rate = _rate(lambda seed, estimator=estimator: _simulate(
            jax.random.key(seed), true_theta, items, "mfi", estimator, test_len),
            n, test_len)  # fmt: skip
        print(f"  {'mfi + estimator ' + estimator:<32} {rate:>12,.0f}")


if __name__ == "__main__":
    main()
