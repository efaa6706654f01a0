"""The Design page's form: a test design as widgets' values, to and from its JSON form.

The form only turns widget values into the design's JSON (``qbank.cat.design``, module
docstring) and back; whether a design is valid is for ``TestDesign.from_json`` and the
``exam_design`` service to say, as they do for the API. The choices come from the registries
(``SELECTION_RULES``, ``ESTIMATORS``, ``EXPOSURE_METHODS``), so a rule or method added there
shows up here; the labels below only put known names into words.
"""

from __future__ import annotations

import json
from typing import Any

import param

from qbank.cat.design import EXPOSURE_METHODS, TestDesign
from qbank.cat.select.a_stratified import DEFAULT_N_STRATA
from qbank.cat.select.randomesque import DEFAULT_RANDOMESQUE
from qbank.cat.select.registry import SELECTION_RULES
from qbank.errors import InvalidInputError
from qbank.irt.grid_estimators import ESTIMATORS

__all__ = [
    "DESIGN_LABELS",
    "ESTIMATOR_NAMES",
    "EXPOSURE_NAMES",
    "RULE_NAMES",
    "RULE_OPTIONS",
    "DesignForm",
    "design_words",
    "exposure_parameters",
    "name_of",
]

RULE_NAMES = {
    "mfi": "maximum Fisher information",
    "mlwi": "maximum likelihood-weighted information",
    "mpwi": "maximum posterior-weighted information",
    "mepv": "minimum expected posterior variance",
    "kl": "Kullback–Leibler, likelihood-weighted",
    "klp": "Kullback–Leibler, posterior-weighted",
    "randomesque": "randomesque (a random one of the n best)",
    "progressive": "progressive (Revuelta & Ponsoda 1998)",
    "astrat": "a-stratified with b-blocking",
}  # fmt: skip
ESTIMATOR_NAMES = {
    "eap": "EAP (posterior mean)", "map": "MAP (posterior mode)",
    "ml": "maximum likelihood", "wle": "WLE (Warm 1989)",
}  # fmt: skip
EXPOSURE_NAMES = {
    "none": "none",
    "sympson_hetter": "Sympson–Hetter (the items' k)",
    "conditional_sympson_hetter": "conditional Sympson–Hetter (k per θ stratum)",
    "r_max": "maximum exposure rate (catR's restricted method)",
}  # fmt: skip
# Options of the rules that take some: (form parameter, option, label). Rules the registry has
# that are not listed here and not in _NO_OPTIONS (a plugged-in rule) get a JSON options field.
RULE_OPTIONS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "randomesque": (("randomesque_n", "n", "pick among the n best"),),
    "progressive": (("progressive_acceleration", "acceleration", "acceleration"),
                    ("progressive_test_len", "test_len", "pace over (items)")),
    "astrat": (("astrat_n_strata", "n_strata", "a-strata"),
               ("astrat_test_len", "test_len", "pace over (items)")),
}  # fmt: skip
_NO_OPTIONS = ("mfi", "mlwi", "mpwi", "mepv", "kl", "klp")
# Which method each exposure parameter goes with; a parameter not listed (one added to the
# design later) shows with the methods this page does not know by name.
_PARAMETER_METHODS = {"strata_edges": ("conditional_sympson_hetter",), "r_max": ("r_max",)}
_PARAMETER_LABELS = {"strata_edges": "θ cut points of the strata",
                     "r_max": "r_max: the highest exposure rate an item may reach"}  # fmt: skip
# The design's field names as the form labels them, for the service's messages.
DESIGN_LABELS = {
    "stopping.max_len": "maximum length", "stopping.min_len": "minimum length",
    "max_len": "maximum length", "min_len": "minimum length",
    "stopping.se": "SE threshold", "stopping.min_info": "minimum information",
    "stopping.cut": "cut score", "stopping.z": "interval half-width (z)",
    "exposure.strata_edges": "θ cut points of the strata", "exposure.method": "exposure control",
    "exposure.r_max": "r_max",
    "selection.rule": "selection rule", "selection.options": "rule options",
    "conditional_sympson_hetter": "conditional Sympson–Hetter",
    "test_len": "pace over (items)", "n_strata": "a-strata",
}  # fmt: skip


def name_of(names: dict[str, str], key: str) -> str:
    """``key`` in words, or the key itself for a name this page does not know."""
    return names.get(key, key)


def exposure_parameters() -> dict[str, Any]:
    """The exposure parameters a design has (all but ``method``), with their default values."""
    defaults = dict(TestDesign().as_json()["exposure"])
    defaults.pop("method", None)
    return defaults


def _parameter_shown(parameter: str, method: str) -> bool:
    methods = _PARAMETER_METHODS.get(parameter)
    if methods is not None:
        return method in methods
    return method != "none" and method not in EXPOSURE_NAMES


def _number_text(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _parse_numbers(text: str) -> list[Any]:
    """Numbers typed as ``-1, 0, 1``; what is not a number is passed on for the design to name."""
    parts = [part for part in text.replace(",", " ").split() if part]
    parsed: list[Any] = []
    for part in parts:
        try:
            parsed.append(float(part))
        except ValueError:
            parsed.append(part)
    return parsed


def _parse_number(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return float(text)
    except ValueError:
        return text.strip()


class DesignForm(param.Parameterized):
    """Every part of a test design as a form value; ``as_json`` is the design the form shows."""

    rule = param.Selector(default="mfi", objects=list(SELECTION_RULES))
    randomesque_n = param.Integer(default=DEFAULT_RANDOMESQUE, allow_None=True)
    progressive_acceleration = param.Number(default=1.0, allow_None=True)
    progressive_test_len = param.Integer(default=None, allow_None=True)
    astrat_n_strata = param.Integer(default=DEFAULT_N_STRATA, allow_None=True)
    astrat_test_len = param.Integer(default=None, allow_None=True)
    other_options = param.String(default="{}", doc="JSON options of a rule not known by name")
    estimator = param.Selector(default="eap", objects=list(ESTIMATORS))
    exposure = param.Selector(default="none", objects=list(EXPOSURE_METHODS))
    exposure_values = param.Dict(default={}, doc="exposure parameter → text typed")
    max_len = param.Integer(default=25, allow_None=True)
    min_len = param.Integer(default=1, allow_None=True)
    use_se = param.Boolean(default=False)
    se = param.Number(default=0.3, allow_None=True)
    use_min_info = param.Boolean(default=False)
    min_info = param.Number(default=0.1, allow_None=True)
    classify = param.Boolean(default=False)
    cut = param.Number(default=0.0, allow_None=True)
    z = param.Number(default=1.96, allow_None=True)
    balance = param.Boolean(default=False)
    targets = param.Dict(default={}, doc="topic → target proportion (None: not in blueprint)")
    revision = param.Integer(default=0, doc="bumped when the form is refilled as a whole")

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.param.rule.objects = list(SELECTION_RULES)
        self.param.estimator.objects = list(ESTIMATORS)
        self.param.exposure.objects = list(EXPOSURE_METHODS)
        if not self.exposure_values:
            self.exposure_values = {key: _value_text(value)
                                    for key, value in exposure_parameters().items()}  # fmt: skip

    # ----- which fields show
    def option_fields(self, rule: str | None = None) -> tuple[tuple[str, str, str], ...]:
        """(form parameter, option, label) of the rule's options."""
        return RULE_OPTIONS.get(rule or self.rule, ())

    def takes_json_options(self, rule: str | None = None) -> bool:
        """A rule this page does not know: its options are typed as JSON."""
        rule = rule or self.rule
        return rule not in RULE_OPTIONS and rule not in _NO_OPTIONS

    def shown_exposure_parameters(self, method: str | None = None) -> list[str]:
        """The exposure parameters that go with ``method`` (the form's by default)."""
        method = method or self.exposure
        return [key for key in exposure_parameters() if _parameter_shown(key, method)]

    @staticmethod
    def parameter_label(key: str) -> str:
        """An exposure parameter in words."""
        return _PARAMETER_LABELS.get(key, key.replace("_", " "))

    # ----- form → design JSON
    def as_json(self) -> dict[str, Any]:
        """The design the form shows, in the JSON form the API takes.

        Raises:
            InvalidInputError: a required number is blank, or the options are not JSON.
        """
        missing = [label for name, label in (("max_len", "maximum length"),
                                             ("min_len", "minimum length"))
                   if getattr(self, name) is None]  # fmt: skip
        for flag, name, label in (("use_se", "se", "SE threshold"),
                                  ("use_min_info", "min_info", "minimum information"),
                                  ("classify", "cut", "cut score"),
                                  ("classify", "z", "interval half-width (z)")):  # fmt: skip
            if getattr(self, flag) and getattr(self, name) is None:
                missing.append(label)
        if missing:
            raise InvalidInputError(f"give a value for {', '.join(missing)}")
        return {
            "selection": {"rule": self.rule, "options": self._options()},
            "estimator": self.estimator,
            "exposure": self._exposure(),
            "stopping": {
                "max_len": self.max_len, "min_len": self.min_len,
                "se": self.se if self.use_se else None,
                "min_info": self.min_info if self.use_min_info else None,
                "cut": self.cut if self.classify else None,
                "z": self.z if self.classify else 1.96,
            },
            "blueprint": self._blueprint(),
        }  # fmt: skip

    def _options(self) -> Any:
        if self.takes_json_options():
            try:
                options = json.loads(self.other_options or "{}")
            except json.JSONDecodeError as error:
                raise InvalidInputError(
                    f'rule options must be a JSON object like {{"width": 1}}: {error.msg}'
                ) from None
            return options  # not an object: the design says so
        chosen: dict[str, Any] = {}
        for name, option, label in self.option_fields():
            value = getattr(self, name)
            if value is None and option != "test_len":  # a blank pace follows max length
                raise InvalidInputError(f"give a value for {label}")
            if value is not None:
                chosen[option] = value
        return chosen

    def _exposure(self) -> dict[str, Any]:
        shown = self.shown_exposure_parameters()
        exposure: dict[str, Any] = {"method": self.exposure}
        for key, default in exposure_parameters().items():
            text = self.exposure_values.get(key, "")
            if key not in shown:
                exposure[key] = default  # hidden: what the design has when off
            elif isinstance(default, list):
                exposure[key] = _parse_numbers(text)
            else:
                exposure[key] = _parse_number(text)
        return exposure

    def _blueprint(self) -> dict[str, Any]:
        if not self.balance:
            return {}
        return {topic: target for topic, target in self.targets.items() if target is not None}

    def target_sum(self) -> float:
        """The sum of the blueprint targets typed so far."""
        return float(sum(value for value in self.targets.values() if value is not None))

    def equal_shares(self, _event: object = None) -> None:
        """Give every topic the same target, to 4 decimals, summing to 1 exactly."""
        topics = list(self.targets)
        if not topics:
            return
        share = round(1 / len(topics), 4)
        values = {topic: share for topic in topics}
        values[topics[-1]] = round(1 - share * (len(topics) - 1), 4)
        self.param.update(targets=values, revision=self.revision + 1)

    # ----- design JSON → form
    def show(self, design: dict[str, Any], topics: list[str]) -> None:
        """Fill the form with ``design`` (``as_json`` form) over the exam's ``topics``."""
        selection, stopping = design["selection"], design["stopping"]
        options = dict(selection.get("options", {}))
        values: dict[str, Any] = {"rule": selection["rule"]}
        if selection["rule"] not in SELECTION_RULES:
            self.param.rule.objects = [*SELECTION_RULES, selection["rule"]]
        for name, option, _label in RULE_OPTIONS.get(selection["rule"], ()):
            value = options.get(option)
            if option == "test_len" and value == stopping["max_len"]:
                value = None  # the design filled in max length: keep following it
            values[name] = value if value is not None else self.param[name].default
        if self.takes_json_options(selection["rule"]):
            values["other_options"] = json.dumps(options)
        exposure = design["exposure"]
        values["exposure_values"] = {key: _value_text(exposure.get(key, default))
                                     for key, default in exposure_parameters().items()}  # fmt: skip
        blueprint = design.get("blueprint") or {}
        values.update(
            estimator=design["estimator"], exposure=exposure["method"],
            max_len=stopping["max_len"], min_len=stopping["min_len"],
            use_se=stopping["se"] is not None, use_min_info=stopping["min_info"] is not None,
            classify=stopping["cut"] is not None, balance=bool(blueprint),
            targets={topic: blueprint.get(topic) for topic in sorted({*topics, *blueprint})},
            revision=self.revision + 1,
        )  # fmt: skip
        for name in ("se", "min_info", "cut"):
            if stopping[name] is not None:
                values[name] = stopping[name]
        if stopping["cut"] is not None:
            values["z"] = stopping["z"]
        self.param.update(**values)


def _value_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(_number_text(item) for item in value)
    return _number_text(value)


def _percent(share: float) -> str:
    return f"{100 * share:.3g} %"


def design_words(design: dict[str, Any]) -> list[str]:
    """A design (``as_json`` form) in words, one line per part, with its values."""
    selection, stopping, exposure = design["selection"], design["stopping"], design["exposure"]
    options = ", ".join(f"{key} {value:g}" if isinstance(value, int | float) else f"{key} {value}"
                        for key, value in sorted(selection.get("options", {}).items()))  # fmt: skip
    rule = f"{name_of(RULE_NAMES, selection['rule'])} (`{selection['rule']}`"
    rule += f"; {options})" if options else ")"
    method = exposure["method"]
    control = f"{name_of(EXPOSURE_NAMES, method)} (`{method}`)"
    extra = [f"{_PARAMETER_LABELS.get(key, key)} {_value_text(value)}"
             for key, value in exposure.items()
             if key != "method" and value not in (None, [], ())]  # fmt: skip
    if extra:
        control += ": " + "; ".join(extra)
    stops = [f"after {stopping['max_len']} items at most"]
    if stopping["se"] is not None:
        stops.append(f"once SE ≤ {stopping['se']:g}")
    if stopping["min_info"] is not None:
        stops.append(f"once no item left gives information ≥ {stopping['min_info']:g}")
    if stopping["cut"] is not None:
        stops.append(f"once θ̂ ± {stopping['z']:g} SE excludes the cut {stopping['cut']:g} "
                     "(pass/fail)")  # fmt: skip
    length = ", ".join(stops)
    if stopping["min_len"] > 1 and len(stops) > 1:
        length += f"; never before {stopping['min_len']} items"
    blueprint = design.get("blueprint") or {}
    balance = ("blueprint (Kingsbury & Zara): " + ", ".join(
        f"{topic} {_percent(share)}" for topic, share in sorted(blueprint.items()))
        if blueprint else "no blueprint (items from any topic)")  # fmt: skip
    return [
        f"**Selection**: {rule}",
        f"**Estimator**: {name_of(ESTIMATOR_NAMES, design['estimator'])} (`{design['estimator']}`)",
        f"**Exposure control**: {control}",
        f"**Stopping**: {length}",
        f"**Content**: {balance}",
    ]
