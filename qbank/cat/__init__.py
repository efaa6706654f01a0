"""Computerized adaptive testing: selection, simulation, S–H calibration (pure jax/numpy)."""

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
from qbank.cat.select.rules import RULES, choose_from_scores, rule_scorer
from qbank.cat.simulate import SimResult, simulate
from qbank.cat.synthetic import synthetic_pool

__all__ = [
    "ABILITY_MODES",
    "RULES",
    "SELECTORS",
    "UPDATE_RULES",
    "CalibrationParams",
    "CalibrationResult",
    "ExposureMetrics",
    "IterationProgress",
    "PositionPrecision",
    "SelectionContext",
    "SimResult",
    "StratumPrecision",
    "ThetaDist",
    "calibrate_sh",
    "choose_from_scores",
    "choose_next_item",
    "choose_next_items",
    "compile_simulation",
    "conditional_exposure_rates",
    "exposure_metrics",
    "exposure_rates",
    "exposure_rates_by_position",
    "next_item",
    "parse_theta_dist",
    "precision_by_position",
    "precision_by_stratum",
    "rule_scorer",
    "run_simulation",
    "select_sympson_hetter",
    "select_sympson_hetter_batch",
    "select_vanilla",
    "select_vanilla_batch",
    "selection_context",
    "simulate",
    "synthetic_pool",
    "theta_strata",
    "under_exposure_cap",
    "update_k",
    "update_k_sympson_hetter",
]
