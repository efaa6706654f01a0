"""A test design: how one exam's CAT selects, estimates, controls exposure, stops and balances.

``TestDesign`` is one frozen, hashable dataclass validated once (so it can be a static argument
of a compiled simulation); ``TestDesign.from_json`` reads the stored JSON form, naming the
field that is wrong, and ``as_json`` writes it back. Rules and estimators are looked up by name in
``select.registry.SELECTION_RULES`` and ``irt.grid_estimators.ESTIMATORS``.

JSON form (every key optional; these are the defaults, today's behaviour)::

    {"selection": {"rule": "mfi", "options": {}},
     "estimator": "eap",
     "exposure": {"method": "none", "strata_edges": [], "r_max": null},
     "stopping": {"max_len": 25, "min_len": 1, "se": null, "min_info": null,
                  "cut": null, "z": 1.96},
     "blueprint": {}}
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax.numpy as jnp
import numpy as np

from qbank.cat.balance import Blueprint
from qbank.cat.select.registry import make_score_fn
from qbank.cat.stop import StopRules
from qbank.errors import InvalidInputError
from qbank.irt.grid_estimators import estimator_fn

__all__ = ["EXPOSURE_METHODS", "MAX_TEST_LEN", "Stopping", "TestDesign"]

EXPOSURE_METHODS = ("none", "sympson_hetter", "conditional_sympson_hetter", "r_max")
_LOTTERY_METHODS = ("sympson_hetter", "conditional_sympson_hetter")
MAX_TEST_LEN = 500
_BLUEPRINT_SUM_TOLERANCE = 1e-3
_TOP_KEYS = {"selection", "estimator", "exposure", "stopping", "blueprint"}


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"{name} must be an integer, got {value!r}")
    return value


def _mapping(value: Any, name: str, keys: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{name} must be an object, got {value!r}")
    unknown = sorted(set(value) - keys)
    if unknown:
        allowed = ", ".join(sorted(keys))
        raise InvalidInputError(
            f"{name} has unknown field(s) {', '.join(unknown)}; allowed: {allowed}"
        )
    return value


# Rules whose choice depends on the test's length: their ``test_len`` defaults to ``max_len``.
_LENGTH_RULES = ("progressive", "astrat")


@dataclass(frozen=True, slots=True)
class Stopping:
    """Stopping rules; ``None`` turns a rule off. Fixed length ``max_len`` always applies."""

    max_len: int = 25
    min_len: int = 1  # no rule but max_len stops a test shorter than this
    se: float | None = None  # stop once SE ≤ se
    min_info: float | None = None  # stop once the most informative item left has I(θ̂) < min_info
    cut: float | None = None  # classification (Kingsbury & Weiss 1983) against this θ cut
    z: float = 1.96  # half-width of the classification interval, in SEs

    def __post_init__(self) -> None:
        _integer(self.max_len, "stopping.max_len")
        _integer(self.min_len, "stopping.min_len")
        if not 1 <= self.max_len <= MAX_TEST_LEN:
            raise InvalidInputError(f"stopping.max_len must be in [1, {MAX_TEST_LEN}]")
        if not 1 <= self.min_len <= self.max_len:
            raise InvalidInputError("stopping.min_len must be in [1, max_len]")
        if self.se is not None and not 0 < _number(self.se, "stopping.se") <= 5:
            raise InvalidInputError(f"stopping.se must be in (0, 5], got {self.se}")
        if self.min_info is not None and not _number(self.min_info, "stopping.min_info") > 0:
            raise InvalidInputError(f"stopping.min_info must be > 0, got {self.min_info}")
        if self.cut is not None and not -4 <= _number(self.cut, "stopping.cut") <= 4:
            raise InvalidInputError(f"stopping.cut must be in [-4, 4], got {self.cut}")
        if not 0 < _number(self.z, "stopping.z") <= 10:
            raise InvalidInputError(f"stopping.z must be in (0, 10], got {self.z}")

    @property
    def variable_length(self) -> bool:
        """Some rule other than the fixed length may end a test."""
        return self.se is not None or self.min_info is not None or self.cut is not None

    @property
    def classifies(self) -> bool:
        """Tests end in a pass/fail decision against ``cut``."""
        return self.cut is not None


@dataclass(frozen=True, slots=True)
class TestDesign:
    """One exam's test design, validated once; hashable (a static argument of a compiled run)."""

    __test__ = False  # not a pytest test class, despite the name

    selection: str = "mfi"
    selection_options: tuple[tuple[str, Any], ...] = ()
    estimator: str = "eap"
    exposure: str = "none"
    strata_edges: tuple[float, ...] = ()  # θ cut points of conditional S–H (Stocking & Lewis)
    # catR's "restricted" cap (Revuelta & Ponsoda 1998): no item at an exposure rate ≥ r_max
    r_max: float | None = None
    stopping: Stopping = field(default_factory=Stopping)
    blueprint: tuple[tuple[str, float], ...] = ()  # (topic, target proportion), sorted by topic

    def __post_init__(self) -> None:
        make_score_fn(self.selection, self.selection_options)
        estimator_fn(self.estimator)
        if self.exposure not in EXPOSURE_METHODS:
            methods = ", ".join(EXPOSURE_METHODS)
            raise InvalidInputError(
                f"exposure.method must be one of {methods}, got {self.exposure!r}"
            )
        edges = [_number(edge, "exposure.strata_edges") for edge in self.strata_edges]
        if self.exposure == "conditional_sympson_hetter":
            if not edges or any(b <= a for a, b in itertools.pairwise(edges)):
                raise InvalidInputError(
                    "exposure.strata_edges must be a non-empty increasing list for "
                    "conditional_sympson_hetter"
                )
        elif edges:
            raise InvalidInputError("exposure.strata_edges only go with conditional_sympson_hetter")
        if self.exposure == "r_max":
            if self.r_max is None or not 0 < _number(self.r_max, "exposure.r_max") <= 1:
                raise InvalidInputError(
                    f"exposure.r_max must be a number in (0, 1] for r_max, got {self.r_max!r}"
                )
        elif self.r_max is not None:
            raise InvalidInputError("exposure.r_max only goes with exposure.method r_max")
        self._check_blueprint()

    def _check_blueprint(self) -> None:
        names = [name for name, _ in self.blueprint]
        if any(
            not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name
            for name in names
        ):
            raise InvalidInputError("blueprint topics must be names of 1 to 200 characters")
        if len(set(names)) != len(names):
            raise InvalidInputError("blueprint topics must be distinct")
        if names != sorted(names):
            raise InvalidInputError("blueprint topics must be sorted (from_json sorts them)")
        targets = [_number(target, f"blueprint[{name!r}]") for name, target in self.blueprint]
        if any(not 0 < target <= 1 for target in targets):
            raise InvalidInputError("blueprint targets must be proportions in (0, 1]")
        if targets and abs(sum(targets) - 1) > _BLUEPRINT_SUM_TOLERANCE:
            raise InvalidInputError(f"blueprint targets must sum to 1, got {sum(targets):.4g}")

    @classmethod
    def from_json(cls, data: Any) -> TestDesign:
        """Read and validate the JSON form (see the module docstring).

        Raises:
            InvalidInputError: an unknown field, a wrong type or a value out of range, named.
        """
        data = _mapping(data, "design", _TOP_KEYS)
        selection = _mapping(data.get("selection", {}), "selection", {"rule", "options"})
        options = selection.get("options", {})
        if not isinstance(options, Mapping) or not all(
            isinstance(value, int | float) or (isinstance(value, str) and "\x00" not in value)
            for value in options.values()
        ):
            raise InvalidInputError("selection.options must be an object of numbers or strings")
        exposure = _mapping(
            data.get("exposure", {}), "exposure", {"method", "strata_edges", "r_max"}
        )
        stopping = _mapping(data.get("stopping", {}), "stopping", set(Stopping.__slots__))
        blueprint = data.get("blueprint") or {}
        if not isinstance(blueprint, Mapping):
            raise InvalidInputError("blueprint must be an object of topic: proportion")
        edges = exposure.get("strata_edges", [])
        if not isinstance(edges, Sequence) or isinstance(edges, str):
            raise InvalidInputError("exposure.strata_edges must be a list of numbers")
        rule, estimator, method = (
            selection.get("rule", "mfi"), data.get("estimator", "eap"),
            exposure.get("method", "none"),
        )  # fmt: skip
        for name, value in (("selection.rule", rule), ("estimator", estimator),
                            ("exposure.method", method)):  # fmt: skip
            if not isinstance(value, str):
                raise InvalidInputError(f"{name} must be a string, got {value!r}")
        limits = Stopping(**stopping)
        if rule in _LENGTH_RULES and "test_len" not in options:  # they pace over the test
            options = {**options, "test_len": limits.max_len}
        return cls(
            selection=rule,
            selection_options=tuple(sorted(options.items())),
            estimator=estimator,
            exposure=method,
            strata_edges=tuple(edges),
            r_max=exposure.get("r_max"),
            stopping=limits,
            blueprint=tuple(sorted(blueprint.items())),
        )

    def as_json(self) -> dict[str, Any]:
        """The stored form; ``from_json(as_json())`` is this design."""
        stopping = self.stopping
        return {
            "selection": {"rule": self.selection, "options": dict(self.selection_options)},
            "estimator": self.estimator,
            "exposure": {"method": self.exposure, "strata_edges": list(self.strata_edges),
                         "r_max": self.r_max},
            "stopping": {
                "max_len": stopping.max_len, "min_len": stopping.min_len, "se": stopping.se,
                "min_info": stopping.min_info, "cut": stopping.cut, "z": stopping.z,
            },
            "blueprint": dict(self.blueprint),
        }  # fmt: skip

    @property
    def uses_lottery(self) -> bool:
        """Selection runs the Sympson–Hetter lottery with the pool's k."""
        return self.exposure in _LOTTERY_METHODS

    def stop_rules(self) -> StopRules:
        """The stopping thresholds as arrays, off rules at their neutral values."""
        stopping = self.stopping
        return StopRules(
            max_len=jnp.int32(stopping.max_len),
            min_len=jnp.int32(stopping.min_len),
            se_max=jnp.float32(0.0 if stopping.se is None else stopping.se),
            min_info=jnp.float32(0.0 if stopping.min_info is None else stopping.min_info),
            cut=jnp.float32(0.0 if stopping.cut is None else stopping.cut),
            z=jnp.float32(jnp.inf if stopping.cut is None else stopping.z),
        )

    def blueprint_for(self, item_topics: Sequence[str]) -> Blueprint | None:
        """The blueprint over a pool whose items have these topic names; None without one.

        Blueprint topics are numbered in sorted order; topics outside it share the last index.
        """
        if not self.blueprint:
            return None
        index = {name: position for position, (name, _) in enumerate(self.blueprint)}
        outside = len(self.blueprint)
        item_topic = np.asarray([index.get(name, outside) for name in item_topics], np.int32)
        targets = np.asarray([target for _, target in self.blueprint] + [0.0], np.float32)
        return Blueprint(jnp.asarray(item_topic), jnp.asarray(targets))
