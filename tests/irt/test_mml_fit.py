"""MML-EM reaches the maximum and says so: LSAT-7, stalls, the gradient at the estimates."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.irt import ItemParams, MmlSettings, Priors, calibrate_mml, lsat7
from qbank.irt.datasets import LSAT7_3PL_ML_LOGLIK, LSAT7_MIRT_2PL_LOGLIK
from qbank.irt.mml_items import ascent_step, best_step
from tests.irt.marginal import gradient_and_hessian

D = 1.7
NO_PRIORS = Priors()


def simulate_hard(seed, n_persons=600, n_items=32):
    """A 2PL test whose first item is very hard and barely discriminating (a 0.25, b 4)."""
    rng = np.random.default_rng(seed)
    a = np.clip(np.exp(rng.normal(0.0, 0.3, n_items)), 0.4, 2.5)
    b = rng.normal(0.0, 1.0, n_items)
    a[0], b[0] = 0.25, 4.0
    theta = rng.normal(size=(n_persons, 1))
    p = 1 / (1 + np.exp(-D * a * (theta - b)))
    return (rng.random((n_persons, n_items)) < p).astype(float)


@pytest.fixture(scope="module")
def lsat7_2pl():
    patterns, weights = lsat7()
    return calibrate_mml(patterns, weights=weights, settings=MmlSettings(model="2pl"))


@pytest.fixture(scope="module")
def lsat7_3pl_ml():
    patterns, weights = lsat7()
    settings = MmlSettings(model="3pl", priors=NO_PRIORS, max_cycles=2000)
    return calibrate_mml(patterns, weights=weights, settings=settings)


def test_lsat7_2pl_reaches_mirts_maximum(lsat7_2pl):
    assert lsat7_2pl.converged
    assert lsat7_2pl.stop_reason == "converged"
    assert lsat7_2pl.unconverged_items == ()
    assert lsat7_2pl.loglik == pytest.approx(LSAT7_MIRT_2PL_LOGLIK, abs=2e-3)


def test_lsat7_3pl_without_priors_reaches_the_maximum_and_says_c_is_at_its_bound(
    lsat7_2pl, lsat7_3pl_ml
):
    # The old component-clipped M-step stopped at −2658.944, below the 2PL's maximum.
    fit = lsat7_3pl_ml
    assert fit.loglik == pytest.approx(LSAT7_3PL_ML_LOGLIK, abs=2e-3)
    assert fit.loglik >= lsat7_2pl.loglik
    # Four items' c go to 0, the edge of the box: a maximum on the boundary, not a stationary
    # point, so the fit does not call itself converged and names them.
    assert not fit.converged
    assert fit.stop_reason == "at_bound"
    at_zero = tuple(int(i) for i in np.flatnonzero(np.asarray(fit.items.c) < 1e-3))
    assert len(at_zero) == 4
    assert set(fit.unconverged_items) == set(at_zero)
    assert "edge" in fit.message
    assert str(at_zero[0]) in fit.message


@pytest.mark.parametrize("seed", [0, 3])
def test_3pl_without_priors_never_ends_below_the_2pl_maximum(seed):
    responses = simulate_hard(seed)
    two = calibrate_mml(responses, settings=MmlSettings(model="2pl"))
    three = calibrate_mml(responses, settings=MmlSettings(model="3pl", priors=NO_PRIORS))
    assert two.converged
    assert three.loglik >= two.loglik - 1e-6
    # No item is left at its starting values (a = 1, c = 0.2).
    assert not np.any(np.asarray(three.items.a) == 1.0)
    assert not np.any(np.asarray(three.items.c) == np.float32(0.2))


@pytest.mark.parametrize(
    ("data", "model", "priors"),
    [("lsat7", "2pl", NO_PRIORS), ("lsat7", "3pl", None), ("hard", "2pl", NO_PRIORS)],
)
def test_the_gradient_of_the_log_posterior_vanishes_at_the_estimates(data, model, priors):
    """An independent autodiff gradient of the marginal log posterior, in SE units, is ≈ 0."""
    if data == "lsat7":
        responses, weights = lsat7()
    else:
        responses, weights = simulate_hard(3), None
    settings = MmlSettings(model=model, priors=priors)
    fit = calibrate_mml(responses, weights=weights, settings=settings)
    assert fit.converged, fit.message
    gradient, hessian = gradient_and_hessian(fit.items, responses, weights, model,
                                             settings.effective_priors())  # fmt: skip
    sd = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    # |∂ log post / ∂φ|·SD: how far from the maximum, in SEs. Float32 rounding of the returned
    # estimates (1e-7 relative) moves this by < 1e-4.
    assert np.max(np.abs(gradient) * sd) < 5e-3


def test_the_log_posterior_never_decreases_and_ends_at_the_maximum():
    responses = simulate_hard(0)
    fit = calibrate_mml(responses, settings=MmlSettings(model="3pl"))
    log_post = np.array([cycle.log_posterior for cycle in fit.history])
    assert np.all(np.diff(log_post) >= -1e-9 * abs(log_post[0]))
    assert fit.log_posterior >= log_post[-1] - 1e-9 * abs(log_post[0])


def test_max_change_is_the_largest_change_of_one_cycle_from_known_values(lsat7_2pl):
    responses, weights = lsat7()
    start = ItemParams(np.full(5, 0.7), np.array([-1.0, -1.0, -1.0, -1.0, -1.0]), np.zeros(5))
    progress = []
    fit = calibrate_mml(responses, weights=weights, start=start, on_cycle=progress.append,
                        settings=MmlSettings(model="2pl", max_cycles=1))  # fmt: skip
    changes = np.abs(np.concatenate([np.asarray(fit.items.a) - 0.7, np.asarray(fit.items.b) + 1]))
    assert progress[0].max_change == pytest.approx(float(changes.max()), rel=1e-5)
    assert progress[0].max_change > 2 * float(changes.mean())
    assert not fit.converged
    assert fit.stop_reason == "max_cycles"
    assert fit.unconverged_items == (0, 1, 2, 3, 4)
    assert "max_cycles = 1" in fit.message


def test_a_small_change_alone_is_not_convergence():
    """With a loose tol the change test passes early; the gradient test keeps EM going."""
    responses = simulate_hard(0)
    loose = MmlSettings(model="2pl", tol=0.05, gtol=1e-3)
    fit = calibrate_mml(responses, settings=loose)
    early = next(c.cycle for c in fit.history if c.max_change < 0.05)
    assert fit.converged
    assert fit.cycles > early
    assert fit.history[-1].max_gradient < 1e-3 < fit.history[early - 1].max_gradient
    stopped = calibrate_mml(responses, settings=MmlSettings(model="2pl", max_cycles=early))
    assert not stopped.converged
    assert stopped.stop_reason == "max_cycles"
    assert len(stopped.unconverged_items) > 0


def test_a_downhill_direction_leaves_best_step_at_the_start():
    def objective(x):
        return -jnp.sum((x - jnp.array([1.0, 2.0])) ** 2)

    start = jnp.array([0.5, 1.5])
    assert np.array_equal(best_step(objective, start, jnp.array([-1.0, -1.0])), start)
    uphill = best_step(objective, start, jnp.array([0.5, 0.5]))
    np.testing.assert_allclose(uphill, [1.0, 2.0])


def test_the_scoring_step_is_shortened_as_a_whole_keeping_its_direction():
    information = jnp.array([[1.0, 0.0], [0.0, 4.0]])
    score = jnp.array([6.0, 2.0])  # Newton step (6, 0.5): clipping would give (1, 0.5)
    step = np.asarray(ascent_step(score, information))
    assert np.max(np.abs(step)) == pytest.approx(1.0)
    assert step[1] / step[0] == pytest.approx(0.5 / 6.0, rel=1e-2)


def test_the_fit_runs_in_float64_and_leaves_the_default_precision_alone(lsat7_2pl):
    assert jnp.ones(1).dtype == jnp.float32
    assert lsat7_2pl.items.a.dtype == jnp.float32
    assert not jax.config.jax_enable_x64
