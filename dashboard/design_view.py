"""The Design page's widgets and texts: the stored design in words, the form, the preview.

``design_layout`` draws a ``DesignPage``; the texts are plain functions of what the services
return, so tests can read them without a browser.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np
import panel as pn

from dashboard.design_charts import (
    conditional_exposure_chart,
    exposure_by_item_chart,
    lengths_chart,
)
from dashboard.design_form import (
    ESTIMATOR_NAMES,
    EXPOSURE_NAMES,
    RULE_NAMES,
    DesignForm,
    design_words,
    name_of,
)
from dashboard.feedback import as_text, feedback_alert
from dashboard.monitor import SELECTOR_NAMES
from qbank.errors import QBankError
from qbank.services.access.flags import SelectorOverview
from qbank.services.calibration.design_sim import DesignSimulation
from qbank.services.delivery.exam_design import ExamDesignView

if TYPE_CHECKING:
    from dashboard.design_page import DesignPage

__all__ = ["current_design_text", "design_layout", "moment", "preview_figures"]

FORM_WIDTH = 440
_SMALL = {"font-size": "0.85em", "color": "#555"}


def moment(text: str | None) -> str:
    """An ISO time as `YYYY-MM-DD HH:MM:SS UTC` (the store keeps UTC)."""
    return (text or "")[:19].replace("T", " ") + (" UTC" if text else "")


def current_design_text(
    exam: str, view: ExamDesignView | None, overview: SelectorOverview | None
) -> str:
    """What delivery does for ``exam`` now: its stored design in words, or the selector flag."""
    if view is None:
        return ""
    if not view.stored:
        flag = overview.flag_selector if overview else "vanilla"
        state = "" if overview is None or overview.flag_enabled else " (the flag is not set)"
        return (
            f"#### {exam} has no design\n"
            f"No design: delivery uses the tenant's `selector_strategy` flag, "
            f"**{SELECTOR_NAMES.get(flag, flag)}**{state}, for students without a selector "
            "cohort; a cohort's students get their cohort's selector. Length and SE stop come "
            "from each quiz request. The form starts from the defaults (today's CAT)."
        )
    who = f" by **{view.updated_by}**" if view.updated_by else ""
    lines = [
        f"#### Current design of {exam}",
        f"Saved {moment(view.updated_at)}{who}. Adaptive quizzes of {exam} started since "
        "follow it (a quiz keeps the design it started with); the tenant's "
        "`selector_strategy` flag no longer applies to this exam.",
        *(f"- {line}" for line in design_words(view.design)),
    ]
    return "\n".join(lines)


def preview_figures(report: DesignSimulation) -> list[tuple[str, str]]:
    """The preview's figures as (what, value) rows, in ``qbank simulate``'s terms."""
    m = report.scalars()
    exposure = np.asarray(report.metrics.exposure_rates)
    top = int(np.argmax(exposure)) if exposure.size else 0
    rows = [
        ("max exposure", f"{m['max_exp']:.3g} (question {report.pool.qids[top]})"),
        ("test overlap", f"{m['overlap']:.3g}"),
        ("items never given", f"{m['unused_share']:.1%} of {report.pool.n_items}"),
        ("bias of θ estimates", f"{m['bias']:+.3f}"),
        ("RMSE of θ estimates", f"{m['rmse']:.3f}"),
        ("test length", f"mean {m['mean_test_length']:.3g} (min {m['min_test_length']}, "
                        f"max {m['max_test_length']})"),
        ("max exposure by θ stratum",
         " · ".join(f"{x:.3g}" for x in m["conditional_max_exp"])
         + " (cuts " + ", ".join(f"{x:g}" for x in report.strata) + ")"),
    ]  # fmt: skip
    if m["blueprint_met_share"] is not None:
        rows.append(("blueprint met", f"{m['blueprint_met_share']:.1%} of tests"))
    if m["classified_correctly"] is not None:
        rows.append(("classified correctly", f"{m['classified_correctly']:.1%} "
                                             f"({m['passed_share']:.1%} passed)"))  # fmt: skip
    return rows


def design_layout(page: DesignPage) -> pn.viewable.Viewable:
    """The whole page: exam and current design on top, the form beside the preview."""
    head = pn.FlexBox(
        pn.widgets.Select.from_param(page.param.exam, name="Exam", width=160),
        _button("Reload", lambda _event: page.reset(), margin=(28, 10, 5, 10)),
        align_items="flex-end",
    )  # fmt: skip
    current = pn.panel(pn.bind(_current_view, page.param.exam, page.param.stored,
                               page.param.overview))  # fmt: skip
    form = pn.Column(
        pn.pane.Markdown("#### Edit the design\nThe API's own check (`PUT …/design`) decides "
                         "whether a design is valid; nothing is stored before you confirm."),
        *_selection_widgets(page.form), *_exposure_widgets(page.form),
        *_stopping_widgets(page.form), *_blueprint_widgets(page.form),
        # The buttons and their answers stay in view at the bottom of the window while the
        # admin scrolls the form: a refusal or a confirmation is never below the fold.
        pn.Column(
            pn.Row(_button("Preview", page.start_preview, "primary"),
                   _button("Save…", page.ask_save, "success"),
                   _button("Reset", lambda _event: page.reset())),
            pn.panel(pn.bind(_confirm_view, page, page.param.pending_save)),
            feedback_alert(page.feedback),
            width=FORM_WIDTH, css_classes=["qbank-design-actions"],
            styles={"position": "sticky", "bottom": "0", "z-index": "10", "background": "white",
                    "border-top": "1px solid #ddd", "padding-bottom": "8px"},
        ),
        width=FORM_WIDTH, css_classes=["qbank-design-form"],
    )  # fmt: skip
    results = pn.Column(
        pn.pane.Markdown("#### Preview on simulees\nA short seeded simulation of the form's "
                         "design (saved or not) on the exam's live pool: the same one "
                         "`qbank simulate` runs."),
        pn.Row(pn.widgets.IntInput.from_param(page.param.preview_n, name="simulees", width=140),
               pn.widgets.IntInput.from_param(page.param.preview_seed, name="seed", width=140)),
        feedback_alert(page.preview_feedback),
        pn.panel(pn.bind(_status_view, page, page.param.preview_status, page.param.elapsed_s,
                         page.param.form_changes)),
        pn.panel(pn.bind(_preview_view, page.param.preview)),
        sizing_mode="stretch_width", min_width=320, styles={"flex": "1 1 420px"},
        css_classes=["qbank-design-preview"],
    )  # fmt: skip
    if page.preview_status == "running":
        page._start_polling()  # in the session's document (see CalibratePage.__panel__)
    return pn.Column(
        pn.pane.Markdown("### Test design\nHow this exam's adaptive quizzes select, estimate θ, "
                         "control exposure, stop and balance topics."),
        head, current,
        pn.FlexBox(form, results, flex_wrap="wrap", sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )  # fmt: skip


def _current_view(
    exam: str | None, view: ExamDesignView | None, overview: SelectorOverview | None
) -> pn.viewable.Viewable:
    if not exam:
        return pn.pane.Markdown("No exam yet: import questions or seed the demo exam "
                                "(qbank seed-demo), then reload.")  # fmt: skip
    text = current_design_text(exam, view, overview)
    parts: list[Any] = [pn.pane.Markdown(as_text(text), css_classes=["qbank-current-design"],
                                         sizing_mode="stretch_width")]  # fmt: skip
    if view is not None and view.stored:
        values = json.dumps(view.design, indent=1, ensure_ascii=False)
        parts.append(
            pn.Card(
                pn.pane.Markdown(f"```json\n{as_text(values)}\n```"),
                title="values (the API's JSON)",
                collapsed=True,
                sizing_mode="stretch_width",
                css_classes=["qbank-design-json"],
            )
        )
    return pn.Column(*parts, sizing_mode="stretch_width", css_classes=["qbank-current"])


def _selection_widgets(form: DesignForm) -> list[Any]:
    rules = {f"{name_of(RULE_NAMES, rule)} ({rule})": rule for rule in form.param.rule.objects}
    estimators = {f"{name_of(ESTIMATOR_NAMES, name)}": name
                  for name in form.param.estimator.objects}  # fmt: skip
    return [
        pn.pane.Markdown("**Selection**", margin=(10, 10, 0, 10)),
        pn.widgets.Select.from_param(form.param.rule, name="next-item rule", options=rules,
                                     width=FORM_WIDTH - 20),
        pn.panel(pn.bind(_options_view, form, form.param.rule, form.param.revision)),
        pn.widgets.Select.from_param(form.param.estimator, name="θ estimator",
                                     options=estimators, width=FORM_WIDTH - 20),
    ]  # fmt: skip


def _options_view(form: DesignForm, rule: str, _revision: int) -> pn.viewable.Viewable:
    fields = form.option_fields(rule)
    if fields:
        widgets = []
        for name, option, label in fields:
            kind = pn.widgets.FloatInput if option == "acceleration" else pn.widgets.IntInput
            extra = {"placeholder": "= maximum length"} if option == "test_len" else {}
            widgets.append(kind.from_param(form.param[name], name=label, width=200, **extra))
        return pn.Row(*widgets)
    if form.takes_json_options(rule):
        return pn.widgets.TextInput.from_param(form.param.other_options,
                                               name="rule options (JSON object)",
                                               width=FORM_WIDTH - 20)  # fmt: skip
    return pn.pane.Markdown("This rule takes no options.", styles=_SMALL, margin=(0, 10))


def _exposure_widgets(form: DesignForm) -> list[Any]:
    methods = {name_of(EXPOSURE_NAMES, method): method for method in form.param.exposure.objects}
    return [
        pn.pane.Markdown("**Exposure control**", margin=(10, 10, 0, 10)),
        pn.widgets.Select.from_param(form.param.exposure, name="method", options=methods,
                                     width=FORM_WIDTH - 20),
        pn.panel(pn.bind(_exposure_parameters_view, form, form.param.exposure,
                         form.param.revision)),
    ]  # fmt: skip


_EXPOSURE_NOTES = {
    "none": "Every next item is the rule's best: the most informative items are given most.",
    "sympson_hetter": "Each chosen item is given with probability k (the items' sh_p, set by a "
    "Sympson–Hetter calibration on Calibrate), else the next best is tried.",
    "conditional_sympson_hetter": "Each item has one k per θ stratum (a conditional "
    "calibration on Calibrate); the lottery uses the k of the stratum of the current θ̂.",
    "r_max": "An item already given in at least r_max of this exam's quizzes is passed over "
    "(Revuelta & Ponsoda 1998); the rule ranks the others. No calibration is needed.",
}


def _exposure_parameters_view(form: DesignForm, method: str, _revision: int) -> Any:
    parts: list[Any] = []
    note = _EXPOSURE_NOTES.get(method)
    if note:
        parts.append(pn.pane.Markdown(note, styles=_SMALL, margin=(0, 10)))
    for key in form.shown_exposure_parameters(method):
        field = pn.widgets.TextInput(
            name=form.parameter_label(key),
            value=form.exposure_values.get(key, ""),
            placeholder="e.g. -1, 0, 1",
            width=FORM_WIDTH - 20,
        )

        def typed(event: Any, key: str = key) -> None:
            form.exposure_values = {**form.exposure_values, key: event.new}

        field.param.watch(typed, "value")
        parts.append(field)
    return pn.Column(*parts, margin=0)


def _stopping_widgets(form: DesignForm) -> list[Any]:
    def number(name: str, label: str, step: float, on: str) -> pn.widgets.FloatInput:
        return pn.widgets.FloatInput.from_param(
            form.param[name], name=label, step=step, width=120, disabled=form.param[on].rx.not_()
        )

    def switch(name: str, label: str) -> pn.widgets.Checkbox:
        return pn.widgets.Checkbox.from_param(
            form.param[name],
            name=label,
            width=280,
            margin=(32, 10, 5, 10),
            css_classes=[f"qbank-{name.replace('_', '-')}"],
        )

    return [
        pn.pane.Markdown("**Stopping** (a test ends when any rule on says so)",
                         margin=(10, 10, 0, 10)),
        pn.Row(pn.widgets.IntInput.from_param(form.param.max_len, name="maximum length",
                                              width=140),
               pn.widgets.IntInput.from_param(form.param.min_len,
                                              name="minimum length (before any rule stops)",
                                              width=260)),
        pn.Row(switch("use_se", "stop once the SE of θ̂ ≤"), number("se", "SE", 0.05, "use_se")),
        pn.Row(switch("use_min_info", "stop once no item left gives information ≥"),
               number("min_info", "information", 0.05, "use_min_info")),
        pn.Row(switch("classify", "classify pass/fail: stop once θ̂ ± z·SE excludes the cut"),
               number("cut", "cut θ", 0.1, "classify")),
        pn.Row(pn.Spacer(width=300), number("z", "z", 0.1, "classify")),
    ]  # fmt: skip


def _blueprint_widgets(form: DesignForm) -> list[Any]:
    return [
        pn.pane.Markdown("**Content balancing**", margin=(10, 10, 0, 10)),
        pn.widgets.Checkbox.from_param(
            form.param.balance, name="blueprint: each next item from the topic furthest below "
            "its target (Kingsbury & Zara 1989)", width=FORM_WIDTH - 20,
            css_classes=["qbank-balance"]),
        pn.panel(pn.bind(_targets_view, form, form.param.balance, form.param.revision)),
    ]  # fmt: skip


def _targets_view(form: DesignForm, balance: bool, _revision: int) -> Any:
    if not balance:
        return pn.pane.Markdown("No blueprint: the rule picks from every topic.", styles=_SMALL,
                                margin=(0, 10))  # fmt: skip
    if not form.targets:
        return pn.pane.Markdown("This exam has no topics.", styles=_SMALL, margin=(0, 10))
    fields = []
    for topic, value in form.targets.items():
        field = pn.widgets.FloatInput(
            name=topic,
            value=value,
            step=0.05,
            start=0,
            end=1,
            placeholder="not in the blueprint",
            width=200,
        )

        def typed(event: Any, topic: str = topic) -> None:
            form.targets = {**form.targets, topic: event.new}

        field.param.watch(typed, "value")
        fields.append(field)
    total = pn.pane.Markdown(pn.bind(_sum_text, form.param.targets), styles=_SMALL,
                             margin=(0, 10), css_classes=["qbank-blueprint-sum"])  # fmt: skip
    share = pn.widgets.Button(name="Equal shares", width=130, margin=(5, 10))
    share.on_click(form.equal_shares)
    return pn.Column(
        pn.pane.Markdown("Target proportion of each topic (they must sum to 1); a topic left "
                         "blank is outside the blueprint: its items come only once every listed "
                         "topic is at its target.", styles=_SMALL, margin=(0, 10)),
        pn.FlexBox(*fields), pn.Row(total, share), margin=0,
    )  # fmt: skip


def _sum_text(targets: dict[str, float | None]) -> str:
    listed = [value for value in targets.values() if value is not None]
    return f"{len(listed)} topics listed, targets sum to **{sum(listed):.4g}**"


def _confirm_view(page: DesignPage, pending: dict[str, Any] | None) -> pn.viewable.Viewable:
    if pending is None:
        return pn.Column(margin=0)
    exam = page.exam or ""
    replaces = ""
    if page.stored is not None and page.stored.stored:
        who = f" by {page.stored.updated_by}" if page.stored.updated_by else ""
        replaces = f" It replaces the design saved {moment(page.stored.updated_at)}{who}."
    text = (f"Save this design for {exam}? Live quizzes of {exam} will use it: every adaptive "
            f"quiz started from now on follows it, instead of the selector_strategy flag "
            f"(quizzes under way keep the design they started with).{replaces}")  # fmt: skip
    return pn.Column(
        pn.pane.Alert(as_text(text), alert_type="warning", css_classes=["qbank-confirm"]),
        pn.Row(_button("Yes, save", page.confirm_save, "danger"),
               _button("Keep editing", page.cancel_save)),
        margin=0, sizing_mode="stretch_width",
    )  # fmt: skip


def _status_view(page: DesignPage, status: str, elapsed_s: int, _changes: int) -> Any:
    if status == "running":
        return pn.Column(
            pn.pane.Markdown(f"**Simulating…** {page.preview_n} simulees, seed "
                             f"{page.preview_seed} ({elapsed_s} s; the first run of a design "
                             "compiles it for this pool, about 10–30 s).",
                             css_classes=["qbank-preview-status"]),
            pn.indicators.Progress(value=-1, active=True, bar_color="info",
                                   sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )  # fmt: skip
    if status == "done" and page.preview_design is not None:
        try:
            same = page.form.as_json() == page.preview_design
        except QBankError:  # a blank field: the form differs from the preview
            same = False
        if not same:
            return pn.pane.Alert("The form has changed since this preview: press Preview "
                                 "again to see the edited design.", alert_type="info",
                                 css_classes=["qbank-preview-stale"])  # fmt: skip
    if status == "":
        return pn.pane.Markdown("No preview yet: edit the design and press Preview.",
                                css_classes=["qbank-preview-status"])  # fmt: skip
    return pn.Column(margin=0)


def _preview_view(report: DesignSimulation | None) -> pn.viewable.Viewable:
    if report is None:
        return pn.Column(margin=0)
    rows = "\n".join(f"| {what} | {value} |" for what, value in preview_figures(report))
    lottery = (" The lotteries use the exam's current k (sh_p)."
               if report.design.uses_lottery else "")  # fmt: skip
    caption = (f"{report.n} simulees (seed {report.seed}), true θ ~ {_dist(report.theta_dist)}, "
               "on the "
               f"{report.pool.n_items} live items of the exam; compiled in "
               f"{report.compile_s:.1f} s, ran in {report.run_s:.2g} s.{lottery}")  # fmt: skip
    metrics = report.metrics
    charts = pn.FlexBox(
        _chart(exposure_by_item_chart(np.asarray(metrics.exposure_rates), report.pool.qids,
                                      report.pool.topics, float(metrics.mean_test_length)),
               "1 1 100%", "qbank-exposure-chart"),
        _chart(lengths_chart(np.asarray(metrics.test_length)), "1 1 280px", "qbank-length-chart"),
        _chart(conditional_exposure_chart(np.asarray(metrics.conditional_max_exp),
                                          report.strata), "1 1 280px", "qbank-stratum-chart"),
        sizing_mode="stretch_width",
    )  # fmt: skip
    return pn.Column(
        pn.pane.Markdown(as_text(f"| figure | value |\n|---|---|\n{rows}\n\n{caption}"),
                         css_classes=["qbank-preview-figures"], sizing_mode="stretch_width"),
        charts, sizing_mode="stretch_width",
    )  # fmt: skip


def _dist(theta_dist: str) -> str:
    """``normal0,1`` as N(0, 1), ``uniform-2,2`` as U(-2, 2); anything else as given."""
    found = re.fullmatch(r"(normal|uniform)\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)", theta_dist.strip())
    if not found:
        return theta_dist
    letter = "N" if found.group(1) == "normal" else "U"
    return f"{letter}({found.group(2)}, {found.group(3)})"


def _chart(chart: Any, flex: str, css: str) -> pn.pane.HoloViews:
    return pn.pane.HoloViews(chart, min_width=280, sizing_mode="stretch_width",
                             styles={"flex": flex}, css_classes=[css])  # fmt: skip


def _button(name: str, action: Any, kind: str = "default", **options: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(name=name, button_type=kind, width=130, **options)
    button.on_click(action)
    return button
