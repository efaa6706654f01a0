import jax.numpy as jnp
import numpy as np
import pytest

from qbank.errors import InvalidInputError
from qbank.irt import eap_estimate, make_grid, prior_log_density, update_log_posterior

ITEMS = [(1.2, -0.5, 0.2, 1), (0.8, 0.3, 0.1, 0), (1.9, 1.1, 0.25, 1), (1.0, 0.0, 0.0, 0)]


def brute_force_eap(responses, prior_mean=0.0, prior_sd=1.0):
    """Posterior mean and SD by dense numerical integration over the real line (float64)."""
    theta = np.linspace(-10, 10, 200001)
    density = np.exp(-0.5 * ((theta - prior_mean) / prior_sd) ** 2)
    for a, b, c, correct in responses:
        p = c + (1 - c) / (1 + np.exp(-1.7 * a * (theta - b)))
        density *= p if correct else 1 - p
    density /= np.trapezoid(density, theta)
    mean = np.trapezoid(theta * density, theta)
    sd = np.sqrt(np.trapezoid((theta - mean) ** 2 * density, theta))
    return mean, sd


def run_eap(responses, grid, prior_mean=0.0, prior_sd=1.0):
    log_post = prior_log_density(grid, prior_mean, prior_sd)
    for a, b, c, correct in responses:
        log_post = update_log_posterior(log_post, grid, correct, a, b, c)
    return eap_estimate(log_post, grid)


@pytest.mark.parametrize("n_responses", [0, 1, 2, 4])
def test_eap_matches_numerical_integration(n_responses):
    responses = ITEMS[:n_responses]
    estimate = run_eap(responses, make_grid(61))
    mean, sd = brute_force_eap(responses)
    assert float(estimate.theta_hat) == pytest.approx(mean, abs=2e-3)
    assert float(estimate.posterior_sd) == pytest.approx(sd, abs=2e-3)


def test_prior_mean_and_sd_are_configurable():
    grid = make_grid(81)
    responses = ITEMS[:2]
    estimate = run_eap(responses, grid, prior_mean=0.5, prior_sd=0.8)
    mean, sd = brute_force_eap(responses, 0.5, 0.8)
    assert float(estimate.theta_hat) == pytest.approx(mean, abs=2e-3)
    assert float(estimate.posterior_sd) == pytest.approx(sd, abs=2e-3)


def test_all_correct_moves_up_and_all_wrong_moves_down():
    grid = make_grid()
    up = run_eap([(1.5, 0.0, 0.2, 1)] * 5, grid)
    down = run_eap([(1.5, 0.0, 0.2, 0)] * 5, grid)
    assert float(up.theta_hat) > 0.5
    assert float(down.theta_hat) < -0.5
    assert float(up.posterior_sd) < 1.0


def test_updates_are_batched_over_examinees():
    grid = make_grid()
    log_post = jnp.tile(prior_log_density(grid), (3, 1))
    updated = update_log_posterior(
        log_post,
        grid,
        jnp.array([1, 0, 1]),
        jnp.array([1.0, 1.0, 2.0]),
        jnp.zeros(3),
        jnp.full(3, 0.2),
    )
    single = update_log_posterior(prior_log_density(grid), grid, 0, 1.0, 0.0, 0.2)
    np.testing.assert_allclose(updated[1], single, rtol=1e-6)
    batched = eap_estimate(updated, grid)
    for row in range(3):  # the batch is normalised per examinee, over the grid axis
        alone = eap_estimate(updated[row], grid)
        assert float(batched.theta_hat[row]) == pytest.approx(float(alone.theta_hat), abs=1e-5)
        assert float(batched.posterior_sd[row]) == pytest.approx(
            float(alone.posterior_sd), abs=1e-5
        )
    assert len({round(float(x), 3) for x in batched.theta_hat}) == 3


@pytest.mark.parametrize("n_points", [21, 40])
def test_grid_needs_at_least_41_points(n_points):
    with pytest.raises(InvalidInputError, match="at least 41"):
        make_grid(n_points)
    assert make_grid(41).shape == (41,)
    assert float(make_grid()[0]) == -4.0
