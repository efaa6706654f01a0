"""Sweep: a tau × alpha grid of S–H calibrations on an exam, run as a job; heatmaps and CSV."""

from __future__ import annotations

import io
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.calibrate import FIELD_LABELS, run_status_text
from dashboard.charts import sweep_heatmap
from dashboard.context import DashboardContext
from dashboard.exam_choice import offer_exams
from dashboard.feedback import Feedback, feedback_alert, in_words
from dashboard.jobs import RunFollower
from qbank.cat import ABILITY_MODES, UPDATE_RULES
from qbank.errors import InvalidInputError, QBankError
from qbank.services.calibration.run_views import list_runs
from qbank.services.calibration.sweep import SweepParams, parse_grid, start_sweep, sweep_csv

__all__ = ["HEATMAP_METRICS", "SweepPage", "heatmap_pane"]

HEATMAP_METRICS = ("max_exp", "unused_share", "rmse")
_NUMBERS = ("n", "test_len", "iters", "seed", "floor", "ceil", "tol")


class SweepPage(Viewer):
    """The sweep form and the sweep it shows (the one started here, else the latest)."""

    exam = param.Selector(default=None, objects=[], allow_None=True)
    taus = param.String(default="0.1, 0.2, 0.3")
    alphas = param.String(default="0.4, 0.6, 1.0")
    n = param.Integer(default=400, allow_None=True)
    test_len = param.Integer(default=25, allow_None=True)
    iters = param.Integer(default=5, allow_None=True)
    seed = param.Integer(default=0, allow_None=True)
    floor = param.Number(default=0.02, allow_None=True)
    ceil = param.Number(default=1.0, allow_None=True)
    theta_dist = param.String(default="normal0,1")
    ability = param.Selector(default="estimated", objects=list(ABILITY_MODES))
    update_rule = param.Selector(default="multiplicative", objects=list(UPDATE_RULES))
    until_converged = param.Boolean(default=False)
    tol = param.Number(default=0.01, allow_None=True)

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self.run = RunFollower(context, self.feedback, noun="Sweep")
        self.load_choices()
        self.show_latest()

    def load_choices(self) -> None:
        """The exams to choose from."""
        offer_exams(self, self.context)

    def show_latest(self) -> None:
        """Show the tenant's most recent sweep, if any."""
        found, _total = list_runs(self.context.sessions, self.context.tenant_id, kind="sweep",
                                  page_size=1)  # fmt: skip
        if found:
            self.run.follow(found[0].id)  # polled once the page is drawn (see __panel__)

    def params(self) -> SweepParams:
        """The form as validated sweep parameters.

        Raises:
            InvalidInputError: a missing, malformed or out-of-range value.
        """
        missing = [FIELD_LABELS.get(name, name) for name in _NUMBERS if getattr(self, name) is None]
        if missing:
            raise InvalidInputError(f"give a value for {', '.join(missing)}")
        return SweepParams(
            taus=parse_grid("tau values", self.taus),
            alphas=parse_grid("alpha values", self.alphas),
            **{name: getattr(self, name) for name in _NUMBERS},
            theta_dist=self.theta_dist.strip(), ability=self.ability,
            update_rule=self.update_rule, until_converged=self.until_converged,
        )  # fmt: skip

    def start(self, _event: object = None) -> bool:
        """Queue the sweep; True when queued."""
        if self.run.active:
            self.feedback.say("A sweep is still going: wait for it or cancel it.", "warning")
            return False
        if not self.exam:
            self.feedback.say("No exam yet: import questions or seed the demo exam "
                              "(qbank seed-demo), then reload.", "warning")  # fmt: skip
            return False
        try:
            params = self.params()
            _job_id, run_id = start_sweep(self.context.sessions, self.context.queue,
                                          self.context.tenant_id, self.exam, params)  # fmt: skip
        except QBankError as error:
            self.feedback.say(f"Not started: {in_words(str(error), FIELD_LABELS)}.", "danger")
            return False
        self.feedback.say(f"Sweep {run_id[:8]} queued: {params.n_cells} cells.", "info")
        self.run.follow(run_id)
        self.run.start_polling()
        return True

    def cells(self) -> list[dict[str, Any]]:
        """Grid cells computed so far (all of them once the sweep is done)."""
        if self.run.result and "cells" in self.run.result:
            return list(self.run.result["cells"])
        return [row for row in self.run.history if "tau" in row]

    def csv_text(self) -> str:
        """The grid as CSV (``tau,alpha,max_exp,unused_share,rmse,max_over,avg_exp``)."""
        return sweep_csv({"cells": self.cells()})

    def __panel__(self) -> pn.viewable.Viewable:
        form = pn.Column(
            pn.widgets.Select.from_param(self.param.exam, label="Exam"),
            pn.widgets.TextInput.from_param(self.param.taus, label="tau values"),
            pn.widgets.TextInput.from_param(self.param.alphas, label="alpha values"),
            pn.Row(_int(self.param.n, "n simulees"), _int(self.param.test_len, "test length")),
            pn.Row(_int(self.param.iters, "iterations"), _int(self.param.seed, "seed (fixed)")),
            pn.Row(pn.widgets.FloatInput.from_param(self.param.floor, label="floor", width=150),
                   pn.widgets.FloatInput.from_param(self.param.ceil, label="ceil", width=150)),
            pn.Row(pn.widgets.TextInput.from_param(self.param.theta_dist,
                                                   label="theta distribution", width=150),
                   pn.widgets.Select.from_param(self.param.ability, label="ability", width=150)),
            pn.Row(pn.widgets.Select.from_param(self.param.update_rule, label="update rule",
                                                width=150),
                   pn.widgets.FloatInput.from_param(self.param.tol, label="tol (max_over)",
                                                    width=150)),
            pn.widgets.Checkbox.from_param(self.param.until_converged,
                                           label="until converged (each cell)"),
            pn.pane.Markdown("Under the sympson-hetter rule alpha plays no part: cells differ "
                             "by tau only. A sweep compares unconditional settings; calibrate "
                             "conditional S–H on the Calibrate page.",
                             styles={"font-size": "0.85em"}, width=310),
            pn.Row(_button("Start sweep", "primary", self.start),
                   _button("Cancel", "warning", self.run.cancel)),
            width=330,
        )  # fmt: skip
        progress = pn.indicators.Progress(value=0, max=100, sizing_mode="stretch_width",
                                          bar_color="success")  # fmt: skip
        status = pn.pane.Markdown("No sweep yet — choose the grid and press Start sweep.")
        heatmaps = pn.FlexBox(sizing_mode="stretch_width", css_classes=["qbank-heatmaps"])
        download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.csv_text()), filename="sweep.csv",
            label="Download grid CSV", color="primary", disabled=True, width=220,
        )  # fmt: skip

        def update(*_events: object) -> None:
            progress.value = self.run.progress
            if self.run.run_id:
                status.object = run_status_text(self.run.status, self.run.run_id,
                                                self.run.current_iter, self.run.total_iters,
                                                noun="Sweep", step="cell")  # fmt: skip
                download.filename = f"sweep-{self.run.run_id[:8]}.csv"
            download.disabled = not self.cells()
            cells = self.cells()
            heatmaps.objects = [heatmap_pane(cells, metric)
                                for metric in HEATMAP_METRICS] if cells else []  # fmt: skip

        self.run.param.watch(update, ["status", "current_iter", "history", "run_id"])
        update()
        if self.run.active:
            self.run.start_polling()  # in the session's document, as on Calibrate
        return pn.FlexBox(
            form,
            pn.Column(feedback_alert(self.feedback), status, progress, download, heatmaps,
                      sizing_mode="stretch_width", min_width=320, styles={"flex": "1 1 420px"}),
            flex_wrap="wrap", sizing_mode="stretch_width",
        )  # fmt: skip


def heatmap_pane(cells: list[dict[str, Any]], metric: str) -> pn.pane.HoloViews:
    """One sweep heatmap, at least 280 px wide: narrow screens wrap them instead of squeezing."""
    return pn.pane.HoloViews(
        sweep_heatmap(cells, metric),
        min_width=280,
        max_width=560,
        sizing_mode="stretch_width",
        css_classes=["qbank-heatmap"],
        styles={"flex": "1 1 280px"},
    )


def _int(parameter: Any, name: str) -> pn.widgets.IntInput:
    return pn.widgets.IntInput.from_param(parameter, label=name, width=150)


def _button(name: str, kind: str, action: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=150)
    button.on_click(action)
    return button
