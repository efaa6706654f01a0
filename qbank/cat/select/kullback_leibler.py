"""Kullback–Leibler selection (Chang & Ying 1996), likelihood- and posterior-weighted.

KL_i = ∫ KL_i(θ̂ ‖ θ) L(θ) dθ, and KLP_i the same with L(θ)π(θ), where
KL_i(θ̂ ‖ θ) = P_i(θ̂) log(P_i(θ̂)/P_i(θ)) + Q_i(θ̂) log(Q_i(θ̂)/Q_i(θ)): the definitions of
Magis & Barrada (2017, catR 3: ``KL``, ``KLP``), integrated over the whole grid (Chang & Ying's
original integrates over θ̂ ± δ without weights; catR's weighted forms are the ones used here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.cat.select.context import SelectionContext, mask_scores, trapezoid_weights
from qbank.irt.model import ItemParams, log_likelihood

__all__ = ["kl_information", "kl_table", "score_kl", "score_klp"]


def kl_table(items: ItemParams, grid: jax.Array) -> jax.Array:
    """Log P and log Q of every item on the grid, ``(2, n_points, n_items)``: pool-only."""
    a, b, c = items
    return jnp.stack([log_likelihood(1, grid[:, None], a, b, c),
                      log_likelihood(0, grid[:, None], a, b, c)])  # fmt: skip


def kl_information(
    items: ItemParams,
    theta_hat: jax.Array,
    grid: jax.Array,
    log_weight: jax.Array,
    table: jax.Array | None = None,
) -> jax.Array:
    """∫ w(θ) KL_i(θ̂ ‖ θ) dθ per item, w = exp(log_weight − max), by the trapezoid rule.

    Written as Σw·(P̂ log P̂ + Q̂ log Q̂) − P̂·(w @ log P) − Q̂·(w @ log Q): the two
    ``(n_points, n_items)`` log tables depend on the pool only, so a simulation computes them
    once and a step costs two matrix-vector products.
    """
    a, b, c = items
    log_p_hat = log_likelihood(1, theta_hat, a, b, c)  # (n_items,)
    log_q_hat = log_likelihood(0, theta_hat, a, b, c)
    p_hat, q_hat = jnp.exp(log_p_hat), jnp.exp(log_q_hat)
    logs = kl_table(items, grid) if table is None else table
    log_p, log_q = logs[0], logs[1]
    weight = jnp.exp(log_weight - jnp.max(log_weight)) * trapezoid_weights(grid)
    entropy_part = jnp.sum(weight) * (p_hat * log_p_hat + q_hat * log_q_hat)
    return entropy_part - p_hat * (weight @ log_p) - q_hat * (weight @ log_q)


def score_kl(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    table: jax.Array | None = None,
) -> jax.Array:
    """Likelihood-weighted Kullback–Leibler information at θ̂ (``table``: ``kl_table``)."""
    scores = kl_information(items, context.theta_hat, context.grid, context.log_likelihood, table)
    return mask_scores(scores, available)


def score_klp(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    table: jax.Array | None = None,
) -> jax.Array:
    """Posterior-weighted Kullback–Leibler information at θ̂ (``table``: ``kl_table``)."""
    log_posterior = context.log_likelihood + context.log_prior
    scores = kl_information(items, context.theta_hat, context.grid, log_posterior, table)
    return mask_scores(scores, available)
