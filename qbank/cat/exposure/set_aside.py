"""Sympson & Hetter's (1985) set-aside lottery: an item that loses its lottery stays out.

In the published procedure the candidates are walked by descending information and each is
given its lottery; an item *considered* by the walk and rejected is set aside for the rest of
that examinee's test, and P(S_i), the share of examinees for whom item i was ever considered,
is what the exposure parameter is calibrated against. The one-uniform-per-item lottery
(``sympson_hetter.lottery_score``) gives the walk's outcome without the walk; the items the walk
considered are then the available items at least as informative as the chosen one (ties go to
the lower index first, as ``first_argmax`` breaks them), and those other than the chosen one are
the items set aside.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

__all__ = ["considered_items", "lottery_candidates"]


def considered_items(info: jax.Array, available: jax.Array, chosen: jax.Array) -> jax.Array:
    """Mask of the items the walk considered before it stopped at ``chosen``.

    When every lottery failed the most informative item is taken (DESIGN.md); it alone counts as
    considered then, since it is the most informative available item.

    Args:
        info: ``(n_items,)`` information at the selection θ.
        available: ``(n_items,)`` candidates (not given, not set aside).
        chosen: index of the item the lottery chose.
    """
    positions = jnp.arange(info.shape[-1])
    chosen_info = info[chosen]
    ahead = (info > chosen_info) | ((info == chosen_info) & (positions <= chosen))
    return available & ahead


def lottery_candidates(given: jax.Array, set_aside: jax.Array) -> jax.Array:
    """Candidates of the next lottery: not yet given and not set aside.

    Should the set-aside items leave no candidate (a short pool with low k), they are released
    for the rest of the test rather than ending it early.
    """
    candidates = ~given & ~set_aside
    return jnp.where(candidates.any(), candidates, ~given)
