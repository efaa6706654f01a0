"""Synthetic item pools for demos, tests and benchmarks."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from qbank.errors import InvalidInputError
from qbank.irt.executable_cache import cached_call
from qbank.irt.model import ItemParams

__all__ = ["synthetic_pool"]


def synthetic_pool(key: jax.Array, n_items: int) -> ItemParams:
    """A pool of ``n_items`` 3PL items.

    a ~ lognormal(0, 0.3) clipped to [0.4, 2.5], b ~ N(0, 1), c ~ U(0.1, 0.25).
    """
    if isinstance(n_items, bool) or not isinstance(n_items, int) or n_items < 1:
        raise InvalidInputError(f"a synthetic pool needs at least 1 item, got {n_items!r}")
    # The draws in one compiled program (from the executable cache in a new process) rather than
    # a dozen eager ones; exp and clip stay eager, so the values are those of the eager version
    # to the last bit (XLA fuses 0.3·x into exp differently).
    normal_a, b, c = cached_call(_draws, key, n_items=n_items)
    return ItemParams(jnp.clip(jnp.exp(0.3 * normal_a), 0.4, 2.5), b, c)


@partial(jax.jit, static_argnames=("n_items",))
def _draws(key: jax.Array, n_items: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    key_a, key_b, key_c = jax.random.split(key, 3)
    b = jax.random.normal(key_b, (n_items,))
    c = jax.random.uniform(key_c, (n_items,), minval=0.1, maxval=0.25)
    return jax.random.normal(key_a, (n_items,)), b, c
