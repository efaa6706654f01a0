"""issue 19's rules and estimators in a test design: the simulation and next_item agree."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import next_item
from qbank.cat.design import TestDesign
from qbank.cat.select.registry import SELECTION_RULES
from qbank.cat.simulate import simulate
from qbank.irt import ESTIMATORS, ItemParams, estimate_theta, make_grid, prior_log_density

RULES = ("mfi", "mlwi", "mpwi", "mepv", "kl", "klp", "randomesque", "progressive", "astrat")
DETERMINISTIC = ("mfi", "mlwi", "mpwi", "mepv", "kl", "klp", "astrat")


def pool(n_items=30, seed=4):
    rng = np.random.default_rng(seed)
    return ItemParams(
        jnp.asarray(rng.uniform(0.6, 2.0, n_items), jnp.float32),
        jnp.asarray(rng.normal(0, 1, n_items), jnp.float32),
        jnp.asarray(rng.uniform(0.1, 0.25, n_items), jnp.float32),
    )


def run(design, items, n=48, seed=0):
    grid = make_grid()
    true_theta = jnp.linspace(-2.0, 2.0, n)
    return simulate(
        jax.random.key(seed), items, jnp.ones(items.a.shape[0]), true_theta, grid,
        prior_log_density(grid), design.stopping.max_len, design=design,
    )  # fmt: skip


def test_every_rule_of_issue_19_is_in_the_registry():
    assert set(RULES) <= set(SELECTION_RULES)
    assert set(ESTIMATORS) >= {"eap", "map", "ml", "wle"}


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_runs_in_the_simulation_without_repeating_an_item(rule):
    items = pool()
    design = TestDesign.from_json({"selection": {"rule": rule}, "stopping": {"max_len": 6}})
    result = run(design, items)
    administered = np.asarray(result.administered)
    assert administered.shape == (48, 6)
    for row in administered:
        assert len(set(row.tolist())) == 6
        assert row.min() >= 0
    assert np.all(np.isfinite(np.asarray(result.theta_hat)))


@pytest.mark.parametrize("rule", DETERMINISTIC)
def test_the_first_two_choices_match_next_item(rule):
    """The design step and next_item choose the same items from the same evidence."""
    items = pool()
    design = TestDesign.from_json({"selection": {"rule": rule}, "stopping": {"max_len": 2}})
    result = run(design, items, n=12)
    administered = np.asarray(result.administered)
    responses = np.asarray(result.responses).astype(int)
    theta_hat = np.asarray(result.theta_hat)
    options = {"test_len": 2} if rule == "astrat" else {}
    first = next_item(items, [], [], rule, theta_hat=0.0, **options)
    assert set(administered[:, 0].tolist()) == {first}
    for row, answers, thetas in zip(administered, responses, theta_hat, strict=True):
        second = next_item(items, [int(row[0])], [int(answers[0])], rule,
                           theta_hat=float(thetas[0]), **options)  # fmt: skip
        assert int(row[1]) == second


@pytest.mark.parametrize("estimator", ["map", "ml", "wle"])
def test_each_estimator_runs_in_the_simulation_as_estimate_theta_does(estimator):
    items = pool()
    design = TestDesign.from_json({"estimator": estimator, "stopping": {"max_len": 5}})
    result = run(design, items, n=16)
    administered = np.asarray(result.administered)
    responses = np.asarray(result.responses).astype(int)
    theta_hat, se = np.asarray(result.theta_hat), np.asarray(result.posterior_sd)
    for row, answers, thetas, ses in zip(administered, responses, theta_hat, se, strict=True):
        given = ItemParams(*(np.asarray(x)[row] for x in items))
        expected = estimate_theta(given, answers, estimator)
        assert thetas[-1] == pytest.approx(float(expected.theta_hat), abs=2e-3)
        assert ses[-1] == pytest.approx(float(expected.se), rel=2e-3)
