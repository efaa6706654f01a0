"""Marginal maximum likelihood item calibration by EM (Bock & Aitkin 1981), vectorised in JAX.

θ ~ N(0, 1) is integrated on a fixed quadrature grid. Each EM cycle is one compiled call: the
E-step turns the response matrix into expected numbers of right and wrong answers per item and
grid point (two matrix products), the M-step takes safeguarded Newton steps on every item at
once (``vmap``). Responses are a dense ``(n_persons, n_items)`` matrix with a mask of observed
cells, so sparse CAT data (most cells missing by design) need no special path. Persons may carry
weights (frequencies of response patterns).

Models (D = 1.7 metric of DESIGN.md): ``3pl``; ``2pl`` (c = 0); ``1pl`` (c = 0 and one a common
to all estimated items, as in Rasch MML with a free slope). Anchor items keep their values and
only inform θ. The EM runs in float64 (scoped to the fit: the rest of the process keeps JAX's
float32 default), so the log posterior it reports never decreases from cycle to cycle.

Convergence needs both a small parameter change (``tol``) and a small gradient of the marginal
log posterior, each component times the parameter's SD from its item's information block
(``gtol``): EM's steps shrink long before the maximum where the missing information is large
(hard, weakly discriminating items), so a small change alone does not show convergence. A fit
that stops otherwise says why and names the items. Standard errors come from the full observed
information of the marginal log-likelihood, cross-item blocks included (``qbank.irt.mml_errors``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from qbank.errors import InvalidInputError
from qbank.irt.executable_cache import cached_call
from qbank.irt.mml_accel import STEP_GROWTH, squarem_point
from qbank.irt.mml_data import ResponseData, check_start, response_data
from qbank.irt.mml_errors import information_matrix, standard_deviations
from qbank.irt.mml_items import (
    FREE,
    PHI_BOX,
    Priors,
    ascent_point,
    ascent_step,
    at_bound,
    grid_terms,
    item_objective,
    m_step,
    prior_terms,
    scoring_parts,
)
from qbank.irt.model import D, ItemParams, log_likelihood

__all__ = [
    "DEFAULT_PRIORS",
    "MODELS",
    "CycleProgress",
    "MmlResult",
    "MmlSettings",
    "Priors",
    "calibrate_mml",
    "initial_params",
]

MODELS = ("1pl", "2pl", "3pl")
DEFAULT_PRIORS: dict[str, Priors] = {
    "1pl": Priors(),
    "2pl": Priors(),
    # BILOG-MG's defaults for the 3PL: lognormal(0, 0.5) on a, beta(5, 17) on c (mean 0.2).
    "3pl": Priors(a_lognormal=(0.0, 0.5), c_beta=(5.0, 17.0)),
}


@dataclass(frozen=True, slots=True)
class MmlSettings:
    """How to calibrate; validated once, here.

    Converged means: the largest change of any estimated a, b or c between two cycles is below
    ``tol`` and the largest gradient component of the marginal log posterior, times that
    parameter's SD (in φ = log a, b, logit c), is below ``gtol``. ``priors=None`` takes the
    model's ``DEFAULT_PRIORS``; ``standard_errors=False`` skips them (NaN), for timing.
    ``accelerate`` extrapolates every second EM point by SQUAREM (``qbank.irt.mml_accel``),
    keeping an extrapolated point only when its log posterior is at least the last cycle's;
    ``False`` runs plain EM.
    """

    model: str = "3pl"
    max_cycles: int = 500
    tol: float = 1e-4
    n_points: int = 61
    limit: float = 6.0
    newton_steps: int = 3
    priors: Priors | None = None
    gtol: float = 1e-3
    standard_errors: bool = True
    accelerate: bool = True

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InvalidInputError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if isinstance(self.max_cycles, bool) or not 1 <= self.max_cycles <= 100_000:
            raise InvalidInputError(f"max_cycles must be in [1, 100000], got {self.max_cycles}")
        if not 0 < self.tol < 1:
            raise InvalidInputError(f"tol must be in (0, 1), got {self.tol}")
        if not 0 < self.gtol < 1:
            raise InvalidInputError(f"gtol must be in (0, 1), got {self.gtol}")
        if not 41 <= self.n_points <= 401 or not 2.0 <= self.limit <= 10.0:
            raise InvalidInputError("the grid needs 41–401 points on [−limit, limit], limit 2–10")
        if not 1 <= self.newton_steps <= 20:
            raise InvalidInputError(f"newton_steps must be in [1, 20], got {self.newton_steps}")
        _check_priors(self.effective_priors())

    def effective_priors(self) -> Priors:
        """The priors in force: the given ones or the model's defaults."""
        return DEFAULT_PRIORS[self.model] if self.priors is None else self.priors


def _check_priors(priors: Priors) -> None:
    for name, pair in (("a_lognormal", priors.a_lognormal), ("b_normal", priors.b_normal)):
        if pair is not None and not (np.isfinite(pair[0]) and 0 < pair[1] < 1e6):
            raise InvalidInputError(f"prior {name} needs a finite mean and sd > 0, got {pair}")
    if priors.c_beta is not None and not all(1.0 <= x <= 1e6 for x in priors.c_beta):
        raise InvalidInputError(f"prior c_beta needs alpha, beta ≥ 1, got {priors.c_beta}")


class CycleProgress(NamedTuple):
    """Figures of one EM cycle, handed to ``on_cycle``.

    ``loglik``, ``log_posterior`` (log-likelihood plus log priors) and ``max_gradient`` (the
    largest gradient component times its SD) are those of the parameters the cycle started
    from; ``max_change`` the largest change of a, b or c it made. ``log_posterior`` never
    decreases from cycle to cycle.
    """

    cycle: int
    max_cycles: int
    loglik: float
    log_posterior: float
    max_change: float
    max_gradient: float = float("nan")


STOP_REASONS = ("converged", "max_cycles", "no_ascent", "at_bound")
"""Why a fit stopped: converged; ``max_cycles`` reached first; ``no_ascent``: no step raised
the objective of items whose gradient is not small; ``at_bound``: every item still short of
convergence has a parameter on the edge of its box (e.g. b at ±8 for an item everyone got
right)."""


class MmlResult(NamedTuple):
    """Estimates, standard errors (NaN where a parameter was not estimated) and fit.

    ``converged`` is true only when ``stop_reason == "converged"``; ``unconverged_items`` are
    the indices of the items still short of the criteria (empty when converged), with
    ``message`` a sentence for people.
    """

    items: ItemParams
    standard_errors: ItemParams
    loglik: float  # marginal log-likelihood at the estimates
    log_posterior: float  # loglik plus the log priors (up to their constants)
    cycles: int
    converged: bool
    history: list[CycleProgress]
    stop_reason: str = "converged"
    unconverged_items: tuple[int, ...] = ()
    message: str = ""


class _Fit(NamedTuple):
    a: jax.Array  # (n_items,)
    b: jax.Array
    c: jax.Array


def _to_phi(fit: _Fit) -> jax.Array:
    """(n_items, 3) unconstrained (log a, b, logit c); c = 0 maps to the edge of the box."""
    c = jnp.clip(fit.c, 1e-6, 1.0 - 1e-6)
    return jnp.stack([jnp.log(fit.a), fit.b, jnp.log(c) - jnp.log1p(-c)], axis=1)


def _from_phi(model: str, phi: jax.Array, fit: _Fit, free: jax.Array) -> _Fit:
    c = jax.nn.sigmoid(phi[:, 2]) if model == "3pl" else fit.c
    estimated = (jnp.exp(phi[:, 0]), phi[:, 1], c)
    return _Fit(*(jnp.where(free, new, old) for new, old in zip(estimated, fit, strict=True)))


def _common_log_a(fit: _Fit, free: jax.Array) -> jax.Array:
    return jnp.log(jnp.sum(jnp.where(free, fit.a, 0.0)) / jnp.maximum(jnp.sum(free), 1))


class _Posterior(NamedTuple):
    loglik: jax.Array  # ()
    posterior: jax.Array  # (n_persons, n_points), rows sum to 1
    correct: jax.Array  # (n_items, n_points) expected right answers r
    wrong: jax.Array  # (n_items, n_points) expected wrong answers n − r


class Layout(NamedTuple):
    """What the E-step may take for granted about the data, decided once per fit on the host.

    ``complete``: every person answered every item, so Σ_i (1 − x_pi)·log Q_i is the sum of
    log Q over items minus the right answers' share, and the expected wrong answers per item
    and grid point are n_q − r_iq (Bock & Aitkin's sufficient statistics). ``linear``: c = 0
    for every item (1PL, 2PL), so log P − log Q = D·a·(θ − b) and a person's log-likelihood on
    the grid depends on the answers only through Σ_i a_i x_i and Σ_i a_i b_i x_i: two
    matrix-vector products instead of a (persons × items)·(items × points) product.
    """

    complete: bool = False
    linear: bool = False


def layout_of(data: ResponseData, c: np.ndarray, model: str) -> Layout:
    """The ``Layout`` of a fit: complete data, and c = 0 throughout in a 1PL or 2PL."""
    answered = np.asarray(data.correct) + np.asarray(data.wrong)
    return Layout(bool(np.all(answered > 0)), model != "3pl" and bool(np.all(c == 0.0)))


def _e_step(
    fit: _Fit, data: ResponseData, grid: jax.Array, log_weights: jax.Array, layout: Layout
) -> _Posterior:
    log_p = log_likelihood(1, grid[:, None], fit.a, fit.b, fit.c)  # (n_points, n_items)
    log_q = log_likelihood(0, grid[:, None], fit.a, fit.b, fit.c)
    if layout.linear:  # Σ_i x_i·D·a_i·(θ − b_i), exactly log P − log Q summed
        sums = data.correct @ jnp.stack([D * fit.a, D * fit.a * fit.b], axis=1)  # (persons, 2)
        right = sums[:, :1] * grid[None, :] - sums[:, 1:]
    elif layout.complete:
        right = data.correct @ (log_p - log_q).T
    if layout.complete:
        joint = right + jnp.sum(log_q, axis=1) + log_weights
    elif layout.linear:
        joint = right + (data.correct + data.wrong) @ log_q.T + log_weights
    else:
        joint = data.correct @ log_p.T + data.wrong @ log_q.T + log_weights
    # logsumexp by hand: one exp over (persons, points) serves the marginal and the posterior.
    top = jax.lax.stop_gradient(jnp.max(joint, axis=1, keepdims=True))
    scaled = jnp.exp(joint - top)
    total = jnp.sum(scaled, axis=1)
    marginal = top[:, 0] + jnp.log(total)
    posterior = scaled / total[:, None]
    weighted = posterior * data.weights[:, None]
    correct = data.correct_items @ weighted
    if layout.complete:  # n − r: everyone answered, so the wrong answers need no product
        wrong = jnp.maximum(jnp.sum(weighted, axis=0) - correct, 0.0)
    else:
        wrong = data.wrong.T @ weighted
    return _Posterior(data.weights @ marginal, posterior, correct, wrong)


def _total_log_prior(model: str, priors: Priors, phi: jax.Array, free: jax.Array) -> jax.Array:
    values = jax.vmap(lambda x: prior_terms(priors, x)[0])(phi)  # (n_items, 3)
    total = jnp.sum(jnp.where(free[:, None], values[:, jnp.asarray(FREE[model])], 0.0))
    if model == "1pl":  # one common a: its prior counts once
        total = total + jnp.max(jnp.where(free, values[:, 0], -jnp.inf))
    return total


def _common_a_step(
    priors: Priors, phi: jax.Array, c: jax.Array, counts: _Posterior, free: jax.Array,
    grid: jax.Array, no_guessing: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:  # fmt: skip
    """One safeguarded ascent step on the 1PL's common log a, all free items together.

    Returns the new log a, the gradient of the log posterior in log a and that gradient
    times log a's SD (from the summed information), at the point the step started from.
    """

    def objective(x: jax.Array) -> jax.Array:
        shared = phi.at[:, 0].set(x[0])
        per_item = jax.vmap(partial(item_objective, no_guessing=no_guessing),
                            in_axes=(None, None, 0, 0, 0, 0, None))(
            "1pl", priors, shared, c, counts.correct, counts.wrong, grid
        )  # fmt: skip
        prior_a = prior_terms(priors, shared[0])[0][0]
        return jnp.sum(jnp.where(free, per_item, 0.0)) + prior_a

    terms = jax.vmap(grid_terms, in_axes=(0, 0, 0, None))(jnp.exp(phi[:, 0]), phi[:, 1], c, grid)
    scores, informations = jax.vmap(scoring_parts)(terms, counts.correct, counts.wrong)
    _, prior_grad, prior_curv = prior_terms(priors, phi[0])
    score = jnp.sum(jnp.where(free, scores[:, 0], 0.0)) + prior_grad[0]
    information = jnp.sum(jnp.where(free, informations[:, 0, 0], 0.0)) - prior_curv[0]
    x = phi[0, :1]
    step = ascent_step(score[None], information[None, None])
    new = jnp.clip(ascent_point(objective, x, step, score[None]), -4.6, 2.3)[0]
    scaled = jnp.abs(score) / jnp.sqrt(jnp.maximum(information, 1e-300))
    return new, score, scaled


class _Cycle(NamedTuple):
    fit: _Fit  # after the cycle
    loglik: jax.Array  # () at the start
    log_posterior: jax.Array  # ()
    change: jax.Array  # (n_items,) largest change of the item's a, b, c
    scaled_gradient: jax.Array  # (n_items,) largest |gradient|·sd of the item's parameters
    at_bound: jax.Array  # (n_items,) bool, after the cycle


@partial(jax.jit, static_argnames=("model", "priors", "newton_steps", "layout"))
def _em_cycle(
    fit: _Fit, data: ResponseData, free: jax.Array, grid: jax.Array, log_weights: jax.Array,
    model: str, priors: Priors, newton_steps: int, layout: Layout,
) -> _Cycle:  # fmt: skip
    counts = _e_step(fit, data, grid, log_weights, layout)
    phi = _to_phi(fit)
    if model == "1pl":
        phi = phi.at[:, 0].set(_common_log_a(fit, free))
    penalty = _total_log_prior(model, priors, phi, free)
    update = jax.vmap(partial(m_step, no_guessing=layout.linear),
                      in_axes=(None, None, 0, 0, 0, 0, None, None))  # fmt: skip
    steps = update(model, priors, phi, fit.c, counts.correct, counts.wrong, grid, newton_steps)
    new_phi, scaled = steps.phi, jnp.max(steps.scaled_gradient, axis=1)
    if model == "1pl":
        log_a, _, scaled_a = _common_a_step(priors, new_phi, fit.c, counts, free, grid,
                                            layout.linear)  # fmt: skip
        new_phi = new_phi.at[:, 0].set(log_a)
        scaled = jnp.maximum(scaled, scaled_a)
    new_fit = _from_phi(model, new_phi, fit, free)
    change = jnp.max(jnp.abs(jnp.stack(new_fit, 1) - jnp.stack(fit, 1)), axis=1)
    bound = jax.vmap(at_bound, in_axes=(0, None))(_to_phi(new_fit), model)
    zero = jnp.zeros_like(change)
    return _Cycle(new_fit, counts.loglik, counts.loglik + penalty, jnp.where(free, change, zero),
                  jnp.where(free, scaled, zero), bound & free)  # fmt: skip


@partial(jax.jit, static_argnames=("model", "priors", "layout"))
def _finish(
    fit: _Fit, data: ResponseData, free: jax.Array, grid: jax.Array, log_weights: jax.Array,
    model: str, priors: Priors, layout: Layout,
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:  # fmt: skip
    """Log-likelihood, log posterior, the full information and the common-a prior curvature."""
    counts = _e_step(fit, data, grid, log_weights, layout)
    phi = _to_phi(fit)
    terms = jax.vmap(grid_terms, in_axes=(0, 0, 0, None))(fit.a, fit.b, fit.c, grid)
    information = information_matrix(
        terms, data, counts.posterior, phi, model, priors, layout.complete
    )
    if model == "1pl":
        phi = phi.at[:, 0].set(_common_log_a(fit, free))
    common_curv = prior_terms(priors, phi[jnp.argmax(free)])[2][0]
    log_post = counts.loglik + _total_log_prior(model, priors, phi, free)
    return counts.loglik, log_post, information, common_curv


@partial(jax.jit, static_argnames=("model", "priors", "layout"))
def _fit_values(
    fit: _Fit, data: ResponseData, free: jax.Array, grid: jax.Array, log_weights: jax.Array,
    model: str, priors: Priors, layout: Layout,
) -> tuple[jax.Array, jax.Array]:  # fmt: skip
    counts = _e_step(fit, data, grid, log_weights, layout)
    phi = _to_phi(fit)
    if model == "1pl":
        phi = phi.at[:, 0].set(_common_log_a(fit, free))
    return counts.loglik, counts.loglik + _total_log_prior(model, priors, phi, free)


def initial_params(data: ResponseData, model: str) -> ItemParams:
    """Starting values: a = 1, c = 0.2 (3PL) or 0, b from each item's share correct.

    With θ ~ N(0, 1) the share correct of a 2PL item is about σ(−D·a·b / √(1 + π/8·(D·a)²)),
    which inverts to b ≈ −0.86·logit(share) at a = 1.
    """
    c = 0.2 if model == "3pl" else 0.0
    weights, correct = np.asarray(data.weights), np.asarray(data.correct)
    answered = weights @ (correct + np.asarray(data.wrong))
    share = weights @ correct / np.maximum(answered, 1e-12)
    share = np.clip((share - c) / (1.0 - c), 0.02, 0.98)
    scale = np.sqrt(1.0 + np.pi / 8.0 * D**2) / D
    b = -scale * np.log(share / (1.0 - share))
    n_items = b.shape[0]
    return ItemParams(jax.device_put(np.ones(n_items)), jax.device_put(b),
                      jax.device_put(np.full(n_items, c)))  # fmt: skip


def calibrate_mml(
    responses: ArrayLike,
    observed: ArrayLike | None = None,
    weights: ArrayLike | None = None,
    *,
    settings: MmlSettings | None = None,
    start: ItemParams | None = None,
    anchors: ArrayLike | None = None,
    on_cycle: Callable[[CycleProgress], object] | None = None,
) -> MmlResult:
    """Calibrate items from 0/1 responses by MML-EM.

    Args:
        responses: ``(n_persons, n_items)`` 0/1; unobserved cells may hold anything (NaN too).
        observed: ``(n_persons, n_items)`` bool mask; default: every non-NaN cell.
        weights: ``(n_persons,)`` frequency of each row (response patterns); default 1.
        settings: model, convergence control, grid, priors.
        start: starting values; required with ``anchors``, whose values it holds.
        anchors: ``(n_items,)`` bool, items kept at their ``start`` values.
        on_cycle: called after every EM cycle, between compiled calls.

    Returns:
        Estimates in the D = 1.7 metric, standard errors, log-likelihood and convergence.

    Raises:
        InvalidInputError: a score other than 0/1, an estimated item answered by nobody, bad
            shapes, weights or starting values.
    """
    settings = settings or MmlSettings()
    with jax.enable_x64(True):
        result = _calibrate(responses, observed, weights, settings, start, anchors, on_cycle)
    # Back in the caller's precision (float32 unless it enabled x64 itself).
    items, errors = (ItemParams(*(jax.device_put(np.asarray(x)) for x in group))
                     for group in (result.items, result.standard_errors))  # fmt: skip
    return result._replace(items=items, standard_errors=errors)


def _calibrate(
    responses: ArrayLike, observed: ArrayLike | None, weights: ArrayLike | None,
    settings: MmlSettings, start: ItemParams | None, anchors: ArrayLike | None,
    on_cycle: Callable[[CycleProgress], object] | None,
) -> MmlResult:  # fmt: skip
    data = response_data(responses, observed, weights)
    n_items = data.correct.shape[1]
    free = np.ones(n_items, bool) if anchors is None else np.asarray(anchors, bool)
    if free.shape != (n_items,):
        raise InvalidInputError(f"anchors must have shape ({n_items},), got {free.shape}")
    if anchors is not None:
        if start is None:
            raise InvalidInputError("anchor items need start values (their fixed parameters)")
        free = ~free
    if not free.any():
        raise InvalidInputError("every item is an anchor: nothing to calibrate")
    # NumPy for the bookkeeping: each eager JAX op would be one more small XLA program.
    answered = np.asarray(data.weights) @ (np.asarray(data.correct) + np.asarray(data.wrong))
    nobody = np.flatnonzero(free & (answered <= 0))
    if nobody.size:
        raise InvalidInputError(f"item {int(nobody[0])} was answered by nobody")
    first = initial_params(data, settings.model)
    if start is not None:
        check_start(start, n_items)
    fit = _Fit(*first) if start is None else _Fit(*(jax.device_put(np.asarray(x, np.float64))
                                                    for x in start))  # fmt: skip
    if anchors is not None:  # estimated items start from the heuristic, anchors from `start`
        fit = _Fit(*(jax.device_put(np.where(free, np.asarray(new), np.asarray(old)))
                     for new, old in zip(first, fit, strict=True)))  # fmt: skip
    return _run_em(fit, data, jax.device_put(free), settings, on_cycle)[1]


def _run_em(
    fit: _Fit, data: ResponseData, free: jax.Array, settings: MmlSettings,
    on_cycle: Callable[[CycleProgress], object] | None,
) -> tuple[_Fit, MmlResult]:  # fmt: skip
    points = np.linspace(-settings.limit, settings.limit, settings.n_points)
    density = -0.5 * points**2
    grid = jax.device_put(points)
    log_weights = jax.device_put(density - np.log(np.sum(np.exp(density))))
    priors, model = settings.effective_priors(), settings.model
    layout = layout_of(data, np.asarray(fit.c), model)
    history: list[CycleProgress] = []
    reason, concerned = "max_cycles", np.zeros(free.shape, bool)
    mask = np.zeros((free.shape[0], 3), bool)
    coords = np.asarray(FREE[model] if model != "1pl" else (0, 1))  # the 1PL's common log a too
    mask[np.ix_(np.flatnonzero(np.asarray(free)), coords)] = True
    low, high = (np.asarray(bound, np.float64) for bound in PHI_BOX)
    point = fit  # where the next cycle starts; `fit` is the last cycle's result
    chain: list[np.ndarray] = []  # φ of the plain EM points since the last extrapolation
    trial: tuple[_Fit, float] | None = None  # extrapolated start: (fallback x2, log post of x1)
    max_ratio = 1.0
    while len(history) < settings.max_cycles:
        start = point
        step = cached_call(_em_cycle, start, data, free, grid, log_weights, model=model,
                           priors=priors, newton_steps=settings.newton_steps,
                           layout=layout)  # fmt: skip
        if trial is not None:
            fallback, threshold = trial
            trial = None
            if not float(step.log_posterior) >= threshold:  # no better than x1: go on from x2
                max_ratio = max(1.0, max_ratio / STEP_GROWTH)
                point, chain = fallback, []
                continue
        change, scaled = np.asarray(step.change), np.asarray(step.scaled_gradient)
        progress = CycleProgress(len(history) + 1, settings.max_cycles, float(step.loglik),
                                 float(step.log_posterior), float(change.max()),
                                 float(scaled.max()))  # fmt: skip
        history.append(progress)
        if on_cycle is not None:
            on_cycle(progress)
        short = (change >= settings.tol) | ~(scaled < settings.gtol)
        if not short.any():
            reason, concerned, fit = "converged", short, step.fit
            break
        bound = np.asarray(step.at_bound)
        if change.max() < settings.tol and (bound | ~short).all():
            reason, concerned, fit = "at_bound", short, step.fit
            break
        if change.max() == 0.0:  # nothing moved, yet some gradient is not small
            reason, concerned, fit = "no_ascent", short, step.fit
            break
        fit, concerned, point = step.fit, short, step.fit
        if not settings.accelerate:
            continue
        chain.append(_phi_host(start))
        if len(chain) == 2:  # start points x0, x1 of two plain cycles; x2 = this cycle's result
            jump, ratio = squarem_point(chain[0], chain[1], _phi_host(step.fit), mask,
                                        max_ratio, low, high)  # fmt: skip
            chain = []
            if ratio >= max_ratio:
                max_ratio *= STEP_GROWTH
            if ratio > 1.0:
                trial = (step.fit, progress.log_posterior)
                point = _fit_host(model, jump, step.fit, np.asarray(free))
    n_items = free.shape[0]
    if settings.standard_errors:
        loglik, log_post, information, common_curv = cached_call(
            _finish,
            fit,
            data,
            free,
            grid,
            log_weights,
            model=model,
            priors=priors,
            layout=layout,
        )
        sd_phi = standard_deviations(np.asarray(information), np.asarray(free), model,
                                     float(common_curv))  # fmt: skip
    else:
        loglik, log_post = cached_call(
            _fit_values,
            fit,
            data,
            free,
            grid,
            log_weights,
            model=model,
            priors=priors,
            layout=layout,
        )
        sd_phi = np.full((n_items, 3), np.nan)
    a, c = np.asarray(fit.a), np.asarray(fit.c)
    # Delta method: d a / d log a = a, d c / d logit c = c (1 − c).
    errors = np.stack([sd_phi[:, 0] * a, sd_phi[:, 1], sd_phi[:, 2] * c * (1.0 - c)])
    if model != "3pl":
        errors[2] = np.nan
    if model == "1pl":
        errors[0] = np.where(np.asarray(free), errors[0], np.nan)
    errors = np.where(np.asarray(free)[None, :], errors, np.nan)
    items = tuple(int(i) for i in np.flatnonzero(concerned & np.asarray(free)))
    result = MmlResult(
        ItemParams(*(jnp.asarray(x) for x in fit)),
        ItemParams(*(jax.device_put(x) for x in errors)), float(loglik),
        float(log_post), len(history), reason == "converged", history, reason,
        () if reason == "converged" else items, _message(reason, items, settings),
    )  # fmt: skip
    return fit, result


def _phi_host(fit: _Fit) -> np.ndarray:
    """``_to_phi`` in NumPy, for the host-side extrapolation."""
    c = np.clip(np.asarray(fit.c), 1e-6, 1.0 - 1e-6)
    return np.stack([np.log(np.asarray(fit.a)), np.asarray(fit.b), np.log(c) - np.log1p(-c)], 1)


def _fit_host(model: str, phi: np.ndarray, fit: _Fit, free: np.ndarray) -> _Fit:
    """``_from_phi`` in NumPy: the estimated items take φ's values, the others keep ``fit``'s."""
    c = 1.0 / (1.0 + np.exp(-phi[:, 2])) if model == "3pl" else np.asarray(fit.c)
    values = (np.exp(phi[:, 0]), phi[:, 1], c)
    return _Fit(*(jax.device_put(np.where(free, new, np.asarray(old)))
                  for new, old in zip(values, fit, strict=True)))  # fmt: skip


def _message(reason: str, items: tuple[int, ...], settings: MmlSettings) -> str:
    listed = ", ".join(str(i) for i in items[:20]) + (" …" if len(items) > 20 else "")
    if reason == "converged":
        return "converged: parameter change < tol and scaled gradient < gtol for every item"
    if reason == "max_cycles":
        return (
            f"stopped after max_cycles = {settings.max_cycles} short of convergence: items {listed}"
        )
    if reason == "at_bound":
        return f"stopped with parameters on the edge of their range: items {listed}"
    return f"stopped: no ascent step found although the gradient is not small: items {listed}"
