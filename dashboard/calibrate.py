"""Calibrate: every S–H parameter, Start, live progress and chart, Cancel.

The form starts from settings that converge (the Sympson & Hetter 1985 update rule, 2 000
simulees, up to 20 iterations, stopping once converged), not DESIGN.md's defaults, which
README's table shows do not converge in 5 iterations. On load the page reattaches to the
tenant's calibration that is still queued or running, so a reload loses nothing.
"""

from __future__ import annotations

import json
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.charts import history_chart
from dashboard.context import DashboardContext
from dashboard.exam_choice import offer_exams
from dashboard.feedback import Feedback, feedback_alert, in_words
from dashboard.jobs import ACTIVE, RunFollower
from qbank.cat import ABILITY_MODES, UPDATE_RULES, CalibrationParams
from qbank.errors import InvalidInputError, QBankError
from qbank.services.calibration.run_views import list_runs
from qbank.services.calibration.sh import start_run

__all__ = ["CONVERGING_DEFAULTS", "FIELD_LABELS", "CalibratePage", "parse_strata",
           "parse_topic_map", "run_status_text"]  # fmt: skip

# Settings that converge (README "How many iterations each rule needs": the 1985 rule reaches
# max exposure ≤ tau + 0.035 in ~5 iterations at n 5 000, ~20 at n 400); DESIGN's defaults
# (multiplicative, alpha 0.6, n 400, 5 iterations) leave max exposure near 0.45.
CONVERGING_DEFAULTS = CalibrationParams(
    n=2000, iters=20, alpha=1.0, update_rule="sympson-hetter", until_converged=True, tol=0.035
)
_DEFAULTS = CONVERGING_DEFAULTS
_NUMBERS = ("tau", "n", "test_len", "iters", "alpha", "floor", "ceil", "seed", "tol")
FIELD_LABELS = {
    "tau": "tau (target exposure)", "alpha": "alpha (damping)", "n": "n simulees",
    "test_len": "test length", "iters": "iterations", "theta_dist": "theta distribution",
    "topic_tau": "per-topic tau", "topic_weights": "per-topic weights",
    "update_rule": "update rule", "until_converged": "until converged",
    "tol": "tol (max_over)", "strata": "strata cut points", "ability": "ability",
}  # fmt: skip
DEFAULTS_NOTE = (
    "Pre-filled with settings that converge: the Sympson & Hetter (1985) rule, 2 000 simulees, "
    "up to 20 iterations, stopping once max exposure stays within tol of tau for 3 iterations. "
    "DESIGN's defaults (multiplicative, alpha 0.6, n 400, 5 iterations) stop near max "
    "exposure 0.45; with the multiplicative rule use alpha 1.0 and 20–30 iterations."
)


def parse_strata(text: str) -> list[float]:
    """θ cut points typed as ``-1, -0.3, 0.3, 1``; empty text is ``[]`` (the default strata).

    Raises:
        InvalidInputError: a value is not a number.
    """
    try:
        return [float(part) for part in text.replace(",", " ").split()]
    except ValueError:
        raise InvalidInputError(
            f"strata must be numbers such as -1, -0.3, 0.3, 1; got {text!r}"
        ) from None


def run_status_text(
    status: str,
    run_id: str,
    current_iter: int,
    total_iters: int,
    *,
    noun: str = "Run",
    step: str = "iteration",
) -> str:
    """What a followed run is doing, in words (Markdown)."""
    head = f"{noun} `{run_id[:8]}`: **{status}**"
    if status == "queued":
        return f"{head} — waiting for the job runner to pick it up"
    if status == "running" and current_iter == 0:
        return (f"{head} — preparing the simulation… (XLA compiles it for this pool and these "
                "settings, about 10 s the first time)")  # fmt: skip
    return f"{head} — {step} {current_iter} of {total_iters or '?'}"


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
    conditional = param.Boolean(default=False)
    strata = param.String(default="", doc="θ cut points, e.g. -1, -0.3, 0.3, 1")
    dry_run = param.Boolean(default=True)
    active_runs = param.List(default=[], doc="the tenant's queued or running calibrations")

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self.run = RunFollower(context, self.feedback)
        self.load_choices()
        self.reattach(poll=False)  # polling starts when the page is drawn (its document)

    def reattach(self, *, poll: bool = True) -> None:
        """Find the tenant's calibrations still queued or running and follow the newest."""
        found = [run for status in ACTIVE
                 for run in list_runs(self.context.sessions, self.context.tenant_id, kind="sh",
                                      status=status, page_size=20)[0]]  # fmt: skip
        found.sort(key=lambda run: run.created_at or "", reverse=True)
        self.active_runs = [f"{run.id[:8]} ({run.status}, exam {run.exam_code})" for run in found]
        if found and not self.run.active:
            newest = found[0]
            self.run.follow(newest.id)
            if poll:
                self.run.start_polling()
            self.feedback.say(f"Run {newest.id[:8]} was started before this page was loaded "
                              f"and is {newest.status}: following it.", "info")  # fmt: skip

    def on_show(self) -> None:
        """The tab became visible: new exams, and any run started elsewhere."""
        self.load_choices()
        self.reattach()

    def load_choices(self) -> None:
        """The exams to choose from."""
        offer_exams(self, self.context)

    def params(self) -> CalibrationParams:
        """The form as validated calibration parameters.

        Raises:
            InvalidInputError: a value is missing or out of range, or a topic map is not JSON.
        """
        missing = [FIELD_LABELS.get(name, name) for name in _NUMBERS if getattr(self, name) is None]
        if missing:
            raise InvalidInputError(f"give a value for {', '.join(missing)}")
        numbers = {name: getattr(self, name) for name in _NUMBERS}
        return CalibrationParams(
            **numbers, theta_dist=self.theta_dist.strip(), ability=self.ability,
            update_rule=self.update_rule, until_converged=self.until_converged,
            topic_tau=parse_topic_map("topic_tau", self.topic_tau),
            topic_weights=parse_topic_map("topic_weights", self.topic_weights),
            conditional=self.conditional, strata=parse_strata(self.strata),
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
            self.feedback.say(f"Not started: {in_words(str(error), FIELD_LABELS)}.", "danger")
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
            pn.widgets.Select.from_param(self.param.exam, label="Exam", width=310),
            pn.Row(pn.widgets.Select.from_param(self.param.update_rule, label="update rule",
                                                width=150),
                   _number(self.param.tau, "tau (target exposure)", 0.01)),
            pn.Row(_int(self.param.n, "n simulees"), _int(self.param.test_len, "test length")),
            pn.Row(_int(self.param.iters, "iterations"),
                   _number(self.param.alpha, "alpha (damping)", 0.1)),
            pn.widgets.Checkbox.from_param(
                self.param.until_converged,
                label="until converged (max_over ≤ tol for 3 iterations, or at iterations)"),
            pn.Row(_number(self.param.tol, "tol (max_over)", 0.005), _int(self.param.seed, "seed")),
            pn.Row(_number(self.param.floor, "floor", 0.01),
                   _number(self.param.ceil, "ceil", 0.05)),
            pn.Row(pn.widgets.TextInput.from_param(self.param.theta_dist,
                                                   label="theta distribution",
                                                   placeholder="normal0,1", width=150),
                   pn.widgets.Select.from_param(self.param.ability, label="ability", width=150)),
            pn.widgets.TextInput.from_param(self.param.topic_tau, label="per-topic tau (JSON)",
                                            placeholder='{"Cardiology": 0.1}', width=310),
            pn.widgets.TextInput.from_param(self.param.topic_weights,
                                            label="per-topic weights (JSON)", width=310,
                                            placeholder='{"Cardiology": 2, "Neurology": 1}'),
            pn.Row(pn.widgets.Checkbox.from_param(self.param.conditional,
                                                  label="conditional (by θ stratum)", width=150),
                   pn.widgets.TextInput.from_param(self.param.strata, label="strata cut points",
                                                   placeholder="-1, -0.3, 0.3, 1", width=150)),
            pn.widgets.Checkbox.from_param(self.param.dry_run, label="dry run (apply later)"),
            pn.Row(_button("Start", "primary", self.start),
                   _button("Cancel", "warning", self.run.cancel)),
            width=330,
        )  # fmt: skip
        note = pn.pane.Alert(DEFAULTS_NOTE + " Conditional S–H (Stocking & Lewis 1998) gives every "
                             "item one k per θ stratum; delivery draws with the k of the stratum "
                             "holding the student's current θ̂.", alert_type="light",
                             css_classes=["qbank-note"], sizing_mode="stretch_width")  # fmt: skip
        progress = pn.indicators.Progress(value=0, max=100, bar_color="success",
                                          sizing_mode="stretch_width")  # fmt: skip
        status = pn.pane.Markdown("No run started yet — fill in the form and press Start.",
                                  css_classes=["qbank-run-status"])  # fmt: skip
        others = pn.pane.Markdown("", css_classes=["qbank-active-runs"])
        chart = pn.pane.HoloViews(history_chart([], self.tau), sizing_mode="stretch_width",
                                  min_width=300)  # fmt: skip

        def update(*_events: object) -> None:
            progress.value = self.run.progress
            if self.run.run_id:
                status.object = run_status_text(
                    self.run.status, self.run.run_id, self.run.current_iter, self.run.total_iters
                )
            chart.object = history_chart(self.run.history, self.tau)

        def list_others(runs: list[str]) -> None:
            others.object = ("Queued or running now: " + ", ".join(runs)) if len(runs) > 1 else ""

        self.run.param.watch(update, ["status", "current_iter", "history", "run_id"])
        self.param.watch(lambda event: list_others(event.new), "active_runs")
        update()
        list_others(self.active_runs)
        if self.run.active:
            # Here, not in __init__: the login callback that builds the page awaits the password
            # check, and a callback added there has no document (Panel then links its CSS from
            # its CDN); drawing the page runs in the session's document.
            self.run.start_polling()
        return pn.FlexBox(
            form,
            pn.Column(feedback_alert(self.feedback), status, others, progress, chart, note,
                      sizing_mode="stretch_width", min_width=320, styles={"flex": "1 1 420px"}),
            flex_wrap="wrap", sizing_mode="stretch_width",
        )  # fmt: skip


def _number(parameter: Any, name: str, step: float) -> pn.widgets.FloatInput:
    return pn.widgets.FloatInput.from_param(parameter, label=name, step=step, width=150)


def _int(parameter: Any, name: str) -> pn.widgets.IntInput:
    return pn.widgets.IntInput.from_param(parameter, label=name, width=150)


def _button(name: str, kind: str, action: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=150)
    button.on_click(action)
    return button
