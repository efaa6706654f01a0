"""The progressive method (Revuelta & Ponsoda 1998) as catR 3 defines it (Magis & Barrada 2017).

score_i = w·I_i(θ̂) + (1 − w)·U_i, with U_i uniform on (0, max available I(θ̂)) and a weight that
grows over the test: with t items given in a test of ``test_len`` items and acceleration AP,
w = Σ_{f ≤ t} f^AP / Σ_{f ≤ test_len − 1} f^AP (Barrada, Olea, Ponsoda & Abad 2008; catR's
``rule = "length"``). AP = 0 is Revuelta & Ponsoda's linear weight t/(test_len − 1); catR's
default is AP = 1. The first item is random (w = 0), the last is MFI's (w = 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.cat.exposure.lottery_rng import hashed_uniforms
from qbank.cat.select.context import SelectionContext, mask_scores
from qbank.irt.model import ItemParams, information

__all__ = ["DEFAULT_TEST_LEN", "progressive_weight", "score_progressive"]

DEFAULT_TEST_LEN = 20
"""catR's default ``thr`` of the progressive rule."""


def progressive_weight(n_given: jax.Array, test_len: int, acceleration: float = 1.0) -> jax.Array:
    """The weight w of the information part after ``n_given`` items, in [0, 1]."""
    f = jnp.arange(1, max(test_len, 2), dtype=jnp.float32)
    powers = f**acceleration
    done = jnp.sum(jnp.where(f <= n_given, powers, 0.0))
    return jnp.minimum(done / jnp.sum(powers), 1.0)


def score_progressive(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    test_len: int = DEFAULT_TEST_LEN,
    acceleration: float = 1.0,
) -> jax.Array:
    """Progressive scores; the random part comes from ``context.word``."""
    info = information(context.theta_hat, items.a, items.b, items.c)
    max_info = jnp.max(jnp.where(available, info, 0.0))
    random_part = hashed_uniforms(context.word, info.shape[-1]) * max_info
    weight = progressive_weight(context.n_given, test_len, acceleration)
    return mask_scores(weight * info + (1.0 - weight) * random_part, available)
