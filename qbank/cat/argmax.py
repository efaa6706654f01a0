"""The index of a maximum, as every selection rule takes it.

Every rule reduces to one maximum over a transformed score, which XLA vectorises on a CPU; the
index of the maximum is then found with a ``min`` over positions (ties go to the lowest index, as
``argmax`` would), because XLA's variadic argmax reduction is not vectorised on a CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["first_argmax"]


def first_argmax(score: jax.Array) -> jax.Array:
    """Index of the maximum over the last axis, lowest index on ties."""
    n_items = score.shape[-1]
    best = jnp.max(score, axis=-1, keepdims=True)
    positions = jnp.arange(n_items, dtype=jnp.int32)
    return jnp.min(jnp.where(score == best, positions, n_items), axis=-1)
