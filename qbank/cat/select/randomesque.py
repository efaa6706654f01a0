"""Randomesque selection (Kohn & Kingsbury 1989): a random pick among the n best items.

Works over the scores of any rule that ranks items (catR's ``randomesque`` option of
``nextItem``). Ties at the n-th score are all candidates, as in catR.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.cat.argmax import first_argmax
from qbank.cat.exposure.lottery_rng import hashed_uniforms

__all__ = ["DEFAULT_RANDOMESQUE", "randomesque_candidates", "select_randomesque"]

DEFAULT_RANDOMESQUE = 5
"""Candidates of the ``randomesque`` rule when the option is not given."""


def randomesque_candidates(scores: jax.Array, n_best: int) -> jax.Array:
    """Mask of the ``n_best`` highest finite scores (more on ties), over the last axis.

    The n-th score is found by taking out the best item n − 1 times (``lax.top_k`` sorts the
    pool, which costs far more on a CPU for the few candidates a randomesque rule keeps).
    """
    positions = jnp.arange(scores.shape[-1])
    remaining = scores
    for _ in range(min(n_best, scores.shape[-1]) - 1):
        best = first_argmax(remaining)[..., None]
        remaining = jnp.where(positions == best, -jnp.inf, remaining)
    threshold = jnp.max(remaining, axis=-1, keepdims=True)
    return (scores >= threshold) & jnp.isfinite(scores)


def select_randomesque(word: jax.Array, scores: jax.Array, n_best: int) -> jax.Array:
    """Index drawn uniformly among the ``n_best`` best available items (``(n_items,)`` scores).

    ``word`` is the step's uint32 random word, expanded over the pool by ``lottery_rng``.
    """
    candidates = randomesque_candidates(scores, n_best)
    draws = hashed_uniforms(word, scores.shape[-1])
    return first_argmax(jnp.where(candidates, draws, -1.0))
