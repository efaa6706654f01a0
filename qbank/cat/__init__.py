"""Computerized adaptive testing: selection, simulation, S–H calibration (pure jax/numpy)."""

from qbank.cat.balance import Blueprint, blueprint_met, lacking_topic, topic_mask
from qbank.cat.calibration.evaluate import evaluate_design
from qbank.cat.calibration.params import (
    ABILITY_MODES,
    UPDATE_RULES,
    CalibrationParams,
    ThetaDist,
    parse_theta_dist,
)
from qbank.cat.calibration.sh import (
    CalibrationResult,
    IterationProgress,
    calibrate_sh,
    compile_simulation,
    run_simulation,
)
from qbank.cat.calibration.update_rules import update_k, update_k_sympson_hetter
from qbank.cat.design import EXPOSURE_METHODS, Stopping, TestDesign
from qbank.cat.exposure.rmax import under_exposure_cap
from qbank.cat.exposure.sympson_hetter import select_sympson_hetter, select_sympson_hetter_batch
from qbank.cat.metrics import (
    ExposureMetrics,
    PositionPrecision,
    StratumPrecision,
    conditional_exposure_rates,
    exposure_metrics,
    exposure_rates,
    exposure_rates_by_position,
    precision_by_position,
    precision_by_stratum,
    theta_strata,
)
from qbank.cat.select.choose import SELECTORS, choose_next_item, choose_next_items
from qbank.cat.select.context import SelectionContext, selection_context
from qbank.cat.select.max_information import select_vanilla, select_vanilla_batch
from qbank.cat.select.next_item import next_item
from qbank.cat.select.registry import (
    SELECTION_RULES,
    ScoreFn,
    SelectionState,
    choose_by_score,
    make_score_fn,
    register_rule,
)
from qbank.cat.select.rules import RULES, choose_from_scores, rule_scorer
from qbank.cat.simulate import SimResult, simulate
from qbank.cat.stop import StopRules, classify, should_stop
from qbank.cat.summary import DesignMetrics, design_metrics
from qbank.cat.synthetic import synthetic_pool

__all__ = [
    "ABILITY_MODES",
    "EXPOSURE_METHODS",
    "RULES",
    "SELECTION_RULES",
    "SELECTORS",
    "UPDATE_RULES",
    "Blueprint",
    "CalibrationParams",
    "CalibrationResult",
    "DesignMetrics",
    "ExposureMetrics",
    "IterationProgress",
    "PositionPrecision",
    "ScoreFn",
    "SelectionContext",
    "SelectionState",
    "SimResult",
    "StopRules",
    "Stopping",
    "StratumPrecision",
    "TestDesign",
    "ThetaDist",
    "blueprint_met",
    "calibrate_sh",
    "choose_by_score",
    "choose_from_scores",
    "choose_next_item",
    "choose_next_items",
    "classify",
    "compile_simulation",
    "conditional_exposure_rates",
    "design_metrics",
    "evaluate_design",
    "exposure_metrics",
    "exposure_rates",
    "exposure_rates_by_position",
    "lacking_topic",
    "make_score_fn",
    "next_item",
    "parse_theta_dist",
    "precision_by_position",
    "precision_by_stratum",
    "register_rule",
    "rule_scorer",
    "run_simulation",
    "select_sympson_hetter",
    "select_sympson_hetter_batch",
    "select_vanilla",
    "select_vanilla_batch",
    "selection_context",
    "should_stop",
    "simulate",
    "synthetic_pool",
    "theta_strata",
    "topic_mask",
    "under_exposure_cap",
    "update_k",
    "update_k_sympson_hetter",
]
