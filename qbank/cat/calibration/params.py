"""User-facing settings of an iterative Sympson–Hetter calibration, validated once."""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from qbank.errors import InvalidInputError

__all__ = [
    "ABILITY_MODES",
    "CONVERGED_STREAK",
    "DEFAULT_STRATA",
    "UPDATE_RULES",
    "CalibrationParams",
    "ThetaDist",
    "parse_theta_dist",
]

ABILITY_MODES = ("estimated", "true")
UPDATE_RULES = ("multiplicative", "sympson-hetter")
CONVERGED_STREAK = 3  # until_converged: max_over ≤ tol for this many iterations in a row
# Five equally likely strata of N(0, 1): cut points at its 20/40/60/80 % quantiles.
DEFAULT_STRATA = (-0.8416, -0.2533, 0.2533, 0.8416)
MAX_STRATA = 10
MAX_SIMULEES = 1_000_000
MAX_SIMULEE_STEPS = 20_000_000  # n × test_len: the per-position outputs must fit in memory
MAX_THETA = 10.0
MAX_TOPIC_WEIGHT = 1e6
MAX_ITERS = 500

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_THETA_DIST = re.compile(rf"^(normal|uniform)\(?{_NUMBER}\s*,\s*{_NUMBER}\)?$")


class ThetaDist(NamedTuple):
    """Distribution of simulee abilities: ``normal`` (loc = mean, scale = sd) or ``uniform``."""

    kind: str
    loc: float  # normal: mean; uniform: lower bound
    scale: float  # normal: sd; uniform: width (upper − lower)


def parse_theta_dist(text: str) -> ThetaDist:
    """Parse ``normal<mu>,<sd>`` or ``uniform<lo>,<hi>`` (e.g. ``normal0,1``, ``uniform-2,2``).

    Raises:
        InvalidInputError: unknown form, sd ≤ 0 or hi ≤ lo.
    """
    match = _THETA_DIST.match(text.strip().replace(" ", "").lower())
    if match is None:
        raise InvalidInputError(
            f"theta_dist must look like 'normal<mu>,<sd>' or 'uniform<lo>,<hi>', got {text!r}"
        )
    kind, first, second = match.group(1), float(match.group(2)), float(match.group(3))
    if not (abs(first) <= MAX_THETA and abs(second) <= MAX_THETA):
        raise InvalidInputError(f"theta_dist values must lie in [-10, 10], got {text!r}")
    if kind == "normal":
        if second <= 0:
            raise InvalidInputError(f"theta_dist normal sd must be > 0, got {second}")
        return ThetaDist("normal", first, second)
    if second <= first:
        raise InvalidInputError(f"theta_dist uniform needs lo < hi, got {first}, {second}")
    return ThetaDist("uniform", first, second - first)


def _check_range(name: str, value: float, low: float, high: float, *, open_low: bool) -> None:
    ok = math.isfinite(value) and (value > low if open_low else value >= low) and value <= high
    if not ok:
        bracket = "(" if open_low else "["
        raise InvalidInputError(f"{name} must be in {bracket}{low}, {high}], got {value}")


def _check_count(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


@dataclass(frozen=True, slots=True)
class CalibrationParams:
    """Parameters of an iterative S–H calibration, with DESIGN.md's names and defaults.

    ``topic_tau`` maps a topic to its own target exposure; ``topic_weights`` maps topics to
    weights w, giving tau_topic = tau · w / Σw over the weighted topics. Where a topic has
    both, ``topic_tau`` wins; items of topics in neither use ``tau``. Topics are compared as
    strings, so JSON keys match numeric topic ids.

    ``update_rule`` is ``multiplicative`` (the seed's k ← k·(τ/r)^alpha, a lottery re-drawn at
    every position; the default) or ``sympson-hetter`` (Sympson & Hetter 1985: an item that
    loses its lottery is set aside for the rest of the test, and k ← min(1, τ/P(S)); ``alpha``
    plays no part). With ``until_converged`` the calibration stops once max_over has stayed
    ≤ ``tol`` for ``CONVERGED_STREAK`` iterations in a row, or after ``iters``.

    ``conditional`` is conditional S–H (Stocking & Lewis 1998): one k per item and θ stratum,
    ``strata`` the increasing cut points (empty: ``DEFAULT_STRATA``, five equally likely strata
    of N(0, 1)), and tau applies within every stratum. The strata also split the
    ``conditional_max_exp`` that every run reports.
    """

    tau: float = 0.2
    n: int = 400
    test_len: int = 25
    iters: int = 5
    alpha: float = 0.6
    theta_dist: str = "normal0,1"
    floor: float = 0.02
    ceil: float = 1.0
    topic_tau: dict[str, float] = field(default_factory=dict)
    topic_weights: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    ability: str = "estimated"
    update_rule: str = "multiplicative"
    until_converged: bool = False
    tol: float = 0.01
    conditional: bool = False
    strata: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_range("tau", self.tau, 0.0, 1.0, open_low=True)
        _check_count("n", self.n, 1, MAX_SIMULEES)
        _check_count("test_len", self.test_len, 1, 10_000)
        if self.n * self.test_len > MAX_SIMULEE_STEPS:
            steps = self.n * self.test_len
            raise InvalidInputError(
                f"n × test_len must be at most {MAX_SIMULEE_STEPS:,}, got {steps:,}"
            )
        _check_count("iters", self.iters, 1, MAX_ITERS)
        _check_range("alpha", self.alpha, 0.0, 5.0, open_low=True)
        _check_range("floor", self.floor, 0.0, 1.0, open_low=False)
        _check_range("ceil", self.ceil, 0.0, 1.0, open_low=True)
        if self.floor > self.ceil:
            raise InvalidInputError(f"floor ({self.floor}) must not exceed ceil ({self.ceil})")
        parse_theta_dist(self.theta_dist)
        _check_count("seed", self.seed, 0, 2**32 - 1)
        if self.ability not in ABILITY_MODES:
            raise InvalidInputError(
                f"ability must be one of {', '.join(ABILITY_MODES)}, got {self.ability!r}"
            )
        if self.update_rule not in UPDATE_RULES:
            raise InvalidInputError(
                f"update_rule must be one of {', '.join(UPDATE_RULES)}, got {self.update_rule!r}"
            )
        if not isinstance(self.until_converged, bool):
            raise InvalidInputError(
                f"until_converged must be true or false, got {self.until_converged!r}"
            )
        _check_range("tol", self.tol, 0.0, 1.0, open_low=False)
        if not isinstance(self.conditional, bool):
            raise InvalidInputError(f"conditional must be true or false, got {self.conditional!r}")
        self._check_strata()
        self._check_topic_map("topic_tau", self.topic_tau, upper=1.0)
        self._check_topic_map("topic_weights", self.topic_weights, upper=MAX_TOPIC_WEIGHT)

    @staticmethod
    def _check_topic_map(name: str, mapping: object, upper: float) -> None:
        if not isinstance(mapping, dict):
            raise InvalidInputError(f"{name} must be an object {{topic: number}}")
        for topic, value in mapping.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(f"{name}[{topic}] must be a number, got {value!r}")
            if not (1e-6 <= value <= upper):  # ints of any size compare safely with floats
                limit = "in [1e-06, 1]" if upper == 1.0 else f"in [1e-06, {upper:g}]"
                raise InvalidInputError(f"{name}[{topic}] must be {limit}, got {value}")

    def _check_strata(self) -> None:
        cuts = self.strata
        if not isinstance(cuts, list | tuple) or any(
            isinstance(x, bool) or not isinstance(x, int | float) for x in cuts
        ):
            raise InvalidInputError(f"strata must be a list of numbers, got {cuts!r}")
        if len(cuts) > MAX_STRATA - 1:
            raise InvalidInputError(f"strata takes at most {MAX_STRATA - 1} cut points")
        if not all(math.isfinite(x) and abs(x) <= MAX_THETA for x in cuts):
            raise InvalidInputError(f"strata cut points must lie in [-10, 10], got {list(cuts)}")
        if any(low >= high for low, high in itertools.pairwise(cuts)):
            raise InvalidInputError(f"strata cut points must increase, got {list(cuts)}")

    @property
    def strata_edges(self) -> tuple[float, ...]:
        """The θ cut points of the strata: ``strata``, or ``DEFAULT_STRATA`` when empty."""
        return tuple(float(x) for x in self.strata) if self.strata else DEFAULT_STRATA

    @property
    def theta_distribution(self) -> ThetaDist:
        """The parsed ``theta_dist``."""
        return parse_theta_dist(self.theta_dist)

    def item_tau(self, item_topics: list[str]) -> list[float]:
        """Target exposure of each item from its topic (see the class docstring).

        Raises:
            InvalidInputError: a topic in ``topic_tau`` or ``topic_weights`` is not in the pool.
        """
        pool_topics = set(item_topics)
        for name, mapping in (("topic_tau", self.topic_tau), ("topic_weights", self.topic_weights)):
            unknown = sorted(str(t) for t in mapping if str(t) not in pool_topics)
            if unknown:
                raise InvalidInputError(
                    f"{name} names topics not in the pool: {', '.join(unknown)} "
                    f"(pool topics: {', '.join(sorted(pool_topics)[:20])})"
                )
        per_topic = self.topic_taus()
        return [per_topic.get(topic, self.tau) for topic in item_topics]

    def topic_taus(self) -> dict[str, float]:
        """The target exposure of each topic the run names; other topics use ``tau``."""
        total_weight = sum(self.topic_weights.values())
        per_topic = {str(t): self.tau * w / total_weight for t, w in self.topic_weights.items()}
        per_topic.update({str(t): float(v) for t, v in self.topic_tau.items()})
        return per_topic
