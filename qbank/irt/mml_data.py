"""Response matrices for MML calibration: checked once, then split into right/wrong indicators."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from jax.typing import ArrayLike

from qbank.errors import InvalidInputError
from qbank.irt.model import MAX_A, MAX_ABS_B, ItemParams

__all__ = ["ResponseData", "check_start", "response_data"]


class ResponseData(NamedTuple):
    """Observed responses as indicators; unobserved cells are 0 in both."""

    correct: jax.Array  # (n_persons, n_items) 1 where observed and right
    wrong: jax.Array  # (n_persons, n_items) 1 where observed and wrong
    weights: jax.Array  # (n_persons,) frequency of each row
    # (n_items, n_persons) ``correct`` transposed and contiguous: the E-step's largest product,
    # items × persons by persons × points, runs 1.7× faster from this layout on XLA's CPU.
    correct_items: jax.Array


def response_data(
    responses: ArrayLike, observed: ArrayLike | None = None, weights: ArrayLike | None = None
) -> ResponseData:
    """Check a response matrix and turn it into indicators.

    Raises:
        InvalidInputError: not 2-D, a mask or weights of the wrong shape, negative or
            non-finite weights, or an observed score other than 0/1 (the first is named).
    """
    scores = np.asarray(responses, dtype=np.float64)
    if scores.ndim != 2 or 0 in scores.shape:
        raise InvalidInputError(
            f"responses must be a non-empty (n_persons, n_items) matrix, got shape {scores.shape}"
        )
    mask = ~np.isnan(scores) if observed is None else np.asarray(observed, dtype=bool)
    if mask.shape != scores.shape:
        raise InvalidInputError(f"observed must have shape {scores.shape}, got {mask.shape}")
    bad = mask & (scores != 0) & (scores != 1)
    if bad.any():
        person, item = (int(x) for x in np.argwhere(bad)[0])
        raise InvalidInputError(
            f"score of person {person} on item {item} is {scores[person, item]!r}; "
            "scores must be 0 or 1"
        )
    frequency = np.ones(scores.shape[0]) if weights is None else np.asarray(weights, np.float64)
    if frequency.shape != (scores.shape[0],):
        raise InvalidInputError(f"weights must have shape ({scores.shape[0]},)")
    if not (np.isfinite(frequency).all() and (frequency >= 0).all()):
        raise InvalidInputError("weights must be finite and ≥ 0")
    right = mask & (scores == 1)
    # float64 here becomes JAX's default float: float32 unless a caller enabled x64.
    # device_put, not jnp.asarray: a plain transfer, where asarray runs a small XLA program.
    by_item = np.ascontiguousarray(right.T, dtype=np.float64)
    return ResponseData(jax.device_put(right.astype(np.float64)),
                        jax.device_put((mask & ~right).astype(np.float64)),
                        jax.device_put(frequency), jax.device_put(by_item))  # fmt: skip


def check_start(start: ItemParams, n_items: int) -> None:
    """Starting (or anchor) values must be finite 3PL parameters of every item.

    Raises:
        InvalidInputError: wrong shape, a ≤ 0 or > MAX_A, |b| > MAX_ABS_B, c outside [0, 1).
    """
    a, b, c = (np.asarray(x, np.float64) for x in start)
    if not a.shape == b.shape == c.shape == (n_items,):
        raise InvalidInputError(f"start values must have shape ({n_items},) each")
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(c).all()):
        raise InvalidInputError("start values must be finite")
    if (a <= 0).any() or (a > MAX_A).any() or (np.abs(b) > MAX_ABS_B).any():
        raise InvalidInputError(f"start values need a in (0, {MAX_A}] and |b| ≤ {MAX_ABS_B}")
    if ((c < 0) | (c >= 1)).any():
        raise InvalidInputError("start values need c in [0, 1)")
