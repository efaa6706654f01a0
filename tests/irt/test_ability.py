"""estimate_theta against catR (tests/cat/catr_reference.json) and independent float64 checks.

Tolerances: the modal estimates are roots found in float32, good to about 1e-5 in θ where the
test information is moderate; 2e-4 leaves room for a flat likelihood (one item). SEs are
compared relatively (1e-3): at a bound the information is tiny and its float32 value is only
good to a few digits. catR's EAP integrates by the trapezoid rule and QBank's by the plain sum
over the same 61 points; the test checks catR against a float64 trapezoid and QBank against a
float64 plain sum, so both conventions are pinned.
"""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

from qbank.errors import InvalidInputError
from qbank.irt import AbilityEstimate, ItemParams, estimate_theta, estimate_theta_batched

REFERENCE = json.loads((Path(__file__).parents[1] / "cat" / "catr_reference.json").read_text())
POOL = {name: np.asarray(REFERENCE["pool"][name]) for name in "abc"}
D = 1.7


def _items(indices) -> ItemParams:
    return ItemParams(*(POOL[name][indices] for name in "abc"))


def _case_id(case) -> str:
    return f"{case['pattern']}-{case['method']}"


def _estimate(case) -> AbilityEstimate:
    return estimate_theta(
        _items(case["items"]),
        case["responses"],
        case["method"],
        prior_mean=case.get("prior_mean", 0.0),
        prior_sd=case.get("prior_sd", 1.0),
    )


MODAL = [case for case in REFERENCE["estimates"] if case["method"] != "eap"]
EAP = [case for case in REFERENCE["estimates"] if case["method"] == "eap"]


@pytest.mark.parametrize("case", MODAL, ids=_case_id)
def test_modal_estimates_match_catr(case):
    estimate = _estimate(case)
    assert float(estimate.theta_hat) == pytest.approx(case["theta_hat"], abs=2e-4)
    assert float(estimate.se) == pytest.approx(case["se"], rel=1e-3)


def _p(theta, indices):
    a, b, c = (POOL[name][indices][:, None] for name in "abc")
    return c + (1 - c) / (1 + np.exp(-D * a * (theta - b)))


def _posterior_moments(case, rule):
    """Float64 posterior mean and SD on the 61-point grid, by ``rule`` (trapezoid or sum)."""
    grid = np.linspace(-4, 4, 61)
    x = np.asarray(case["responses"])[:, None]
    p = _p(grid, case["items"])
    mean0, sd0 = case.get("prior_mean", 0.0), case.get("prior_sd", 1.0)
    density = np.exp(-0.5 * ((grid - mean0) / sd0) ** 2) * np.prod(p**x * (1 - p) ** (1 - x), 0)
    weights = np.ones(61)
    if rule == "trapezoid":
        weights[[0, -1]] = 0.5
    density = density * weights
    mean = np.sum(grid * density) / np.sum(density)
    return mean, np.sqrt(np.sum((grid - mean) ** 2 * density) / np.sum(density))


@pytest.mark.parametrize("case", EAP, ids=_case_id)
def test_eap_matches_catr_up_to_the_quadrature_rule(case):
    catr_mean, catr_sd = _posterior_moments(case, "trapezoid")
    assert catr_mean == pytest.approx(case["theta_hat"], abs=1e-8)
    assert catr_sd == pytest.approx(case["se"], abs=1e-8)
    mean, sd = _posterior_moments(case, "sum")
    estimate = _estimate(case)
    assert float(estimate.theta_hat) == pytest.approx(mean, abs=5e-5)
    assert float(estimate.se) == pytest.approx(sd, abs=5e-5)


def _warm_equation(theta, indices, x, method, prior=(0.0, 1.0)):
    """Float64 estimating equations written from Warm (1989) and Magis & Raîche (2012)."""
    a, b, c = (POOL[name][indices] for name in "abc")
    e = np.exp(D * a * (theta - b))
    p = c + (1 - c) * e / (1 + e)
    dp = D * a * e * (1 - c) / (1 + e) ** 2
    d2p = D**2 * a**2 * e * (1 - e) * (1 - c) / (1 + e) ** 3
    q = 1 - p
    value = np.sum(dp * (np.asarray(x) - p) / (p * q))
    if method == "map":
        value += (prior[0] - theta) / prior[1] ** 2
    if method == "wle":
        value += np.sum(dp * d2p / (p * q)) / (2 * np.sum(dp**2 / (p * q)))
    return value


@pytest.mark.parametrize(
    ("method", "indices", "x"),
    [
        ("ml", [0, 1, 2, 3, 4, 5, 6], [1, 0, 1, 1, 0, 0, 1]),
        ("map", [2, 6, 9], [0, 1, 1]),
        ("wle", [0, 1, 2, 3, 4, 5, 6], [1, 0, 1, 1, 0, 0, 1]),
        ("wle", [3, 7, 14], [1, 1, 1]),  # 2PL items: Warm's estimate is finite for all right
        ("wle", [3, 7, 14], [0, 0, 0]),
    ],
)
def test_modal_estimate_is_the_root_of_the_float64_equation(method, indices, x):
    root = brentq(_warm_equation, -4, 4, args=(indices, x, method), xtol=1e-12)
    estimate = estimate_theta(_items(indices), x, method)
    assert float(estimate.theta_hat) == pytest.approx(root, abs=1e-4)


@pytest.mark.parametrize(("responses", "bound"), [([1, 1, 1], 3.0), ([0, 0, 0], -2.5)])
def test_ml_of_a_constant_pattern_is_the_bound(responses, bound):
    items = _items([0, 3, 9])
    estimate = estimate_theta(items, responses, "ml", bounds=(-2.5, 3.0))
    assert float(estimate.theta_hat) == bound
    p = _p(np.array([bound]), [0, 3, 9])[:, 0]
    c = POOL["c"][[0, 3, 9]]
    fisher = np.sum((D * POOL["a"][[0, 3, 9]]) ** 2 * (1 - p) / p * ((p - c) / (1 - c)) ** 2)
    assert float(estimate.se) == pytest.approx(1 / np.sqrt(fisher), rel=1e-3)


def test_map_se_adds_the_prior_precision():
    items, x = _items([0, 1, 2]), [1, 0, 1]
    estimate = estimate_theta(items, x, "map", prior_sd=2.0)
    theta = float(estimate.theta_hat)
    p = _p(np.array([theta]), [0, 1, 2])[:, 0]
    c = POOL["c"][[0, 1, 2]]
    fisher = np.sum((D * POOL["a"][[0, 1, 2]]) ** 2 * (1 - p) / p * ((p - c) / (1 - c)) ** 2)
    assert float(estimate.se) == pytest.approx(1 / np.sqrt(fisher + 0.25), rel=1e-4)


def test_no_response_gives_the_prior_for_the_bayesian_estimators():
    empty = ItemParams(np.zeros(0), np.zeros(0), np.zeros(0))
    map_estimate = estimate_theta(empty, [], "map", prior_mean=0.5, prior_sd=1.5)
    assert float(map_estimate.theta_hat) == pytest.approx(0.5, abs=1e-5)
    assert float(map_estimate.se) == pytest.approx(1.5, abs=1e-6)
    eap = estimate_theta(empty, [], "eap")
    assert float(eap.theta_hat) == pytest.approx(0.0, abs=1e-6)
    assert float(eap.se) == pytest.approx(1.0, abs=1e-3)


def test_batched_matches_one_examinee_and_ignores_masked_positions():
    indices = np.array([[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11, 12, 13, 14]])
    responses = np.array([[1, 0, 1, 1, 0], [0, 0, 1, 0, 1], [1, 1, 1, 1, 1]])
    lengths = np.array([5, 3, 1])
    mask = np.arange(5)[None, :] < lengths[:, None]
    batch_items = ItemParams(*(POOL[name][indices] for name in "abc"))
    for method in ("eap", "map", "ml", "wle"):
        batch = estimate_theta_batched(batch_items, responses, mask, method)
        for row in range(3):
            one = estimate_theta(
                _items(indices[row, : lengths[row]]), responses[row, : lengths[row]], method
            )
            assert float(batch.theta_hat[row]) == pytest.approx(float(one.theta_hat), abs=1e-5)
            assert float(batch.se[row]) == pytest.approx(float(one.se), rel=1e-5)


def test_batched_runs_inside_jit_vmap_and_scan():
    """The masked estimator in the position loop of a simulation: θ̂ after each response."""
    indices = jnp.array([0, 1, 2, 3, 4, 5])
    responses = jnp.array([1, 0, 1, 1, 0, 0])
    items = ItemParams(*(jnp.asarray(POOL[name])[indices] for name in "abc"))

    @jax.jit
    def trace(responses):
        def step(carry, position):
            mask = jnp.arange(6) <= position
            estimate = estimate_theta_batched(items, responses[None], mask[None], "wle")
            return carry, estimate.theta_hat[0]

        return jax.lax.scan(step, 0, jnp.arange(6))[1]

    thetas = trace(responses)
    final = estimate_theta(_items(np.arange(6)), np.asarray(responses), "wle")
    assert float(thetas[-1]) == pytest.approx(float(final.theta_hat), abs=1e-6)
    assert float(thetas[2]) == pytest.approx(
        float(estimate_theta(_items([0, 1, 2]), [1, 0, 1], "wle").theta_hat), abs=1e-6
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "bayes"}, "method must be one of"),
        ({"method": "map", "prior_sd": 0.0}, "prior_sd"),
        ({"method": "ml", "bounds": (1.0, -1.0)}, "bounds"),
        ({"method": "eap", "n_points": 11}, "n_points"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(InvalidInputError, match=message):
        estimate_theta(_items([0, 1]), [1, 0], **kwargs)


def test_bad_responses_are_refused():
    with pytest.raises(InvalidInputError, match="one 0/1 per item"):
        estimate_theta(_items([0, 1]), [1], "eap")
    with pytest.raises(InvalidInputError, match="0 or 1"):
        estimate_theta(_items([0, 1]), [1, 2], "eap")
    empty = ItemParams(np.zeros(0), np.zeros(0), np.zeros(0))
    with pytest.raises(InvalidInputError, match="at least one response"):
        estimate_theta(empty, [], "ml")


def test_carried_grid_log_likelihood_gives_the_same_estimates():
    """A CAT passes the log-likelihood it carries on the grid; the estimates must not change."""
    from qbank.irt import log_likelihood

    indices = np.array([[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 10, 11, 12, 13]])
    responses = np.array([[1, 0, 1, 1, 0, 0, 1], [0, 1, 1, 0, 0, 0, 0]])
    mask = np.arange(7)[None, :] < np.array([[7], [4]])
    items = ItemParams(*(POOL[name][indices] for name in "abc"))
    grid = np.linspace(-4, 4, 61)
    loglik = log_likelihood(responses[:, None, :], grid[None, :, None], items.a[:, None, :],
                            items.b[:, None, :], items.c[:, None, :])  # fmt: skip
    carried = np.sum(np.where(mask[:, None, :], loglik, 0.0), axis=-1)
    for method in ("eap", "map", "ml", "wle"):
        plain = estimate_theta_batched(items, responses, mask, method)
        given = estimate_theta_batched(items, responses, mask, method, grid_log_likelihood=carried)
        np.testing.assert_allclose(given.theta_hat, plain.theta_hat, atol=1e-5)
        np.testing.assert_allclose(given.se, plain.se, rtol=1e-5)
