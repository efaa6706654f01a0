import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import exposure_metrics

ADMINISTERED = jnp.array([[0, 1, 2], [0, 1, 3], [0, 4, 5], [2, 3, 4]])


def test_exposure_rates_chi2_and_unused_by_hand():
    metrics = exposure_metrics(ADMINISTERED, jnp.zeros(4), jnp.zeros(4), jnp.full(8, 0.5), 8)
    rates = np.array([3, 2, 2, 2, 2, 1, 0, 0]) / 4
    np.testing.assert_allclose(metrics.exposure_rates, rates)
    expected = 3 / 8
    assert float(metrics.chi2) == pytest.approx(np.sum((rates - expected) ** 2) / expected)
    assert float(metrics.max_exp) == 0.75
    assert float(metrics.max_over) == pytest.approx(0.25)
    assert float(metrics.avg_exp) == pytest.approx(expected)
    assert float(metrics.unused_share) == pytest.approx(2 / 8)


def test_overlap_equals_mean_pairwise_shared_share():
    tests = [set(row) for row in np.asarray(ADMINISTERED)]
    pairs = list(itertools.combinations(tests, 2))
    brute_force = np.mean([len(x & y) / 3 for x, y in pairs])
    metrics = exposure_metrics(ADMINISTERED, jnp.zeros(4), jnp.zeros(4), jnp.full(8, 0.5), 8)
    assert float(metrics.overlap) == pytest.approx(brute_force, rel=1e-6)


def test_bias_and_rmse():
    metrics = exposure_metrics(
        ADMINISTERED, jnp.array([1.0, 0.0, -1.0, 2.0]), jnp.zeros(4), jnp.full(8, 0.5), 8
    )
    assert float(metrics.bias) == pytest.approx(0.5)
    assert float(metrics.rmse) == pytest.approx(np.sqrt(6 / 4))


def test_the_overlap_of_a_single_simulee_is_one():
    """One simulee shares all of its test with itself: the overlap rate is defined as 1.0."""
    metrics = exposure_metrics(ADMINISTERED[:1], jnp.zeros(1), jnp.zeros(1), jnp.full(8, 0.5), 8)
    assert float(metrics.overlap) == 1.0
