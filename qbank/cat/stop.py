"""Stopping rules of a variable-length CAT, as one mask per simulee (or examinee).

Any combination of: fixed length (the scan's length), SE ≤ s, minimum information left in the
pool, and classification against a cut score (Kingsbury & Weiss 1983: stop once the confidence
interval θ̂ ± z·SE excludes the cut), with a minimum length before any rule but the fixed length
may stop. A rule that is off has a neutral value (``se_max`` = 0, ``min_info`` = 0, ``z`` = ∞), so
one compiled step serves every combination and the values can be swept without recompiling.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

__all__ = ["StopRules", "classify", "should_stop"]


class StopRules(NamedTuple):
    """Stopping thresholds as arrays; ``TestDesign.stop_rules`` builds them from a design."""

    max_len: jax.Array  # () int32: fixed length, always on
    min_len: jax.Array  # () int32: no rule but max_len stops a shorter test
    se_max: jax.Array  # () float32: stop once SE ≤ se_max (0: off, since an SE is > 0)
    min_info: jax.Array  # () float32: stop once max remaining information < min_info (0: off)
    cut: jax.Array  # () float32: cut score on the θ scale
    z: jax.Array  # () float32: half-width of the interval in SEs (∞: no classification rule)


def should_stop(
    rules: StopRules,
    n_given: ArrayLike,
    theta_hat: ArrayLike,
    se: ArrayLike,
    max_info_left: ArrayLike,
) -> jax.Array:
    """Whether the test ends before the next item; broadcasts over simulees.

    Args:
        rules: the thresholds.
        n_given: items given so far.
        theta_hat: the current estimate.
        se: its standard error.
        max_info_left: largest Fisher information at θ̂ among the items still available
            (0 when none is left).
    """
    n_given, theta_hat, se = jnp.asarray(n_given), jnp.asarray(theta_hat), jnp.asarray(se)
    max_info_left = jnp.asarray(max_info_left)
    precise = se <= rules.se_max
    exhausted = max_info_left < rules.min_info
    # Kingsbury & Weiss (1983): the interval θ̂ ± z·SE lies wholly on one side of the cut.
    classified = jnp.abs(theta_hat - rules.cut) > rules.z * se
    long_enough = n_given >= rules.min_len
    fired = long_enough & (precise | exhausted | classified)
    return (n_given >= rules.max_len) | fired


def classify(theta_hat: ArrayLike, cut: ArrayLike) -> jax.Array:
    """Pass (True) when θ̂ ≥ cut: the decision reported at the end of a classification test."""
    passed: jax.Array = jnp.asarray(theta_hat) >= jnp.asarray(cut)
    return passed
