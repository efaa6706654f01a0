"""Kingsbury–Zara content balancing (qbank.cat.balance), worked by hand and in the simulation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from qbank.cat import synthetic_pool
from qbank.cat.balance import Blueprint, blueprint_met, lacking_topic
from qbank.cat.design import TestDesign
from qbank.cat.simulate import simulate
from qbank.irt import make_grid, prior_log_density
from tests.cat import design_reference as ref

GRID = make_grid()
LOG_PRIOR = prior_log_density(GRID)
simulate_jit = jax.jit(simulate, static_argnames=("test_len", "design"))


def topics_given(topics, blueprint_json, test_len, n=30, seed=0):
    design = TestDesign.from_json({"stopping": {"max_len": test_len}, "blueprint": blueprint_json})
    items = synthetic_pool(jax.random.key(seed), len(topics))
    theta = jax.random.normal(jax.random.key(seed + 1), (n,))
    result = simulate_jit(
        jax.random.key(seed), items, jnp.ones(len(topics)), theta, GRID, LOG_PRIOR,
        test_len=test_len, design=design, blueprint=design.blueprint_for(topics),
    )  # fmt: skip
    administered = np.asarray(result.administered)
    return [[topics[i] for i in row] for row in administered], result


def test_kingsbury_zara_order_worked_by_hand():
    # Gaps (target − share) before each item, 0.5/0.3/0.2: A first (largest target); then B
    # (−.5, .3, .2); C (0, −.2, .2); A (.17, −.03, −.13); B (0, .05, −.05); A (.1, −.1, 0);
    # C (0, −.03, .03); A (.07, .01, −.09); B (0, .05, −.05); A (.06, −.03, −.02).
    topics = ["A", "B", "C"] * 10
    order, _ = topics_given(topics, {"A": 0.5, "B": 0.3, "C": 0.2}, 10)
    assert all(row == list("ABCABACABA") for row in order)


def test_a_topic_out_of_items_is_passed_over():
    # One C item: after it, A and B alone (hand: A B C A B A, then A 0 vs B −.03 → A; B; A; B).
    topics = ["A"] * 10 + ["B"] * 10 + ["C"]
    order, _ = topics_given(topics, {"A": 0.5, "B": 0.3, "C": 0.2}, 10)
    assert all(row == list("ABCABAABAB") for row in order)
    assert order[0] == ref.kingsbury_zara_topics({"A": .5, "B": .3, "C": .2},
                                                 {"A": 10, "B": 10, "C": 1}, 10)  # fmt: skip


def test_ties_go_to_the_first_topic_in_sorted_order():
    topics = ["Zoology", "Anatomy"] * 6
    order, _ = topics_given(topics, {"Zoology": 0.5, "Anatomy": 0.5}, 6)
    assert all(row == ["Anatomy", "Zoology"] * 3 for row in order)


def test_topics_outside_the_blueprint_come_only_when_it_is_exhausted():
    topics = ["A"] * 3 + ["B"] * 2 + ["Other"] * 5
    order, _ = topics_given(topics, {"A": 0.6, "B": 0.4}, 7)
    assert all(sorted(row[:5]) == list("AAABB") and row[5:] == ["Other"] * 2 for row in order)


@pytest.mark.parametrize("seed", [0, 1])
def test_order_matches_the_reference_on_uneven_topics(seed):
    rng = np.random.default_rng(seed)
    names = ["Cardiology", "Neurology", "Renal", "Pulmonary"]
    topics = [names[i] for i in rng.integers(0, 4, size=60)]
    targets = {"Cardiology": 0.4, "Neurology": 0.25, "Renal": 0.2, "Pulmonary": 0.15}
    order, _ = topics_given(topics, targets, 20, n=10, seed=seed)
    counts = {name: topics.count(name) for name in names}
    expected = ref.kingsbury_zara_topics(targets, counts, 20)
    assert all(row == expected for row in order)


def test_lacking_topic_skips_topics_without_available_items():
    blueprint = Blueprint(jnp.array([0, 0, 1, 2]), jnp.array([0.7, 0.3, 0.0]))
    available = jnp.array([False, False, True, True])
    assert int(lacking_topic(blueprint, jnp.zeros(3), available)) == 1


def test_blueprint_met_within_one_item_of_each_target():
    blueprint = Blueprint(jnp.zeros(1, jnp.int32), jnp.array([0.5, 0.3, 0.2, 0.0]))
    # L = 10: targets 5, 3, 2 exactly; L = 7: 3.5, 2.1, 1.4.
    assert bool(blueprint_met(blueprint, jnp.array([5.0, 3, 2, 0])))
    assert not bool(blueprint_met(blueprint, jnp.array([6.0, 2, 2, 0])))
    assert bool(blueprint_met(blueprint, jnp.array([4.0, 2, 1, 0])))
    assert bool(blueprint_met(blueprint, jnp.array([3.0, 3, 1, 0])))
    assert not bool(blueprint_met(blueprint, jnp.array([3.0, 2, 1, 1])))  # an outside item
    assert not bool(blueprint_met(blueprint, jnp.array([5.0, 2, 0, 0])))


def test_balanced_tests_meet_the_blueprint_when_the_pool_allows():
    from qbank.cat.summary import design_metrics

    topics = ["A", "B", "C"] * 10
    design = TestDesign.from_json({"blueprint": {"A": 0.5, "B": 0.3, "C": 0.2}})
    _, result = topics_given(topics, dict(design.blueprint), 10)
    metrics = design_metrics(result.administered, result.theta_hat[:, -1], result.true_theta, 30,
                             jnp.zeros(0), design.blueprint_for(topics))  # fmt: skip
    assert float(metrics.blueprint_met_share) == 1.0
    # The same pool without balancing: max information ignores topics.
    unbalanced = simulate_jit(
        jax.random.key(0), synthetic_pool(jax.random.key(0), 30), jnp.ones(30),
        result.true_theta, GRID, LOG_PRIOR, test_len=10, design=None,
    )  # fmt: skip
    plain = design_metrics(
        unbalanced.administered,
        unbalanced.theta_hat[:, -1],
        result.true_theta,
        30,
        jnp.zeros(0),
        design.blueprint_for(topics),
    )
    assert float(plain.blueprint_met_share) < 1.0
