"""Marginal maximum likelihood item calibration by EM (Bock & Aitkin 1981), vectorised in JAX.

θ ~ N(0, 1) is integrated on a fixed quadrature grid. Each EM cycle is one compiled call: the
E-step turns the response matrix into expected numbers of right and wrong answers per item and
grid point (two matrix products), the M-step takes safeguarded Newton steps on every item at
once (``vmap``). Responses are a dense ``(n_persons, n_items)`` matrix with a mask of observed
cells, so sparse CAT data (most cells missing by design) need no special path. Persons may carry
weights (frequencies of response patterns).

Models (D = 1.7 metric of DESIGN.md): ``3pl``; ``2pl`` (c = 0); ``1pl`` (c = 0 and one a common
to all estimated items, as in Rasch MML with a free slope). Anchor items keep their values and
only inform θ. Standard errors come from the observed information of the marginal
log-likelihood (Louis 1982), priors included: for the 2PL and 3PL each item's own block, as
BILOG-MG reports them (cross-item covariances are ignored, which understates SEs by a few
percent, b's by up to ~20 % on short tests); for the 1PL the full matrix, since its common a
couples every item.
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
from qbank.irt.eap import make_grid, prior_log_density
from qbank.irt.mml_data import ResponseData, check_start, response_data
from qbank.irt.mml_items import (
    FREE,
    GridTerms,
    Priors,
    ascent_step,
    best_step,
    grid_terms,
    item_objective,
    m_step,
    prior_terms,
    scoring_parts,
    small_inverse,
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

    ``tol`` bounds the largest change of any estimated a, b or c between two cycles;
    ``priors=None`` takes the model's ``DEFAULT_PRIORS``.
    """

    model: str = "3pl"
    max_cycles: int = 500
    tol: float = 1e-4
    n_points: int = 61
    limit: float = 6.0
    newton_steps: int = 3
    priors: Priors | None = None

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InvalidInputError(f"model must be one of {', '.join(MODELS)}, got {self.model!r}")
        if isinstance(self.max_cycles, bool) or not 1 <= self.max_cycles <= 100_000:
            raise InvalidInputError(f"max_cycles must be in [1, 100000], got {self.max_cycles}")
        if not 0 < self.tol < 1:
            raise InvalidInputError(f"tol must be in (0, 1), got {self.tol}")
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

    ``loglik`` and ``log_posterior`` (log-likelihood plus log priors) are those of the
    parameters the cycle started from; ``log_posterior`` never decreases from cycle to cycle.
    """

    cycle: int
    max_cycles: int
    loglik: float
    log_posterior: float
    max_change: float


class MmlResult(NamedTuple):
    """Estimates, standard errors (NaN where a parameter was not estimated) and fit."""

    items: ItemParams
    standard_errors: ItemParams
    loglik: float  # marginal log-likelihood at the estimates
    log_posterior: float  # loglik plus the log priors (up to their constants)
    cycles: int
    converged: bool
    history: list[CycleProgress]


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


def _e_step(fit: _Fit, data: ResponseData, grid: jax.Array, log_weights: jax.Array) -> _Posterior:
    log_p = log_likelihood(1, grid[:, None], fit.a, fit.b, fit.c)  # (n_points, n_items)
    log_q = log_likelihood(0, grid[:, None], fit.a, fit.b, fit.c)
    joint = data.correct @ log_p.T + data.wrong @ log_q.T + log_weights
    marginal = jax.nn.logsumexp(joint, axis=1)
    posterior = jnp.exp(joint - marginal[:, None])
    weighted = posterior * data.weights[:, None]
    return _Posterior(data.weights @ marginal, posterior, data.correct.T @ weighted,
                      data.wrong.T @ weighted)  # fmt: skip


def _total_log_prior(model: str, priors: Priors, phi: jax.Array, free: jax.Array) -> jax.Array:
    values = jax.vmap(lambda x: prior_terms(priors, x)[0])(phi)  # (n_items, 3)
    total = jnp.sum(jnp.where(free[:, None], values[:, jnp.asarray(FREE[model])], 0.0))
    if model == "1pl":  # one common a: its prior counts once
        total = total + jnp.max(jnp.where(free, values[:, 0], -jnp.inf))
    return total


def _common_a_step(
    priors: Priors, phi: jax.Array, c: jax.Array, counts: _Posterior, free: jax.Array,
    grid: jax.Array,
) -> jax.Array:  # fmt: skip
    """One safeguarded Fisher-scoring step on the 1PL's common log a, all free items together."""

    def objective(x: jax.Array) -> jax.Array:
        shared = phi.at[:, 0].set(x[0])
        per_item = jax.vmap(item_objective, in_axes=(None, None, 0, 0, 0, 0, None))(
            "1pl", priors, shared, c, counts.correct, counts.wrong, grid
        )
        prior_a = prior_terms(priors, shared[0])[0][0]
        return jnp.sum(jnp.where(free, per_item, 0.0)) + prior_a

    terms = jax.vmap(grid_terms, in_axes=(0, 0, 0, None))(jnp.exp(phi[:, 0]), phi[:, 1], c, grid)
    scores, informations = jax.vmap(scoring_parts)(terms, counts.correct, counts.wrong)
    _, prior_grad, prior_curv = prior_terms(priors, phi[0])
    score = jnp.sum(jnp.where(free, scores[:, 0], 0.0)) + prior_grad[0]
    information = jnp.sum(jnp.where(free, informations[:, 0, 0], 0.0)) - prior_curv[0]
    x = phi[0, :1]
    step = ascent_step(score[None], information[None, None])
    return jnp.clip(best_step(objective, x, step), -4.6, 2.3)[0]


@partial(jax.jit, static_argnames=("model", "priors", "newton_steps"))
def _em_cycle(
    fit: _Fit, data: ResponseData, free: jax.Array, grid: jax.Array, log_weights: jax.Array,
    model: str, priors: Priors, newton_steps: int,
) -> tuple[_Fit, jax.Array, jax.Array, jax.Array]:  # fmt: skip
    counts = _e_step(fit, data, grid, log_weights)
    phi = _to_phi(fit)
    if model == "1pl":
        phi = phi.at[:, 0].set(_common_log_a(fit, free))
    penalty = _total_log_prior(model, priors, phi, free)
    update = jax.vmap(m_step, in_axes=(None, None, 0, 0, 0, 0, None, None))
    new_phi = update(model, priors, phi, fit.c, counts.correct, counts.wrong, grid, newton_steps)
    if model == "1pl":
        new_phi = new_phi.at[:, 0].set(_common_a_step(priors, new_phi, fit.c, counts, free, grid))
    new_fit = _from_phi(model, new_phi, fit, free)
    change = jnp.max(jnp.where(free[:, None], jnp.abs(jnp.stack(new_fit, 1) - jnp.stack(fit, 1)),
                               0.0))  # fmt: skip
    return new_fit, counts.loglik, counts.loglik + penalty, change


def _louis_information(
    priors: Priors, phi: jax.Array, terms: GridTerms, data: ResponseData, counts: _Posterior
) -> jax.Array:
    """(n_items, 3, 3) observed information of each item's φ (Louis 1982), priors included.

    Per person, −∂²log L = −E[∂²log f] − E[s sᵀ] + E[s] E[s]ᵀ under the posterior of θ. Summed
    over persons, the first two terms are Σ_q r_q ∇²P/P + (n − r)_q ∇²Q/Q; the last needs each
    person's posterior mean score E[s_pi] = Σ_q post_pq ∇log P|Q_iq.
    """
    expected = jnp.einsum("iq,iqkl->ikl", counts.correct, terms.curv_p) + jnp.einsum(
        "iq,iqkl->ikl", counts.wrong, terms.curv_q
    )
    mean_p = jnp.einsum("pq,iqk->pik", counts.posterior, terms.grad_p)
    mean_q = jnp.einsum("pq,iqk->pik", counts.posterior, terms.grad_q)
    mean_score = data.correct[..., None] * mean_p + data.wrong[..., None] * mean_q
    outer = jnp.einsum("p,pik,pil->ikl", data.weights, mean_score, mean_score)
    prior_curv = jax.vmap(lambda x: prior_terms(priors, x)[2])(phi)
    return -expected + outer - jax.vmap(jnp.diag)(prior_curv)


def _rasch_standard_deviations(
    priors: Priors, phi: jax.Array, terms: GridTerms, data: ResponseData, counts: _Posterior,
    free: jax.Array,
) -> jax.Array:  # fmt: skip
    """(n_items, 2) SDs of (log a, b) under the 1PL, from the full observed information.

    The common a couples every item, so item blocks would badly understate the errors (on
    LSAT-6, by 2–3×). The information of (log a, b_1, …, b_n) is Louis' (1982) −E[H] − E[s sᵀ]
    + Σ_p E[s_p] E[s_p]ᵀ; E[s sᵀ] needs each person's score vector at each grid point, summed
    over grid points in a scan so that no (persons, points, items) array is ever built.
    """
    n_items = phi.shape[0]
    weight = free.astype(phi.dtype)
    grad_p, grad_q = terms.grad_p[..., :2], terms.grad_q[..., :2]  # (I, Q, 2): log a, b
    outer_p = grad_p[..., :, None] * grad_p[..., None, :]
    outer_q = grad_q[..., :, None] * grad_q[..., None, :]
    hess = jnp.einsum("iq,iqkl->ikl", counts.correct, terms.curv_p[..., :2, :2] - outer_p)
    hess = hess + jnp.einsum("iq,iqkl->ikl", counts.wrong, terms.curv_q[..., :2, :2] - outer_q)
    hess = hess * weight[:, None, None]
    expected = jnp.zeros((n_items + 1, n_items + 1), phi.dtype)
    expected = expected.at[0, 0].set(jnp.sum(hess[:, 0, 0]))
    expected = expected.at[0, 1:].set(hess[:, 0, 1]).at[1:, 0].set(hess[:, 0, 1])
    expected = expected + jnp.diag(jnp.concatenate([jnp.zeros(1, phi.dtype), hess[:, 1, 1]]))

    def scores_at(q: jax.Array) -> jax.Array:  # (n_persons, 1 + n_items)
        by_item = data.correct[..., None] * grad_p[:, q] + data.wrong[..., None] * grad_q[:, q]
        return jnp.concatenate([by_item[..., 0] @ weight[:, None], by_item[..., 1] * weight], 1)

    def add_point(total: jax.Array, q: jax.Array) -> tuple[jax.Array, None]:
        scores = scores_at(q)
        weighted = scores * (data.weights * counts.posterior[:, q])[:, None]
        return total + weighted.T @ scores, None

    n_points = counts.posterior.shape[1]
    second, _ = jax.lax.scan(add_point, jnp.zeros_like(expected), jnp.arange(n_points))
    mean = jax.lax.map(scores_at, jnp.arange(n_points))  # (Q, P, 1 + I)
    mean = jnp.einsum("pq,qpk->pk", counts.posterior, mean)
    first = (mean * data.weights[:, None]).T @ mean
    prior_curv = jax.vmap(lambda x: prior_terms(priors, x)[2])(phi)
    prior = jnp.concatenate([prior_curv[jnp.argmax(free), :1], prior_curv[:, 1] * weight])
    information = -expected - second + first - jnp.diag(prior)
    keep = jnp.concatenate([jnp.ones(1, bool), free])
    information = jnp.where(keep[:, None] & keep[None, :], information, jnp.eye(n_items + 1))
    variances = jnp.diagonal(jnp.linalg.inv(information))
    positive = jnp.all(jnp.linalg.eigvalsh(information) > 0)
    sd = jnp.where(positive, jnp.sqrt(jnp.abs(variances)), jnp.nan)
    return jnp.stack([jnp.broadcast_to(sd[0], (n_items,)), sd[1:]], axis=1)


def _standard_deviations(information: jax.Array) -> jax.Array:
    """sqrt(diag(inverse)) per item; NaN where the information is not positive definite."""
    inverse, positive = jax.vmap(small_inverse)(information)
    variances = jnp.diagonal(inverse, axis1=-2, axis2=-1)
    return jnp.where(positive[..., None], jnp.sqrt(jnp.abs(variances)), jnp.nan)


@partial(jax.jit, static_argnames=("model", "priors"))
def _finish(
    fit: _Fit, data: ResponseData, free: jax.Array, grid: jax.Array, log_weights: jax.Array,
    model: str, priors: Priors,
) -> tuple[jax.Array, jax.Array, _Fit]:  # fmt: skip
    """Log-likelihood, log posterior and standard errors at the final estimates."""
    counts = _e_step(fit, data, grid, log_weights)
    phi = _to_phi(fit)
    terms = jax.vmap(grid_terms, in_axes=(0, 0, 0, None))(fit.a, fit.b, fit.c, grid)
    information = _louis_information(priors, phi, terms, data, counts)
    index = jnp.asarray(FREE[model])
    sd_phi = (
        jnp.full(phi.shape, jnp.nan)
        .at[:, index]
        .set(_standard_deviations(information[:, index[:, None], index[None, :]]))
    )
    if model == "1pl":
        sd_phi = sd_phi.at[:, :2].set(
            _rasch_standard_deviations(priors, phi, terms, data, counts, free)
        )
    # Delta method: d a / d log a = a, d c / d logit c = c (1 − c).
    errors = _Fit(sd_phi[:, 0] * fit.a, sd_phi[:, 1], sd_phi[:, 2] * fit.c * (1.0 - fit.c))
    errors = _Fit(*(jnp.where(free, x, jnp.nan) for x in errors))
    if model == "1pl":
        phi = phi.at[:, 0].set(_common_log_a(fit, free))
    return counts.loglik, counts.loglik + _total_log_prior(model, priors, phi, free), errors


def initial_params(data: ResponseData, model: str) -> ItemParams:
    """Starting values: a = 1, c = 0.2 (3PL) or 0, b from each item's share correct.

    With θ ~ N(0, 1) the share correct of a 2PL item is about σ(−D·a·b / √(1 + π/8·(D·a)²)),
    which inverts to b ≈ −0.86·logit(share) at a = 1.
    """
    c = 0.2 if model == "3pl" else 0.0
    answered = np.asarray(data.weights @ (data.correct + data.wrong))
    share = np.asarray(data.weights @ data.correct) / np.maximum(answered, 1e-12)
    share = np.clip((share - c) / (1.0 - c), 0.02, 0.98)
    scale = np.sqrt(1.0 + np.pi / 8.0 * D**2) / D
    b = -scale * np.log(share / (1.0 - share))
    n_items = b.shape[0]
    return ItemParams(jnp.ones(n_items), jnp.asarray(b), jnp.full(n_items, c))


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
    answered = np.asarray(data.weights @ (data.correct + data.wrong))
    nobody = np.flatnonzero(free & (answered <= 0))
    if nobody.size:
        raise InvalidInputError(f"item {int(nobody[0])} was answered by nobody")
    first = initial_params(data, settings.model)
    if start is not None:
        check_start(start, n_items)
    fit = _Fit(*first) if start is None else _Fit(*(jnp.asarray(x, first.a.dtype) for x in start))
    if anchors is not None:  # estimated items start from the heuristic, anchors from `start`
        fit = _Fit(*(jnp.where(free, new, old) for new, old in zip(first, fit, strict=True)))
    return _run_em(fit, data, jnp.asarray(free), settings, on_cycle)


def _run_em(
    fit: _Fit, data: ResponseData, free: jax.Array, settings: MmlSettings,
    on_cycle: Callable[[CycleProgress], object] | None,
) -> MmlResult:  # fmt: skip
    grid = make_grid(settings.n_points, settings.limit).astype(data.correct.dtype)
    log_weights = prior_log_density(grid)
    log_weights = log_weights - jax.nn.logsumexp(log_weights)
    priors, model = settings.effective_priors(), settings.model
    history: list[CycleProgress] = []
    converged = False
    for cycle in range(1, settings.max_cycles + 1):
        fit, loglik, log_post, change = _em_cycle(
            fit, data, free, grid, log_weights, model, priors, settings.newton_steps
        )
        progress = CycleProgress(cycle, settings.max_cycles, float(loglik), float(log_post),
                                 float(change))  # fmt: skip
        history.append(progress)
        if on_cycle is not None:
            on_cycle(progress)
        if progress.max_change < settings.tol:
            converged = True
            break
    loglik, log_post, errors = _finish(fit, data, free, grid, log_weights, model, priors)
    return MmlResult(ItemParams(*fit), ItemParams(*errors), float(loglik), float(log_post),
                     len(history), converged, history)  # fmt: skip
