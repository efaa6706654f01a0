"""Item response theory: the 3PL model, ability estimation (EAP, MAP, ML, WLE), MML calibration."""

from qbank.irt.ability import (
    AbilityEstimate,
    estimate_theta,
    estimate_theta_batched,
)
from qbank.irt.datasets import lsat6, lsat7
from qbank.irt.eap import (
    EapEstimate,
    eap_estimate,
    make_grid,
    prior_log_density,
    update_log_posterior,
)
from qbank.irt.grid_estimators import (
    ESTIMATORS,
    EstimatorFn,
    GridPosterior,
    estimator_fn,
    register_estimator,
)
from qbank.irt.mml import (
    DEFAULT_PRIORS,
    MODELS,
    CycleProgress,
    MmlResult,
    MmlSettings,
    Priors,
    calibrate_mml,
)
from qbank.irt.model import (
    DEFAULT_A,
    DEFAULT_B,
    DEFAULT_C,
    MAX_A,
    MAX_ABS_B,
    ItemParams,
    information,
    log_likelihood,
    probability,
)
from qbank.irt.responses import simulate_responses

__all__ = [
    "DEFAULT_A",
    "DEFAULT_B",
    "DEFAULT_C",
    "DEFAULT_PRIORS",
    "ESTIMATORS",
    "MAX_A",
    "MAX_ABS_B",
    "MODELS",
    "AbilityEstimate",
    "CycleProgress",
    "EapEstimate",
    "EstimatorFn",
    "GridPosterior",
    "ItemParams",
    "MmlResult",
    "MmlSettings",
    "Priors",
    "calibrate_mml",
    "eap_estimate",
    "estimate_theta",
    "estimate_theta_batched",
    "estimator_fn",
    "information",
    "log_likelihood",
    "lsat6",
    "lsat7",
    "make_grid",
    "prior_log_density",
    "probability",
    "register_estimator",
    "simulate_responses",
    "update_log_posterior",
]
