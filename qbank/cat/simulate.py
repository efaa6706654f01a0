"""Vectorised CAT simulation: many simulees, fixed test length, S–H lottery, EAP scoring.

Simulees run in parallel with ``vmap``; positions run with ``lax.scan``; simulees are processed
in chunks (``lax.map`` over ``vmap``ped chunks) so that the ``(chunk, n_items)`` working set of each
step stays in cache instead of streaming ``(n_simulees, n_items)`` arrays through memory.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from qbank.cat.argmax import first_argmax
from qbank.cat.exposure.lottery_rng import acceptance_threshold, hashed_bits24, word_to_uniform
from qbank.cat.exposure.set_aside import considered_items, lottery_candidates
from qbank.cat.exposure.sympson_hetter import lottery_score
from qbank.irt.eap import eap_estimate
from qbank.irt.model import ItemParams, information, log_likelihood, probability

__all__ = ["SimResult", "simulate", "simulation_chunk_size"]


class SimResult(NamedTuple):
    """What a batch of simulated CATs produced."""

    administered: jax.Array  # (n_simulees, test_len) int32 item index per position
    responses: jax.Array  # (n_simulees, test_len) bool, correct or not
    theta_hat: jax.Array  # (n_simulees, test_len) EAP θ̂ after each response
    posterior_sd: jax.Array  # (n_simulees, test_len) posterior SD after each response
    true_theta: jax.Array  # (n_simulees,)
    # P(S_i): share of simulees for whom the walk ever considered item i, (n_items,), or
    # (n_strata, n_items) among the simulees of each true-θ stratum when k is conditional;
    # only with ``set_aside`` (Sympson & Hetter 1985), None otherwise.
    selection_rates: jax.Array | None = None


class _Carry(NamedTuple):
    given: jax.Array  # (n_items,) bool
    set_aside: jax.Array  # (n_items,) bool: lost its lottery (set-aside rule only)
    considered: jax.Array  # (n_items,) bool: ever considered by the walk (set-aside rule only)
    log_posterior: jax.Array  # (n_points,)
    theta_hat: jax.Array  # () current estimate


def simulation_chunk_size(n_items: int) -> int:
    """Simulees per chunk: one ``(chunk, n_items)`` float32 array of about 2 MiB.

    Measured on a 2-core CPU: larger chunks amortise the per-step overhead of the small EAP
    operations, until the pool-wide arrays of a step fall out of the L2/L3 caches.
    """
    return int(max(32, min(1024, 524288 // max(n_items, 1))))


def _simulate_one(
    key: jax.Array,
    true_theta: jax.Array,
    items: ItemParams,
    k: jax.Array,
    grid: jax.Array,
    log_prior: jax.Array,
    test_len: int,
    select_at_true: bool,
    set_aside: bool,
    strata_edges: jax.Array,
    stratum_by_estimate: jax.Array,
) -> tuple[jax.Array, ...]:
    """One simulee's CAT; see ``simulate``."""
    n_items = items.a.shape[0]
    conditional = k.ndim == 2  # static: one row of k per θ stratum
    # One threefry draw per simulee gives every step its lottery word and its response word.
    words = jax.random.bits(key, (test_len, 2), jnp.uint32)
    prior_estimate = eap_estimate(log_prior, grid)
    k_threshold = acceptance_threshold(k)
    # Log-likelihood of a wrong (row 0) and a right (row 1) answer to every item at every grid
    # point, computed once: each EAP update is then a row lookup, not 61 transcendentals.
    loglik_table = log_likelihood(
        jnp.array([0, 1])[:, None, None],
        grid,
        items.a[:, None],
        items.b[:, None],
        items.c[:, None],
    )  # (2, n_items, n_points)

    def step(carry: _Carry, step_words: jax.Array) -> tuple[_Carry, tuple[jax.Array, ...]]:
        theta_select = true_theta if select_at_true else carry.theta_hat
        info = information(theta_select, items.a, items.b, items.c)
        row_threshold = k_threshold
        if conditional:  # Stocking & Lewis (1998): the k of the stratum of θ (or of θ̂)
            theta_for_stratum = jnp.where(stratum_by_estimate, carry.theta_hat, true_theta)
            row_threshold = k_threshold[jnp.searchsorted(strata_edges, theta_for_stratum, "right")]
        accepted = hashed_bits24(step_words[0], n_items) < row_threshold
        available = lottery_candidates(carry.given, carry.set_aside) if set_aside else ~carry.given
        chosen = first_argmax(lottery_score(info, available, accepted))
        set_aside_now, considered = carry.set_aside, carry.considered
        if set_aside:  # static: the seed's rule compiles without this work
            walked = considered_items(info, available, chosen)
            set_aside_now = set_aside_now | walked  # the chosen item is given: no matter
            considered = considered | walked
        a, b, c = items.a[chosen], items.b[chosen], items.c[chosen]
        correct = word_to_uniform(step_words[1]) < probability(true_theta, a, b, c)
        log_posterior = carry.log_posterior + loglik_table[correct.astype(jnp.int32), chosen]
        estimate = eap_estimate(log_posterior, grid)
        given = carry.given.at[chosen].set(True)
        new_carry = _Carry(given, set_aside_now, considered, log_posterior, estimate.theta_hat)
        return new_carry, (chosen, correct, estimate.theta_hat, estimate.posterior_sd)

    none = jnp.zeros(n_items, bool)
    start = _Carry(none, none, none, log_prior, prior_estimate.theta_hat)
    end, (chosen, correct, theta_hat, posterior_sd) = jax.lax.scan(step, start, words)
    return chosen, correct, theta_hat, posterior_sd, end.considered


def simulate(
    key: jax.Array,
    items: ItemParams,
    k: jax.Array,
    true_theta: jax.Array,
    grid: jax.Array,
    log_prior: jax.Array,
    test_len: int,
    select_at_true: bool = False,
    chunk_size: int | None = None,
    set_aside: bool = False,
    strata_edges: jax.Array | None = None,
    stratum_by_estimate: jax.Array | bool = False,
) -> SimResult:
    """Simulate fixed-length CATs under the Sympson–Hetter lottery with exposure parameters k.

    Each simulee's θ̂ starts at the prior mean, the next item is chosen at θ̂ (or at the true θ
    when ``select_at_true``), the response is drawn from P(true θ) and θ̂ is updated by EAP.
    With ``k`` all ones this is plain maximum information. Plain function: jit it at the
    boundary with ``test_len``, ``select_at_true``, ``chunk_size`` and ``set_aside`` static.

    Conditional S–H (Stocking & Lewis 1998) gives ``k`` one row per θ stratum: the lottery of a
    step uses the row of the stratum of the simulee's true θ (as the calibration does) or, with
    ``stratum_by_estimate``, of the current θ̂ (as delivery does).

    Args:
        key: PRNG key.
        items: pool parameters, each ``(n_items,)``.
        k: ``(n_items,)`` S–H acceptance probabilities, or ``(n_strata, n_items)`` for
            conditional S–H with ``strata_edges``.
        true_theta: ``(n_simulees,)`` generating abilities.
        grid: ``(n_points,)`` quadrature points.
        log_prior: ``(n_points,)`` log prior density on the grid.
        test_len: items per simulee, at most ``n_items``.
        select_at_true: select at the true θ (the original design's shortcut).
        chunk_size: simulees per vectorised chunk; default from ``simulation_chunk_size``.
        set_aside: Sympson & Hetter's (1985) rule: an item that loses its lottery is set aside
            for the rest of that simulee's test (``exposure.set_aside``); the result then
            carries each item's P(S).
        strata_edges: ``(n_strata − 1,)`` increasing θ cut points, with a 2-D ``k``.
        stratum_by_estimate: with a 2-D ``k``, choose its row by θ̂ rather than by true θ.
    """
    n_items, n_simulees = items.a.shape[0], true_theta.shape[0]
    edges = jnp.zeros(0) if strata_edges is None else jnp.asarray(strata_edges)
    n_strata = k.shape[0] if k.ndim == 2 else 1
    if k.ndim == 2 and edges.shape != (n_strata - 1,):
        raise ValueError(f"a k of {n_strata} strata needs {n_strata - 1} strata_edges")
    by_estimate = jnp.asarray(stratum_by_estimate)
    chunk = min(chunk_size or simulation_chunk_size(n_items), n_simulees)
    keys = jax.random.split(key, n_simulees)
    # Pad to whole chunks so lax.map compiles one body instead of a second one for the rest;
    # padded simulees repeat the last one and are dropped, so results do not depend on chunk.
    padding = -n_simulees % chunk
    if padding:
        keys = jnp.concatenate([keys, jnp.repeat(keys[-1:], padding, axis=0)])
        true_theta = jnp.concatenate([true_theta, jnp.repeat(true_theta[-1:], padding)])

    n_chunks = keys.shape[0] // chunk
    # Padded simulees weigh nothing in P(S).
    weights = (jnp.arange(n_chunks * chunk) < n_simulees).astype(jnp.float32)

    def run_one(sim_key: jax.Array, theta: jax.Array) -> tuple[jax.Array, ...]:
        return _simulate_one(
            sim_key, theta, items, k, grid, log_prior, test_len, select_at_true, set_aside,
            edges, by_estimate,
        )  # fmt: skip

    def run_chunk(args: tuple[jax.Array, ...]) -> tuple[tuple[jax.Array, ...], jax.Array]:
        sim_keys, thetas, chunk_weights = args
        *per_simulee, considered = jax.vmap(run_one)(sim_keys, thetas)
        if not set_aside:  # static
            return tuple(per_simulee), jnp.zeros((n_strata, n_items), jnp.float32)
        # (n_strata, chunk) weights: each simulee counts in its true-θ stratum.
        strata = jnp.searchsorted(edges, thetas, side="right")
        in_stratum = (strata[None, :] == jnp.arange(n_strata)[:, None]) * chunk_weights
        return tuple(per_simulee), in_stratum @ considered.astype(jnp.float32)

    def by_chunk(x: jax.Array) -> jax.Array:
        return x.reshape(n_chunks, chunk, *x.shape[1:])

    outputs, considered_counts = jax.lax.map(
        run_chunk, (by_chunk(keys), by_chunk(true_theta), by_chunk(weights))
    )
    chosen, correct, theta_hat, posterior_sd = (
        x.reshape(n_chunks * chunk, *x.shape[2:])[:n_simulees] for x in outputs
    )
    selection_rates = None
    if set_aside:
        counts = considered_counts.sum(axis=0)  # (n_strata, n_items)
        if k.ndim == 2:
            strata = jnp.searchsorted(edges, true_theta[:n_simulees], side="right")
            per_stratum = jnp.zeros(n_strata, jnp.float32).at[strata].add(1.0)
            selection_rates = counts / jnp.maximum(per_stratum, 1.0)[:, None]
        else:
            selection_rates = counts[0] / n_simulees
    return SimResult(
        chosen, correct, theta_hat, posterior_sd, true_theta[:n_simulees], selection_rates
    )
