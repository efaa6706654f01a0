"""Simulated response matrices: right shape, 0/1, the 3PL's rates, reproducible, checked input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.errors import InvalidInputError
from qbank.irt import ItemParams, probability, simulate_responses

ITEMS = ItemParams(
    jnp.array([0.5, 1.0, 2.0]), jnp.array([-1.0, 0.0, 1.5]), jnp.array([0.0, 0.2, 0.3])
)


def test_responses_are_zero_or_one_per_simulee_and_item():
    responses = simulate_responses(jax.random.key(1), ITEMS, jnp.linspace(-2.0, 2.0, 7))
    assert responses.shape == (7, 3)
    assert set(np.unique(np.asarray(responses))) <= {0.0, 1.0}


@pytest.mark.parametrize("theta", [-10.0, 0.4, 10.0])
def test_share_correct_is_the_3pl_probability_within_4_se(theta):
    n_simulees = 20_000
    responses = simulate_responses(jax.random.key(7), ITEMS, jnp.full(n_simulees, theta))
    expected = np.asarray(probability(theta, ITEMS.a, ITEMS.b, ITEMS.c))
    se = np.sqrt(expected * (1 - expected) / n_simulees)
    # At θ = −10 the share is c (the guessing floor); at θ = 10 every answer is right.
    assert np.all(np.abs(np.asarray(responses.mean(axis=0)) - expected) <= 4 * se + 1e-6)


def test_same_key_gives_the_same_responses_and_another_key_others():
    theta = jnp.zeros(500)
    first = simulate_responses(jax.random.key(3), ITEMS, theta)
    np.testing.assert_array_equal(first, simulate_responses(jax.random.key(3), ITEMS, theta))
    assert not np.array_equal(first, simulate_responses(jax.random.key(4), ITEMS, theta))


@pytest.mark.parametrize(
    ("items", "theta", "message"),
    [
        (ITEMS, jnp.zeros((2, 2)), "true_theta"),
        (ITEMS, jnp.array([0.0, jnp.nan]), "true_theta"),
        (ItemParams(jnp.ones(3), jnp.zeros(2), jnp.zeros(3)), jnp.zeros(2), "one length"),
    ],
)
def test_bad_input_is_refused(items, theta, message):
    with pytest.raises(InvalidInputError, match=message):
        simulate_responses(jax.random.key(0), items, theta)
