"""Sweep: a tau × alpha grid of S–H calibrations on an exam, run as a job; heatmaps and CSV."""

from __future__ import annotations

import io
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.charts import sweep_heatmap
from dashboard.context import DashboardContext
from dashboard.feedback import Feedback, feedback_alert
from dashboard.jobs import RunFollower
from qbank.cat import ABILITY_MODES
from qbank.errors import InvalidInputError, QBankError
from qbank.services.calibration.run_views import list_runs
from qbank.services.calibration.sweep import SweepParams, parse_grid, start_sweep, sweep_csv
from qbank.services.exposure.table import list_exams

__all__ = ["HEATMAP_METRICS", "SweepPage"]

HEATMAP_METRICS = ("max_exp", "unused_share", "rmse")
_NUMBERS = ("n", "test_len", "iters", "seed", "floor", "ceil")


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

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        self.run = RunFollower(context, self.feedback, noun="Sweep")
        self.load_choices()
        self.show_latest()

    def load_choices(self) -> None:
        """The exams to choose from."""
        exams = list_exams(self.context.sessions, self.context.tenant_id)
        self.param.exam.objects = exams
        if self.exam not in exams:
            self.exam = exams[0] if exams else None

    def show_latest(self) -> None:
        """Show the tenant's most recent sweep, if any."""
        found, _total = list_runs(self.context.sessions, self.context.tenant_id, kind="sweep",
                                  page_size=1)  # fmt: skip
        if found:
            self.run.follow(found[0].id)
            if self.run.active:
                self.run.start_polling()

    def params(self) -> SweepParams:
        """The form as validated sweep parameters.

        Raises:
            InvalidInputError: a missing, malformed or out-of-range value.
        """
        missing = [name for name in _NUMBERS if getattr(self, name) is None]
        if missing:
            raise InvalidInputError(f"give a value for {', '.join(missing)}")
        return SweepParams(
            taus=parse_grid("tau values", self.taus),
            alphas=parse_grid("alpha values", self.alphas),
            **{name: getattr(self, name) for name in _NUMBERS},
            theta_dist=self.theta_dist.strip(), ability=self.ability,
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
            self.feedback.say(f"Not started: {error}.", "danger")
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
            pn.Row(_button("Start sweep", "primary", self.start),
                   _button("Cancel", "warning", self.run.cancel)),
            width=340,
        )  # fmt: skip
        progress = pn.indicators.Progress(value=0, max=100, sizing_mode="stretch_width",
                                          bar_color="success")  # fmt: skip
        status = pn.pane.Markdown("No sweep yet — choose the grid and press Start sweep.")
        heatmaps = pn.Row(sizing_mode="stretch_width")
        download = pn.widgets.FileDownload(
            callback=lambda: io.StringIO(self.csv_text()), filename="sweep.csv",
            label="Download grid CSV", color="primary", disabled=True, width=220,
        )  # fmt: skip

        def update(*_events: object) -> None:
            progress.value = self.run.progress
            if self.run.run_id:
                status.object = (f"Sweep `{self.run.run_id[:8]}`: **{self.run.status}** — cell "
                                 f"{self.run.current_iter} of {self.run.total_iters}")  # fmt: skip
                download.filename = f"sweep-{self.run.run_id[:8]}.csv"
            download.disabled = not self.cells()
            cells = self.cells()
            heatmaps.objects = [pn.pane.HoloViews(sweep_heatmap(cells, metric),
                                                  sizing_mode="stretch_width")
                                for metric in HEATMAP_METRICS] if cells else []  # fmt: skip

        self.run.param.watch(update, ["status", "current_iter", "history", "run_id"])
        update()
        return pn.Row(form, pn.Column(feedback_alert(self.feedback), status, progress, download,
                                      heatmaps, sizing_mode="stretch_width"),
                      sizing_mode="stretch_width")  # fmt: skip


def _int(parameter: Any, name: str) -> pn.widgets.IntInput:
    return pn.widgets.IntInput.from_param(parameter, label=name, width=150)


def _button(name: str, kind: str, action: Any) -> pn.widgets.Button:
    button = pn.widgets.Button(label=name, color=kind, width=150)
    button.on_click(action)
    return button
