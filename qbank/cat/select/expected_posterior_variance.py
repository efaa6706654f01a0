"""Minimum expected posterior variance (van der Linden 1998; catR's ``MEPV``).

EPV_i = P_i(θ̂)·Var(θ | x, 1) + Q_i(θ̂)·Var(θ | x, 0), the EAP posterior variances after a right
and a wrong answer to item i, weighted by the probabilities at the current θ̂ as catR's ``EPV``
does (Magis & Barrada 2017). Posterior moments use the trapezoid rule on the context's grid. The
score is −EPV, so that higher is better as for every rule.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.cat.select.context import SelectionContext, mask_scores, trapezoid_weights
from qbank.irt.model import ItemParams, probability

__all__ = ["expected_posterior_variance", "score_mepv"]


def _variance(weight: jax.Array, grid: jax.Array) -> jax.Array:
    """Variance of θ under the (unnormalised) weights, over the grid axis (the first)."""
    total = jnp.sum(weight, axis=0)
    mean = (grid @ weight) / total
    second = ((grid * grid) @ weight) / total
    return jnp.maximum(second - mean * mean, 0.0)


def expected_posterior_variance(
    items: ItemParams, theta_hat: jax.Array, grid: jax.Array, log_posterior: jax.Array
) -> jax.Array:
    """EPV of every item, shape ``(n_items,)``."""
    posterior = jnp.exp(log_posterior - jnp.max(log_posterior)) * trapezoid_weights(grid)
    p_grid = probability(grid[:, None], items.a, items.b, items.c)  # (n_points, n_items)
    right = posterior[:, None] * p_grid
    wrong = posterior[:, None] * (1.0 - p_grid)
    p_hat = probability(theta_hat, items.a, items.b, items.c)
    return p_hat * _variance(right, grid) + (1.0 - p_hat) * _variance(wrong, grid)


def score_mepv(items: ItemParams, context: SelectionContext, available: jax.Array) -> jax.Array:
    """−EPV of each available item."""
    log_posterior = context.log_likelihood + context.log_prior
    epv = expected_posterior_variance(items, context.theta_hat, context.grid, log_posterior)
    return mask_scores(-epv, available)
