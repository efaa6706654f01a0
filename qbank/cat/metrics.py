"""Exposure and measurement metrics of a simulated CAT administration."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = [
    "ExposureMetrics",
    "PositionPrecision",
    "StratumPrecision",
    "conditional_exposure_rates",
    "exposure_metrics",
    "exposure_rates",
    "exposure_rates_by_position",
    "precision_by_position",
    "precision_by_stratum",
    "theta_strata",
]


class ExposureMetrics(NamedTuple):
    """Summary of one simulation; all scalars except ``exposure_rates``."""

    exposure_rates: jax.Array  # (n_items,) share of simulees given each item
    avg_exp: jax.Array  # mean exposure rate (= test_len / n_items)
    max_exp: jax.Array  # largest exposure rate
    max_over: jax.Array  # max(r_i − tau_i): > 0 means some item exceeds its target
    chi2: jax.Array  # Σ (r_i − L/N)² / (L/N) (Chang & Ying 1999)
    overlap: jax.Array  # expected share of a test shared by two random simulees
    unused_share: jax.Array  # share of the pool never given
    bias: jax.Array  # mean(θ̂ − θ) after the last item
    rmse: jax.Array  # sqrt(mean((θ̂ − θ)²)) after the last item


def _given_slots(administered: jax.Array, n_items: int) -> jax.Array:
    # −1 marks a position a stopping rule left empty: moved out of range and dropped.
    return jnp.where(administered >= 0, administered, n_items)


def exposure_rates(administered: jax.Array, n_items: int) -> jax.Array:
    """Share of simulees given each item, from ``(n_simulees, test_len)`` item indices.

    An index of −1 (no item: the test had ended) counts for no item.
    """
    slots = _given_slots(administered, n_items).reshape(-1)
    counts = jnp.zeros(n_items, jnp.float32).at[slots].add(1.0, mode="drop")
    return counts / administered.shape[0]


def exposure_metrics(
    administered: jax.Array,
    final_theta_hat: jax.Array,
    true_theta: jax.Array,
    tau: jax.Array,
    n_items: int,
) -> ExposureMetrics:
    """Exposure and precision summary.

    The test overlap rate is exact for a fixed-length test: over ordered pairs of simulees,
    Σ_i c_i(c_i − 1) / (n(n − 1)L) with c_i = n·r_i, i.e. (n·Σr_i² − L) / ((n − 1)·L)
    (Chen, Ankenmann & Spray 2003). When a stopping rule ended tests early (−1 entries) L is
    the mean test length, Σ_i r_i: the items shared over the items given, pair by pair.

    Args:
        administered: ``(n_simulees, test_len)`` item indices (−1: no item, the test had ended).
        final_theta_hat: ``(n_simulees,)`` θ̂ after the last item.
        true_theta: ``(n_simulees,)`` generating abilities.
        tau: ``(n_items,)`` target exposure per item.
        n_items: pool size.
    """
    n_simulees = administered.shape[0]
    rates = exposure_rates(administered, n_items)
    # The mean length; exactly the fixed length when no test ended early.
    test_len = jnp.sum(administered >= 0) / n_simulees
    expected = test_len / n_items
    if n_simulees > 1:
        overlap = (n_simulees * jnp.sum(rates**2) - test_len) / ((n_simulees - 1) * test_len)
    else:
        overlap = jnp.float32(1.0)
    error = final_theta_hat - true_theta
    return ExposureMetrics(
        exposure_rates=rates,
        avg_exp=jnp.mean(rates),
        max_exp=jnp.max(rates),
        max_over=jnp.max(rates - tau),
        chi2=jnp.sum((rates - expected) ** 2) / expected,
        overlap=overlap,
        unused_share=jnp.mean(rates == 0),
        bias=jnp.mean(error),
        rmse=jnp.sqrt(jnp.mean(error**2)),
    )


class StratumPrecision(NamedTuple):
    """Precision of the final θ̂ within each θ stratum, each ``(n_strata,)``."""

    n_simulees: jax.Array  # simulees whose true θ falls in the stratum
    bias: jax.Array  # mean(θ̂ − θ); NaN for an empty stratum
    rmse: jax.Array  # sqrt(mean((θ̂ − θ)²)); NaN for an empty stratum


class PositionPrecision(NamedTuple):
    """Precision after each position of the test, each ``(test_len,)``."""

    mean_se: jax.Array  # mean posterior SD over simulees (the SE the CAT reports)
    bias: jax.Array  # mean(θ̂ − θ)
    rmse: jax.Array  # sqrt(mean((θ̂ − θ)²)), the SE actually achieved


def exposure_rates_by_position(administered: jax.Array, n_items: int) -> jax.Array:
    """Share of simulees given each item at each position, ``(test_len, n_items)``.

    Row p sums to 1 (every simulee gets one item at position p); the rows sum to the exposure
    rates. Early rows show how concentrated the first items are when every θ̂ starts at 0.
    """
    n_simulees, test_len = administered.shape
    positions = jnp.broadcast_to(jnp.arange(test_len), administered.shape)
    counts = jnp.zeros((test_len, n_items), jnp.float32).at[positions, administered].add(1.0)
    return counts / n_simulees


def theta_strata(true_theta: ArrayLike, edges: ArrayLike) -> jax.Array:
    """Stratum index of each θ, ``(n_simulees,)`` in ``[0, len(edges)]``.

    Stratum s holds θ in [edges[s − 1], edges[s]); the first and last strata are open-ended,
    so ``len(edges) + 1`` strata cover the whole line.

    Args:
        true_theta: ``(n_simulees,)`` abilities.
        edges: ``(n_edges,)`` increasing cut points.
    """
    return jnp.searchsorted(jnp.asarray(edges), jnp.asarray(true_theta), side="right")


def conditional_exposure_rates(
    administered: jax.Array, true_theta: ArrayLike, edges: ArrayLike, n_items: int
) -> jax.Array:
    """Exposure rates among the simulees of each θ stratum, ``(n_strata, n_items)``.

    S–H controls the marginal exposure rate; an item can still be given to most examinees of
    one ability level (Stocking & Lewis 1998), which these rates show. An empty stratum gives a
    row of zeros.

    Args:
        administered: ``(n_simulees, test_len)`` item indices.
        true_theta: ``(n_simulees,)`` generating abilities.
        edges: ``(n_edges,)`` increasing cut points (see ``theta_strata``).
        n_items: pool size.
    """
    n_strata = jnp.asarray(edges).shape[0] + 1
    stratum = theta_strata(true_theta, edges)
    rows = jnp.broadcast_to(stratum[:, None], administered.shape)
    slots = _given_slots(administered, n_items)
    counts = jnp.zeros((n_strata, n_items), jnp.float32).at[rows, slots].add(1.0, mode="drop")
    n_simulees = jnp.zeros(n_strata, jnp.float32).at[stratum].add(1.0)
    return counts / jnp.maximum(n_simulees, 1.0)[:, None]


def precision_by_stratum(
    final_theta_hat: ArrayLike, true_theta: ArrayLike, edges: ArrayLike
) -> StratumPrecision:
    """Bias and RMSE of θ̂ within each θ stratum (conditional precision).

    Args:
        final_theta_hat: ``(n_simulees,)`` θ̂ after the last item.
        true_theta: ``(n_simulees,)`` generating abilities.
        edges: ``(n_edges,)`` increasing cut points (see ``theta_strata``).
    """
    n_strata = jnp.asarray(edges).shape[0] + 1
    stratum = theta_strata(true_theta, edges)
    error = jnp.asarray(final_theta_hat) - jnp.asarray(true_theta)
    n_simulees = jnp.zeros(n_strata, jnp.float32).at[stratum].add(1.0)
    # 0 / 0 = NaN marks an empty stratum: no estimate, rather than a misleading 0.
    bias = jnp.zeros(n_strata, error.dtype).at[stratum].add(error) / n_simulees
    mean_square = jnp.zeros(n_strata, error.dtype).at[stratum].add(error**2) / n_simulees
    return StratumPrecision(n_simulees, bias, jnp.sqrt(mean_square))


def precision_by_position(
    theta_hat: ArrayLike, posterior_sd: ArrayLike, true_theta: ArrayLike
) -> PositionPrecision:
    """Reported SE and achieved bias/RMSE of θ̂ after each position.

    Args:
        theta_hat: ``(n_simulees, test_len)`` θ̂ after each response.
        posterior_sd: ``(n_simulees, test_len)`` posterior SD after each response.
        true_theta: ``(n_simulees,)`` generating abilities.
    """
    error = jnp.asarray(theta_hat) - jnp.asarray(true_theta)[:, None]
    return PositionPrecision(
        mean_se=jnp.mean(jnp.asarray(posterior_sd), axis=0),
        bias=jnp.mean(error, axis=0),
        rmse=jnp.sqrt(jnp.mean(error**2, axis=0)),
    )
