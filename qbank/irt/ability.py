"""Ability estimators for dichotomous 3PL items: EAP, MAP, ML and Warm's WLE.

One examinee (``estimate_theta``) or a masked batch (``estimate_theta_batched``), with the same
jit-friendly body: no data-dependent loop, so it runs inside ``vmap`` and ``lax.scan``.

- ``eap``: the posterior mean on the quadrature grid, SE the posterior SD (Bock & Mislevy 1982).
- ``map``: Bayes modal with the normal prior, SE 1/√(I(θ̂) + 1/σ²).
- ``ml``: maximum likelihood bounded to ``bounds``: all-right and all-wrong patterns return the
  bound. SE 1/√I(θ̂).
- ``wle``: Warm's (1989) weighted likelihood, the root of ∂log L/∂θ + J(θ)/(2 I(θ)) with
  J = Σ P'P''/(PQ); SE 1/√I(θ̂) at the WLE.

The standard errors are those of Magis & Raîche (2012) and of catR's ``semTheta`` (its default
``sem.type = "classic"``). The modal estimators evaluate their objective on an ``n_points`` grid
over ``bounds``, take the best grid point and refine it with a fixed number of safeguarded
Newton steps on the estimating equation inside the neighbouring grid cell.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from qbank.errors import InvalidInputError
from qbank.irt.eap import eap_estimate
from qbank.irt.model import D, ItemParams, log_likelihood

__all__ = [
    "ESTIMATORS",
    "AbilityEstimate",
    "estimate_theta",
    "estimate_theta_batched",
]

ESTIMATORS = ("eap", "map", "ml", "wle")
_NEWTON_STEPS = 12
_TINY = 1e-12


class AbilityEstimate(NamedTuple):
    """An ability estimate and its standard error."""

    theta_hat: jax.Array  # () or (n_simulees,)
    se: jax.Array  # same shape; inf for ML/WLE with no response


def _item_terms(
    theta: jax.Array, a: jax.Array, b: jax.Array, c: jax.Array
) -> tuple[jax.Array, ...]:
    """σ, P and the common factor D·a·σ/P of the 3PL at ``theta`` (broadcast)."""
    sigma = jax.nn.sigmoid(D * a * (theta - b))
    p = c + (1.0 - c) * sigma
    return sigma, p, D * a * sigma / p


def _score_terms(
    theta: jax.Array, a: jax.Array, b: jax.Array, c: jax.Array, x: jax.Array, weight: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Σ ∂log L/∂θ, I(θ) and J(θ) over the weighted items.

    With P' = (1 − c)·D·a·σ(1 − σ) and 1 − P = (1 − c)(1 − σ), P'/(PQ) = D·a·σ/P, so the score
    (x − P)·P'/(PQ), the information P'²/(PQ) and Warm's J = P'P''/(PQ) need no division by Q,
    which rounds to 0 in float32 where the item is certainly right.
    """
    sigma, p, ratio = _item_terms(theta, a, b, c)
    d_p = (1.0 - c) * D * a * sigma * (1.0 - sigma)
    d2_p = d_p * D * a * (1.0 - 2.0 * sigma)
    score = jnp.sum(weight * ratio * (x - p))
    info = jnp.sum(weight * ratio * d_p)
    warm_j = jnp.sum(weight * ratio * d2_p)
    return score, info, warm_j


def _estimating_equation(
    theta: jax.Array,
    items: tuple[jax.Array, ...],
    method: str,
    prior_mean: jax.Array,
    prior_sd: jax.Array,
) -> jax.Array:
    a, b, c, x, weight = items
    score, info, warm_j = _score_terms(theta, a, b, c, x, weight)
    if method == "map":
        return score + (prior_mean - theta) / prior_sd**2
    if method == "wle":
        return score + warm_j / (2.0 * jnp.maximum(info, _TINY))
    return score


def _warm_correction(grid: jax.Array, items: tuple[jax.Array, ...]) -> jax.Array:
    """J(θ)/(2 I(θ)) at each grid point, shape ``(n_points,)``."""
    a, b, c, _, weight = items
    sigma, _, ratio = _item_terms(grid[:, None], a, b, c)
    d_p = (1.0 - c) * D * a * sigma * (1.0 - sigma)
    info = jnp.sum(weight * ratio * d_p, axis=-1)
    warm_j = jnp.sum(weight * ratio * d_p * D * a * (1.0 - 2.0 * sigma), axis=-1)
    return warm_j / (2.0 * jnp.maximum(info, _TINY))


def _grid_objective(
    grid: jax.Array,
    loglik: jax.Array,
    items: tuple[jax.Array, ...],
    method: str,
    prior_mean: jax.Array,
    prior_sd: jax.Array,
) -> jax.Array:
    """The function the estimator maximises, on the grid, up to a constant.

    ML and MAP have a closed form; Warm's criterion is log L plus the integral of J/(2I), which
    the trapezoid rule accumulates along the grid (only to locate the cell of the root: Newton
    then solves the estimating equation itself).
    """
    if method == "map":
        return loglik - 0.5 * ((grid - prior_mean) / prior_sd) ** 2
    if method == "wle":
        correction = _warm_correction(grid, items)
        steps = 0.5 * (correction[1:] + correction[:-1]) * jnp.diff(grid)
        return loglik + jnp.concatenate([jnp.zeros(1), jnp.cumsum(steps)])
    return loglik


def _modal_estimate(
    grid: jax.Array,
    loglik: jax.Array,
    items: tuple[jax.Array, ...],
    method: str,
    prior_mean: jax.Array,
    prior_sd: jax.Array,
) -> jax.Array:
    """Root of the estimating equation in the grid cell of the best grid point, or a bound."""
    equation = partial(
        _estimating_equation, items=items, method=method, prior_mean=prior_mean, prior_sd=prior_sd
    )
    slope = jax.grad(equation)
    n_points = grid.shape[0]
    best = jnp.argmax(_grid_objective(grid, loglik, items, method, prior_mean, prior_sd))
    at_best = equation(grid[best])
    # The root lies on the side the equation points to; a bound is the answer when the
    # equation still points outward there (ML on an all-right or all-wrong pattern).
    upper_side = at_best > 0
    low = jnp.where(upper_side, grid[best], grid[jnp.maximum(best - 1, 0)])
    high = jnp.where(upper_side, grid[jnp.minimum(best + 1, n_points - 1)], grid[best])
    at_lower_bound = (best == 0) & ~upper_side
    at_upper_bound = (best == n_points - 1) & upper_side

    def newton(_: int, state: tuple[jax.Array, ...]) -> tuple[jax.Array, ...]:
        theta, low, high = state
        value = equation(theta)
        low = jnp.where(value > 0, theta, low)
        high = jnp.where(value > 0, high, theta)
        step = theta - value / jnp.minimum(slope(theta), -_TINY)
        inside = (step >= low) & (step <= high)
        return jnp.where(inside, step, 0.5 * (low + high)), low, high

    start = 0.5 * (low + high)
    theta, _, _ = jax.lax.fori_loop(0, _NEWTON_STEPS, newton, (start, low, high))
    theta = jnp.where(at_lower_bound, grid[0], jnp.where(at_upper_bound, grid[-1], theta))
    return jnp.clip(theta, grid[0], grid[-1])


def _estimate_one(
    a: jax.Array,
    b: jax.Array,
    c: jax.Array,
    responses: jax.Array,
    mask: jax.Array,
    loglik: jax.Array | None,
    prior_mean: jax.Array,
    prior_sd: jax.Array,
    bounds: jax.Array,
    method: str,
    n_points: int,
) -> AbilityEstimate:
    weight = mask.astype(jnp.float32)
    x = responses.astype(jnp.float32)
    items = (a, b, c, x, weight)
    grid = jnp.linspace(bounds[0], bounds[1], n_points)
    if loglik is None:
        loglik = jnp.sum(weight * log_likelihood(x, grid[:, None], a, b, c), axis=-1)
    if method == "eap":
        log_prior = -0.5 * ((grid - prior_mean) / prior_sd) ** 2
        estimate = eap_estimate(log_prior + loglik, grid)
        return AbilityEstimate(estimate.theta_hat, estimate.posterior_sd)
    theta_hat = _modal_estimate(grid, loglik, items, method, prior_mean, prior_sd)
    info = _score_terms(theta_hat, a, b, c, x, weight)[1]
    if method == "map":
        info = info + 1.0 / prior_sd**2
    return AbilityEstimate(theta_hat, 1.0 / jnp.sqrt(info))


@partial(jax.jit, static_argnames=("method", "n_points"))
def _estimate_batch(
    a: jax.Array,
    b: jax.Array,
    c: jax.Array,
    responses: jax.Array,
    mask: jax.Array,
    loglik: jax.Array | None,
    prior_mean: jax.Array,
    prior_sd: jax.Array,
    bounds: jax.Array,
    method: str,
    n_points: int,
) -> AbilityEstimate:
    one = partial(_estimate_one, method=method, n_points=n_points)
    return jax.vmap(one, in_axes=(0, 0, 0, 0, 0, 0, None, None, None))(
        a, b, c, responses, mask, loglik, prior_mean, prior_sd, bounds
    )


def _check_options(
    method: str, prior_sd: float, bounds: tuple[float, float], n_points: int
) -> None:
    if method not in ESTIMATORS:
        raise InvalidInputError(f"method must be one of {', '.join(ESTIMATORS)}, got {method!r}")
    if not prior_sd > 0:
        raise InvalidInputError(f"prior_sd must be > 0, got {prior_sd}")
    low, high = bounds
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise InvalidInputError(f"bounds must be finite with lower < upper, got {bounds}")
    if n_points < 41:
        raise InvalidInputError(f"n_points must be at least 41, got {n_points}")


def estimate_theta_batched(
    items: ItemParams,
    responses: ArrayLike,
    mask: ArrayLike,
    method: str = "eap",
    *,
    prior_mean: ArrayLike = 0.0,
    prior_sd: ArrayLike = 1.0,
    bounds: tuple[float, float] = (-4.0, 4.0),
    n_points: int = 61,
    grid_log_likelihood: ArrayLike | None = None,
) -> AbilityEstimate:
    """``estimate_theta`` for many examinees at once; plain jax, safe inside jit and scan.

    Args:
        items: parameters of each examinee's administered items, each ``(n_simulees, test_len)``
            (or ``(test_len,)``, shared by all).
        responses: ``(n_simulees, test_len)`` 0/1.
        mask: ``(n_simulees, test_len)``: which positions count (e.g. those already answered).
        method: ``eap``, ``map``, ``ml`` or ``wle``.
        prior_mean: mean of the normal prior (EAP, MAP).
        prior_sd: its SD.
        bounds: the EAP quadrature range and the range of the modal estimates.
        n_points: grid points (quadrature for EAP, search grid for the others).
        grid_log_likelihood: ``(n_simulees, n_points)`` log-likelihood of the masked responses
            on ``linspace(*bounds, n_points)``, when the caller carries it (a CAT adds one
            table row per response): the grid search then skips recomputing it, which is most
            of the cost. It must be that of ``responses`` and ``mask``.

    Returns:
        ``AbilityEstimate`` with ``(n_simulees,)`` fields. With no response counted EAP and MAP
        give the prior; ML and WLE give the midpoint of the grid cell they start from, SE inf.
    """
    if isinstance(prior_sd, jax.core.Tracer):  # a traced prior (inside jit) is the caller's
        _check_options(method, 1.0, bounds, n_points)
    else:
        _check_options(method, float(np.asarray(prior_sd)), bounds, n_points)
    responses_array = jnp.asarray(responses)
    shape = responses_array.shape
    a, b, c = (jnp.broadcast_to(jnp.asarray(x, jnp.float32), shape) for x in items)
    return _estimate_batch(  # type: ignore[no-any-return]
        a, b, c, responses_array, jnp.broadcast_to(jnp.asarray(mask, bool), shape),
        None if grid_log_likelihood is None else jnp.asarray(grid_log_likelihood, jnp.float32),
        jnp.float32(prior_mean), jnp.float32(prior_sd), jnp.asarray(bounds, jnp.float32),
        method=method, n_points=n_points,
    )  # fmt: skip


def estimate_theta(
    items: ItemParams,
    responses: ArrayLike,
    method: str = "eap",
    *,
    prior_mean: float = 0.0,
    prior_sd: float = 1.0,
    bounds: tuple[float, float] = (-4.0, 4.0),
    n_points: int = 61,
) -> AbilityEstimate:
    """Ability estimate and standard error from one examinee's responses.

    Args:
        items: the administered items, in order, each ``(n,)``.
        responses: ``(n,)`` 0/1, one per item.
        method: ``eap`` (posterior mean), ``map`` (Bayes modal), ``ml`` (bounded maximum
            likelihood) or ``wle`` (Warm 1989).
        prior_mean: mean of the normal prior (EAP and MAP).
        prior_sd: its SD.
        bounds: the EAP quadrature range and the range of the ML, MAP and WLE estimates.
        n_points: grid points (at least 41).

    Returns:
        ``AbilityEstimate(theta_hat, se)`` as 0-d arrays; SEs as in Magis & Raîche (2012).

    Raises:
        InvalidInputError: unknown method, bad prior, bounds or grid, responses not 0/1 or not
            one per item, or ML/WLE without any response.
    """
    _check_options(method, prior_sd, bounds, n_points)
    answers = np.asarray(responses)
    a, b, c = (np.atleast_1d(np.asarray(x, np.float32)) for x in items)
    if answers.ndim != 1 or not a.shape == b.shape == c.shape == answers.shape:
        raise InvalidInputError(
            f"responses must be one 0/1 per item: {answers.shape[0] if answers.ndim else 0} "
            f"responses for {a.shape[0]} items"
        )
    if not np.isin(answers, (0, 1)).all():
        raise InvalidInputError("responses must be 0 or 1")
    if method in ("ml", "wle") and answers.shape[0] == 0:
        raise InvalidInputError(f"{method} needs at least one response")
    estimate = estimate_theta_batched(
        ItemParams(jnp.asarray(a[None]), jnp.asarray(b[None]), jnp.asarray(c[None])),
        answers[None].astype(np.int32),
        np.ones((1, answers.shape[0]), bool),
        method,
        prior_mean=prior_mean,
        prior_sd=prior_sd,
        bounds=bounds,
        n_points=n_points,
    )
    return AbilityEstimate(estimate.theta_hat[0], estimate.se[0])
