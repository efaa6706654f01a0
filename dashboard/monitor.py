"""Monitor: which selector delivery uses (the Delivery panel) and live exposure against the plan.

The computations are the services' (``qbank.services.exposure.monitor``,
``qbank.services.access.flags``); this page only shows them and asks before switching.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from dashboard.context import DashboardContext
from dashboard.exam_choice import offer_exams
from dashboard.feedback import TABLE_CSS, Feedback, as_text, feedback_alert
from qbank.errors import QBankError
from qbank.services.access.flags import SelectorOverview, selector_overview, set_selector
from qbank.services.calibration.run_views import applied_sh_run, planned_item_tau, planned_rates
from qbank.services.calibration.runs import RunDetail
from qbank.services.exposure.monitor import ExposureMonitor, ExposureWindow, monitor_exposure

__all__ = ["MONITOR_COLUMNS", "SELECTOR_NAMES", "MonitorPage", "delivery_note", "window_rows"]

SELECTOR_NAMES = {"vanilla": "vanilla (most informative item)",
                  "sympson_hetter": "Sympson–Hetter (uses the calibrated k)"}  # fmt: skip
MONITOR_COLUMNS = ("qid", "ver", "quizzes", "observed", "planned", "tau", "p_value", "alert")
DEFAULT_TAU = 0.2  # DESIGN's tau, when no run is applied


def delivery_note(overview: SelectorOverview) -> str | None:
    """Why calibrated k do not (or only partly) reach live quizzes; None when they all do."""
    by_selector = overview.students_by_selector
    sh, total = by_selector["sympson_hetter"], sum(by_selector.values())
    if overview.flag_selector == "sympson_hetter" and sh == total:
        return None
    if sh == 0:
        return ("Delivery does not use these k: every student gets the vanilla selector (the "
                "selector_strategy flag is not set to Sympson–Hetter and no cohort uses it). "
                "Switch it in the Delivery panel of the Monitor tab.")  # fmt: skip
    return (f"Only {sh} of {total} students get these k (the Sympson–Hetter selector); the "
            "others get the vanilla selector. Switch it in the Delivery panel of the "
            "Monitor tab.")  # fmt: skip


def window_rows(window: ExposureWindow) -> pd.DataFrame:
    """A window's items as the table shows them: most exposed first, alerts marked."""
    rows = [
        {"qid": item.question_id, "ver": item.version, "quizzes": item.quizzes,
         "observed": item.rate, "planned": item.planned_rate, "tau": item.tau,
         # A p-value only where the rate is above tau; "—" rather than NaN elsewhere.
         "p_value": "—" if item.p_value is None else f"{item.p_value:.2g}",
         "alert": "above tau" if item.alert else ""}
        for item in window.items
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=list(MONITOR_COLUMNS))


class MonitorPage(Viewer):
    """One exam's delivery selector and its observed exposure (today, last 7 days)."""

    exam = param.Selector(default=None, objects=[], allow_None=True)
    window = param.Selector(default="last 7 days", objects=["today", "last 7 days"])
    switch_to = param.Selector(default="sympson_hetter", objects=list(SELECTOR_NAMES))
    overview = param.Parameter(default=None, doc="the SelectorOverview shown")
    run = param.Parameter(default=None, doc="the exam's applied S–H run (RunDetail) or None")
    report = param.Parameter(default=None, doc="the ExposureMonitor shown")
    pending_switch = param.String(default="", doc="a selector switch waiting for a yes")

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self.switch_feedback = Feedback()
        self.load_choices()
        self.refresh()

    def load_choices(self) -> None:
        """The exams to choose from."""
        offer_exams(self, self.context)

    @param.depends("exam", watch=True)
    def refresh(self) -> None:
        """Read the selector state, the exam's applied run and its observed exposure."""
        sessions, tenant = self.context.sessions, self.context.tenant_id
        try:
            overview = selector_overview(sessions, tenant)
            run = applied_sh_run(sessions, tenant, self.exam) if self.exam else None
            report = None
            if self.exam:
                tau = float(run.params.get("tau", DEFAULT_TAU)) if run else DEFAULT_TAU
                plan = planned_rates(run) if run else None
                # Each item against its topic's tau in the run (DESIGN: topic_tau, topic_weights).
                item_tau = planned_item_tau(sessions, tenant, run) if run else None
                report = monitor_exposure(sessions, tenant, self.exam, tau=tau, planned=plan,
                                          item_tau=item_tau)  # fmt: skip
        except QBankError as error:
            self.feedback.say(str(error), "danger")
            return
        # Only what changed: redrawing the Delivery panel for equal figures would replace its
        # buttons under the admin's pointer (a click on the old one is lost).
        fresh = {"overview": overview, "run": run, "report": report}
        self.param.update(**{name: value for name, value in fresh.items()
                             if value != getattr(self, name)})  # fmt: skip

    def on_show(self) -> None:
        """The tab became visible: fresh figures."""
        self.load_choices()
        self.refresh()

    def ask_switch(self, _event: object = None) -> None:
        """Ask to confirm switching the selector of students without a cohort."""
        self.pending_switch = self.switch_to

    def confirm_switch(self, _event: object = None) -> bool:
        """Write the ``selector_strategy`` flag; True when written."""
        selector, self.pending_switch = self.pending_switch, ""
        if not selector:
            return False
        try:
            set_selector(self.context.sessions, self.context.tenant_id, selector)
        except QBankError as error:
            self.switch_feedback.say(f"Not switched: {error}.", "danger")
            return False
        self.switch_feedback.say(f"Switched: students without a cohort now get "
                                 f"{SELECTOR_NAMES[selector]}.", "success")  # fmt: skip
        self.refresh()
        return True

    def cancel_switch(self, _event: object = None) -> None:
        """Drop the switch waiting for a yes."""
        self.pending_switch = ""
        self.switch_feedback.say("Nothing switched.", "info")

    def shown_window(self) -> ExposureWindow | None:
        """The window the page shows."""
        report: ExposureMonitor | None = self.report
        if report is None:
            return None
        return report.today if self.window == "today" else report.last_7_days

    def __panel__(self) -> pn.viewable.Viewable:
        head = pn.FlexBox(
            pn.widgets.Select.from_param(self.param.exam, label="Exam", width=160),
            pn.widgets.RadioButtonGroup.from_param(self.param.window, button_type="default",
                                                   width=240, margin=(28, 10, 5, 10)),
            _button("Refresh", lambda _event: self.refresh(), margin=(28, 10, 5, 10)),
            align_items="flex-end",
        )  # fmt: skip
        return pn.Column(
            pn.pane.Markdown("### Delivery and live exposure\nWhich selector live quizzes use, "
                             "and the exposure rates observed in this exam's adaptive quizzes "
                             "(from quiz_items) against the applied run's plan."),
            head, feedback_alert(self.feedback),
            pn.panel(pn.bind(self._delivery_view, self.param.overview, self.param.run,
                             self.param.pending_switch)),
            pn.panel(pn.bind(self._monitor_view, self.param.report, self.param.window,
                             self.param.run)),
            sizing_mode="stretch_width",
        )  # fmt: skip

    def _delivery_view(
        self, overview: SelectorOverview | None, run: RunDetail | None, pending: str
    ) -> pn.viewable.Viewable:
        if overview is None:
            return pn.pane.Markdown("")
        counts = overview.students_by_selector
        lines = [
            "#### Delivery",
            f"Students without a cohort get **{SELECTOR_NAMES[overview.flag_selector]}** (the "
            f"tenant's `selector_strategy` flag{'' if overview.flag_enabled else ' is not set'})."
            " The flag applies to every exam of the tenant.",
            "Students now: " + " · ".join(
                f"{SELECTOR_NAMES[name].split(' (')[0]}: **{n}**" for name, n in counts.items())
            + f" (in a cohort: {sum(overview.cohorts.values())}, by the flag: "
              f"{overview.students_without_cohort})",
        ]  # fmt: skip
        parts: list[Any] = [pn.pane.Markdown("\n\n".join(lines), css_classes=["qbank-delivery"])]
        note = delivery_note(overview)
        if run is not None and note:
            parts.append(pn.pane.Alert(f"Applied run `{run.id[:8]}`: {note}",
                                       alert_type="warning"))  # fmt: skip
        parts.append(pn.Row(
            pn.widgets.Select.from_param(self.param.switch_to, label="Switch students without "
                                         "a cohort to", width=260,
                                         options={name.split(" (")[0]: key
                                                  for key, name in SELECTOR_NAMES.items()}),
            _button("Switch…", self.ask_switch, align="end"),
        ))  # fmt: skip
        if pending:
            parts.append(pn.pane.Alert(
                as_text(f"Switch the selector_strategy flag to {SELECTOR_NAMES[pending]}? "
                        f"New questions for the {overview.students_without_cohort} students "
                        "without a cohort use it at once, in every exam."),
                alert_type="warning", css_classes=["qbank-confirm"]))  # fmt: skip
            parts.append(
                pn.Row(
                    _button("Yes, switch", self.confirm_switch, "danger"),
                    _button("Keep as is", lambda _event: self.cancel_switch()),
                )
            )
        parts.append(feedback_alert(self.switch_feedback))
        return pn.Column(*parts, sizing_mode="stretch_width")

    def _monitor_view(
        self, report: ExposureMonitor | None, _window: str, run: RunDetail | None
    ) -> pn.viewable.Viewable:
        window = self.shown_window()
        if report is None or window is None:
            return pn.pane.Markdown("No exam yet.")
        plan = (f"the plan is run `{run.id[:8]}` ({_tau_words(run, report.tau)}, applied "
                f"{(run.applied_at or '')[:16].replace('T', ' ')})" if run else
                f"no run is applied: tau {report.tau:g} (DESIGN's default), no plan")  # fmt: skip
        overlap = "—" if window.overlap is None else f"{window.overlap:.3g}"
        selectors = (
            ", ".join(
                f"{SELECTOR_NAMES.get(name, name).split(' (')[0]}: {n}"
                for name, n in window.selectors.items()
            )
            or "—"
        )
        summary = (f"#### Monitor · {window.label}\n**{window.n_quizzes}** adaptive quizzes "
                   f"(mean length {window.mean_test_len:.3g}) · observed overlap **{overlap}** "
                   f"· quizzes by selector: {selectors} · {plan}.")  # fmt: skip
        alerts = window.alerts
        if alerts:
            listed = "\n".join(
                f"- question {item.question_id} v{item.version}: observed rate {item.rate:.3g} "
                f"({item.quizzes} of {item.n_quizzes} quizzes; tau {item.tau:g}, planned "
                f"{'—' if item.planned_rate is None else f'{item.planned_rate:.3g}'}, "
                f"p = {item.p_value:.2g})" for item in alerts)  # fmt: skip
            noun = "item is above its" if len(alerts) == 1 else "items are above their"
            alert = pn.pane.Alert(f"**{len(alerts)} {noun} tau beyond sampling error** "
                                  f"(one-sided binomial test, level {report.alpha:g} "
                                  f"Bonferroni-corrected):\n\n{listed}",
                                  alert_type="danger", css_classes=["qbank-alerts"])  # fmt: skip
        else:
            alert = pn.pane.Alert(
                f"No item exceeds its tau beyond sampling error in "
                f"{window.n_quizzes} quizzes (one-sided binomial test, level {report.alpha:g} "
                "Bonferroni-corrected).",
                alert_type="success",
                css_classes=["qbank-alerts"],
            )
        table = pn.widgets.Tabulator(
            window_rows(window), show_index=False, stylesheets=TABLE_CSS, disabled=True,
            pagination="local",
            page_size=15, layout="fit_data_table", sizing_mode="stretch_width",
            formatters={"observed": {"type": "money", "precision": 3},
                        "planned": {"type": "money", "precision": 3}},
            titles={"observed": "observed rate", "planned": "planned rate",
                    "tau": "item tau", "p_value": "p (rate > tau)"},
            css_classes=["qbank-monitor-table"],
        )  # fmt: skip
        return pn.Column(pn.pane.Markdown(summary), alert, table, sizing_mode="stretch_width")


def _tau_words(run: RunDetail, tau: float) -> str:
    """The run's tau in words: one for the exam, or per topic where the run set them."""
    per_topic = {**run.params.get("topic_weights", {}), **run.params.get("topic_tau", {})}
    if not per_topic:
        return f"tau {tau:g}"
    return f"tau {tau:g}, per topic for {', '.join(sorted(map(str, per_topic)))}"


def _button(name: str, action: Any, kind: str = "default", **options: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=130, **options)
    button.on_click(action)
    return button
