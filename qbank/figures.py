"""The precision of computed figures: 6 significant digits, everywhere a figure leaves QBank.

The numeric core computes in float32 (the CAT simulation, EAP scoring) or float64 (MML); its
figures (θ̂, SE, exposure rates, max_over, log-likelihoods, estimates) carry digits that mean
nothing, e.g. ``0.8000000715255737`` for a float32 0.8. Services round every *computed* figure
with :func:`round_figure` before storing or returning it. Values a user entered (a, b, c, sh_p,
tau, …) are stored as float64 and returned untouched, never through this module.

Six significant digits keep every figure a float32 computation can resolve (about 7) and drop
its noise; ``round_figure(float(np.float32(x))) == x`` for any x written with at most 6.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["SIGNIFICANT_DIGITS", "round_figure", "round_figures"]

SIGNIFICANT_DIGITS = 6


def round_figure(value: float, digits: int = SIGNIFICANT_DIGITS) -> float:
    """``value`` to ``digits`` significant digits, as a Python float (non-finite values kept)."""
    number = float(value)
    if number == 0 or not math.isfinite(number):
        return number
    return float(f"{number:.{digits - 1}e}")


def round_figures(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """Every float in a JSON-like structure (dicts, lists, tuples) rounded; other values kept."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return round_figure(value, digits)
    if isinstance(value, dict):
        return {key: round_figures(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [round_figures(item, digits) for item in value]
    if hasattr(value, "dtype") and getattr(value, "ndim", None) == 0:  # a numpy/jax scalar
        return round_figures(value.item(), digits)
    return value
