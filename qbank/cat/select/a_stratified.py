"""a-stratified selection with b-blocking (Chang, Qian & Ying 2001).

The pool is cut into K strata of rising discrimination with matching difficulty distributions:
items are sorted by b, the sorted list is cut into blocks of K consecutive items, and within each
block the item of lowest a goes to stratum 1, ..., the highest to stratum K (a short last block
fills the first strata). A test of ``test_len`` items takes its first test_len/K items from
stratum 1, the next from stratum 2, and so on, low-a items first, where θ̂ is still rough; inside
the stratum the item whose b is closest to θ̂ is chosen. Should the stratum run out, the other
available items are ranked after it the same way.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from qbank.cat.select.context import SelectionContext, mask_scores
from qbank.irt.model import ItemParams

__all__ = ["DEFAULT_N_STRATA", "b_blocked_strata", "current_stratum", "score_astrat"]

DEFAULT_N_STRATA = 4
# Distances |b − θ̂| stay below 2·MAX_ABS_B + bounds (< 50): this offset ranks every item of the
# current stratum before any other.
_OTHER_STRATUM = 1.0e3


def b_blocked_strata(items: ItemParams, n_strata: int = DEFAULT_N_STRATA) -> jax.Array:
    """Stratum (0 = lowest a) of each item, shape ``(n_items,)`` int32."""
    a, b = jnp.asarray(items.a), jnp.asarray(items.b)
    n_items = a.shape[0]
    block = (
        jnp.zeros(n_items, jnp.int32)
        .at[jnp.argsort(b, stable=True)]
        .set(jnp.arange(n_items, dtype=jnp.int32) // n_strata)
    )
    by_block_then_a = jnp.lexsort((a, block))
    return (
        jnp.zeros(n_items, jnp.int32)
        .at[by_block_then_a]
        .set(jnp.arange(n_items, dtype=jnp.int32) % n_strata)
    )


def current_stratum(n_given: jax.Array, n_strata: int, test_len: int) -> jax.Array:
    """Stratum of the next position: ⌊n_given·K / test_len⌋, at most K − 1."""
    return jnp.minimum(n_given * n_strata // max(test_len, 1), n_strata - 1)


def score_astrat(
    items: ItemParams,
    context: SelectionContext,
    available: jax.Array,
    *,
    strata: jax.Array,
    test_len: int,
    n_strata: int = DEFAULT_N_STRATA,
) -> jax.Array:
    """−|b − θ̂| inside the current stratum, lower for items of other strata.

    Args:
        items: the pool.
        context: the examinee's state (``n_given`` fixes the stratum).
        available: ``(n_items,)`` candidates.
        strata: ``b_blocked_strata(items, n_strata)``, computed once per pool.
        test_len: the test length the strata are spread over.
        n_strata: K.
    """
    distance = jnp.abs(items.b - context.theta_hat)
    inside = strata == current_stratum(context.n_given, n_strata, test_len)
    return mask_scores(jnp.where(inside, -distance, -distance - _OTHER_STRATUM), available)
