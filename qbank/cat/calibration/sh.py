"""Iterative Sympson–Hetter calibration of the exposure parameters k (Sympson & Hetter 1985).

Each iteration simulates ``n`` CATs under the current k, measures each item's exposure and
moves k towards its target by the run's ``update_rule`` (``update_rules``: the seed's
multiplicative rule, or the published 1985 rule with its set-aside lottery). After the last
update one more simulation under the final k measures what applying it would give; those are
the reported metrics. With ``until_converged`` the loop ends early once max_over has stayed
≤ ``tol`` for ``CONVERGED_STREAK`` iterations; the result says why it stopped.

The one Python loop is over iterations, so a progress callback can run between them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from qbank.cat.balance import Blueprint
from qbank.cat.calibration.params import CONVERGED_STREAK, CalibrationParams, ThetaDist
from qbank.cat.calibration.update_rules import update_k, update_k_sympson_hetter
from qbank.cat.design import TestDesign
from qbank.cat.metrics import ExposureMetrics, conditional_exposure_rates, exposure_metrics
from qbank.cat.simulate import simulate
from qbank.errors import InvalidInputError
from qbank.irt.eap import make_grid, prior_log_density
from qbank.irt.executable_cache import cached_compile
from qbank.irt.model import MAX_A, MAX_ABS_B, ItemParams

__all__ = [
    "CalibrationResult",
    "IterationProgress",
    "SimulationFn",
    "calibrate_sh",
    "compile_simulation",
    "run_simulation",
]

SCALAR_METRICS = (
    "avg_exp",
    "max_over",
    "max_exp",
    "chi2",
    "overlap",
    "unused_share",
    "bias",
    "rmse",
)

SimulationFn = Callable[..., tuple[ExposureMetrics, jax.Array, jax.Array]]
"""(seed, iteration, items, k, tau, alpha, floor, ceil, strata_edges, stratum_by_estimate) →
(metrics, exposure rates by true-θ stratum, updated k) of one iteration; see
``compile_simulation``."""


class IterationProgress(NamedTuple):
    """Handed to the progress callback after each iteration."""

    current_iter: int
    total_iters: int
    row: dict[str, Any]  # the history row just appended
    k: np.ndarray  # (n_items,), or (n_strata, n_items) if conditional: k after the update


@dataclass(frozen=True, slots=True)
class CalibrationResult:
    """Outcome of a calibration: new k, per-iteration history and the final evaluation."""

    k_before: np.ndarray  # (n_items,), or (n_strata, n_items) if conditional
    k_after: np.ndarray  # the same shape as k_before
    tau: np.ndarray  # (n_items,) target exposure per item (within every stratum if conditional)
    history: list[dict[str, Any]]  # one row per iteration, simulated under that iteration's k
    metrics: dict[str, Any]  # simulated under k_after
    initial_exposure_rates: np.ndarray  # (n_items,) under k_before (iteration 1)
    final_exposure_rates: np.ndarray  # (n_items,) under k_after
    stop_reason: str = ""  # why the loop ended: "converged: …" or "iters: …"
    # (n_strata, n_items) exposure by true-θ stratum (params.strata_edges), under k_before
    # (iteration 1) and under k_after as delivery uses it (by θ̂ stratum if conditional).
    initial_exposure_by_stratum: np.ndarray | None = None
    final_exposure_by_stratum: np.ndarray | None = None
    # Items administered over all the simulations run (iterations and final evaluation): under a
    # variable-length design fewer than simulations × n × test_len.
    simulee_steps: int = 0


def _draw_true_theta(key: jax.Array, dist: ThetaDist, n: int) -> jax.Array:
    if dist.kind == "normal":
        return dist.loc + dist.scale * jax.random.normal(key, (n,))
    return dist.loc + dist.scale * jax.random.uniform(key, (n,))


def _iteration(
    seed: jax.Array,
    iteration: jax.Array,
    items: ItemParams,
    k: jax.Array,
    tau: jax.Array,
    alpha: jax.Array,
    floor: jax.Array,
    ceil: jax.Array,
    strata_edges: jax.Array,
    stratum_by_estimate: jax.Array,
    *,
    n: int,
    test_len: int,
    dist: ThetaDist,
    select_at_true: bool,
    grid_points: int,
    update_rule: str,
    design: TestDesign | None = None,
    blueprint: Blueprint | None = None,
) -> tuple[ExposureMetrics, jax.Array, jax.Array]:
    """One iteration in one compiled call: simulate under k, measure, update k.

    A 2-D k is conditional S–H: its rows are strata, updated from the exposure (or P(S)) among
    the simulees of each true-θ stratum, as Stocking & Lewis (1998) calibrate.
    """
    key = jax.random.fold_in(jax.random.key(seed), iteration)
    theta_key, cat_key = jax.random.split(key)
    true_theta = _draw_true_theta(theta_key, dist, n)
    grid = make_grid(grid_points)
    log_prior = prior_log_density(grid)
    published = update_rule == "sympson-hetter"
    conditional = k.ndim == 2
    result = simulate(
        cat_key, items, k, true_theta, grid, log_prior, test_len, select_at_true,
        set_aside=published, strata_edges=strata_edges if conditional else None,
        stratum_by_estimate=stratum_by_estimate, design=design, blueprint=blueprint,
    )  # fmt: skip
    n_items = items.a.shape[0]
    metrics = exposure_metrics(
        result.administered, result.theta_hat[:, -1], true_theta, tau, n_items
    )
    by_stratum = conditional_exposure_rates(result.administered, true_theta, strata_edges, n_items)
    if published:
        assert result.selection_rates is not None
        return (
            metrics,
            by_stratum,
            update_k_sympson_hetter(result.selection_rates, tau, floor, ceil),
        )
    rates = by_stratum if conditional else metrics.exposure_rates
    return metrics, by_stratum, update_k(k, rates, tau, alpha, floor, ceil)


_iteration_program = jax.jit(
    _iteration,
    static_argnames=("n", "test_len", "dist", "select_at_true", "grid_points", "update_rule"),
)


def compile_simulation(
    params: CalibrationParams,
    n_items: int,
    design: TestDesign | None = None,
    blueprint: Blueprint | None = None,
) -> SimulationFn:
    """Compile one calibration iteration for a pool size (ahead of time, so it can be timed).

    What fixes shapes (n, test_len, pool size, theta_dist, ability, the rule, the number of
    strata) is static; the seed, k, tau, alpha, floor, ceil and the cut points are arguments, so
    a tau × alpha sweep reuses the compiled function. With an exam's ``design`` the simulees
    take its tests (selection rule, estimator, stopping rules and ``blueprint``, the design's
    blueprint over this pool); ``params.test_len`` must then be its ``stopping.max_len``.
    """
    _check_pool_size(params, n_items)
    if design is not None and design.stopping.max_len != params.test_len:
        raise InvalidInputError(
            f"test_len ({params.test_len}) must be the design's max_len ({design.stopping.max_len})"
        )
    vector = jnp.zeros(n_items, jnp.float32)  # only shape and dtype matter to the compile
    items = ItemParams(vector, vector, vector)
    edges = jnp.zeros(len(params.strata_edges), jnp.float32)
    k = jnp.zeros((edges.shape[0] + 1, n_items)) if params.conditional else vector
    scalar = jnp.float32(0)
    if design is not None:  # a design (and its blueprint arrays) is bound into the program
        function = partial(
            _iteration, n=params.n, test_len=params.test_len, dist=params.theta_distribution,
            select_at_true=params.ability == "true", grid_points=61,
            update_rule=params.update_rule, design=design, blueprint=blueprint,
        )  # fmt: skip
        lowered = jax.jit(function).lower(
            jnp.uint32(0), jnp.int32(0), items, k, vector, scalar, scalar, scalar, edges,
            jnp.bool_(False),
        )  # fmt: skip
        designed: SimulationFn = lowered.compile()
        return designed
    # From the executable cache when these shapes were compiled before, by this or another process.
    compiled: SimulationFn = cached_compile(
        _iteration_program, jnp.uint32(0), jnp.int32(0), items, k, vector, scalar, scalar, scalar,
        edges, jnp.bool_(False), n=params.n, test_len=params.test_len,
        dist=params.theta_distribution, select_at_true=params.ability == "true", grid_points=61,
        update_rule=params.update_rule,
    )  # fmt: skip
    return compiled


def _check_pool_size(params: CalibrationParams, n_items: int) -> None:
    if n_items < 1:
        raise InvalidInputError("the item pool is empty")
    if params.test_len > n_items:
        raise InvalidInputError(f"test_len ({params.test_len}) exceeds the pool size ({n_items})")


def _as_item_params(items: ItemParams) -> ItemParams:
    arrays = [np.asarray(x, np.float32) for x in items]
    n_items = arrays[0].shape[0]
    if any(x.shape != (n_items,) for x in arrays):
        raise InvalidInputError("a, b and c must be 1-D arrays of the same length")
    a, b, c = arrays
    valid = (
        np.all(np.isfinite(arrays))
        and np.all((a > 0) & (a <= MAX_A))
        and np.all(np.abs(b) <= MAX_ABS_B)
        and np.all((c >= 0) & (c < 1))
    )
    if not valid:
        raise InvalidInputError(
            f"item parameters need a in (0, {MAX_A:g}], |b| ≤ {MAX_ABS_B:g} and c in [0, 1)"
        )
    return ItemParams(jax.device_put(a), jax.device_put(b), jax.device_put(c))


class IterationOutcome(NamedTuple):
    """What one compiled iteration returns, moved to the host."""

    scalars: dict[str, Any]  # SCALAR_METRICS and the conditional figures under the k simulated
    exposure_rates: np.ndarray  # (n_items,)
    k_next: jax.Array  # k after the update, the shape of k
    exposure_rates_by_stratum: np.ndarray  # (n_strata, n_items), by true-θ stratum


def run_simulation(
    simulation: SimulationFn,
    params: CalibrationParams,
    iteration: int,
    items: ItemParams,
    k: jax.Array,
    tau: jax.Array,
    stratum_by_estimate: bool = False,
) -> IterationOutcome:
    """Run one compiled iteration (the seed and iteration number fix its random draws).

    ``stratum_by_estimate`` picks a conditional k's row by θ̂ instead of the true θ, as delivery
    does; the same compiled function serves both.
    """
    metrics, by_stratum, k_next = simulation(
        _seed_word(params.seed), jnp.int32(iteration), items, k, tau,
        jnp.float32(params.alpha), jnp.float32(params.floor), jnp.float32(params.ceil),
        jnp.asarray(params.strata_edges, jnp.float32), jnp.bool_(stratum_by_estimate),
    )  # fmt: skip
    scalars: dict[str, Any] = {name: float(getattr(metrics, name)) for name in SCALAR_METRICS}
    rates_by_stratum = np.asarray(by_stratum)
    scalars["conditional_max_exp"] = [round(float(x), 6) for x in rates_by_stratum.max(axis=1)]
    over = rates_by_stratum - np.asarray(tau)[None, :]
    scalars["conditional_max_over"] = float(over.max())
    return IterationOutcome(scalars, np.asarray(metrics.exposure_rates), k_next, rates_by_stratum)


def _seed_word(seed: int) -> jax.Array:
    # The key is built from the seed inside the compiled step, so a new seed never recompiles.
    word: jax.Array = jnp.uint32(seed)
    return word


def calibrate_sh(
    params: CalibrationParams,
    items: ItemParams,
    k: ArrayLike,
    item_topics: Sequence[str] | None = None,
    *,
    on_iteration: Callable[[IterationProgress], Any] | None = None,
    simulation: SimulationFn | None = None,
) -> CalibrationResult:
    """Run up to ``params.iters`` S–H iterations from ``k`` and evaluate the result.

    Args:
        params: validated calibration parameters (seed included: same seed, same output).
        items: the pool's 3PL parameters, each ``(n_items,)``.
        k: ``(n_items,)`` starting exposure parameters in [0, 1]; with ``params.conditional``
            also ``(n_strata, n_items)``, and a 1-D k then starts every stratum.
        item_topics: topic of each item, needed for ``topic_tau``/``topic_weights``.
        on_iteration: called after every iteration; raising from it stops the calibration.
        simulation: a function from ``compile_simulation`` (compiled here when omitted).

    Raises:
        InvalidInputError: bad item parameters, k outside [0, 1], unknown topics, or a test
            longer than the pool.
    """
    items = _as_item_params(items)
    n_items = items.a.shape[0]
    _check_pool_size(params, n_items)
    k_before = _starting_k(params, k, n_items)
    topics = [str(t) for t in item_topics] if item_topics is not None else [""] * n_items
    if len(topics) != n_items:
        raise InvalidInputError(f"item_topics has {len(topics)} entries for {n_items} items")
    tau = jnp.asarray(params.item_tau(topics), jnp.float32)
    simulation = simulation or compile_simulation(params, n_items)

    k_current = jax.device_put(k_before)
    history: list[dict[str, Any]] = []
    steps = 0
    initial_rates = np.zeros(n_items, np.float32)
    initial_by_stratum: np.ndarray | None = None
    stop_reason = f"iters: ran all {params.iters} iterations"
    for iteration in range(params.iters):
        outcome = run_simulation(simulation, params, iteration, items, k_current, tau)
        steps += _administered(outcome, params.n)
        if iteration == 0:
            initial_rates = outcome.exposure_rates
            initial_by_stratum = outcome.exposure_rates_by_stratum
        k_current = outcome.k_next
        history.append({"iter": iteration + 1, **outcome.scalars})
        if on_iteration is not None:
            progress = IterationProgress(
                iteration + 1, params.iters, history[-1], np.asarray(k_current)
            )
            on_iteration(progress)
        if params.until_converged and _converged(history, params.tol, params.conditional):
            stop_reason = (
                f"converged: {_watched(params)} ≤ {params.tol:g} for the last {CONVERGED_STREAK} "
                f"iterations (at iteration {iteration + 1} of {params.iters})"
            )
            break
    if params.until_converged and not stop_reason.startswith("converged"):
        stop_reason = (
            f"iters: {_watched(params)} stayed ≤ {params.tol:g} for fewer than {CONVERGED_STREAK} "
            f"iterations in a row within {params.iters}; not converged"
        )

    # The final evaluation draws as iteration `iters` would, whether or not the loop ended early.
    # A conditional k is evaluated twice: by true-θ stratum, as calibrated, and by θ̂ stratum, as
    # delivery will use it; the second is the operational figure and the reported metrics.
    final = run_simulation(simulation, params, params.iters, items, k_current, tau)
    steps += _administered(final, params.n)
    metrics = final.scalars
    if params.conditional:
        calibrated = final.scalars
        final = run_simulation(
            simulation, params, params.iters, items, k_current, tau, stratum_by_estimate=True
        )
        steps += _administered(final, params.n)
        metrics = {**final.scalars,
                   "calibrated_conditional_max_exp": calibrated["conditional_max_exp"]}  # fmt: skip
    return CalibrationResult(
        k_before=k_before,
        k_after=np.asarray(k_current),
        tau=np.asarray(tau),
        history=history,
        metrics=metrics,
        initial_exposure_rates=initial_rates,
        final_exposure_rates=final.exposure_rates,
        stop_reason=stop_reason,
        initial_exposure_by_stratum=initial_by_stratum,
        final_exposure_by_stratum=final.exposure_rates_by_stratum,
        simulee_steps=steps,
    )


def _administered(outcome: IterationOutcome, n: int) -> int:
    """Items given in one simulation: the exposure rates (shares of n) add up to them."""
    return round(float(np.sum(outcome.exposure_rates, dtype=np.float64)) * n)


def _starting_k(params: CalibrationParams, k: ArrayLike, n_items: int) -> np.ndarray:
    k_before = np.asarray(k, np.float32)
    n_strata = len(params.strata_edges) + 1
    shapes = [(n_items,), (n_strata, n_items)] if params.conditional else [(n_items,)]
    if k_before.shape not in shapes or not np.all((k_before >= 0) & (k_before <= 1)):
        per_stratum = f" (or {n_strata} × {n_items} for the strata)" if params.conditional else ""
        raise InvalidInputError(f"k must hold {n_items} values in [0, 1]{per_stratum}")
    if params.conditional and k_before.ndim == 1:
        k_before = np.repeat(k_before[None, :], n_strata, axis=0)
    return k_before


def _watched(params: CalibrationParams) -> str:
    return "conditional_max_over" if params.conditional else "max_over"


def _converged(history: list[dict[str, Any]], tol: float, conditional: bool) -> bool:
    # Exposure rates are float32 shares: allow their rounding (a rate of 1 reads 1 + 5e-8).
    name = "conditional_max_over" if conditional else "max_over"
    recent = history[-CONVERGED_STREAK:]
    return len(recent) == CONVERGED_STREAK and all(row[name] <= tol + 1e-6 for row in recent)
