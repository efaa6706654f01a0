"""Content balancing by Kingsbury & Zara (1989): each next item from the most lacking topic.

A blueprint gives each topic a target proportion of the test. Before each item the topic whose
target minus its share of the items given so far is largest is chosen (with nothing given every
share is 0, so the largest target goes first); the selection rule then picks within that topic.
Topics without available items are passed over. Ties go to the lowest topic index: callers
number the blueprint's topics in a fixed (sorted) order, so the choice is deterministic. Items
of topics outside the blueprint carry the extra index ``n_topics`` with target 0: they are
chosen only once every blueprint topic is at or above its target or out of items.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from qbank.cat.argmax import first_argmax

__all__ = ["Blueprint", "blueprint_met", "lacking_topic", "topic_mask"]


class Blueprint(NamedTuple):
    """A blueprint over a pool, as arrays."""

    item_topic: jax.Array  # (n_items,) int32 in [0, n_topics]; n_topics = outside the blueprint
    targets: jax.Array  # (n_topics + 1,) float32 target proportions; the last (outside) is 0


def lacking_topic(blueprint: Blueprint, topic_counts: jax.Array, available: jax.Array) -> jax.Array:
    """Index of the topic furthest below its target among topics with an available item.

    Args:
        blueprint: topics and targets.
        topic_counts: ``(n_topics + 1,)`` items given so far per topic.
        available: ``(n_items,)`` candidates.
    """
    n_slots = blueprint.targets.shape[0]
    n_given = jnp.sum(topic_counts)
    share = topic_counts / jnp.maximum(n_given, 1).astype(jnp.float32)
    deficit = blueprint.targets - share
    slots = jnp.arange(n_slots, dtype=jnp.int32)
    has_items = jnp.any((blueprint.item_topic[None, :] == slots[:, None]) & available, axis=1)
    return first_argmax(jnp.where(has_items, deficit, -jnp.inf))


def topic_mask(blueprint: Blueprint, topic_counts: jax.Array, available: jax.Array) -> jax.Array:
    """``available`` narrowed to the items of the most lacking topic (``lacking_topic``)."""
    topic = lacking_topic(blueprint, topic_counts, available)
    return available & (blueprint.item_topic == topic)


def blueprint_met(blueprint: Blueprint, topic_counts: jax.Array) -> jax.Array:
    """Whether a finished test met its blueprint; broadcasts over leading axes.

    A test of L items meets it when every topic's count n_t is within one item of its target
    p_t·L (|n_t − p_t·L| < 1: the floor or the ceiling of a fractional target, the target
    itself when p_t·L is whole); items outside the blueprint count against it (their target is 0).

    Args:
        blueprint: topics and targets.
        topic_counts: ``(..., n_topics + 1)`` items given per topic.
    """
    test_len = jnp.sum(topic_counts, axis=-1, keepdims=True).astype(jnp.float32)
    # A small slack absorbs float32 rounding of p_t·L at a whole number.
    off = jnp.abs(topic_counts - blueprint.targets * test_len)
    met: jax.Array = jnp.all(off < 1.0 - 1e-4, axis=-1)
    return met
