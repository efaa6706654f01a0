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

__all__ = ["expected_posterior_variance", "probability_table", "score_mepv"]


def _variance(moments: jax.Array) -> jax.Array:
    """Variance from the zeroth, first and second moments stacked on the first axis."""
    mean = moments[1] / moments[0]
    return jnp.maximum(moments[2] / moments[0] - mean * mean, 0.0)


def probability_table(items: ItemParams, grid: jax.Array) -> jax.Array:
    """P of every item on the grid, ``(n_points, n_items)``: pool-only."""
    return probability(grid[:, None], items.a, items.b, items.c)


def expected_posterior_variance(
    items: ItemParams,
    theta_hat: jax.Array,
    grid: jax.Array,
    log_posterior: jax.Array,
    table: jax.Array | None = None,
) -> jax.Array:
    """EPV of every item, shape ``(n_items,)``.

    The posterior moments after each answer are products of the three weighted powers of θ with
    the ``(n_points, n_items)`` tables of P and Q, which depend on the pool only (a simulation
    computes them once, outside its loop): no pool-by-grid array is built per step.
    """
    posterior = jnp.exp(log_posterior - jnp.max(log_posterior)) * trapezoid_weights(grid)
    powers = jnp.stack([posterior, posterior * grid, posterior * grid * grid])  # (3, n_points)
    p_grid = probability_table(items, grid) if table is None else table
    p_hat = probability(theta_hat, items.a, items.b, items.c)
    right, wrong = powers @ p_grid, powers @ (1.0 - p_grid)  # (3, n_items) each
    return p_hat * _variance(right) + (1.0 - p_hat) * _variance(wrong)


def score_mepv(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    table: jax.Array | None = None,
) -> jax.Array:
    """−EPV of each available item (``table``: ``probability_table``)."""
    log_posterior = context.log_likelihood + context.log_prior
    epv = expected_posterior_variance(items, context.theta_hat, context.grid, log_posterior, table)
    return mask_scores(-epv, available)
