"""Likelihood- and posterior-weighted information (Veerkamp & Berger 1997; catR's MLWI, MPWI).

MLWI_i = ∫ L(θ) I_i(θ) dθ and MPWI_i = ∫ L(θ) π(θ) I_i(θ) dθ, by the trapezoid rule on the
context's grid (Magis & Barrada 2017). Both are computed relative to the largest value of the
integrand's weight, which leaves the ranking unchanged and keeps float32 away from underflow.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.cat.select.context import SelectionContext, mask_scores, trapezoid_weights
from qbank.irt.model import ItemParams, information

__all__ = ["information_table", "score_mlwi", "score_mpwi", "weighted_information"]


def information_table(items: ItemParams, grid: jax.Array) -> jax.Array:
    """I of every item on the grid, ``(n_points, n_items)``: pool-only."""
    return information(grid[:, None], items.a, items.b, items.c)


def weighted_information(
    items: ItemParams, grid: jax.Array, log_weight: jax.Array, table: jax.Array | None = None
) -> jax.Array:
    """∫ w(θ) I_i(θ) dθ for every item, with w = exp(log_weight − max log_weight)."""
    weight = jnp.exp(log_weight - jnp.max(log_weight)) * trapezoid_weights(grid)
    info = information_table(items, grid) if table is None else table
    return weight @ info


def score_mlwi(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    table: jax.Array | None = None,
) -> jax.Array:
    """Maximum likelihood-weighted information (``table``: ``information_table``)."""
    scores = weighted_information(items, context.grid, context.log_likelihood, table)
    return mask_scores(scores, available)


def score_mpwi(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    table: jax.Array | None = None,
) -> jax.Array:
    """Maximum posterior-weighted information (``table``: ``information_table``)."""
    log_posterior = context.log_likelihood + context.log_prior
    return mask_scores(weighted_information(items, context.grid, log_posterior, table), available)
