"""Items: the exposure table of an exam, filtered, sorted and paged; sh_p edited inline."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import panel as pn
import param
from panel.viewable import Viewer

from dashboard.context import DashboardContext
from dashboard.feedback import TABLE_CSS, Feedback, feedback_alert
from qbank.errors import QBankError
from qbank.services.exposure.sh_p import set_sh_p
from qbank.services.exposure.table import (
    EXPOSURE_SORT_KEYS,
    list_exams,
    list_exposure_rows,
    list_topics,
)

__all__ = ["ITEM_COLUMNS", "ItemsPage", "parse_sh_p"]

ITEM_COLUMNS = ("question_id", "version", "topic", "question", "a", "b", "c", "sh_p",
                "attempts_7d", "exposures_today")  # fmt: skip
ALL = "(all)"  # the filter choice that filters nothing


def parse_sh_p(value: object) -> float:
    """A new sh_p as typed in the table: a number in [0, 1].

    Raises:
        ValueError: with a message for the user.
    """
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        raise ValueError("sh_p needs a value in [0, 1]")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"sh_p must be a number in [0, 1], got {value!r}") from None
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"sh_p must be in [0, 1], got {value}")
    return number


class ItemsPage(Viewer):
    """State of the Items page; the widgets only mirror it."""

    exam = param.Selector(default=ALL, objects=[ALL], doc="exam code, or all exams")
    topic = param.Selector(default=ALL, objects=[ALL], doc="topic name, or all topics")
    text = param.String(default="", doc="words in the stem or lead-in")
    sort = param.Selector(default="attempts_7d", objects=list(EXPOSURE_SORT_KEYS))
    descending = param.Boolean(default=True)
    page = param.Integer(default=1, bounds=(1, None))
    page_size = param.Integer(default=25, bounds=(1, 200))
    table = param.DataFrame(default=pd.DataFrame(columns=list(ITEM_COLUMNS)))
    total = param.Integer(default=0)
    n_pages = param.Integer(default=1)
    empty_hint = param.String(default="")

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self._tabulator: pn.widgets.Tabulator | None = None
        self.load_choices()
        exams = self.param.exam.objects[1:]
        if self.exam == ALL and exams:
            self.exam = exams[0]  # one exam's table first: pools are per exam
        self.refresh()

    def load_choices(self) -> None:
        """Exams and topics for the filters, from the database."""
        exams = list_exams(self.context.sessions, self.context.tenant_id)
        self.param.exam.objects = [ALL, *exams]
        if self.exam not in self.param.exam.objects:
            self.exam = ALL
        topics = list_topics(self.context.sessions, self.context.tenant_id, _chosen(self.exam))
        self.param.topic.objects = [ALL, *topics]
        if self.topic not in self.param.topic.objects:
            self.topic = ALL

    @param.depends("exam", watch=True)
    def _exam_changed(self) -> None:
        topics = list_topics(self.context.sessions, self.context.tenant_id, _chosen(self.exam))
        self.param.topic.objects = [ALL, *topics]
        self.param.update(topic=ALL, page=1)
        self.refresh()

    @param.depends("topic", "text", "sort", "descending", "page_size", watch=True)
    def _filters_changed(self) -> None:
        if self.page != 1:
            self.page = 1  # refreshes through _page_changed
        else:
            self.refresh()

    @param.depends("page", watch=True)
    def _page_changed(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Load the current page for the current filters."""
        try:
            found = list_exposure_rows(
                self.context.sessions, self.context.state, self.context.tenant_id,
                exam_code=_chosen(self.exam), topic=_chosen(self.topic), text=self.text,
                sort=self.sort, descending=self.descending, page=self.page,
                page_size=self.page_size,
            )  # fmt: skip
        except QBankError as error:
            self.feedback.say(str(error), "danger")
            return
        frame = pd.DataFrame([_row(item) for item in found.rows], columns=list(ITEM_COLUMNS))
        self.param.update(table=frame, total=found.total, n_pages=found.n_pages,
                          empty_hint=self._empty_hint(found.total))  # fmt: skip
        if self.page > found.n_pages:
            self.page = found.n_pages

    def on_show(self) -> None:
        """The tab became visible: new exams, and fresh figures (sh_p may have been applied)."""
        self.load_choices()
        self.refresh()

    def _empty_hint(self, total: int) -> str:
        if total:
            return ""
        if len(self.param.exam.objects) <= 1:
            return ("No exams with live items yet — import questions (`qbank import FILE`) or "
                    "seed the demo exam (`qbank seed-demo`), then reload this page.")  # fmt: skip
        return "No items match these filters — clear the topic or the text search."

    def next_page(self, _event: object = None) -> None:
        """Show the next page, if any."""
        if self.page < self.n_pages:
            self.page += 1

    def previous_page(self, _event: object = None) -> None:
        """Show the previous page, if any."""
        if self.page > 1:
            self.page -= 1

    def save_sh_p(self, row: int, value: object) -> bool:
        """Save a new sh_p for the table's row ``row``; True when saved.

        Bad input (blank, not a number, outside [0, 1]) changes nothing: the cell goes back to
        its stored value and the page says why. The same value as stored is not written again.
        """
        frame = self.table.copy()
        qid, ver = int(frame.at[row, "question_id"]), int(frame.at[row, "version"])
        label = f"question {qid} v{ver}"
        stored = float(frame.at[row, "sh_p"])
        try:
            sh_p = parse_sh_p(value)
            if sh_p == stored:
                self.feedback.say(f"Nothing saved: sh_p of {label} is already {sh_p:g}.", "info")
                self.refresh()
                return False
            set_sh_p(self.context.sessions, self.context.tenant_id, qid, ver, sh_p)
        except (ValueError, QBankError) as error:
            self.feedback.say(f"Not saved ({label}): {error}; it stays {stored:g}.", "danger")
            self.refresh()  # show what is stored
            return False
        frame.at[row, "sh_p"] = sh_p
        self.table = frame
        self.feedback.say(f"Saved: sh_p of {label} is now {sh_p:g}.", "success")
        return True

    def _on_edit(self, event: Any) -> None:
        if event.column == "sh_p":
            self.save_sh_p(int(event.row), event.value)

    def __panel__(self) -> pn.viewable.Viewable:
        # sh_p is edited as text: a number editor turns letters into a blank that Bokeh cannot
        # convert (the edit then never reaches the page), so the page checks the text itself.
        tabulator = pn.widgets.Tabulator(
            _shown(self.table), show_index=False, stylesheets=TABLE_CSS, sortable=False,
            disabled=False,
            layout="fit_data_table", editors={**{name: None for name in ITEM_COLUMNS},
                                              "sh_p": {"type": "input"}},
            formatters={"a": {"type": "money", "precision": 3},
                        "b": {"type": "money", "precision": 3},
                        "c": {"type": "money", "precision": 3}},
            widths=dict(_WIDTHS), frozen_columns=["question_id"],
            titles={"question_id": "qid", "version": "ver", "attempts_7d": "attempts 7d",
                    "exposures_today": "today"}, sizing_mode="stretch_width",
            css_classes=["qbank-items-table"],
        )  # fmt: skip
        tabulator.on_edit(self._on_edit)
        self.param.watch(lambda event: setattr(tabulator, "value", _shown(event.new)), "table")
        pager = pn.Row(
            _button("◀ Previous", self.previous_page),
            pn.pane.Markdown(pn.bind(_page_label, self.param.page, self.param.n_pages,
                                     self.param.total)),
            _button("Next ▶", self.next_page),
        )  # fmt: skip
        filters = pn.Row(
            pn.widgets.Select.from_param(self.param.exam, label="Exam", width=160),
            pn.widgets.Select.from_param(self.param.topic, label="Topic", width=200),
            pn.widgets.TextInput.from_param(self.param.text, label="Search text", width=220,
                                            placeholder="words in stem or lead-in"),
            pn.widgets.Select.from_param(self.param.sort, label="Sort by", width=140),
            pn.widgets.Checkbox.from_param(self.param.descending, label="descending"),
        )  # fmt: skip
        hint = pn.pane.Alert(self.param.empty_hint, alert_type="info",
                             visible=self.param.empty_hint.rx.bool())  # fmt: skip
        return pn.Column(
            pn.pane.Markdown("### Exposure of live items\nClick an sh_p cell to edit it "
                             "(a number in [0, 1]); it is saved when you leave the cell."),
            filters, feedback_alert(self.feedback), hint, tabulator, pager,
            sizing_mode="stretch_width",
        )  # fmt: skip


# Fixed widths: the table scrolls sideways on a narrow screen instead of cutting a, b, c to "0…".
_WIDTHS = {"question_id": 60, "version": 56, "topic": 130, "question": 400, "a": 76, "b": 76,
           "c": 76, "sh_p": 80, "attempts_7d": 140, "exposures_today": 95}  # fmt: skip


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as the widget shows it: sh_p as text, so that any typed text reaches the page."""
    shown = frame.copy()
    shown["sh_p"] = [f"{value:.6g}" for value in frame["sh_p"]]
    return shown


def _button(name: str, action: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, width=110)
    button.on_click(action)
    return button


def _row(item: Any) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ITEM_COLUMNS}


def _page_label(page: int, n_pages: int, total: int) -> str:
    return f"Page {page} of {n_pages} · {total} items"


def _chosen(value: str) -> str | None:
    return None if value == ALL else value
