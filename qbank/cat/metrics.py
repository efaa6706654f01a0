"""Exposure and measurement metrics of a simulated CAT administration."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["ExposureMetrics", "exposure_metrics", "exposure_rates"]


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


def exposure_rates(administered: jax.Array, n_items: int) -> jax.Array:
    """Share of simulees given each item, from ``(n_simulees, test_len)`` item indices."""
    counts = jnp.zeros(n_items, jnp.float32).at[administered.reshape(-1)].add(1.0)
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
    (Chen, Ankenmann & Spray 2003).

    Args:
        administered: ``(n_simulees, test_len)`` item indices.
        final_theta_hat: ``(n_simulees,)`` θ̂ after the last item.
        true_theta: ``(n_simulees,)`` generating abilities.
        tau: ``(n_items,)`` target exposure per item.
        n_items: pool size.
    """
    n_simulees, test_len = administered.shape
    rates = exposure_rates(administered, n_items)
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
