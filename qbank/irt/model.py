"""The 3PL item response model (DESIGN.md): probability, information, log-likelihood.

All functions broadcast: ``theta`` of shape ``(..., 1)`` against items of shape ``(n_items,)``
gives ``(..., n_items)``. Written with ``sigmoid``/``log_sigmoid`` so that no NaN or inf appears
for θ in [−10, 10], a in (0, 4], c in [0, 0.5) in float32.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "DEFAULT_A",
    "DEFAULT_B",
    "DEFAULT_C",
    "MAX_A",
    "MAX_ABS_B",
    "D",
    "ItemParams",
    "information",
    "log_likelihood",
    "probability",
]

D = 1.7
"""Scaling constant that puts the logistic on the normal-ogive metric."""

DEFAULT_A, DEFAULT_B, DEFAULT_C = 1.0, 0.0, 0.2
"""Parameters of an item without calibration (DESIGN.md)."""

MAX_A, MAX_ABS_B = 10.0, 20.0
"""Bounds checked where item parameters enter (beyond them float32 overflows D·a·(θ − b))."""

# exp(80) ≈ 5.5e34 stays finite in float32; beyond it the item is certain to be wrong anyway.
_MAX_EXPONENT = 80.0


class ItemParams(NamedTuple):
    """3PL parameters of a pool, D = 1.7 metric."""

    a: jax.Array  # (n_items,) discrimination, > 0
    b: jax.Array  # (n_items,) difficulty
    c: jax.Array  # (n_items,) lower asymptote, in [0, 1)


def _logit(theta: ArrayLike, a: ArrayLike, b: ArrayLike) -> jax.Array:
    return D * jnp.asarray(a) * (jnp.asarray(theta) - jnp.asarray(b))


def probability(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> jax.Array:
    """P(correct | θ) = c + (1 − c) / (1 + exp(−D·a·(θ − b)))."""
    c = jnp.asarray(c)
    return c + (1.0 - c) * jax.nn.sigmoid(_logit(theta, a, b))


def information(theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike) -> jax.Array:
    """Fisher information I(θ) = D²·a²·(Q/P)·((P − c)/(1 − c))² of each item at θ.

    With e = exp(−z): P = (1 + c·e) / (1 + e) and Q = (1 − c)·e / (1 + e), which gives
    I = D²a²·(1 − c)·e / ((1 + e)²·(1 + c·e)): one exponential, no 0/0 where the logistic
    underflows, and e capped so that it stays finite in float32.
    """
    a, c = jnp.asarray(a), jnp.asarray(c)
    e = jnp.exp(jnp.minimum(-_logit(theta, a, b), _MAX_EXPONENT))
    one_plus_e = 1.0 + e
    return (D * a) ** 2 * (1.0 - c) * e / (one_plus_e * one_plus_e * (1.0 + c * e))


def log_likelihood(
    response: ArrayLike, theta: ArrayLike, a: ArrayLike, b: ArrayLike, c: ArrayLike
) -> jax.Array:
    """Log P(response | θ) for 0/1 responses, elementwise.

    log P = logaddexp(log c, log(1 − c) + log σ(z)) and log Q = log(1 − c) + log σ(−z) stay
    finite where P or Q round to 0 or 1.
    """
    c = jnp.asarray(c)
    z = _logit(theta, a, b)
    log_one_minus_c = jnp.log1p(-c)
    # Rounding can push logaddexp a hair above 0 where P rounds to 1; a log-probability is ≤ 0.
    log_p = jnp.minimum(jnp.logaddexp(jnp.log(c), log_one_minus_c + jax.nn.log_sigmoid(z)), 0.0)
    log_q = log_one_minus_c + jax.nn.log_sigmoid(-z)
    return jnp.where(jnp.asarray(response) > 0, log_p, log_q)
