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
    "LSAT6_LTM_RASCH_DISCRIMINATION",
    "LSAT6_LTM_RASCH_LOGLIK",
    "lsat6",
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
# `rasch(LSAT)`: one discrimination common to all items, estimated.
LSAT6_LTM_RASCH_DISCRIMINATION: Final = 0.755
LSAT6_LTM_RASCH_LOGLIK: Final = -2466.938


def lsat6() -> tuple[np.ndarray, np.ndarray]:
    """LSAT-6 as response patterns and their frequencies, ready for ``calibrate_mml``.

    Returns:
        ``(30, 5)`` 0/1 patterns (float) and ``(30,)`` frequencies summing to 1000; pass them
        as ``responses`` and ``weights``.
    """
    patterns = np.array([[int(ch) for ch in key] for key in LSAT6_FREQUENCIES], dtype=float)
    return patterns, np.array(list(LSAT6_FREQUENCIES.values()), dtype=float)
