"""Simulated response matrices: every simulee answers every item under the 3PL."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.errors import InvalidInputError
from qbank.irt.model import ItemParams, probability

__all__ = ["simulate_responses"]


def simulate_responses(key: jax.Array, items: ItemParams, true_theta: ArrayLike) -> jax.Array:
    """Draw 0/1 responses from P(correct | θ) of the 3PL (D = 1.7), one uniform per cell.

    Args:
        key: PRNG key.
        items: item parameters, each ``(n_items,)``.
        true_theta: ``(n_simulees,)`` generating abilities.

    Returns:
        ``(n_simulees, n_items)`` floats, 1.0 for a right and 0.0 for a wrong answer (float so
        that unobserved cells can be set to NaN before ``calibrate_mml``).

    Raises:
        InvalidInputError: ``true_theta`` not 1-D or not finite, or item arrays that are not
            1-D of one length.
    """
    theta = jnp.asarray(true_theta, dtype=jnp.result_type(float))
    if theta.ndim != 1 or not bool(jnp.all(jnp.isfinite(theta))):
        raise InvalidInputError(f"true_theta must be a finite 1-D array, got shape {theta.shape}")
    shapes = {jnp.shape(x) for x in items}
    if len(shapes) != 1 or len(next(iter(shapes))) != 1:
        raise InvalidInputError(f"item parameters must be 1-D of one length, got {shapes}")
    p_correct = probability(theta[:, None], items.a, items.b, items.c)
    return (jax.random.uniform(key, p_correct.shape) < p_correct).astype(p_correct.dtype)
