"""What a simulated administration under a test design shows: exposure, precision, length.

Tests may end at different lengths (``SimResult.administered`` is −1 after a stopping rule
fired), so every count masks the positions not given. The overlap rate generalises Chen,
Ankenmann & Spray (2003) to variable length: over ordered pairs of simulees, the items two
tests share divided by the items the first one gave, Σ_i c_i(c_i − 1) / ((n − 1)·Σ_i c_i) with
c_i the times item i was given; for a fixed length L it is their (n·Σr_i² − L) / ((n − 1)·L).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from qbank.cat.balance import Blueprint, blueprint_met
from qbank.cat.metrics import theta_strata

__all__ = ["DesignMetrics", "design_metrics"]


class DesignMetrics(NamedTuple):
    """Summary of one simulated administration; scalars unless said."""

    exposure_rates: jax.Array  # (n_items,) share of simulees given each item
    max_exp: jax.Array  # largest exposure rate
    overlap: jax.Array  # expected share of a test shared with another simulee's test
    unused_share: jax.Array  # share of the pool never given
    conditional_exposure_rates: jax.Array  # (n_strata, n_items), by true-θ stratum
    conditional_max_exp: jax.Array  # (n_strata,)
    bias: jax.Array  # mean(θ̂ − θ) at the end of each test
    rmse: jax.Array  # sqrt(mean((θ̂ − θ)²)) at the end of each test
    mean_test_length: jax.Array
    test_length: jax.Array  # (n_simulees,) int32
    blueprint_met_share: jax.Array  # share of tests that met the blueprint (NaN: no blueprint)
    classified_correctly: jax.Array  # share with pass/fail as the true θ says (NaN: no cut)
    passed_share: jax.Array  # share of tests that passed (NaN: no cut)


def design_metrics(
    administered: ArrayLike,
    final_theta_hat: ArrayLike,
    true_theta: ArrayLike,
    n_items: int,
    strata_edges: ArrayLike,
    blueprint: Blueprint | None = None,
    cut: float | None = None,
) -> DesignMetrics:
    """Exposure, overlap, conditional exposure, precision, length, blueprint and classification.

    Args:
        administered: ``(n_simulees, test_len)`` item indices, −1 where no item was given.
        final_theta_hat: ``(n_simulees,)`` θ̂ at the end of each test.
        true_theta: ``(n_simulees,)`` generating abilities.
        n_items: pool size.
        strata_edges: ``(n_edges,)`` θ cut points of the conditional exposure strata.
        blueprint: the design's blueprint over the pool, if any.
        cut: the classification cut score, if any: a test passes when θ̂ ≥ cut, and is
            correct when that agrees with θ ≥ cut.
    """
    administered = jnp.asarray(administered)
    theta_hat, theta = jnp.asarray(final_theta_hat), jnp.asarray(true_theta)
    n_simulees = administered.shape[0]
    given = administered >= 0
    slot = jnp.where(given, administered, n_items)  # n_items: out of range, dropped
    counts = jnp.zeros(n_items, jnp.float32).at[slot.reshape(-1)].add(1.0, mode="drop")
    rates = counts / n_simulees
    total = jnp.sum(counts)
    overlap = (
        jnp.sum(counts * (counts - 1)) / ((n_simulees - 1) * jnp.maximum(total, 1.0))
        if n_simulees > 1 else jnp.float32(1.0)
    )  # fmt: skip
    edges = jnp.asarray(strata_edges, jnp.float32)
    n_strata = edges.shape[0] + 1
    stratum = theta_strata(theta, edges)
    rows = jnp.broadcast_to(stratum[:, None], administered.shape)
    by_stratum = jnp.zeros((n_strata, n_items), jnp.float32).at[rows, slot].add(1.0, mode="drop")
    in_stratum = jnp.zeros(n_strata, jnp.float32).at[stratum].add(1.0)
    conditional = by_stratum / jnp.maximum(in_stratum, 1.0)[:, None]
    error = theta_hat - theta
    test_length = jnp.sum(given, axis=1, dtype=jnp.int32)
    met_share = jnp.float32(jnp.nan)
    if blueprint is not None:
        topic = jnp.where(given, blueprint.item_topic[jnp.where(given, administered, 0)], -1)
        n_slots = blueprint.targets.shape[0]
        topic_counts = jnp.sum(
            topic[:, :, None] == jnp.arange(n_slots)[None, None, :], axis=1, dtype=jnp.float32
        )
        met_share = jnp.mean(blueprint_met(blueprint, topic_counts))
    correct_share = passed_share = jnp.float32(jnp.nan)
    if cut is not None:
        passed = theta_hat >= cut
        correct_share = jnp.mean(passed == (theta >= cut))
        passed_share = jnp.mean(passed)
    return DesignMetrics(
        exposure_rates=rates, max_exp=jnp.max(rates), overlap=overlap,
        unused_share=jnp.mean(rates == 0), conditional_exposure_rates=conditional,
        conditional_max_exp=jnp.max(conditional, axis=1), bias=jnp.mean(error),
        rmse=jnp.sqrt(jnp.mean(error**2)), mean_test_length=jnp.mean(test_length),
        test_length=test_length, blueprint_met_share=met_share,
        classified_correctly=correct_share, passed_share=passed_share,
    )  # fmt: skip
