"""Maximum Fisher information (DESIGN.md's ``vanilla``): the most informative available item.

Every rule reduces to one maximum over a transformed score, which XLA vectorises on a CPU; the
index of the maximum is then found with a ``min`` over positions (ties go to the lowest index, as
``argmax`` would), because XLA's variadic argmax reduction is not vectorised on a CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "select_vanilla",
    "select_vanilla_batch",
]


def _first_argmax(score: jax.Array) -> jax.Array:
    """Index of the maximum over the last axis, lowest index on ties."""
    n_items = score.shape[-1]
    best = jnp.max(score, axis=-1, keepdims=True)
    positions = jnp.arange(n_items, dtype=jnp.int32)
    return jnp.min(jnp.where(score == best, positions, n_items), axis=-1)


def select_vanilla(info: ArrayLike, available: ArrayLike) -> jax.Array:
    """Index of the most informative available item.

    Args:
        info: ``(n_items,)`` (or ``(batch, n_items)``) information at θ̂, ≥ 0.
        available: boolean mask of the same shape; at least one item must be available.
    """
    info, available = jnp.asarray(info), jnp.asarray(available)
    return _first_argmax(jnp.where(available, info, -1.0))


def select_vanilla_batch(info: ArrayLike, available: ArrayLike) -> jax.Array:
    """``select_vanilla`` over a batch: ``(batch, n_items)`` → ``(batch,)``."""
    return select_vanilla(info, available)
