"""Next-item selection rules (DESIGN.md): ``vanilla`` maximum information and Sympson–Hetter.

Both rules reduce to one maximum over a transformed score, which XLA vectorises on a CPU; the
index of the maximum is then found with a ``min`` over positions (ties go to the lowest index, as
``argmax`` would), because XLA's variadic argmax reduction is not vectorised on a CPU.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.cat.rng import hashed_uniforms
from qbank.errors import InvalidInputError
from qbank.irt.model import ItemParams, information

__all__ = [
    "SELECTORS",
    "choose_next_item",
    "choose_next_items",
    "lottery_score",
    "select_sympson_hetter",
    "select_sympson_hetter_batch",
    "select_vanilla",
    "select_vanilla_batch",
]

SELECTORS = ("vanilla", "sympson_hetter")


def _first_argmax(score: jax.Array) -> jax.Array:
    """Index of the maximum over the last axis, lowest index on ties."""
    n_items = score.shape[-1]
    best = jnp.max(score, axis=-1, keepdims=True)
    positions = jnp.arange(n_items, dtype=jnp.int32)
    return jnp.min(jnp.where(score == best, positions, n_items), axis=-1)


def lottery_score(info: jax.Array, available: jax.Array, accepted: jax.Array) -> jax.Array:
    """A score whose maximum is the Sympson–Hetter choice.

    Accepted items keep their information (≥ 0); available items whose lottery failed get
    −1 / (1 + info), which lies in (−1, 0) and still increases with information; unavailable
    items get −2. The maximum is therefore the most informative accepted item, or, when every
    lottery failed, the most informative available one (DESIGN.md's fallback).
    """
    rejected_score = -1.0 / (1.0 + info)
    return jnp.where(available, jnp.where(accepted, info, rejected_score), -2.0)


def select_vanilla(info: ArrayLike, available: ArrayLike) -> jax.Array:
    """Index of the most informative available item.

    Args:
        info: ``(n_items,)`` (or ``(batch, n_items)``) information at θ̂, ≥ 0.
        available: boolean mask of the same shape; at least one item must be available.
    """
    info, available = jnp.asarray(info), jnp.asarray(available)
    return _first_argmax(jnp.where(available, info, -1.0))


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
    return _first_argmax(lottery_score(info, available, accepted))


def select_vanilla_batch(info: ArrayLike, available: ArrayLike) -> jax.Array:
    """``select_vanilla`` over a batch: ``(batch, n_items)`` → ``(batch,)``."""
    return select_vanilla(info, available)


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


def _check_selector(selector: str) -> None:
    if selector not in SELECTORS:
        raise InvalidInputError(f"selector must be one of {', '.join(SELECTORS)}, got {selector!r}")


def choose_next_item(
    key: jax.Array,
    items: ItemParams,
    available: ArrayLike,
    theta_hat: ArrayLike,
    k: ArrayLike,
    selector: str = "vanilla",
) -> jax.Array:
    """Index of the next item for one examinee, by DESIGN.md's rule ``selector``.

    Args:
        key: PRNG key (used by ``sympson_hetter`` only).
        items: pool parameters, each ``(n_items,)``.
        available: ``(n_items,)`` mask of candidates (not yet given, under the exposure cap).
        theta_hat: the examinee's current ability estimate.
        k: ``(n_items,)`` S–H exposure parameters (1.0 for items without a row).
        selector: ``vanilla`` or ``sympson_hetter``.

    Raises:
        InvalidInputError: unknown selector, or no item available.
    """
    _check_selector(selector)
    available = jnp.asarray(available, bool)
    if not bool(available.any()):
        raise InvalidInputError("no item is available to select")
    if not bool(jnp.isfinite(jnp.asarray(theta_hat))):
        raise InvalidInputError(f"theta_hat must be finite, got {theta_hat}")
    info = information(theta_hat, items.a, items.b, items.c)
    if selector == "vanilla":
        return select_vanilla(info, available)
    return select_sympson_hetter(key, info, available, k)


def choose_next_items(
    key: jax.Array,
    items: ItemParams,
    available: ArrayLike,
    theta_hat: ArrayLike,
    k: ArrayLike,
    selector: str = "vanilla",
) -> jax.Array:
    """``choose_next_item`` for a batch of examinees, an independent lottery each.

    ``available`` is ``(batch, n_items)`` and ``theta_hat`` ``(batch,)``; returns ``(batch,)``.
    """
    _check_selector(selector)
    available = jnp.asarray(available, bool)
    if not bool(available.any(axis=-1).all()):
        raise InvalidInputError("every examinee needs at least one available item")
    if not bool(jnp.isfinite(jnp.asarray(theta_hat)).all()):
        raise InvalidInputError("theta_hat must be finite")
    info = information(jnp.asarray(theta_hat)[:, None], items.a, items.b, items.c)
    if selector == "vanilla":
        return select_vanilla_batch(info, available)
    return select_sympson_hetter_batch(key, info, available, k)
