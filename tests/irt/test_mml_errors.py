"""Standard errors from the full observed information: autodiff, ltm, replications."""

import numpy as np
import pytest

from qbank.irt import MmlSettings, calibrate_mml, lsat6, lsat7
from qbank.irt.datasets import LSAT6_LTM_2PL_SE_DIFFICULTY, LSAT6_LTM_2PL_SE_DISCRIMINATION
from tests.irt.marginal import gradient_and_hessian

D = 1.7


def test_lsat6_2pl_standard_errors_match_ltms():
    responses, weights = lsat6()
    fit = calibrate_mml(responses, weights=weights, settings=MmlSettings(model="2pl"))
    # ltm integrates with 21 Gauss–Hermite points, qbank on 61 points: agreement to ~0.1 %.
    se_a = np.asarray(fit.standard_errors.a) * D  # ltm's discrimination is D·a
    np.testing.assert_allclose(se_a, LSAT6_LTM_2PL_SE_DISCRIMINATION, rtol=5e-3)
    np.testing.assert_allclose(fit.standard_errors.b, LSAT6_LTM_2PL_SE_DIFFICULTY, rtol=5e-3)


@pytest.mark.parametrize("model", ["2pl", "3pl"])
def test_standard_errors_are_those_of_the_full_autodiff_hessian(model):
    """Every item and every cross-item block: inverse of the autodiff Hessian of the log
    posterior (priors included for the 3PL), then the delta method to a, b, c."""
    responses, weights = lsat7()
    settings = MmlSettings(model=model)
    fit = calibrate_mml(responses, weights=weights, settings=settings)
    assert fit.converged
    _, hessian = gradient_and_hessian(fit.items, responses, weights, model,
                                      settings.effective_priors())  # fmt: skip
    k = 3 if model == "3pl" else 2
    sd = np.sqrt(np.diag(np.linalg.inv(-hessian))).reshape(5, k)
    a, c = np.asarray(fit.items.a, float), np.asarray(fit.items.c, float)
    np.testing.assert_allclose(fit.standard_errors.a, sd[:, 0] * a, rtol=2e-3)
    np.testing.assert_allclose(fit.standard_errors.b, sd[:, 1], rtol=2e-3)
    if model == "3pl":  # d c / d logit c = c (1 − c)
        np.testing.assert_allclose(fit.standard_errors.c, sd[:, 2] * c * (1 - c), rtol=2e-3)
    if model == "3pl":
        return
    # The cross-item blocks matter: item blocks alone give smaller b errors.
    blocks = [np.linalg.inv(-hessian[i * k : (i + 1) * k, i * k : (i + 1) * k]) for i in range(5)]
    block_sd_b = np.sqrt([block[1, 1] for block in blocks])
    assert np.all(block_sd_b < 0.99 * np.asarray(fit.standard_errors.b))


def simulate(rng, a, b, n_persons):
    theta = rng.normal(size=(n_persons, 1))
    p = 1 / (1 + np.exp(-D * a * (theta - b)))
    return (rng.random((n_persons, a.size)) < p).astype(float)


def two_stage(responses, b, rng):
    """Route on 6 medium items to one of two 6-item blocks (easy or hard) by the number right:
    missing at random as in a CAT, half of the block cells missing."""
    order = np.argsort(b)
    router, easy, hard = order[6:12], order[:6], order[12:]
    score = responses[:, router].sum(axis=1) + rng.uniform(-0.5, 0.5, responses.shape[0])
    observed = np.zeros(responses.shape, bool)
    observed[:, router] = True
    high = score > np.median(score)
    observed[np.ix_(~high, easy)] = True
    observed[np.ix_(high, hard)] = True
    return np.where(observed, responses, np.nan)


@pytest.mark.parametrize("design", ["complete", "adaptive"])
def test_standard_errors_match_the_spread_of_estimates_over_replications(design):
    """12 items (complete) or 18 items routed in two stages, 800 persons, 120 replications:
    the RMS reported SE of a and of b is within 10 % of the RMS empirical SD."""
    rng = np.random.default_rng(2024)
    n_items = 12 if design == "complete" else 18
    a = np.clip(np.exp(rng.normal(0.0, 0.3, n_items)), 0.5, 2.0)
    b = np.linspace(-1.5, 1.5, n_items)
    estimates, errors = [], []
    for _ in range(120):
        responses = simulate(rng, a, b, 800)
        if design == "adaptive":
            responses = two_stage(responses, b, rng)
        fit = calibrate_mml(responses, settings=MmlSettings(model="2pl"))
        estimates.append(np.stack([fit.items.a, fit.items.b]))
        errors.append(np.stack([fit.standard_errors.a, fit.standard_errors.b]))
    empirical_sd = np.std(np.array(estimates), axis=0, ddof=1)  # (2, n_items)
    reported = np.sqrt(np.mean(np.array(errors) ** 2, axis=0))
    for row, name in enumerate("ab"):
        ratio = np.sqrt(np.mean(reported[row] ** 2) / np.mean(empirical_sd[row] ** 2))
        assert 0.9 < ratio < 1.1, (name, ratio)
