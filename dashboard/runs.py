"""Runs: history with filters and pages; a run's params, charts, diff, CSV, apply and roll back."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any

import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from dashboard.charts import exposure_histogram, history_chart
from dashboard.context import DashboardContext
from dashboard.feedback import TABLE_CSS, Feedback, as_text, feedback_alert
from dashboard.jobs import ACTIVE, POLL_PERIOD_MS
from dashboard.monitor import delivery_note
from dashboard.stratum_chart import MIN_WIDTH, stratum_exposure_heatmap
from dashboard.sweep import heatmap_pane
from qbank.errors import ChangedSinceError, QBankError
from qbank.services.access.flags import selector_overview
from qbank.services.calibration.run_apply import apply_run, rollback_run
from qbank.services.calibration.run_views import diff_csv, get_run, list_runs
from qbank.services.calibration.runs import RUN_KIND_PATHS, RUN_STATUSES, RunDetail
from qbank.services.calibration.sweep import SWEEP_METRICS, sweep_csv
from qbank.services.exposure.table import list_exams

__all__ = [
    "DIFF_COLUMNS",
    "RUN_COLUMNS",
    "RunsPage",
    "can_apply",
    "can_roll_back",
    "describe",
    "diff_rows",
    "run_row",
    "values_state",
]

ALL = "(all)"  # the filter choice that filters nothing
RUN_COLUMNS = ("run", "kind", "exam", "status", "progress", "tau", "alpha", "n", "iters", "rule",
               "max_exp", "values", "created", "finished")  # fmt: skip
DIFF_COLUMNS = ("qid", "ver", "k_before", "k_after", "delta", "exposure_before", "exposure_after")


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _short_time(text: str | None) -> str:
    moment = _moment(text)
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def is_applied(run: RunDetail) -> bool:
    """True when the run's values are in the item bank (applied and not rolled back since)."""
    applied, rolled_back = _moment(run.applied_at), _moment(run.rolled_back_at)
    return applied is not None and (rolled_back is None or rolled_back < applied)


def can_apply(run: RunDetail) -> bool:
    """A finished run of a kind that writes values, not applied yet (e.g. a dry run)."""
    writes = run.kind != "sweep"
    return writes and run.status == "done" and not is_applied(run)


def can_roll_back(run: RunDetail) -> bool:
    """A finished run whose values are applied."""
    return run.status == "done" and is_applied(run)


def values_state(run: RunDetail, in_effect: bool | None = None) -> str:
    """What became of a run's values: applied, superseded, rolled back, not applied, report only.

    ``in_effect`` overrides ``run.in_effect`` (a listed run does not carry it).
    """
    if run.kind == "sweep":
        return "report only"
    if run.status != "done":
        return ""
    if is_applied(run):
        effective = run.in_effect if in_effect is None else in_effect
        return "applied" if effective else "superseded"
    if run.rolled_back_at:
        return "rolled back"
    return "not applied (dry run)" if run.dry_run else "not applied"


def _final_max_exp(run: RunDetail) -> str:
    metrics = (run.result or {}).get("metrics") or {}
    value = metrics.get("max_exp")
    if value is None and run.history and run.kind == "sh":
        value = run.history[-1].get("max_exp")
    return f"{value:.3g}" if isinstance(value, int | float) else ""


def run_row(run: RunDetail, in_effect: bool | None = None) -> dict[str, Any]:
    """The run as one row of the Runs list: kind, key parameters, final max_exp, state."""
    params = run.params
    if run.kind == "sweep":
        tau = ", ".join(f"{value:g}" for value in params.get("taus", []))
        alpha = ", ".join(f"{value:g}" for value in params.get("alphas", []))
    else:
        tau, alpha = _number(params.get("tau")), _number(params.get("alpha"))
    rule = params.get("update_rule", "multiplicative" if run.kind != "irt" else "")
    if rule == "sympson-hetter":
        alpha = "—"  # the 1985 rule has no damping
    return {
        "run": run.id[:8], "kind": run.kind, "exam": run.exam_code, "status": run.status,
        "progress": f"{run.current_iter}/{run.total_iters}", "tau": tau, "alpha": alpha,
        "n": _number(params.get("n")), "iters": _number(params.get("iters")),
        "rule": rule + (" · until converged" if params.get("until_converged") else ""),
        "max_exp": _final_max_exp(run), "values": values_state(run, in_effect),
        "created": _short_time(run.created_at), "finished": _short_time(run.finished_at),
    }  # fmt: skip


def _number(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def item_count(run: RunDetail) -> int:
    """How many items applying or rolling back the run writes."""
    result = run.result or {}
    return len(result.get("diff") or result.get("items") or [])


def _superseded_words(run: RunDetail) -> str:
    return "; ".join(f"{change['description']} ({change['items']} items)"
                     for change in run.superseded_by)  # fmt: skip


def describe(run: RunDetail) -> str:
    """The run's header as Markdown: what, when, state, and whether its values are applied."""
    lines = [
        f"### Run `{run.id}`",
        f"**{run.kind}** on exam **{as_text(run.exam_code)}** · status **{run.status}**"
        f"{' · dry run' if run.dry_run else ''} · iteration {run.current_iter} of "
        f"{run.total_iters}",
        f"created {_short_time(run.created_at)} · started {_short_time(run.started_at) or '—'} · "
        f"finished {_short_time(run.finished_at) or '—'}",
    ]
    if run.kind != "sweep" and run.status == "done":
        state = values_state(run)
        if state == "applied":
            lines.append(f"values **applied** {_short_time(run.applied_at)}, all still in effect")
        elif state == "superseded":
            lines.append(
                f"values applied {_short_time(run.applied_at)}, then **superseded**: since then "
                f"{as_text(_superseded_words(run))} wrote other values. Roll back would undo "
                "those newer changes, so it asks first."
            )
        elif state == "rolled back":
            lines.append(f"values **rolled back** {_short_time(run.rolled_back_at)}")
        else:
            lines.append("values **not applied** (dry run): Apply writes them")
    if run.apply_note:
        lines.append(f"note: {as_text(run.apply_note)}")
    if run.result and "updated" in run.result:
        lines.append(f"{run.result['updated']} of {len(run.result.get('diff', []))} items change")
    return "\n\n".join(lines)


def diff_rows(result: dict[str, Any], changed_only: bool = False) -> pd.DataFrame:
    """A run's k diff beside the simulated exposure rates: changed rows first (largest change)."""
    diff = result.get("diff") or []
    before = result.get("exposure_rates_before") or [None] * len(diff)
    after = result.get("exposure_rates_after") or [None] * len(diff)
    rows = [
        {"qid": row["qid"], "ver": row["ver"], "k_before": row["before"], "k_after": row["after"],
         "delta": row["delta"], "exposure_before": rate_before, "exposure_after": rate_after}
        for row, rate_before, rate_after in zip(diff, before, after, strict=False)
        if not changed_only or row["delta"] != 0
    ]  # fmt: skip
    rows.sort(key=lambda row: (row["delta"] == 0, -abs(row["delta"]), row["qid"]))
    return pd.DataFrame(rows, columns=list(DIFF_COLUMNS))


class RunsPage(Viewer):
    """State of the Runs page: the filtered list and the selected run."""

    exam = param.Selector(default=ALL, objects=[ALL])
    kind = param.Selector(default=ALL, objects=[ALL, *RUN_KIND_PATHS])
    status = param.Selector(default=ALL, objects=[ALL, *RUN_STATUSES])
    start = param.Date(default=None, allow_None=True)
    end = param.Date(default=None, allow_None=True)
    page = param.Integer(default=1, bounds=(1, None))
    page_size = param.Integer(default=10, bounds=(1, 200))
    table = param.DataFrame(default=pd.DataFrame(columns=list(RUN_COLUMNS)))
    run_ids = param.List(default=[])
    total = param.Integer(default=0)
    n_pages = param.Integer(default=1)
    selected = param.Parameter(default=None, doc="the RunDetail shown, or None")
    empty_hint = param.String(default="")
    pending = param.Dict(default=None, allow_None=True,
                         doc="an Apply or Roll back waiting for confirmation: action, force, "
                             "run_id, question")  # fmt: skip
    changed_only = param.Boolean(default=False, doc="the diff table shows changed items only")

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self.action_feedback = Feedback()  # shown beside Apply / Roll back
        self._callback: Any = None
        self._was_active = False  # one refresh more after the last active run ended
        self.load_choices()
        self.refresh()

    def load_choices(self) -> None:
        """Exams for the filter."""
        self.param.exam.objects = [ALL, *list_exams(self.context.sessions, self.context.tenant_id)]

    @param.depends("exam", "kind", "status", "start", "end", watch=True)
    def _filters_changed(self) -> None:
        if self.page != 1:
            self.page = 1
        else:
            self.refresh()

    @param.depends("page", watch=True)
    def _page_changed(self) -> None:
        self.refresh()

    def refresh(self, _event: object = None, *, reselect: bool = True) -> None:
        """Load the current page of runs (and re-read the selected run)."""
        try:
            found, total = list_runs(
                self.context.sessions, self.context.tenant_id, exam_code=_chosen(self.exam),
                start=_day(self.start), end=_day(self.end), status=_chosen(self.status),
                kind=_chosen(self.kind), page=self.page, page_size=self.page_size,
            )  # fmt: skip
            rows = [run_row(run, self._in_effect(run)) for run in found]
        except QBankError as error:
            self.feedback.say(str(error), "danger")
            return
        n_pages = max(1, -(-total // self.page_size))
        hint = ""
        if not total:
            filtered = any(value != ALL for value in (self.exam, self.kind, self.status)) or (
                self.start or self.end
            )
            hint = ("No runs match these filters — clear some of them." if filtered else
                    "No runs yet — start one on Calibrate (or a sweep on Sweep).")  # fmt: skip
        frame = pd.DataFrame(rows, columns=list(RUN_COLUMNS))
        if not frame.equals(self.table):
            self.table = frame
        self.param.update(run_ids=[run.id for run in found], total=total, n_pages=n_pages,
                          empty_hint=hint)  # fmt: skip
        if self.selected is not None and reselect:
            self.select(self.selected.id)

    def _in_effect(self, run: RunDetail) -> bool | None:
        if run.kind == "sweep" or run.status != "done" or not is_applied(run):
            return None
        return get_run(self.context.sessions, self.context.tenant_id, run.id).in_effect

    def any_active(self) -> bool:
        """True while a run of the tenant is queued or running (listed or not), or one shown is."""
        if any(status in ACTIVE for status in self.table["status"]):
            return True
        if self.selected is not None and self.selected.status in ACTIVE:
            return True
        return any(
            list_runs(self.context.sessions, self.context.tenant_id, status=status,
                      page_size=1)[1]
            for status in ACTIVE
        )  # fmt: skip

    def tick(self) -> None:
        """One periodic check: while any run is active, the list and the open detail follow it."""
        active = self.any_active()
        if not active and not self._was_active:
            return
        self._was_active = active
        selected = self.selected
        self.refresh(reselect=selected is not None and selected.status in ACTIVE)

    def select(self, run_id: str) -> None:
        """Show one run's detail."""
        if self.selected is None or self.selected.id != run_id:
            self.pending = None
            self.action_feedback.clear()
        try:
            self.selected = get_run(self.context.sessions, self.context.tenant_id, run_id)
        except QBankError as error:
            self.feedback.say(str(error), "danger")

    def select_row(self, row: int) -> None:
        """Show the detail of the run in row ``row`` of the list."""
        if 0 <= row < len(self.run_ids):
            self.select(self.run_ids[row])

    def next_page(self, _event: object = None) -> None:
        """Show the next page, if any."""
        if self.page < self.n_pages:
            self.page += 1

    def previous_page(self, _event: object = None) -> None:
        """Show the previous page, if any."""
        if self.page > 1:
            self.page -= 1

    def apply(self, _event: object = None) -> None:
        """Ask to confirm writing the selected run's new values."""
        run = self._selected_or_say()
        if run is None:
            return
        self.pending = {"action": "apply", "force": False, "run_id": run.id,
                        "question": f"Apply run {run.id[:8]}? It writes new values to "
                                    f"{item_count(run)} items of {run.exam_code}."}  # fmt: skip

    def roll_back(self, _event: object = None) -> None:
        """Ask to confirm restoring the values the selected run found (forced if superseded)."""
        run = self._selected_or_say()
        if run is None:
            return
        n = item_count(run)
        if values_state(run) == "superseded":
            question = (f"Run {run.id[:8]} was superseded: since it was applied, "
                        f"{_superseded_words(run)} wrote other values. Rolling it back writes "
                        f"its before values to all {n} items and undoes those changes. "
                        "Roll back anyway?")  # fmt: skip
            self.pending = {"action": "rollback", "force": True, "run_id": run.id,
                            "question": question}  # fmt: skip
            return
        self.pending = {"action": "rollback", "force": False, "run_id": run.id,
                        "question": f"Roll back run {run.id[:8]}? It restores the values from "
                                    f"before the run on {n} items of {run.exam_code}."}  # fmt: skip

    def confirm(self, _event: object = None) -> int | None:
        """Carry out the Apply or Roll back waiting for confirmation; the rows written, or None."""
        pending, self.pending = self.pending, None
        if pending is None:
            return None
        action = apply_run if pending["action"] == "apply" else rollback_run
        run_id, verb = pending["run_id"], ("applied" if pending["action"] == "apply"
                                           else "rolled back")  # fmt: skip
        try:
            count = action(self.context.sessions, self.context.tenant_id, run_id,
                           force=pending["force"])  # fmt: skip
        except ChangedSinceError as error:
            words = "; ".join(f"{c['description']} ({c['items']} items)" for c in error.extra)
            self.pending = {**pending, "force": True,
                            "question": f"Since this page was loaded, {words} changed items of "
                                        f"run {run_id[:8]}. Writing now undoes those changes. "
                                        "Write anyway?"}  # fmt: skip
            self.action_feedback.say("Nothing written yet: the items changed meanwhile.",
                                     "warning")  # fmt: skip
            return None
        except QBankError as error:
            self.action_feedback.say(f"Run {run_id[:8]}: nothing written: {error}.", "danger")
        else:
            self.action_feedback.say(f"Run {run_id[:8]} {verb}: {count} items written.", "success")
            self.select(run_id)
            self.refresh(reselect=False)
            return count
        self.select(run_id)
        return None

    def delivery_warning(self, run: RunDetail) -> str | None:
        """For an applied S–H run: whether live quizzes use its k (the selector flag, cohorts)."""
        if run.kind != "sh" or values_state(run) not in ("applied", "superseded"):
            return None
        return delivery_note(selector_overview(self.context.sessions, self.context.tenant_id))

    def cancel_pending(self, _event: object = None) -> None:
        """Drop the Apply or Roll back waiting for confirmation."""
        if self.pending is not None:
            self.pending = None
            self.action_feedback.say("Nothing written.", "info")

    def _selected_or_say(self) -> RunDetail | None:
        if self.selected is None:
            self.action_feedback.say("Select a run first.", "warning")
        return self.selected

    def csv_filename(self) -> str:
        """Name of the selected run's CSV download."""
        if self.selected is None:
            return "run.csv"
        what = "grid" if self.selected.kind == "sweep" else "diff"
        return f"run-{self.selected.id[:8]}-{what}.csv"

    def csv_text(self) -> str:
        """The selected run's CSV: its diff (``qid,ver,sh_p_before,sh_p_after,delta``) or grid."""
        run = self.selected
        if run is None:
            return ""
        if run.kind == "sweep":
            return sweep_csv(run.result or {})
        return diff_csv(self.context.sessions, self.context.tenant_id, run.id)

    def _diff_for(self, _changed_only: bool) -> pd.DataFrame:
        return self.diff_table()

    def diff_table(self) -> pd.DataFrame:
        """The selected run's diff rows (empty until it is done): changed first."""
        result = (self.selected.result if self.selected else None) or {}
        return diff_rows(result, self.changed_only)

    def on_show(self) -> None:
        """The tab became visible: reload, and keep a running run's detail fresh."""
        self.load_choices()
        self.refresh()
        if self._callback is None and pn.state.curdoc is not None:
            self._callback = pn.state.add_periodic_callback(self.tick, period=2 * POLL_PERIOD_MS)

    def __panel__(self) -> pn.viewable.Viewable:
        table = pn.widgets.Tabulator(self.table, show_index=False, stylesheets=TABLE_CSS,
                                     disabled=True, sortable=False,
                                     selectable=1, layout="fit_data_table",
                                     sizing_mode="stretch_width", frozen_columns=["run"],
                                     css_classes=["qbank-runs-table"])  # fmt: skip
        table.on_click(lambda event: self.select_row(int(event.row)))
        self.param.watch(lambda event: setattr(table, "value", event.new), "table")
        filters = pn.FlexBox(
            pn.widgets.Select.from_param(self.param.exam, label="Exam", width=150),
            pn.widgets.Select.from_param(self.param.kind, label="Kind", width=110),
            pn.widgets.Select.from_param(self.param.status, label="Status", width=120),
            pn.widgets.DatePicker.from_param(self.param.start, label="From", width=140),
            pn.widgets.DatePicker.from_param(self.param.end, label="To (inclusive)", width=140),
            _button("Refresh", self.refresh), align_items="flex-end",
        )  # fmt: skip
        pager = pn.Row(
            _button("◀ Previous", self.previous_page),
            pn.pane.Markdown(pn.bind(_page_label, self.param.page, self.param.n_pages,
                                     self.param.total)),
            _button("Next ▶", self.next_page),
        )  # fmt: skip
        hint = pn.pane.Alert(self.param.empty_hint, alert_type="info",
                             visible=self.param.empty_hint.rx.bool())  # fmt: skip
        return pn.Column(
            pn.pane.Markdown("### Runs\nClick a run to see its details. While a run is queued "
                             "or running, this list and the open run follow it."), filters,
            feedback_alert(self.feedback), hint, table, pager,
            pn.panel(pn.bind(self._detail_view, self.param.selected)),
            sizing_mode="stretch_width",
        )  # fmt: skip

    def _confirmation(self, pending: dict[str, Any] | None) -> pn.viewable.Viewable:
        if pending is None:
            return pn.pane.Markdown("", visible=False)
        verb = "Apply" if pending["action"] == "apply" else "Roll back"
        label = f"{verb} anyway" if pending["force"] else f"Yes, {verb.lower()}"
        return pn.Column(
            pn.pane.Alert(as_text(pending["question"]),
                          alert_type="warning" if pending["force"] else "info",
                          css_classes=["qbank-confirm"]),
            pn.Row(_button(label, self.confirm, "danger" if pending["force"] else "primary",
                           width=170),
                   _button("Keep as is", self.cancel_pending)),
            sizing_mode="stretch_width",
        )  # fmt: skip

    def _detail_view(self, run: RunDetail | None) -> pn.viewable.Viewable:
        if run is None:
            return pn.pane.Markdown("")
        parts: list[Any] = [pn.pane.Markdown(describe(run), css_classes=["qbank-run-detail"])]
        if run.error:
            parts.append(pn.pane.Alert(f"**Error:** {as_text(run.error)}", alert_type="danger"))
        note = self.delivery_warning(run)
        if note:
            parts.append(pn.pane.Alert(note, alert_type="warning", css_classes=["qbank-unused"]))
        apply_button = _button("Apply", self.apply, "success")
        apply_button.disabled = not can_apply(run)
        rollback_button = _button("Roll back", self.roll_back, "warning")
        rollback_button.disabled = not can_roll_back(run)
        download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.csv_text()), filename=self.csv_filename(),
            label="Download CSV", color="primary", disabled=run.status != "done",
            width=200, css_classes=["qbank-csv"],
        )  # fmt: skip
        parts.append(pn.Row(apply_button, rollback_button, download))
        parts.append(pn.panel(pn.bind(self._confirmation, self.param.pending)))
        parts.append(feedback_alert(self.action_feedback))
        parts.append(pn.pane.JSON(json.dumps(run.params), depth=1))
        if run.kind == "sweep":
            cells = (run.result or {}).get("cells", run.history)
            if cells:
                parts.append(pn.FlexBox(*(heatmap_pane(cells, metric)
                                          for metric in SWEEP_METRICS[:3])))  # fmt: skip
            return pn.Column(*parts, sizing_mode="stretch_width")
        if run.history:
            # One pane per panel: a Layout (Bokeh GridPlot) drawn here fresh collapses its
            # plots to zero width, where a single chart per pane draws at the page's width.
            history = history_chart(run.history, run.params.get("tau"))
            parts.extend(pn.pane.HoloViews(panel, sizing_mode="stretch_width", min_width=500)
                         for panel in history)  # fmt: skip
        result = run.result or {}
        if result.get("exposure_rates_before"):
            histogram = exposure_histogram(result["exposure_rates_before"],
                                           result["exposure_rates_after"],
                                           tau=run.params.get("tau"))  # fmt: skip
            parts.append(pn.pane.HoloViews(histogram, sizing_mode="stretch_width", min_width=500))
        if result.get("exposure_by_stratum_after"):  # max exposure per θ stratum, before/after
            heatmap = stratum_exposure_heatmap(
                result["exposure_by_stratum_before"], result["exposure_by_stratum_after"],
                result.get("strata", []), run.params.get("tau"),
            )  # fmt: skip
            parts.extend(pn.pane.HoloViews(
                panel, sizing_mode="stretch_width", min_width=MIN_WIDTH,
                css_classes=["qbank-strata"],
            ) for panel in heatmap)  # fmt: skip
        if result.get("diff"):
            diff = pn.widgets.Tabulator(
                pn.bind(self._diff_for, self.param.changed_only),
                show_index=False, stylesheets=TABLE_CSS, disabled=True, pagination="local",
                page_size=15, layout="fit_data_table", sizing_mode="stretch_width",
                formatters={name: {"type": "money", "precision": 4}
                            for name in DIFF_COLUMNS[2:]},
                titles={"k_before": "k before", "k_after": "k after",
                        "exposure_before": "exposure before", "exposure_after": "exposure after"},
                css_classes=["qbank-diff-table"],
            )  # fmt: skip
            parts.append(pn.pane.Markdown(
                f"#### k changes\n{result.get('updated', 0)} of {len(result['diff'])} items "
                "change; changed rows first, with the exposure rates simulated under the old "
                "and the new k."))  # fmt: skip
            parts.append(pn.widgets.Checkbox.from_param(self.param.changed_only,
                                                        label="changed only"))  # fmt: skip
            parts.append(diff)
        return pn.Column(*parts, sizing_mode="stretch_width")


def _day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _button(name: str, action: Any, kind: str = "default", width: int = 120) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=width)
    button.on_click(action)
    return button


def _page_label(page: int, n_pages: int, total: int) -> str:
    return f"Page {page} of {n_pages} · {total} runs"


def _chosen(value: str) -> str | None:
    return None if value == ALL else value
