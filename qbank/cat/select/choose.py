"""Choosing the next item by a rule's name (DESIGN.md): ``vanilla`` or ``sympson_hetter``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.cat.exposure.sympson_hetter import select_sympson_hetter, select_sympson_hetter_batch
from qbank.cat.select.max_information import select_vanilla, select_vanilla_batch
from qbank.errors import InvalidInputError
from qbank.irt.model import ItemParams, information

__all__ = [
    "SELECTORS",
    "choose_next_item",
    "choose_next_items",
]

SELECTORS = ("vanilla", "sympson_hetter")


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
