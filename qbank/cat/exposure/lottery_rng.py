"""Cheap per-item uniforms for the Sympson–Hetter lottery.

A CAT step needs one uniform per item in the pool. Drawing them with JAX's threefry costs
more than the whole rest of the step, so each step draws a single 32-bit word from its PRNG
key and expands it over the items with a counter-based hash (the MurmurHash3 finaliser, a
bijection on 32-bit words with full avalanche). Same key → same uniforms, as with
``jax.random``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["acceptance_threshold", "hashed_bits24", "hashed_uniforms", "word_to_uniform"]

_GOLDEN = 0x9E3779B9
_MIX_1 = 0x85EBCA6B
_MIX_2 = 0xC2B2AE35


def _fmix32(word: jax.Array) -> jax.Array:
    word = word ^ (word >> 16)
    word = word * jnp.uint32(_MIX_1)
    word = word ^ (word >> 13)
    word = word * jnp.uint32(_MIX_2)
    return word ^ (word >> 16)


def word_to_uniform(word: jax.Array) -> jax.Array:
    """Map uint32 words to float32 uniforms on [0, 1) using their top 24 bits (exact)."""
    uniforms: jax.Array = (word >> 8).astype(jnp.float32) * jnp.float32(2.0**-24)
    return uniforms


def hashed_bits24(seed_word: jax.Array, n_items: int) -> jax.Array:
    """``(..., n_items)`` random 24-bit integers (int32) from ``seed_word`` of shape ``(...)``."""
    counters = jnp.arange(n_items, dtype=jnp.uint32) * jnp.uint32(_GOLDEN)
    mixed_seed = _fmix32(jnp.asarray(seed_word, jnp.uint32))[..., None]
    return (_fmix32(counters ^ mixed_seed) >> 8).astype(jnp.int32)


def hashed_uniforms(seed_word: jax.Array, n_items: int) -> jax.Array:
    """``(..., n_items)`` uniforms on [0, 1) from ``seed_word`` of shape ``(...)``."""
    return word_to_uniform(hashed_bits24(seed_word, n_items).astype(jnp.uint32) << 8)


def acceptance_threshold(probability: jax.Array) -> jax.Array:
    """Integer thresholds t with ``hashed_bits24 < t`` ⇔ ``hashed_uniforms < probability``.

    Comparing integers saves a conversion and a multiply per item in the inner loop.
    """
    scaled = jnp.ceil(jnp.asarray(probability, jnp.float32) * jnp.float32(2.0**24))
    return jnp.clip(scaled, 0, 2**24).astype(jnp.int32)
