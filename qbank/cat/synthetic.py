"""Synthetic item pools for demos, tests and benchmarks."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.errors import InvalidInputError
from qbank.irt.model import ItemParams

__all__ = ["synthetic_pool"]


def synthetic_pool(key: jax.Array, n_items: int) -> ItemParams:
    """A pool of ``n_items`` 3PL items.

    a ~ lognormal(0, 0.3) clipped to [0.4, 2.5], b ~ N(0, 1), c ~ U(0.1, 0.25).
    """
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise InvalidInputError(f"a synthetic pool needs at least 1 item, got {n_items!r}")
    key_a, key_b, key_c = jax.random.split(key, 3)
    a = jnp.clip(jnp.exp(0.3 * jax.random.normal(key_a, (n_items,))), 0.4, 2.5)
    b = jax.random.normal(key_b, (n_items,))
    c = jax.random.uniform(key_c, (n_items,), minval=0.1, maxval=0.25)
    return ItemParams(a, b, c)
