"""MML-EM item calibration: published estimates, recovery, monotone EM, errors, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.errors import InvalidInputError
from qbank.irt import ItemParams, MmlSettings, Priors, calibrate_mml, lsat6
from qbank.irt.datasets import (
    LSAT6_LTM_2PL_DIFFICULTY,
    LSAT6_LTM_2PL_DISCRIMINATION,
    LSAT6_LTM_2PL_LOGLIK,
    LSAT6_LTM_RASCH_DISCRIMINATION,
    LSAT6_LTM_RASCH_LOGLIK,
)

D = 1.7


def simulate(seed, n_persons, n_items, model):
    rng = np.random.default_rng(seed)
    a = np.clip(np.exp(rng.normal(0.0, 0.3, n_items)), 0.4, 2.5)
    b = rng.normal(0.0, 1.0, n_items)
    c = rng.uniform(0.1, 0.25, n_items) if model == "3pl" else np.zeros(n_items)
    theta = rng.normal(size=(n_persons, 1))
    p = c + (1 - c) / (1 + np.exp(-D * a * (theta - b)))
    return (rng.random((n_persons, n_items)) < p).astype(float), ItemParams(a, b, c)


def rmse(estimate, truth):
    return float(np.sqrt(np.mean((np.asarray(estimate) - np.asarray(truth)) ** 2)))


@pytest.fixture(scope="module")
def lsat_2pl():
    responses, weights = lsat6()
    settings = MmlSettings(model="2pl", tol=1e-6, max_cycles=2000)
    return calibrate_mml(responses, weights=weights, settings=settings)


def test_lsat6_2pl_reproduces_ltm_to_two_decimals(lsat_2pl):
    assert lsat_2pl.converged
    # ltm's discrimination is D·a in our D = 1.7 metric; b is the same in both.
    np.testing.assert_allclose(
        np.asarray(lsat_2pl.items.a) * D, LSAT6_LTM_2PL_DISCRIMINATION, atol=5e-3
    )
    np.testing.assert_allclose(lsat_2pl.items.b, LSAT6_LTM_2PL_DIFFICULTY, atol=5e-3)
    assert lsat_2pl.loglik == pytest.approx(LSAT6_LTM_2PL_LOGLIK, abs=0.01)
    assert np.all(np.asarray(lsat_2pl.items.c) == 0)


@pytest.fixture(scope="module")
def lsat_1pl():
    responses, weights = lsat6()
    settings = MmlSettings(model="1pl", tol=1e-6, max_cycles=2000)
    return calibrate_mml(responses, weights=weights, settings=settings)


def test_lsat6_1pl_reproduces_ltm_rasch(lsat_1pl):
    a = np.asarray(lsat_1pl.items.a)
    assert np.all(a == a[0])
    assert a[0] * D == pytest.approx(LSAT6_LTM_RASCH_DISCRIMINATION, abs=5e-3)
    assert lsat_1pl.loglik == pytest.approx(LSAT6_LTM_RASCH_LOGLIK, abs=0.01)


def lsat_marginal(log_a, b):
    """Marginal log-likelihood of LSAT-6 under 2PL items (log a, b), θ ~ N(0, 1) on the grid."""
    responses, weights = lsat6()
    grid = jnp.linspace(-6.0, 6.0, 61)
    log_w = -0.5 * grid**2 - jax.nn.logsumexp(-0.5 * grid**2)
    z = D * jnp.exp(log_a) * (grid[:, None] - b)
    log_p = responses @ jax.nn.log_sigmoid(z).T + (1 - responses) @ jax.nn.log_sigmoid(-z).T
    return weights @ jax.nn.logsumexp(log_p + log_w, axis=1)


def test_1pl_standard_errors_come_from_the_full_information(lsat_1pl):
    """The common a couples all items: errors from the full Hessian of (log a, b_1 … b_5)."""
    a, b = float(lsat_1pl.items.a[0]), jnp.asarray(lsat_1pl.items.b)
    hessian = jax.jit(jax.hessian(lambda x: lsat_marginal(jnp.full(5, x[0]), x[1:])))(
        jnp.concatenate([jnp.log(jnp.full(1, a)), b])
    )
    sd = np.sqrt(np.diag(np.linalg.inv(-np.asarray(hessian))))
    np.testing.assert_allclose(lsat_1pl.standard_errors.a, sd[0] * a, rtol=2e-3)
    np.testing.assert_allclose(lsat_1pl.standard_errors.b, sd[1:], rtol=2e-3)


@pytest.mark.parametrize(
    ("model", "max_rmse"),
    [("2pl", {"a": 0.06, "b": 0.05}), ("3pl", {"a": 0.10, "b": 0.10, "c": 0.05})],
)
def test_recovers_parameters_of_50_items_and_5000_complete_persons(model, max_rmse):
    responses, truth = simulate(7, 5000, 50, model)
    result = calibrate_mml(responses, settings=MmlSettings(model=model))
    assert result.converged
    for name, bound in max_rmse.items():
        assert rmse(getattr(result.items, name), getattr(truth, name)) < bound, name
    # EM never lowers the log posterior (the log-likelihood where there are no priors): the
    # fit runs in float64, whose rounding of a sum over 5 000 persons is ~1e-10.
    log_posterior = np.array([cycle.log_posterior for cycle in result.history])
    assert np.all(np.diff(log_posterior) >= -1e-12 * abs(log_posterior[0]))
    if model == "2pl":
        np.testing.assert_array_equal(log_posterior, [c.loglik for c in result.history])
    # The reported standard errors describe the actual estimation error (within 35 %).
    for name in max_rmse:
        typical_se = float(np.sqrt(np.mean(np.asarray(getattr(result.standard_errors, name)) ** 2)))
        error = rmse(getattr(result.items, name), getattr(truth, name))
        assert 0.65 < error / typical_se < 1.35, name


def multistage_design(responses, truth, seed):
    """A two-stage adaptive design: 10 medium items for all, then one of four 10-item blocks by
    the number right on the first stage. Routing depends only on observed responses (missing at
    random), as in a CAT; 60 % of the cells are missing."""
    order = np.argsort(np.asarray(truth.b))
    router = order[20:30]
    blocks = [order[0:10], order[10:20], order[30:40], order[40:50]]
    score = responses[:, router].sum(axis=1)
    rng = np.random.default_rng(seed)
    level = np.digitize(score + rng.uniform(-0.5, 0.5, score.shape), [3.5, 5.5, 7.5])
    observed = np.zeros(responses.shape, bool)
    observed[:, router] = True
    for index, block in enumerate(blocks):
        observed[np.ix_(level == index, block)] = True
    return observed


def test_recovers_parameters_from_a_sparse_adaptive_design():
    responses, truth = simulate(11, 5000, 50, "2pl")
    observed = multistage_design(responses, truth, 11)
    assert observed.mean() == pytest.approx(0.4)
    masked = np.where(observed, responses, np.nan)
    result = calibrate_mml(masked, settings=MmlSettings(model="2pl"))
    assert result.converged
    # Block items have ~1 250 respondents of a narrow θ range: a's SEs are near 0.13 here.
    assert rmse(result.items.a, truth.a) < 0.15
    assert rmse(result.items.b, truth.b) < 0.08


def test_same_input_gives_the_same_numbers(lsat_2pl):
    responses, weights = lsat6()
    settings = MmlSettings(model="2pl", tol=1e-6, max_cycles=2000)
    again = calibrate_mml(responses, weights=weights, settings=settings)
    np.testing.assert_array_equal(again.items.a, lsat_2pl.items.a)
    np.testing.assert_array_equal(again.standard_errors.b, lsat_2pl.standard_errors.b)


def test_anchor_items_keep_their_values_and_progress_is_reported(lsat_2pl):
    responses, weights = lsat6()
    start = ItemParams(np.full(5, 0.5), np.array([-3.0, -1.0, 0.0, -2.0, -3.0]), np.zeros(5))
    anchors = np.array([True, False, False, False, False])
    cycles = []
    result = calibrate_mml(responses, weights=weights, settings=MmlSettings(model="2pl"),
                           start=start, anchors=anchors, on_cycle=cycles.append)  # fmt: skip
    assert (float(result.items.a[0]), float(result.items.b[0])) == (0.5, -3.0)
    assert np.isnan(result.standard_errors.a[0])
    assert np.all(np.isfinite(result.standard_errors.b[1:]))
    assert [c.cycle for c in cycles] == list(range(1, result.cycles + 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"responses": [[0, 2], [1, 0]]}, "scores must be 0 or 1"),
        ({"responses": [[0, np.nan], [1, np.nan]]}, "item 1 was answered by nobody"),
        ({"responses": [0, 1]}, "matrix"),
        ({"responses": [[0, 1]], "weights": [-1.0]}, "weights"),
        ({"responses": [[0, 1]], "anchors": [True, False]}, "start values"),
    ],
)
def test_bad_input_is_refused(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        calibrate_mml(**kwargs)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"model": "4pl"}, "model must be one of"),
        ({"tol": 0.0}, "tol"),
        ({"max_cycles": 0}, "max_cycles"),
        ({"priors": Priors(c_beta=(0.5, 2.0))}, "c_beta"),
        ({"priors": Priors(a_lognormal=(0.0, 0.0))}, "a_lognormal"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(InvalidInputError, match=message):
        MmlSettings(**settings)
