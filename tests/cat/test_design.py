"""TestDesign: the JSON form, its validation and the arrays it gives the core."""

import numpy as np
import pytest

from qbank.cat.design import TestDesign
from qbank.cat.select.registry import SELECTION_RULES, make_score_fn, register_rule
from qbank.errors import InvalidInputError
from qbank.irt.grid_estimators import ESTIMATORS


def test_defaults_are_todays_cat():
    design = TestDesign.from_json({})
    assert (design.selection, design.estimator, design.exposure) == ("mfi", "eap", "none")
    assert design.stopping.max_len == 25
    assert not design.stopping.variable_length
    assert TestDesign.from_json(design.as_json()) == design


def test_round_trip_of_a_full_design():
    data = {
        "selection": {"rule": "mfi", "options": {}},
        "estimator": "eap",
        "exposure": {"method": "conditional_sympson_hetter", "strata_edges": [-1, 0, 1]},
        "stopping": {"max_len": 40, "min_len": 10, "se": 0.3, "min_info": 0.2, "cut": 0.5,
                     "z": 1.64},
        "blueprint": {"Renal": 0.3, "Cardiology": 0.7},
    }  # fmt: skip
    design = TestDesign.from_json(data)
    assert design.blueprint == (("Cardiology", 0.7), ("Renal", 0.3))
    assert TestDesign.from_json(design.as_json()) == design
    assert hash(design) == hash(TestDesign.from_json(data))
    rules = design.stop_rules()
    assert float(rules.se_max) == pytest.approx(0.3)
    assert float(rules.z) == pytest.approx(1.64)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"selection": {"rule": "nope"}}, "selection rule must be one of"),
        ({"selection": {"rule": "mfi", "options": {"n": 3}}}, "does not take options n"),
        ({"estimator": "mle"}, "estimator must be one of"),
        ({"exposure": {"method": "random"}}, "exposure.method"),
        ({"exposure": {"method": "sympson_hetter", "strata_edges": [0]}}, "only go with"),
        (
            {"exposure": {"method": "conditional_sympson_hetter", "strata_edges": [1, 0]}},
            "increasing",
        ),
        ({"stopping": {"max_len": 0}}, "max_len must be in"),
        ({"stopping": {"max_len": 10, "min_len": 11}}, "min_len must be in"),
        ({"stopping": {"se": 0}}, "stopping.se"),
        ({"stopping": {"se": "0.3"}}, "finite number"),
        ({"stopping": {"min_info": -1}}, "min_info"),
        ({"stopping": {"cut": 9}}, "cut"),
        ({"stopping": {"z": 0}}, "z must be"),
        ({"stopping": {"length": 3}}, "unknown field"),
        ({"blueprint": {"A": 0.5, "B": 0.4}}, "sum to 1"),
        ({"blueprint": {"A": 1.5}}, "proportions"),
        ({"blueprint": {"": 1.0}}, "1 to 200 characters"),
        ({"blueprint": {"A\x00": 1.0}}, "1 to 200 characters"),
        ({"blueprint": [["A", 1.0]]}, "topic: proportion"),
        ({"stoping": {}}, "unknown field"),
        ([], "must be an object"),
    ],
)
def test_bad_designs_are_refused_with_the_field_named(data, message):
    with pytest.raises(InvalidInputError, match=message):
        TestDesign.from_json(data)


def test_blueprint_numbers_topics_in_sorted_order_and_the_rest_last():
    design = TestDesign.from_json({"blueprint": {"B": 0.5, "A": 0.5}})
    blueprint = design.blueprint_for(["B", "X", "A"])
    assert np.asarray(blueprint.item_topic).tolist() == [1, 2, 0]
    assert np.asarray(blueprint.targets).tolist() == [0.5, 0.5, 0.0]
    assert TestDesign().blueprint_for(["A"]) is None


def test_registered_rules_become_valid_design_choices():
    def factory(width: float = 1.0):
        return lambda state, items: -abs(items.b - state.theta_hat) * width

    register_rule("closest_b", factory)
    try:
        design = TestDesign.from_json({"selection": {"rule": "closest_b", "options": {"width": 2}}})
        assert design.selection_options == (("width", 2),)
        assert callable(make_score_fn("closest_b", design.selection_options))
    finally:
        del SELECTION_RULES["closest_b"]
    assert set(ESTIMATORS) >= {"eap"}


def test_simulation_selects_by_a_registered_rule():
    import jax
    import jax.numpy as jnp

    from qbank.cat import synthetic_pool
    from qbank.cat.simulate import simulate
    from qbank.irt import make_grid, prior_log_density

    register_rule("closest_b", lambda: lambda state, items: -jnp.abs(items.b - state.theta_hat))
    try:
        design = TestDesign.from_json({"selection": {"rule": "closest_b"},
                                       "stopping": {"max_len": 3}})  # fmt: skip
        items = synthetic_pool(jax.random.key(0), 20)
        grid = make_grid()
        result = simulate(jax.random.key(1), items, jnp.ones(20), jnp.zeros(4), grid,
                          prior_log_density(grid), 3, design=design)  # fmt: skip
    finally:
        del SELECTION_RULES["closest_b"]
    b = np.asarray(items.b)
    assert (np.asarray(result.administered)[:, 0] == np.argmin(np.abs(b))).all()
