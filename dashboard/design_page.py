"""Design: an exam's test design, shown in words, edited, previewed on simulees, and saved.

The page validates and stores through the service the API's ``PUT /v1/admin/exams/{code}/
design`` calls (``qbank.services.delivery.exam_design``), and previews through the one
``qbank simulate`` calls (``qbank.services.calibration.design_sim``): the rules live there, the
page only shows their answers. A preview runs on a thread of the dashboard process (a short,
seeded simulation of the edited, unsaved design), so the page keeps answering meanwhile. The
store keeps one design per exam and no way to remove one, so the page offers none.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.context import DashboardContext
from dashboard.design_form import DESIGN_LABELS, DesignForm
from dashboard.design_view import design_layout, moment
from dashboard.exam_choice import offer_exams
from dashboard.feedback import Feedback, in_words
from qbank.cat.design import TestDesign
from qbank.errors import QBankError
from qbank.services.access.flags import selector_overview
from qbank.services.calibration.design_sim import (
    DesignSimulation,
    exam_pool_and_design,
    simulate_design,
)
from qbank.services.delivery.exam_design import get_exam_design, set_exam_design
from qbank.services.exposure.table import list_topics

_log = logging.getLogger("dashboard.design")

__all__ = ["PREVIEW_N", "DesignPage"]

PREVIEW_N = 500  # simulees of a preview: seconds on a laptop, enough to see the exposure shape
POLL_PERIOD_MS = 500


class DesignPage(Viewer):
    """One exam's test design: the stored one, the form, its preview and Save."""

    exam = param.Selector(default=None, objects=[], allow_None=True)
    stored = param.Parameter(default=None, doc="the exam's ExamDesignView")
    overview = param.Parameter(default=None, doc="the tenant's SelectorOverview")
    pending_save = param.Dict(default=None, allow_None=True, doc="a design waiting for a yes")
    preview_n = param.Integer(default=PREVIEW_N, allow_None=True)
    preview_seed = param.Integer(default=0, allow_None=True)
    preview_status = param.Selector(default="", objects=["", "running", "done", "failed"])
    preview = param.Parameter(default=None, doc="the DesignSimulation shown")
    preview_design = param.Dict(default=None, allow_None=True, doc="the design it simulated")
    preview_started = param.Number(default=0.0)
    elapsed_s = param.Integer(default=0)
    form_changes = param.Integer(default=0, doc="counts edits, so views can follow the form")

    def __init__(self, context: DashboardContext, user: str = "", **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.user = user
        self.form = DesignForm()
        self.feedback = Feedback()  # beside the form's buttons: validation, save
        self.preview_feedback = Feedback()
        self._executor: ThreadPoolExecutor | None = None
        self._future: Future[DesignSimulation] | None = None
        self._callback: Any = None
        self.form.param.watch(self._form_changed, [p for p in self.form.param if p != "name"])
        self.load_choices()
        self.load()

    # ----- reading
    def load_choices(self) -> None:
        """The exams to choose from (the tenant's exams with live items)."""
        offer_exams(self, self.context)

    @param.depends("exam", watch=True)
    def load(self) -> None:
        """Read the exam's design (or the defaults) and show it in the form."""
        self.param.update(pending_save=None, preview=None, preview_design=None,
                          preview_status="")  # fmt: skip
        self.feedback.clear()
        self.preview_feedback.clear()
        if not self.exam:
            self.stored = None
            return
        sessions, tenant = self.context.sessions, self.context.tenant_id
        try:
            view = get_exam_design(sessions, tenant, self.exam)
            overview = selector_overview(sessions, tenant)
            topics = list_topics(sessions, tenant, self.exam)
        except QBankError as error:
            self.feedback.say(f"Could not read the design: {error}", "danger")
            return
        self.form.show(view.design, topics)
        self.param.update(stored=view, overview=overview, pending_save=None)

    def on_show(self) -> None:
        """The tab became visible: new exams; the stored design again unless being edited."""
        self.load_choices()
        if not self.edited():
            self.load()

    def edited(self) -> bool:
        """The form differs from the stored design (or the defaults)."""
        if self.stored is None:
            return False
        try:
            return TestDesign.from_json(self.form.as_json()).as_json() != self.stored.design
        except QBankError:
            return True

    def _form_changed(self, *_events: object) -> None:
        self.form_changes += 1
        if self.pending_save is not None:  # the confirmation was for the design as it was
            self.pending_save = None
            self.feedback.say("The form changed: press Save… again to save it.", "info")

    # ----- validation and saving
    def checked_design(self) -> dict[str, Any] | None:
        """The form's design, validated as the API validates it; None (and why) if invalid."""
        try:
            data = self.form.as_json()
            TestDesign.from_json(data)
        except QBankError as error:
            self.feedback.say(f"Not valid: {in_words(str(error), DESIGN_LABELS)}.", "danger")
            return None
        return data

    def ask_save(self, _event: object = None) -> bool:
        """Validate the form and ask to confirm; True when a confirmation is waiting."""
        self.pending_save = None
        if not self.exam:
            self.feedback.say("No exam yet: import questions or seed the demo exam.", "warning")
            return False
        data = self.checked_design()
        if data is None:
            return False
        self.feedback.clear()
        self.pending_save = data
        return True

    def confirm_save(self, _event: object = None) -> bool:
        """Store the design waiting for a yes; True when stored."""
        data, self.pending_save = self.pending_save, None
        if data is None or not self.exam:
            return False
        try:
            saved = set_exam_design(self.context.sessions, self.context.tenant_id, self.exam,
                                    data, updated_by=self.user or None)  # fmt: skip
            view = get_exam_design(self.context.sessions, self.context.tenant_id, self.exam)
        except QBankError as error:
            self.feedback.say(f"Not saved: {in_words(str(error), DESIGN_LABELS)}.", "danger")
            return False
        who = f" by {saved.updated_by}" if saved.updated_by else ""
        self.stored = view
        self.feedback.say(f"Saved: the design of {self.exam} is stored "
                          f"({moment(view.updated_at)}{who}). New adaptive quizzes of "
                          f"{self.exam} use it.", "success")  # fmt: skip
        return True

    def cancel_save(self, _event: object = None) -> None:
        """Drop the design waiting for a yes."""
        self.pending_save = None
        self.feedback.say("Nothing saved.", "info")

    def reset(self, _event: object = None) -> None:
        """Show the stored design (or the defaults) again."""
        self.load()
        self.feedback.say("The form shows the stored design again.", "info")

    # ----- preview
    def start_preview(self, _event: object = None) -> bool:
        """Simulate the form's design on the exam's pool, on a thread; True when started."""
        if self.preview_status == "running":
            self.preview_feedback.say("A preview is still running.", "warning")
            return False
        if not self.exam:
            self.preview_feedback.say("No exam yet.", "warning")
            return False
        data = self.checked_design()
        if data is None:
            self.preview_feedback.say("Not simulated: the design is not valid (see the form).",
                                      "danger")  # fmt: skip
            return False
        if self.preview_n is None or self.preview_seed is None:
            self.preview_feedback.say("Not simulated: give the simulees and the seed.", "danger")
            return False
        try:
            design = TestDesign.from_json(data)
            pool, _stored = exam_pool_and_design(self.context.sessions, self.context.tenant_id,
                                                 self.exam)  # fmt: skip
        except QBankError as error:
            self.preview_feedback.say(f"Not simulated: {error}.", "danger")
            return False
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="preview")
        self._future = self._executor.submit(simulate_design, pool, design, n=self.preview_n,
                                             seed=self.preview_seed)  # fmt: skip
        self.preview_feedback.clear()
        self.param.update(preview_status="running", preview_design=data,
                          preview_started=time.monotonic(), elapsed_s=0)  # fmt: skip
        self._start_polling()
        return True

    def poll_preview(self) -> bool:
        """Take the preview's result once it is there; True while it still runs."""
        future = self._future
        if future is None or self.preview_status != "running":
            return False
        self.elapsed_s = int(time.monotonic() - self.preview_started)
        if not future.done():
            return True
        self._future = None
        try:
            report = future.result()
        except QBankError as error:
            self.preview_status = "failed"
            self.preview_feedback.say(f"Not simulated: {in_words(str(error), DESIGN_LABELS)}.",
                                      "danger")  # fmt: skip
            return False
        except Exception as error:  # a bug or no memory: say so, never stay "running"
            _log.exception("design preview failed")
            self.preview_status = "failed"
            self.preview_feedback.say(f"The simulation failed ({type(error).__name__}); "
                                      "the dashboard's log has the details.", "danger")  # fmt: skip
            return False
        self.param.update(preview=report, preview_status="done")
        return False

    def wait_for_preview(self, timeout_s: float = 300) -> None:
        """Block until the preview ends (tests and scripts; the page polls instead)."""
        if self._future is not None:
            self._future.exception(timeout=timeout_s)
        self.poll_preview()

    def _start_polling(self) -> None:
        self._stop_polling()
        if pn.state.curdoc is None:
            return  # no browser session: the caller polls

        def tick() -> None:
            if not self.poll_preview():
                self._stop_polling()

        self._callback = pn.state.add_periodic_callback(tick, period=POLL_PERIOD_MS)

    def _stop_polling(self) -> None:
        if self._callback is not None:
            self._callback.stop()
            self._callback = None

    # ----- the view
    def __panel__(self) -> pn.viewable.Viewable:
        return design_layout(self)
