"""Stopping rules (qbank.cat.stop) alone and inside the simulation, against numpy references."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import synthetic_pool
from qbank.cat.design import TestDesign
from qbank.cat.simulate import simulate
from qbank.cat.stop import classify, should_stop
from qbank.irt import ItemParams, make_grid, prior_log_density
from tests.cat import design_reference as ref

GRID = make_grid()
LOG_PRIOR = prior_log_density(GRID)
simulate_jit = jax.jit(simulate, static_argnames=("test_len", "design"))


def rules(**stopping):
    return TestDesign.from_json({"stopping": stopping}).stop_rules()


def stop(r, n_given, theta_hat=0.0, se=1.0, max_info=10.0):
    return bool(should_stop(r, jnp.int32(n_given), jnp.float32(theta_hat), jnp.float32(se),
                            jnp.float32(max_info)))  # fmt: skip


def test_fixed_length_stops_at_max_len_only():
    r = rules(max_len=5)
    assert [stop(r, n) for n in (0, 4, 5)] == [False, False, True]


def test_se_rule_fires_at_its_threshold_after_min_len():
    r = rules(max_len=30, min_len=3, se=0.3)
    assert not stop(r, 5, se=0.31)
    assert stop(r, 5, se=0.3)
    assert not stop(r, 2, se=0.1)  # below the minimum length


def test_min_info_rule_fires_below_its_threshold():
    r = rules(max_len=30, min_info=0.5)
    assert not stop(r, 4, max_info=0.5)
    assert stop(r, 4, max_info=0.49)


def test_classification_fires_once_the_interval_excludes_the_cut():
    r = rules(max_len=30, cut=0.5, z=2.0)
    assert not stop(r, 4, theta_hat=1.1, se=0.3)  # 1.1 − 0.6 = 0.5: touches the cut
    assert stop(r, 4, theta_hat=1.11, se=0.3)
    assert stop(r, 4, theta_hat=-0.11, se=0.3)
    assert not stop(r, 4, theta_hat=-0.09, se=0.3)
    assert bool(classify(jnp.float32(0.5), jnp.float32(0.5)))
    assert not bool(classify(jnp.float32(0.49), jnp.float32(0.5)))


def test_rules_that_are_off_never_fire():
    r = rules(max_len=30)
    assert not stop(r, 29, theta_hat=3.9, se=1e-6, max_info=0.0)


IDENTICAL = ItemParams(jnp.full(12, 1.2), jnp.full(12, 0.3), jnp.full(12, 0.1))


def simulate_design(items, design, n=200, seed=0, topics=None):
    theta = jax.random.normal(jax.random.key(seed + 1), (n,))
    blueprint = design.blueprint_for(topics) if topics is not None else None
    result = simulate_jit(
        jax.random.key(seed), items, jnp.ones(items.a.shape[0]), theta, GRID, LOG_PRIOR,
        test_len=design.stopping.max_len, design=design, blueprint=blueprint,
    )  # fmt: skip
    return result, theta


def reference_length(items, responses, administered, stopping):
    """First length at which a rule fires, by numpy EAP on the responses the simulation drew."""
    a, b, c = (np.asarray(x, np.float64) for x in items)
    for n in range(stopping["max_len"]):
        if n >= stopping.get("min_len", 1):
            given = administered[:n]
            theta_hat, se = ref.eap(a[given], b[given], c[given], responses[:n])
            left = np.setdiff1d(np.arange(a.shape[0]), given)
            max_info = ref.info(theta_hat, a[left], b[left], c[left]).max()
            if "se" in stopping and se <= stopping["se"]:
                return n
            if "min_info" in stopping and max_info < stopping["min_info"]:
                return n
            if "cut" in stopping and abs(theta_hat - stopping["cut"]) > stopping["z"] * se:
                return n
    return stopping["max_len"]


@pytest.mark.parametrize(
    "stopping",
    [
        {"max_len": 10, "min_len": 2, "se": 0.62},
        {"max_len": 10, "min_len": 1, "cut": 0.4, "z": 1.0},
        {"max_len": 10, "min_len": 3, "cut": -0.5, "z": 1.64, "se": 0.5},
    ],
)
def test_lengths_match_the_reference_on_a_pool_of_identical_items(stopping):
    result, _ = simulate_design(IDENTICAL, TestDesign.from_json({"stopping": stopping}))
    administered, responses = np.asarray(result.administered), np.asarray(result.responses)
    lengths = np.asarray(result.test_length)
    assert len(set(lengths.tolist())) > 1  # the rule does end tests at different lengths
    for row in range(lengths.shape[0]):
        expected = reference_length(IDENTICAL, responses[row], administered[row], stopping)
        # The grid posterior is float32 in qbank: a simulee on the threshold may differ by one.
        if lengths[row] != expected:
            theta_hat, se = ref.eap(
                *(np.asarray(x)[administered[row, : lengths[row]]] for x in IDENTICAL),
                responses[row, : lengths[row]],
            )
            assert abs(lengths[row] - expected) == 1, (row, lengths[row], expected)
            margin = abs(abs(theta_hat - stopping.get("cut", 0)) - stopping.get("z", 0) * se)
            assert abs(se - stopping.get("se", -9)) < 1e-4 or margin < 1e-4
        assert (administered[row, lengths[row] :] == -1).all()
        assert (administered[row, : lengths[row]] >= 0).all()


def test_min_info_rule_on_a_varied_pool_matches_the_reference():
    items = synthetic_pool(jax.random.key(3), 30)
    stopping = {"max_len": 25, "min_len": 2, "min_info": 1.2}
    result, _ = simulate_design(items, TestDesign.from_json({"stopping": stopping}), n=100)
    administered, responses = np.asarray(result.administered), np.asarray(result.responses)
    lengths = np.asarray(result.test_length)
    assert lengths.min() < 25
    mismatches = sum(
        lengths[row] != reference_length(items, responses[row], administered[row], stopping)
        for row in range(100)
    )
    assert mismatches <= 2  # float32 vs float64 at a threshold, at most a couple of simulees


def test_min_len_holds_back_a_rule_that_always_fires():
    design = TestDesign.from_json({"stopping": {"max_len": 8, "min_len": 3, "se": 5.0}})
    result, _ = simulate_design(IDENTICAL, design, n=20)
    assert np.asarray(result.test_length).tolist() == [3] * 20


def test_a_stopped_test_keeps_its_last_estimate():
    design = TestDesign.from_json({"stopping": {"max_len": 8, "min_len": 2, "se": 5.0}})
    result, _ = simulate_design(IDENTICAL, design, n=20)
    theta_hat = np.asarray(result.theta_hat)
    assert (theta_hat[:, 1:] == theta_hat[:, 1:2]).all()
    assert not np.asarray(result.responses)[:, 2:].any()


def test_fixed_length_design_is_todays_simulation():
    items = synthetic_pool(jax.random.key(0), 40)
    theta = jax.random.normal(jax.random.key(1), (50,))
    k = jnp.full(40, 0.6)
    plain = simulate(jax.random.key(2), items, k, theta, GRID, LOG_PRIOR, 10)
    designed = simulate(jax.random.key(2), items, k, theta, GRID, LOG_PRIOR, 10,
                        design=TestDesign.from_json({"stopping": {"max_len": 10}}))  # fmt: skip
    np.testing.assert_array_equal(plain.administered, designed.administered)
    assert np.asarray(designed.test_length).tolist() == [10] * 50
