"""Calibrating exposure parameters by simulation: S–H's k, its settings and its loop."""

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

__all__ = [
    "ABILITY_MODES",
    "UPDATE_RULES",
    "CalibrationParams",
    "CalibrationResult",
    "IterationProgress",
    "ThetaDist",
    "calibrate_sh",
    "compile_simulation",
    "parse_theta_dist",
    "run_simulation",
    "update_k",
    "update_k_sympson_hetter",
]
