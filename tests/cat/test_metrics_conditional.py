"""Conditional metrics: by position, by θ stratum, after each position (hand-computed)."""

import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import (
    conditional_exposure_rates,
    exposure_rates,
    exposure_rates_by_position,
    precision_by_position,
    precision_by_stratum,
    theta_strata,
)

ADMINISTERED = jnp.array([[0, 1, 2], [0, 1, 3], [0, 4, 5], [2, 3, 4]])
TRUE_THETA = jnp.array([-2.0, -0.5, 0.5, 2.0])
EDGES = jnp.array([-1.0, 0.0, 1.0])


def test_exposure_by_position_rows_are_shares_of_simulees_and_sum_to_rates():
    by_position = exposure_rates_by_position(ADMINISTERED, 8)
    assert by_position.shape == (3, 8)
    np.testing.assert_allclose(by_position[0], [0.75, 0, 0.25, 0, 0, 0, 0, 0])
    np.testing.assert_allclose(by_position[2], [0, 0, 0.25, 0.25, 0.25, 0.25, 0, 0])
    np.testing.assert_allclose(by_position.sum(axis=1), np.ones(3))
    np.testing.assert_allclose(by_position.sum(axis=0), exposure_rates(ADMINISTERED, 8))


def test_theta_strata_are_half_open_with_open_ends():
    theta = jnp.array([-5.0, -1.0, -0.5, 0.0, 0.999, 1.0, 7.0])
    np.testing.assert_array_equal(theta_strata(theta, EDGES), [0, 1, 1, 2, 2, 3, 3])


def test_conditional_exposure_rates_by_hand():
    theta = jnp.array([-2.0, -1.5, 0.5, 2.0])  # two simulees in stratum 0, none in stratum 1
    rates = conditional_exposure_rates(ADMINISTERED, theta, EDGES, 8)
    assert rates.shape == (4, 8)
    np.testing.assert_allclose(rates[0], [1, 1, 0.5, 0.5, 0, 0, 0, 0])
    np.testing.assert_allclose(rates[1], np.zeros(8))  # empty stratum: zeros, not NaN
    np.testing.assert_allclose(rates[2], [1, 0, 0, 0, 1, 1, 0, 0])
    np.testing.assert_allclose(rates[3], [0, 0, 1, 1, 1, 0, 0, 0])


def test_conditional_rates_weighted_by_stratum_size_give_marginal_rates():
    theta = jnp.array([-2.0, -1.5, 0.5, 2.0])
    rates = conditional_exposure_rates(ADMINISTERED, theta, EDGES, 8)
    sizes = np.bincount(np.asarray(theta_strata(theta, EDGES)), minlength=4)
    marginal = (sizes[:, None] * np.asarray(rates)).sum(axis=0) / 4
    np.testing.assert_allclose(marginal, exposure_rates(ADMINISTERED, 8), rtol=1e-6)


def test_precision_by_stratum_by_hand_and_nan_when_empty():
    theta = jnp.array([-2.0, -1.5, 0.5, 2.0])
    theta_hat = jnp.array([-1.0, -1.5, 1.5, 1.0])
    precision = precision_by_stratum(theta_hat, theta, EDGES)
    np.testing.assert_allclose(precision.n_simulees, [2, 0, 1, 1])
    assert float(precision.bias[0]) == pytest.approx(0.5)
    assert float(precision.rmse[0]) == pytest.approx(np.sqrt(0.5))
    assert np.isnan(precision.bias[1])
    assert np.isnan(precision.rmse[1])
    assert float(precision.bias[2]) == pytest.approx(1.0)
    assert float(precision.bias[3]) == pytest.approx(-1.0)
    assert float(precision.rmse[3]) == pytest.approx(1.0)


def test_precision_by_position_by_hand():
    theta_hat = jnp.array([[1.0, 0.0], [-1.0, 2.0]])
    posterior_sd = jnp.array([[0.8, 0.5], [0.6, 0.3]])
    precision = precision_by_position(theta_hat, posterior_sd, jnp.array([0.0, 1.0]))
    np.testing.assert_allclose(precision.mean_se, [0.7, 0.4], rtol=1e-6)
    np.testing.assert_allclose(precision.bias, [-0.5, 0.5], atol=1e-6)
    np.testing.assert_allclose(precision.rmse, [np.sqrt(2.5), np.sqrt(0.5)], rtol=1e-6)
