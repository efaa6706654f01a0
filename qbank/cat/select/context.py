"""What a selection rule sees for one examinee: the common input of every rule in ``select/``.

Every rule is a plain function ``score(items, context, available, **options) -> scores`` over the
pool: ``(n_items,)`` scores, higher is better, ``-inf`` where ``available`` is False. Options are
static Python values (or arrays shared by all examinees), so a batched simulation ``vmap``s a rule
over the ``SelectionContext`` of each simulee inside ``lax.scan`` and delivery calls the same
function for one examinee; the choice is ``first_argmax`` of the scores (ties to the lowest index),
or a lottery over them (``exposure/``), which works with any rule that ranks items.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.irt.model import ItemParams, log_likelihood

__all__ = [
    "SelectionContext",
    "grid_log_likelihood",
    "mask_scores",
    "selection_context",
    "trapezoid_weights",
]


class SelectionContext(NamedTuple):
    """One examinee's state at a selection step (a pytree: batch dimensions lead)."""

    theta_hat: jax.Array  # () current ability estimate
    log_likelihood: jax.Array  # (n_points,) log-likelihood of the responses so far on the grid
    log_prior: jax.Array  # (n_points,) log prior density on the grid, up to a constant
    grid: jax.Array  # (n_points,) quadrature points
    n_given: jax.Array  # () int32, items administered so far
    word: jax.Array  # () uint32 random word of this step (rules with a random part: progressive)


def trapezoid_weights(grid: jax.Array) -> jax.Array:
    """Trapezoid-rule weights on an evenly spaced grid, as catR's ``integrate.catR`` uses."""
    step = grid[1] - grid[0]
    ends = jnp.zeros_like(grid).at[0].set(0.5).at[-1].set(0.5)
    return (1.0 - ends) * step


def grid_log_likelihood(
    items: ItemParams, responses: jax.Array, mask: jax.Array, grid: jax.Array
) -> jax.Array:
    """Σ log P(response | θ) over the masked items at each grid point, shape ``(n_points,)``."""
    loglik = log_likelihood(responses[:, None], grid, items.a[:, None], items.b[:, None],
                            items.c[:, None])  # fmt: skip
    return jnp.sum(jnp.where(mask[:, None], loglik, 0.0), axis=0)


def mask_scores(scores: jax.Array, available: jax.Array) -> jax.Array:
    """``scores`` where available, ``-inf`` elsewhere."""
    return jnp.where(available, scores, -jnp.inf)


def selection_context(
    items: ItemParams,
    responses: ArrayLike,
    mask: ArrayLike,
    theta_hat: ArrayLike,
    grid: jax.Array,
    log_prior: jax.Array,
    word: ArrayLike,
) -> SelectionContext:
    """The context of one examinee from the items answered so far.

    Args:
        items: the administered items, each ``(test_len,)``.
        responses: ``(test_len,)`` 0/1.
        mask: ``(test_len,)`` which positions were answered.
        theta_hat: the current estimate.
        grid: ``(n_points,)`` quadrature points.
        log_prior: ``(n_points,)`` log prior on the grid.
        word: uint32 random word of the step (``jax.random.bits(key, (), jnp.uint32)``).
    """
    mask = jnp.asarray(mask, bool)
    loglik = grid_log_likelihood(items, jnp.asarray(responses), mask, grid)
    return SelectionContext(
        jnp.asarray(theta_hat, jnp.float32), loglik, log_prior, grid,
        jnp.sum(mask).astype(jnp.int32), jnp.asarray(word, jnp.uint32),
    )  # fmt: skip
