"""The Sympson–Hetter lottery (Sympson & Hetter 1985) as DESIGN.md's ``sympson_hetter`` rule."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.cat.argmax import first_argmax
from qbank.cat.exposure.lottery_rng import hashed_uniforms

__all__ = [
    "lottery_score",
    "ranked_lottery_score",
    "select_sympson_hetter",
    "select_sympson_hetter_batch",
]


def lottery_score(info: jax.Array, available: jax.Array, accepted: jax.Array) -> jax.Array:
    """A score whose maximum is the Sympson–Hetter choice.

    Accepted items keep their information (≥ 0); available items whose lottery failed get
    −1 / (1 + info), which lies in (−1, 0) and still increases with information; unavailable
    items get −2. The maximum is therefore the most informative accepted item, or, when every
    lottery failed, the most informative available one (DESIGN.md's fallback).
    """
    rejected_score = -1.0 / (1.0 + info)
    return jnp.where(available, jnp.where(accepted, info, rejected_score), -2.0)


def ranked_lottery_score(scores: jax.Array, available: jax.Array, accepted: jax.Array) -> jax.Array:
    """``lottery_score`` for the scores of any rule that ranks items (higher is better).

    Accepted items keep their score; available items whose lottery failed are shifted below the
    lowest accepted one, keeping their order; unavailable items get −inf. The maximum is the best
    accepted item or, when every lottery failed, the best available one (DESIGN.md's fallback).
    """
    finite = available & jnp.isfinite(scores)
    high = jnp.max(jnp.where(finite, scores, -jnp.inf))
    low = jnp.min(jnp.where(finite, scores, jnp.inf))
    rejected_score = scores - (high - low) - 1.0
    return jnp.where(finite, jnp.where(accepted, scores, rejected_score), -jnp.inf)


def select_sympson_hetter(
    key: jax.Array, info: ArrayLike, available: ArrayLike, k: ArrayLike
) -> jax.Array:
    """Index of the next item under the Sympson–Hetter lottery (Sympson & Hetter 1985).

    Walking the candidates by descending information and accepting item i with probability
    k_i ends at the most informative item whose own lottery passed, so one uniform per item
    replaces the walk (and the sort). If every lottery fails the most informative is taken.

    Args:
        key: a PRNG key; one 32-bit word is drawn from it and expanded per item.
        info: ``(n_items,)`` information at θ̂.
        available: ``(n_items,)`` boolean mask, at least one True.
        k: ``(n_items,)`` exposure-control parameters in [0, 1].
    """
    info, available, k = jnp.asarray(info), jnp.asarray(available), jnp.asarray(k)
    seed_word = jax.random.bits(key, (), jnp.uint32)
    accepted = hashed_uniforms(seed_word, info.shape[-1]) < k
    return first_argmax(lottery_score(info, available, accepted))


def select_sympson_hetter_batch(
    key: jax.Array, info: ArrayLike, available: ArrayLike, k: ArrayLike
) -> jax.Array:
    """``select_sympson_hetter`` over a batch of examinees, an independent lottery each.

    Args:
        key: one PRNG key, split per examinee.
        info: ``(batch, n_items)`` information at each examinee's θ̂.
        available: ``(batch, n_items)`` boolean mask.
        k: ``(n_items,)``, shared by the batch.
    """
    info = jnp.asarray(info)
    keys = jax.random.split(key, info.shape[0])
    return jax.vmap(select_sympson_hetter, in_axes=(0, 0, 0, None))(keys, info, available, k)
