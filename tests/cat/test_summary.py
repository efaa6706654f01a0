"""design_metrics on two variable-length tests, worked by hand."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat.balance import Blueprint
from qbank.cat.summary import design_metrics

# Simulee 1 took items 0, 1 and stopped; simulee 2 took 0, 2, 1.
ADMINISTERED = jnp.array([[0, 1, -1], [0, 2, 1]])
TRUE_THETA = jnp.array([-0.5, 0.5])
THETA_HAT = jnp.array([0.1, 0.2])


def metrics(**kwargs):
    return design_metrics(ADMINISTERED, THETA_HAT, TRUE_THETA, 4, jnp.array([0.0]), **kwargs)


def test_exposure_overlap_length_and_precision_by_hand():
    m = metrics()
    np.testing.assert_allclose(m.exposure_rates, [1.0, 1.0, 0.5, 0.0])
    assert float(m.max_exp) == 1.0
    # Shared items over the pair's items: (2 + 2) / (2 + 3).
    assert float(m.overlap) == pytest.approx(0.8)
    assert float(m.unused_share) == 0.25
    assert np.asarray(m.test_length).tolist() == [2, 3]
    assert float(m.mean_test_length) == 2.5
    assert float(m.bias) == pytest.approx(0.15)
    assert float(m.rmse) == pytest.approx(math.sqrt((0.6**2 + 0.3**2) / 2))
    np.testing.assert_allclose(m.conditional_exposure_rates, [[1, 1, 0, 0], [1, 1, 1, 0]])
    assert math.isnan(float(m.blueprint_met_share))
    assert math.isnan(float(m.classified_correctly))


def test_blueprint_share_by_hand():
    item_topic = jnp.array([0, 1, 0, 2])
    # Targets 1/2, 1/2: counts (1, 1) of 2 and (2, 1) of 3 are within one item: both met.
    even = metrics(blueprint=Blueprint(item_topic, jnp.array([0.5, 0.5, 0.0])))
    assert float(even.blueprint_met_share) == 1.0
    # All of topic 0: one item short in both tests (|1 − 2| = |2 − 3| = 1): neither met.
    skewed = metrics(blueprint=Blueprint(item_topic, jnp.array([1.0, 0.0, 0.0])))
    assert float(skewed.blueprint_met_share) == 0.0


def test_classification_shares_by_hand():
    at_015 = metrics(cut=0.15)  # passed (F, T), truth (F, T)
    assert (float(at_015.classified_correctly), float(at_015.passed_share)) == (1.0, 0.5)
    at_0 = metrics(cut=0.0)  # passed (T, T), truth (F, T)
    assert (float(at_0.classified_correctly), float(at_0.passed_share)) == (0.5, 1.0)
