"""A maximum exposure rate r_max: catR's "restricted" method (Revuelta & Ponsoda 1998).

An item whose exposure rate so far (the share of examinees it was given to) has reached r_max is
not available to the next examinee. The cap is a mask, combined with ``~given`` before any rule
scores the pool, so it works with every selection rule and with the S–H lottery.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["under_exposure_cap"]

_ROUNDING = 1e-6


def under_exposure_cap(exposure_rates: ArrayLike, r_max: ArrayLike) -> jax.Array:
    """Mask of the items whose exposure rate is still below ``r_max`` (all when r_max ≥ 1).

    Args:
        exposure_rates: ``(n_items,)`` share of past examinees given each item, in [0, 1].
        r_max: the cap, in (0, 1].
    """
    rates = jnp.asarray(exposure_rates)
    # Rates are float32 quotients (XLA may divide by a reciprocal): one that equals r_max up to
    # rounding, such as 10/50 against 0.2, has reached the cap. The margin is relative, so a
    # tiny r_max still caps (an absolute one would put every item at the cap and lift it).
    cap = jnp.asarray(r_max)
    return (rates < cap * (1.0 - _ROUNDING)) | (cap >= 1.0)
