"""Small published response data sets, with published estimates to check a calibration against."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

import numpy as np

__all__ = [
    "LSAT6_FREQUENCIES",
    "LSAT6_LTM_2PL_DIFFICULTY",
    "LSAT6_LTM_2PL_DISCRIMINATION",
    "LSAT6_LTM_2PL_LOGLIK",
    "LSAT6_LTM_2PL_SE_DIFFICULTY",
    "LSAT6_LTM_2PL_SE_DISCRIMINATION",
    "LSAT6_LTM_RASCH_DISCRIMINATION",
    "LSAT6_LTM_RASCH_LOGLIK",
    "LSAT7_3PL_ML_LOGLIK",
    "LSAT7_FREQUENCIES",
    "LSAT7_MIRT_2PL_LOGLIK",
    "lsat6",
    "lsat7",
]

# LSAT section 6 (Bock & Lieberman 1970): 1000 examinees, 5 items, as pattern frequencies (the
# two patterns nobody gave, 01010 and 01100, are left out). Shipped as R ltm's `LSAT` data set.
LSAT6_FREQUENCIES: Final = MappingProxyType({
    "00000": 3, "00001": 6, "00010": 2, "00011": 11, "00100": 1, "00101": 1, "00110": 3,
    "00111": 4, "01000": 1, "01001": 8, "01011": 16, "01101": 3, "01110": 2, "01111": 15,
    "10000": 10, "10001": 29, "10010": 14, "10011": 81, "10100": 3, "10101": 28, "10110": 15,
    "10111": 80, "11000": 16, "11001": 56, "11010": 21, "11011": 173, "11100": 11, "11101": 61,
    "11110": 28, "11111": 298,
})  # fmt: skip

# Published 2PL MML estimates: R ltm, `ltm(LSAT ~ z1)` (Rizopoulos 2006, J. Stat. Softw. 17(5),
# and the package's documentation): logistic metric without D (divide by 1.7 for qbank's a),
# θ ~ N(0, 1).
LSAT6_LTM_2PL_DISCRIMINATION: Final = (0.8253715, 0.7229499, 0.8904748, 0.6885502, 0.6574516)
LSAT6_LTM_2PL_DIFFICULTY: Final = (-3.3597341, -1.3696497, -0.2798983, -1.8659189, -3.1235725)
LSAT6_LTM_2PL_LOGLIK: Final = -2466.653
# Their standard errors, `summary(ltm(LSAT ~ z1))`, from ltm's Hessian of the marginal.
LSAT6_LTM_2PL_SE_DISCRIMINATION: Final = (0.2581, 0.1867, 0.2326, 0.1852, 0.2100)
LSAT6_LTM_2PL_SE_DIFFICULTY: Final = (0.8669, 0.3073, 0.0997, 0.4341, 0.8700)
# `rasch(LSAT)`: one discrimination common to all items, estimated.
LSAT6_LTM_RASCH_DISCRIMINATION: Final = 0.755
LSAT6_LTM_RASCH_LOGLIK: Final = -2466.938

# LSAT section 7 (Bock & Lieberman 1970; Bock & Aitkin 1981): 1000 examinees, 5 items, all 32
# patterns. Shipped as R mirt's `LSAT7` data set.
LSAT7_FREQUENCIES: Final = MappingProxyType({
    "00000": 12, "00001": 19, "00010": 1, "00011": 7, "00100": 3, "00101": 19, "00110": 3,
    "00111": 17, "01000": 10, "01001": 5, "01010": 3, "01011": 7, "01100": 7, "01101": 23,
    "01110": 8, "01111": 28, "10000": 7, "10001": 39, "10010": 11, "10011": 34, "10100": 14,
    "10101": 51, "10110": 15, "10111": 90, "11000": 6, "11001": 25, "11010": 7, "11011": 35,
    "11100": 18, "11101": 136, "11110": 32, "11111": 308,
})  # fmt: skip
# 2PL log-likelihood, `mirt(expand.table(LSAT7), 1)` (mirt's documentation example).
LSAT7_MIRT_2PL_LOGLIK: Final = -2658.805
# The 3PL's maximum without priors (four c's at 0, so barely above the 2PL's).
LSAT7_3PL_ML_LOGLIK: Final = -2658.055


def _patterns(frequencies: MappingProxyType[str, int]) -> tuple[np.ndarray, np.ndarray]:
    patterns = np.array([[int(ch) for ch in key] for key in frequencies], dtype=float)
    return patterns, np.array(list(frequencies.values()), dtype=float)


def lsat7() -> tuple[np.ndarray, np.ndarray]:
    """LSAT-7 as ``(32, 5)`` response patterns and their ``(32,)`` frequencies (sum 1000)."""
    return _patterns(LSAT7_FREQUENCIES)


def lsat6() -> tuple[np.ndarray, np.ndarray]:
    """LSAT-6 as response patterns and their frequencies, ready for ``calibrate_mml``.

    Returns:
        ``(30, 5)`` 0/1 patterns (float) and ``(30,)`` frequencies summing to 1000; pass them
        as ``responses`` and ``weights``.
    """
    return _patterns(LSAT6_FREQUENCIES)
