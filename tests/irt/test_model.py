import math

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qbank.irt import information, log_likelihood, probability

D = 1.7


def hand_probability(theta, a, b, c):
    return c + (1 - c) / (1 + math.exp(-D * a * (theta - b)))


def hand_information(theta, a, b, c):
    p = hand_probability(theta, a, b, c)
    q = 1 - p
    return D**2 * a**2 * (q / p) * ((p - c) / (1 - c)) ** 2


@pytest.mark.parametrize(
    ("theta", "a", "b", "c", "expected_p"),
    [
        (0.0, 1.0, 0.0, 0.2, 0.6),  # at θ = b, P = c + (1 − c)/2
        (1.0, 1.0, 0.0, 0.2, 0.2 + 0.8 / (1 + math.exp(-1.7))),
        (-1.0, 2.0, 0.5, 0.0, 1 / (1 + math.exp(1.7 * 2 * 1.5))),
    ],
)
def test_probability_matches_hand_values(theta, a, b, c, expected_p):
    assert float(probability(theta, a, b, c)) == pytest.approx(expected_p, rel=1e-6)


@pytest.mark.parametrize(
    ("theta", "a", "b", "c"), [(0.0, 1.0, 0.0, 0.2), (1.3, 0.7, -0.4, 0.25), (-2.0, 2.2, 1.0, 0.0)]
)
def test_information_matches_design_formula(theta, a, b, c):
    assert float(information(theta, a, b, c)) == pytest.approx(
        hand_information(theta, a, b, c), rel=1e-5
    )


def test_information_at_b_for_2pl_is_d2a2_over_4():
    assert float(information(0.3, 1.5, 0.3, 0.0)) == pytest.approx(D**2 * 1.5**2 / 4, rel=1e-6)


@pytest.mark.parametrize("c", [0.0, 0.1, 0.25, 0.4])
def test_information_peaks_where_birnbaum_says(c):
    a, b = 1.3, 0.4
    grid = jnp.linspace(-4, 4, 80001)
    peak = float(grid[jnp.argmax(information(grid, a, b, c))])
    expected = b + math.log((1 + math.sqrt(1 + 8 * c)) / 2) / (D * a)
    assert peak == pytest.approx(expected, abs=1e-3)
    if c > 0:
        assert peak > b  # guessing moves the peak above b


def test_functions_broadcast_over_abilities_and_items():
    theta = jnp.linspace(-3, 3, 7)[:, None]
    a, b, c = jnp.ones(5), jnp.linspace(-1, 1, 5), jnp.full(5, 0.2)
    assert probability(theta, a, b, c).shape == (7, 5)
    assert information(theta, a, b, c).shape == (7, 5)
    assert log_likelihood(jnp.ones((7, 5)), theta, a, b, c).shape == (7, 5)


def test_log_likelihood_is_log_of_probability():
    theta, a, b, c = 0.4, 1.2, -0.3, 0.15
    p = hand_probability(theta, a, b, c)
    assert float(log_likelihood(1, theta, a, b, c)) == pytest.approx(math.log(p), rel=1e-5)
    assert float(log_likelihood(0, theta, a, b, c)) == pytest.approx(math.log(1 - p), rel=1e-5)


N = 32
thetas = arrays(np.float32, N, elements=st.floats(-10, 10, width=32))
discriminations = arrays(np.float32, N, elements=st.floats(0.015625, 4, width=32))
difficulties = arrays(np.float32, N, elements=st.floats(-6, 6, width=32))
asymptotes = arrays(np.float32, N, elements=st.floats(0, 0.484375, width=32))


@given(thetas, discriminations, difficulties, asymptotes)
def test_no_nan_or_inf_at_extremes(theta, a, b, c):
    p = np.asarray(probability(theta, a, b, c))
    info = np.asarray(information(theta, a, b, c))
    log_p = np.asarray(log_likelihood(np.ones(N), theta, a, b, c))
    log_q = np.asarray(log_likelihood(np.zeros(N), theta, a, b, c))
    for values in (p, info, log_p, log_q):
        assert np.all(np.isfinite(values))
    assert np.all(p >= c - 1e-6)
    assert np.all(p <= 1.0)
    assert np.all(info >= 0)
    assert np.all(log_p <= 0)
    assert np.all(log_q <= 0)
