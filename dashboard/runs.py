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

from dashboard.charts import exposure_histogram, history_chart, sweep_heatmap
from dashboard.context import DashboardContext
from dashboard.feedback import Feedback, feedback_alert
from dashboard.jobs import ACTIVE, POLL_PERIOD_MS
from qbank.errors import QBankError
from qbank.services.calibration.run_apply import apply_run, rollback_run
from qbank.services.calibration.run_views import diff_csv, get_run, list_runs
from qbank.services.calibration.runs import RUN_KIND_PATHS, RUN_STATUSES, RunDetail
from qbank.services.calibration.sweep import SWEEP_METRICS, sweep_csv
from qbank.services.exposure.table import list_exams

__all__ = ["DIFF_COLUMNS", "RUN_COLUMNS", "RunsPage", "can_apply", "can_roll_back", "describe"]

ALL = "(all)"  # the filter choice that filters nothing
RUN_COLUMNS = ("run", "kind", "exam", "status", "dry_run", "progress", "created", "finished")
DIFF_COLUMNS = ("qid", "ver", "before", "after", "delta")


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


def describe(run: RunDetail) -> str:
    """The run's header as Markdown: what, when, state, and whether its values are applied."""
    lines = [
        f"### Run `{run.id}`",
        f"**{run.kind}** on exam **{run.exam_code}** · status **{run.status}**"
        f"{' · dry run' if run.dry_run else ''} · iteration {run.current_iter} of "
        f"{run.total_iters}",
        f"created {_short_time(run.created_at)} · started {_short_time(run.started_at) or '—'} · "
        f"finished {_short_time(run.finished_at) or '—'}",
    ]
    if run.kind != "sweep" and run.status == "done":
        if is_applied(run):
            lines.append(f"values **applied** {_short_time(run.applied_at)}")
        elif run.rolled_back_at:
            lines.append(f"values **rolled back** {_short_time(run.rolled_back_at)}")
        else:
            lines.append("values **not applied** (dry run): Apply writes them")
    if run.result and "updated" in run.result:
        lines.append(f"{run.result['updated']} of {len(run.result.get('diff', []))} items change")
    return "\n\n".join(lines)


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

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self._callback: Any = None
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

    def refresh(self, _event: object = None) -> None:
        """Load the current page of runs (and re-read the selected run)."""
        try:
            found, total = list_runs(
                self.context.sessions, self.context.tenant_id, exam_code=_chosen(self.exam),
                start=_day(self.start), end=_day(self.end), status=_chosen(self.status),
                kind=_chosen(self.kind), page=self.page, page_size=self.page_size,
            )  # fmt: skip
        except QBankError as error:
            self.feedback.say(str(error), "danger")
            return
        rows = [
            {"run": run.id[:8], "kind": run.kind, "exam": run.exam_code, "status": run.status,
             "dry_run": run.dry_run, "progress": f"{run.current_iter}/{run.total_iters}",
             "created": _short_time(run.created_at), "finished": _short_time(run.finished_at)}
            for run in found
        ]  # fmt: skip
        n_pages = max(1, -(-total // self.page_size))
        hint = ""
        if not total:
            filtered = any(value != ALL for value in (self.exam, self.kind, self.status)) or (
                self.start or self.end
            )
            hint = ("No runs match these filters — clear some of them." if filtered else
                    "No runs yet — start one on Calibrate (or a sweep on Sweep).")  # fmt: skip
        self.param.update(table=pd.DataFrame(rows, columns=list(RUN_COLUMNS)),
                          run_ids=[run.id for run in found], total=total, n_pages=n_pages,
                          empty_hint=hint)  # fmt: skip
        if self.selected is not None:
            self.select(self.selected.id)

    def select(self, run_id: str) -> None:
        """Show one run's detail."""
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
        """Write the selected run's new values (one transaction)."""
        self._write(apply_run, "applied: {n} items now have the run's new sh_p")

    def roll_back(self, _event: object = None) -> None:
        """Restore the values the selected run found."""
        self._write(rollback_run, "rolled back: {n} items have their sh_p from before the run")

    def _write(self, action: Any, done: str) -> None:
        if self.selected is None:
            self.feedback.say("Select a run first.", "warning")
            return
        run_id = self.selected.id
        try:
            count = action(self.context.sessions, self.context.tenant_id, run_id)
        except QBankError as error:
            self.feedback.say(f"Run {run_id[:8]}: {error}.", "danger")
        else:
            self.feedback.say(f"Run {run_id[:8]} {done.format(n=count)}.", "success")
        self.select(run_id)

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

    def diff_table(self) -> pd.DataFrame:
        """The selected run's diff rows (empty until it is done)."""
        result = (self.selected.result if self.selected else None) or {}
        return pd.DataFrame(result.get("diff", []), columns=list(DIFF_COLUMNS))

    def _poll_selected(self) -> None:
        if self.selected is not None and self.selected.status in ACTIVE:
            self.refresh()

    def on_show(self) -> None:
        """The tab became visible: reload, and keep a running run's detail fresh."""
        self.load_choices()
        self.refresh()
        if self._callback is None and pn.state.curdoc is not None:
            self._callback = pn.state.add_periodic_callback(self._poll_selected,
                                                            period=2 * POLL_PERIOD_MS)  # fmt: skip

    def __panel__(self) -> pn.viewable.Viewable:
        table = pn.widgets.Tabulator(self.table, show_index=False, disabled=True, sortable=False,
                                     selectable=1, sizing_mode="stretch_width",
                                     css_classes=["qbank-runs-table"])  # fmt: skip
        table.on_click(lambda event: self.select_row(int(event.row)))
        self.param.watch(lambda event: setattr(table, "value", event.new), "table")
        filters = pn.Row(
            pn.widgets.Select.from_param(self.param.exam, label="Exam", width=150),
            pn.widgets.Select.from_param(self.param.kind, label="Kind", width=110),
            pn.widgets.Select.from_param(self.param.status, label="Status", width=120),
            pn.widgets.DatePicker.from_param(self.param.start, label="From", width=140),
            pn.widgets.DatePicker.from_param(self.param.end, label="To (inclusive)", width=140),
            _button("Refresh", self.refresh),
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
            pn.pane.Markdown("### Runs\nClick a run to see its details."), filters,
            feedback_alert(self.feedback), hint, table, pager,
            pn.panel(pn.bind(self._detail_view, self.param.selected)),
            sizing_mode="stretch_width",
        )  # fmt: skip

    def _detail_view(self, run: RunDetail | None) -> pn.viewable.Viewable:
        if run is None:
            return pn.pane.Markdown("")
        parts: list[Any] = [pn.pane.Markdown(describe(run), css_classes=["qbank-run-detail"])]
        if run.error:
            parts.append(pn.pane.Alert(f"**Error:** {run.error}", alert_type="danger"))
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
        parts.append(pn.pane.JSON(json.dumps(run.params), depth=1))
        if run.kind == "sweep":
            cells = (run.result or {}).get("cells", run.history)
            if cells:
                parts.append(pn.Row(*(pn.pane.HoloViews(sweep_heatmap(cells, metric))
                                      for metric in SWEEP_METRICS[:3])))  # fmt: skip
            return pn.Column(*parts, sizing_mode="stretch_width")
        if run.history:
            parts.append(pn.pane.HoloViews(history_chart(run.history),
                                           sizing_mode="stretch_width"))  # fmt: skip
        result = run.result or {}
        if result.get("exposure_rates_before"):
            histogram = exposure_histogram(result["exposure_rates_before"],
                                           result["exposure_rates_after"])  # fmt: skip
            parts.append(pn.pane.HoloViews(histogram, sizing_mode="stretch_width"))
        if result.get("diff"):
            parts.append(pn.widgets.Tabulator(self.diff_table(), show_index=False, disabled=True,
                                              pagination="local", page_size=15,
                                              sizing_mode="stretch_width"))  # fmt: skip
        return pn.Column(*parts, sizing_mode="stretch_width")


def _day(value: date | datetime | None) -> str | None:
    if value is None:
        return None
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def _button(name: str, action: Any, kind: str = "default") -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=120)
    button.on_click(action)
    return button


def _page_label(page: int, n_pages: int, total: int) -> str:
    return f"Page {page} of {n_pages} · {total} runs"


def _chosen(value: str) -> str | None:
    return None if value == ALL else value
