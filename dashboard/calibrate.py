"""Calibrate: every S–H parameter, Start, live progress and chart, Cancel."""

from __future__ import annotations

import json
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.charts import history_chart
from dashboard.context import DashboardContext
from dashboard.feedback import Feedback, feedback_alert
from dashboard.jobs import RunFollower
from qbank.cat import ABILITY_MODES, UPDATE_RULES, CalibrationParams
from qbank.errors import InvalidInputError, QBankError
from qbank.services.calibration.sh import start_run
from qbank.services.exposure.table import list_exams

__all__ = ["CalibratePage", "parse_topic_map"]

_DEFAULTS = CalibrationParams()
_NUMBERS = ("tau", "n", "test_len", "iters", "alpha", "floor", "ceil", "seed", "tol")


def parse_topic_map(name: str, text: str) -> dict[str, float]:
    """A ``{topic: number}`` JSON object typed in the form; empty text is ``{}``.

    Raises:
        InvalidInputError: not JSON, or not an object of numbers.
    """
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(
            f'{name} must be a JSON object like {{"Cardiology": 0.1}}: {error.msg}'
        ) from None
    if not isinstance(value, dict):
        raise InvalidInputError(f'{name} must be a JSON object like {{"Cardiology": 0.1}}')
    return {str(key): number for key, number in value.items()}


class CalibratePage(Viewer):
    """The calibration form and the run it started."""

    exam = param.Selector(default=None, objects=[], allow_None=True)
    tau = param.Number(default=_DEFAULTS.tau, allow_None=True)
    n = param.Integer(default=_DEFAULTS.n, allow_None=True)
    test_len = param.Integer(default=_DEFAULTS.test_len, allow_None=True)
    iters = param.Integer(default=_DEFAULTS.iters, allow_None=True)
    alpha = param.Number(default=_DEFAULTS.alpha, allow_None=True)
    theta_dist = param.String(default=_DEFAULTS.theta_dist)
    floor = param.Number(default=_DEFAULTS.floor, allow_None=True)
    ceil = param.Number(default=_DEFAULTS.ceil, allow_None=True)
    ability = param.Selector(default=_DEFAULTS.ability, objects=list(ABILITY_MODES))
    topic_tau = param.String(default="", doc='JSON {"topic": tau}')
    topic_weights = param.String(default="", doc='JSON {"topic": weight}')
    seed = param.Integer(default=_DEFAULTS.seed, allow_None=True)
    update_rule = param.Selector(default=_DEFAULTS.update_rule, objects=list(UPDATE_RULES))
    until_converged = param.Boolean(default=_DEFAULTS.until_converged)
    tol = param.Number(default=_DEFAULTS.tol, allow_None=True)
    dry_run = param.Boolean(default=True)

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self.run = RunFollower(context, self.feedback)
        self.load_choices()

    def load_choices(self) -> None:
        """The exams to choose from."""
        exams = list_exams(self.context.sessions, self.context.tenant_id)
        self.param.exam.objects = exams
        if self.exam not in exams:
            self.exam = exams[0] if exams else None

    def params(self) -> CalibrationParams:
        """The form as validated calibration parameters.

        Raises:
            InvalidInputError: a value is missing or out of range, or a topic map is not JSON.
        """
        missing = [name for name in _NUMBERS if getattr(self, name) is None]
        if missing:
            raise InvalidInputError(f"give a value for {', '.join(missing)}")
        numbers = {name: getattr(self, name) for name in _NUMBERS}
        return CalibrationParams(
            **numbers, theta_dist=self.theta_dist.strip(), ability=self.ability,
            update_rule=self.update_rule, until_converged=self.until_converged,
            topic_tau=parse_topic_map("topic_tau", self.topic_tau),
            topic_weights=parse_topic_map("topic_weights", self.topic_weights),
        )  # fmt: skip

    def start(self, _event: object = None) -> bool:
        """Queue a calibration with the form's values; True when queued."""
        if self.run.active:
            self.feedback.say("A run is still going: wait for it or cancel it.", "warning")
            return False
        if not self.exam:
            self.feedback.say("No exam to calibrate yet: import questions or seed the demo "
                              "exam (qbank seed-demo), then reload.", "warning")  # fmt: skip
            return False
        try:
            _job_id, run_id = start_run(
                self.context.sessions, self.context.queue, self.context.tenant_id, self.exam,
                self.params(), dry_run=self.dry_run,
            )  # fmt: skip
        except QBankError as error:
            self.feedback.say(f"Not started: {error}.", "danger")
            return False
        if self.dry_run:
            mode = "dry run: nothing is written until you apply it on Runs"
        else:
            mode = "its k is written when it finishes"
        self.feedback.say(f"Run {run_id[:8]} queued ({mode}).", "info")
        self.run.follow(run_id)
        self.run.start_polling()
        return True

    def __panel__(self) -> pn.viewable.Viewable:
        form = pn.Column(
            pn.widgets.Select.from_param(self.param.exam, label="Exam"),
            pn.Row(_number(self.param.tau, "tau (target exposure)", 0.01),
                   _number(self.param.alpha, "alpha (damping)", 0.1)),
            pn.Row(_int(self.param.n, "n simulees"), _int(self.param.test_len, "test length")),
            pn.Row(_int(self.param.iters, "iterations"), _int(self.param.seed, "seed")),
            pn.Row(_number(self.param.floor, "floor", 0.01),
                   _number(self.param.ceil, "ceil", 0.05)),
            pn.Row(pn.widgets.TextInput.from_param(self.param.theta_dist, label="theta dist",
                                                   placeholder="normal0,1", width=150),
                   pn.widgets.Select.from_param(self.param.ability, label="ability", width=150)),
            pn.widgets.TextInput.from_param(self.param.topic_tau, label="per-topic tau (JSON)",
                                            placeholder='{"Cardiology": 0.1}'),
            pn.widgets.TextInput.from_param(self.param.topic_weights,
                                            label="per-topic weights (JSON)",
                                            placeholder='{"Cardiology": 2, "Neurology": 1}'),
            pn.Row(pn.widgets.Select.from_param(self.param.update_rule, label="update rule",
                                                width=150),
                   _number(self.param.tol, "tol (max_over)", 0.005)),
            pn.widgets.Checkbox.from_param(
                self.param.until_converged,
                label="until converged (max_over <= tol for 3 iterations, or at iterations)"),
            pn.widgets.Checkbox.from_param(self.param.dry_run, label="dry run (apply later)"),
            pn.Row(_button("Start", "primary", self.start),
                   _button("Cancel", "warning", self.run.cancel)),
            width=340,
        )  # fmt: skip
        progress = pn.indicators.Progress(value=0, max=100, bar_color="success",
                                          sizing_mode="stretch_width")  # fmt: skip
        status = pn.pane.Markdown("No run started yet — fill in the form and press Start.",
                                  css_classes=["qbank-run-status"])  # fmt: skip
        chart = pn.pane.HoloViews(history_chart([]), sizing_mode="stretch_width")

        def update(*_events: object) -> None:
            progress.value = self.run.progress
            if self.run.run_id:
                status.object = (f"Run `{self.run.run_id[:8]}`: **{self.run.status}** — "
                                 f"iteration {self.run.current_iter} of "
                                 f"{self.run.total_iters or self.iters}")  # fmt: skip
            chart.object = history_chart(self.run.history)

        self.run.param.watch(update, ["status", "current_iter", "history"])
        return pn.Row(form, pn.Column(feedback_alert(self.feedback), status, progress, chart,
                                      sizing_mode="stretch_width"),
                      sizing_mode="stretch_width")  # fmt: skip


def _number(parameter: Any, name: str, step: float) -> pn.widgets.FloatInput:
    return pn.widgets.FloatInput.from_param(parameter, label=name, step=step, width=150)


def _int(parameter: Any, name: str) -> pn.widgets.IntInput:
    return pn.widgets.IntInput.from_param(parameter, label=name, width=150)


def _button(name: str, kind: str, action: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=150)
    button.on_click(action)
    return button
