"""Vectorised CAT simulation: many simulees, S–H lottery, EAP scoring, or an exam's design.

Without a ``design`` (or with max information, EAP, fixed length and no blueprint) a step is
today's fast path. A ``TestDesign`` adds, as masks per simulee inside the same ``lax.scan``: the
stopping rules (``stop``; a simulee whose test has ended keeps its state and gives no item,
recorded as −1), the Kingsbury–Zara blueprint (``balance``) and any rule or estimator of the
registries (``select.registry``, ``irt.grid_estimators``).

A design whose exposure is ``r_max`` (catR's "restricted" method, Revuelta & Ponsoda 1998) needs
the exposure rates of the simulees before: catR updates them examinee by examinee, which a
vectorised run cannot. Here simulees run in ``r_max_waves`` sequential waves (a ``lax.scan`` over
waves of one compiled body); an item whose exposure rate among the earlier waves is ≥ r_max is
masked out for the next wave (``exposure.rmax.under_exposure_cap``). Within a wave the rates do
not move, so an item just under the cap may reach every simulee of that wave: with waves of
size w out of n simulees the final exposure is at most r_max + (1 − r_max)·w/n (the slack of one
wave), and the approximation tends to catR's as w → 1.

Simulees run in parallel with ``vmap``; positions run with ``lax.scan``; simulees are processed
in chunks (``lax.map`` over ``vmap``ped chunks) so that the ``(chunk, n_items)`` working set of each
step stays in cache instead of streaming ``(n_simulees, n_items)`` arrays through memory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from qbank.cat.argmax import first_argmax
from qbank.cat.balance import Blueprint, topic_mask
from qbank.cat.design import TestDesign
from qbank.cat.exposure.lottery_rng import acceptance_threshold, hashed_bits24, word_to_uniform
from qbank.cat.exposure.rmax import under_exposure_cap
from qbank.cat.exposure.set_aside import considered_items, lottery_candidates
from qbank.cat.exposure.sympson_hetter import lottery_score
from qbank.cat.select.registry import SelectionState, choose_by_score, make_score_fn
from qbank.cat.stop import StopRules, should_stop
from qbank.irt.eap import eap_estimate
from qbank.irt.grid_estimators import GridPosterior, estimator_fn
from qbank.irt.model import ItemParams, information, log_likelihood, probability

__all__ = ["R_MAX_WAVES", "SimResult", "simulate", "simulation_chunk_size"]

# Waves of an r_max design's simulation: 1000 simulees run as 20 waves of 50, a slack of at
# most (1 − r_max)/20 over the cap, at about the cost of the unwaved design step (bench/).
R_MAX_WAVES = 20


class SimResult(NamedTuple):
    """What a batch of simulated CATs produced."""

    # (n_simulees, test_len) int32 item index per position; −1 after a stopping rule fired
    administered: jax.Array
    responses: jax.Array  # (n_simulees, test_len) bool, correct or not (False when not given)
    theta_hat: jax.Array  # (n_simulees, test_len) θ̂ after each response (kept once stopped)
    posterior_sd: jax.Array  # (n_simulees, test_len) its SE after each response
    true_theta: jax.Array  # (n_simulees,)
    # P(S_i): share of simulees for whom the walk ever considered item i, (n_items,), or
    # (n_strata, n_items) among the simulees of each true-θ stratum when k is conditional;
    # only with ``set_aside`` (Sympson & Hetter 1985), None otherwise.
    selection_rates: jax.Array | None = None
    test_length: jax.Array | None = None  # (n_simulees,) int32 items given; with a design only


class _Carry(NamedTuple):
    given: jax.Array  # (n_items,) bool
    set_aside: jax.Array  # (n_items,) bool: lost its lottery (set-aside rule only)
    considered: jax.Array  # (n_items,) bool: ever considered by the walk (set-aside rule only)
    log_posterior: jax.Array  # (n_points,)
    theta_hat: jax.Array  # () current estimate


class _DesignCarry(NamedTuple):
    given: jax.Array  # (n_items,) bool
    set_aside: jax.Array  # (n_items,) bool
    considered: jax.Array  # (n_items,) bool
    log_posterior: jax.Array  # (n_points,)
    theta_hat: jax.Array  # ()
    se: jax.Array  # ()
    done: jax.Array  # () bool: a stopping rule fired; nothing changes any more
    n_given: jax.Array  # () int32
    topic_counts: jax.Array  # (n_topics + 1,) float32 items given per blueprint topic
    responses: jax.Array  # (n_items,) float32 0/1 answers where given (modal estimators)


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


class _DesignArrays(NamedTuple):
    """A design's arrays, traced (sweepable); the design itself is static."""

    rules: StopRules
    blueprint: Blueprint  # a one-topic dummy when the design has none


def _simulate_one_design(
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
    design: TestDesign,
    arrays: _DesignArrays,
    allowed: jax.Array,
) -> tuple[jax.Array, ...]:
    """One simulee's CAT under a design: masks and scores from the registries; see ``simulate``.

    ``allowed`` ``(n_items,)`` is the r_max cap of this simulee's wave (all True without one).
    """
    n_items = items.a.shape[0]
    conditional = k.ndim == 2
    score_fn = make_score_fn(design.selection, design.selection_options)
    estimate_fn = estimator_fn(design.estimator)
    balanced, variable = bool(design.blueprint), design.stopping.variable_length
    capped = design.exposure == "r_max"
    words = jax.random.bits(key, (test_len, 3), jnp.uint32)
    k_threshold = acceptance_threshold(k)
    loglik_table = log_likelihood(
        jnp.array([0, 1])[:, None, None], grid, items.a[:, None], items.b[:, None],
        items.c[:, None],
    )  # fmt: skip

    def estimate(
        log_posterior: jax.Array, given: jax.Array, responses: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        return estimate_fn(GridPosterior(log_posterior, log_prior, grid, given, items, responses))

    def step(
        carry: _DesignCarry, step_words: jax.Array
    ) -> tuple[_DesignCarry, tuple[jax.Array, ...]]:
        theta_select = true_theta if select_at_true else carry.theta_hat
        info = information(theta_select, items.a, items.b, items.c)
        done = carry.done
        open_items = ~carry.given
        if capped:  # static: the wave's cap, lifted should it leave nothing to give
            under_cap = open_items & allowed
            open_items = jnp.where(under_cap.any(), under_cap, open_items)
        if variable:  # static: stop before this item if a rule fires at the current θ̂
            info_at_estimate = (
                information(carry.theta_hat, items.a, items.b, items.c) if select_at_true else info
            )
            max_left = jnp.max(jnp.where(open_items, info_at_estimate, 0.0))
            done = done | should_stop(
                arrays.rules, carry.n_given, carry.theta_hat, carry.se, max_left
            )
        row_threshold = k_threshold
        if conditional:
            theta_for_stratum = jnp.where(stratum_by_estimate, carry.theta_hat, true_theta)
            row_threshold = k_threshold[jnp.searchsorted(strata_edges, theta_for_stratum, "right")]
        accepted = hashed_bits24(step_words[0], n_items) < row_threshold
        available = lottery_candidates(carry.given, carry.set_aside) if set_aside else ~carry.given
        if capped:
            under_cap = available & open_items
            available = jnp.where(under_cap.any(), under_cap, open_items)
        if balanced:  # static: Kingsbury & Zara (1989), the most lacking topic only
            available = topic_mask(arrays.blueprint, carry.topic_counts, available)
        state = SelectionState(
            theta_select, info, available, carry.log_posterior, grid, carry.n_given,
            arrays.rules.max_len, step_words[2],
        )  # fmt: skip
        score = score_fn(state, items)
        chosen = choose_by_score(score, available, accepted)
        set_aside_now, considered = carry.set_aside, carry.considered
        if set_aside:
            walked = considered_items(score, available, chosen)
            set_aside_now = set_aside_now | walked
            considered = considered | walked
        a, b, c = items.a[chosen], items.b[chosen], items.c[chosen]
        correct = word_to_uniform(step_words[1]) < probability(true_theta, a, b, c)
        log_posterior = carry.log_posterior + loglik_table[correct.astype(jnp.int32), chosen]
        given = carry.given.at[chosen].set(True)
        responses = carry.responses.at[chosen].set(correct.astype(jnp.float32))
        theta_hat, se = estimate(log_posterior, given, responses)
        topic_counts = carry.topic_counts.at[arrays.blueprint.item_topic[chosen]].add(1.0)
        new_carry = _DesignCarry(
            given, set_aside_now, considered, log_posterior, theta_hat, se, done,
            carry.n_given + 1, topic_counts, responses,
        )  # fmt: skip
        # A finished test keeps its state: the step's work is discarded, not skipped.
        kept = jax.tree.map(lambda old, new: jnp.where(done, old, new), carry, new_carry)
        kept = kept._replace(done=done)
        output = (jnp.where(done, -1, chosen), correct & ~done, kept.theta_hat, kept.se)
        return kept, output

    none = jnp.zeros(n_items, bool)
    no_answers = jnp.zeros(n_items, jnp.float32)
    theta_0, se_0 = estimate(log_prior, none, no_answers)
    start = _DesignCarry(
        none, none, none, log_prior, theta_0, se_0, jnp.bool_(False), jnp.int32(0),
        jnp.zeros(arrays.blueprint.targets.shape[0], jnp.float32), no_answers,
    )  # fmt: skip
    end, (chosen, correct, theta_hat, se) = jax.lax.scan(step, start, words)
    return chosen, correct, theta_hat, se, end.considered


def _wave_plan(n_simulees: int, chunk: int, r_max_waves: int) -> tuple[int, int, int]:
    """(waves, chunks per wave, chunk size) covering ``n_simulees`` in near-equal waves."""
    n_waves = max(1, min(r_max_waves, n_simulees))
    wave_size = -(-n_simulees // n_waves)
    chunk = min(chunk, wave_size)
    return n_waves, -(-wave_size // chunk), chunk


def _slots(n_simulees: int, wave_size: int, slots_per_wave: int) -> np.ndarray:
    """Each simulee's slot when waves of ``wave_size`` are padded to ``slots_per_wave`` each."""
    simulee = np.arange(n_simulees)
    return (simulee // wave_size) * slots_per_wave + simulee % wave_size


def _run_waves(
    run_chunk: Callable[..., tuple[tuple[jax.Array, ...], jax.Array]],
    chunked: tuple[jax.Array, jax.Array, jax.Array],
    n_waves: int,
    n_items: int,
    r_max: jax.Array,
) -> tuple[tuple[jax.Array, ...], jax.Array]:
    """The chunks in ``n_waves`` sequential waves under the r_max cap; outputs as ``lax.map``'s.

    Each wave masks out the items whose exposure rate among the simulees of the earlier waves
    is ≥ r_max (none in the first wave), then adds its own administrations to the counts.
    """

    def by_wave(x: jax.Array) -> jax.Array:
        return x.reshape(n_waves, x.shape[0] // n_waves, *x.shape[1:])

    def wave(
        carry: tuple[jax.Array, jax.Array], wave_chunks: tuple[jax.Array, ...]
    ) -> tuple[tuple[jax.Array, jax.Array], tuple[tuple[jax.Array, ...], jax.Array]]:
        counts, n_seen = carry
        allowed = under_exposure_cap(counts / jnp.maximum(n_seen, 1.0), r_max)
        outputs, considered = jax.lax.map(lambda x: run_chunk(x, allowed), wave_chunks)
        chosen, wave_weights = outputs[0], wave_chunks[2]  # (chunks, chunk, test_len), −1: none
        given = jnp.where(chosen >= 0, chosen, n_items)  # out of range: dropped
        counts = counts.at[given.ravel()].add(
            jnp.broadcast_to(wave_weights[..., None], chosen.shape).ravel(), mode="drop"
        )
        return (counts, n_seen + wave_weights.sum()), (outputs, considered)

    start = (jnp.zeros(n_items, jnp.float32), jnp.float32(0.0))
    _, (outputs, considered) = jax.lax.scan(wave, start, tuple(by_wave(x) for x in chunked))

    def by_chunk(x: jax.Array) -> jax.Array:
        return x.reshape(x.shape[0] * x.shape[1], *x.shape[2:])

    return tuple(by_chunk(x) for x in outputs), by_chunk(considered)


def _design_arrays(design: TestDesign, blueprint: Blueprint | None, n_items: int) -> _DesignArrays:
    if blueprint is None:
        blueprint = Blueprint(jnp.zeros(n_items, jnp.int32), jnp.ones(1, jnp.float32))
    return _DesignArrays(design.stop_rules(), blueprint)


def _fast_path(design: TestDesign | None) -> bool:
    """Today's step: max information, EAP, fixed length and no blueprint."""
    return design is None or (
        design.selection == "mfi" and not design.selection_options
        and design.estimator == "eap" and not design.stopping.variable_length
        and not design.blueprint and design.exposure != "r_max"
    )  # fmt: skip


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
    design: TestDesign | None = None,
    blueprint: Blueprint | None = None,
    r_max_waves: int = R_MAX_WAVES,
) -> SimResult:
    """Simulate CATs under the Sympson–Hetter lottery with exposure parameters k.

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
        design: an exam's test design (static: hashable): its selection rule, estimator,
            stopping rules and blueprint; ``test_len`` is then its ``stopping.max_len``. Its
            exposure method is the caller's business (pass ``k`` all ones for none). The
            result then carries each simulee's ``test_length``.
        blueprint: the design's blueprint over this pool (``TestDesign.blueprint_for``).
        r_max_waves: with a design whose exposure is ``r_max``, the number of sequential waves
            (static; see the module docstring): an item at an exposure rate ≥ r_max among the
            earlier waves is not given in the next one.
    """
    n_items, n_simulees = items.a.shape[0], true_theta.shape[0]
    edges = jnp.zeros(0) if strata_edges is None else jnp.asarray(strata_edges)
    n_strata = k.shape[0] if k.ndim == 2 else 1
    if k.ndim == 2 and edges.shape != (n_strata - 1,):
        raise ValueError(f"a k of {n_strata} strata needs {n_strata - 1} strata_edges")
    by_estimate = jnp.asarray(stratum_by_estimate)
    waved = design is not None and design.exposure == "r_max"
    chunk = min(chunk_size or simulation_chunk_size(n_items), n_simulees)
    n_waves, chunks_per_wave = 1, -(-n_simulees // chunk)
    if waved:
        n_waves, chunks_per_wave, chunk = _wave_plan(n_simulees, chunk, r_max_waves)
    n_chunks = n_waves * chunks_per_wave
    keys = jax.random.split(key, n_simulees)
    # Pad every wave to whole chunks so lax.map compiles one body instead of a second one for
    # the rest. A wave holds its own simulees then its padding, so no wave takes more simulees
    # than its share (the r_max bound). Padded simulees repeat the last one, weigh nothing in
    # P(S) nor in a wave's exposure counts, and are dropped: results do not depend on chunk.
    wave_size = -(-n_simulees // n_waves)
    slot_of_simulee = _slots(n_simulees, wave_size, chunks_per_wave * chunk)
    simulee_of_slot = np.full(n_chunks * chunk, n_simulees - 1)
    simulee_of_slot[slot_of_simulee] = np.arange(n_simulees)
    if n_waves == 1:  # all padding at the end: plain slices, today's program
        padding = n_chunks * chunk - n_simulees
        padded_theta = true_theta
        if padding:
            keys = jnp.concatenate([keys, jnp.repeat(keys[-1:], padding, axis=0)])
            padded_theta = jnp.concatenate([true_theta, jnp.repeat(true_theta[-1:], padding)])
        weights = (jnp.arange(n_chunks * chunk) < n_simulees).astype(jnp.float32)
        real: slice | np.ndarray = slice(0, n_simulees)
    else:
        weights = jnp.zeros(n_chunks * chunk, jnp.float32).at[slot_of_simulee].set(1.0)
        keys, padded_theta = keys[simulee_of_slot], true_theta[simulee_of_slot]
        real = slot_of_simulee

    fast = _fast_path(design)
    if design is not None and bool(design.blueprint) != (blueprint is not None):
        raise ValueError("pass the design's blueprint over the pool, and only with one")
    arrays = None if design is None else _design_arrays(design, blueprint, n_items)

    def run_one(sim_key: jax.Array, theta: jax.Array, allowed: jax.Array) -> tuple[jax.Array, ...]:
        if fast:
            return _simulate_one(
                sim_key, theta, items, k, grid, log_prior, test_len, select_at_true, set_aside,
                edges, by_estimate,
            )  # fmt: skip
        assert design is not None
        assert arrays is not None
        return _simulate_one_design(
            sim_key, theta, items, k, grid, log_prior, test_len, select_at_true, set_aside,
            edges, by_estimate, design, arrays, allowed,
        )  # fmt: skip

    def run_chunk(
        args: tuple[jax.Array, ...], allowed: jax.Array
    ) -> tuple[tuple[jax.Array, ...], jax.Array]:
        sim_keys, thetas, chunk_weights = args
        *per_simulee, considered = jax.vmap(run_one, in_axes=(0, 0, None))(
            sim_keys, thetas, allowed
        )
        if not set_aside:  # static
            return tuple(per_simulee), jnp.zeros((n_strata, n_items), jnp.float32)
        # (n_strata, chunk) weights: each simulee counts in its true-θ stratum.
        strata = jnp.searchsorted(edges, thetas, side="right")
        in_stratum = (strata[None, :] == jnp.arange(n_strata)[:, None]) * chunk_weights
        return tuple(per_simulee), in_stratum @ considered.astype(jnp.float32)

    def by_chunk(x: jax.Array) -> jax.Array:
        return x.reshape(n_chunks, chunk, *x.shape[1:])

    chunked = (by_chunk(keys), by_chunk(padded_theta), by_chunk(weights))
    if not waved:
        everything = jnp.ones(n_items, bool)
        outputs, considered_counts = jax.lax.map(lambda x: run_chunk(x, everything), chunked)
    else:
        assert design is not None
        assert design.r_max is not None
        outputs, considered_counts = _run_waves(
            run_chunk, chunked, n_waves, n_items, jnp.float32(design.r_max)
        )
    chosen, correct, theta_hat, posterior_sd = (
        x.reshape(n_chunks * chunk, *x.shape[2:])[real] for x in outputs
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
    test_length = None if design is None else jnp.sum(chosen >= 0, axis=1, dtype=jnp.int32)
    return SimResult(
        chosen, correct, theta_hat, posterior_sd, true_theta[:n_simulees], selection_rates,
        test_length,
    )  # fmt: skip
