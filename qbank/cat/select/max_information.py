"""Maximum Fisher information (DESIGN.md's ``vanilla``): the most informative available item."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.cat.argmax import first_argmax

__all__ = [
    "select_vanilla",
    "select_vanilla_batch",
]


def select_vanilla(info: ArrayLike, available: ArrayLike) -> jax.Array:
    """Index of the most informative available item.

    Args:
        info: ``(n_items,)`` (or ``(batch, n_items)``) information at θ̂, ≥ 0.
        available: boolean mask of the same shape; at least one item must be available.
    """
    info, available = jnp.asarray(info), jnp.asarray(available)
    return first_argmax(jnp.where(available, info, -1.0))


def select_vanilla_batch(info: ArrayLike, available: ArrayLike) -> jax.Array:
    """``select_vanilla`` over a batch: ``(batch, n_items)`` → ``(batch,)``."""
    return select_vanilla(info, available)
