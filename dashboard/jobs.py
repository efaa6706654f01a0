"""Following a run from a page: poll its row while it is queued or running."""

from __future__ import annotations

from typing import Any

import param

from dashboard.context import DashboardContext
from dashboard.feedback import Feedback
from qbank.errors import QBankError
from qbank.services.calibration.run_views import get_run
from qbank.services.calibration.runs import cancel_run

__all__ = ["ACTIVE", "RunFollower"]

ACTIVE = ("queued", "running")
POLL_PERIOD_MS = 500


class RunFollower(param.Parameterized):
    """The state of one run as a page shows it: status, progress, history, result, error.

    ``poll`` reads the run row (the job writes progress there); a page calls it from a periodic
    callback, so long work never blocks the page.
    """

    run_id = param.String(default="")
    status = param.String(default="")
    current_iter = param.Integer(default=0)
    total_iters = param.Integer(default=0)
    history = param.List(default=[])
    result = param.Dict(default=None, allow_None=True)
    error = param.String(default="")
    noun = param.String(default="Run", doc="what the page calls its runs in messages")

    def __init__(self, context: DashboardContext, feedback: Feedback, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = feedback
        self._callback: Any = None

    @property
    def active(self) -> bool:
        """True while the run is queued or running."""
        return self.status in ACTIVE

    @property
    def progress(self) -> int:
        """Percent of iterations (or cells) done."""
        if self.status == "done":
            return 100
        return int(100 * self.current_iter / self.total_iters) if self.total_iters else 0

    def follow(self, run_id: str) -> None:
        """Start following a run (and read it once)."""
        self.param.update(run_id=run_id, status="queued", current_iter=0, total_iters=0,
                          history=[], result=None, error="")  # fmt: skip
        self.poll()

    def poll(self) -> bool:
        """Read the run once; returns True while it is still active."""
        if not self.run_id:
            return False
        try:
            run = get_run(self.context.sessions, self.context.tenant_id, self.run_id)
        except QBankError as error:
            self.feedback.say(str(error), "danger")
            return False
        was_active = self.active
        self.param.update(status=run.status, current_iter=run.current_iter,
                          total_iters=run.total_iters, history=list(run.history),
                          result=run.result, error=run.error or "")  # fmt: skip
        if was_active and not self.active:
            self._announce_end()
        return self.active

    def _announce_end(self) -> None:
        name = f"{self.noun} {self.run_id[:8]}"
        if self.status == "done":
            self.feedback.say(f"{name} is done.", "success")
        elif self.status == "failed":
            self.feedback.say(f"{name} failed: {self.error}", "danger")
        else:
            self.feedback.say(f"{name} was {self.status}.", "warning")

    def cancel(self, _event: object = None) -> None:
        """Cancel the followed run (it stops after its current iteration)."""
        if not self.active:
            self.feedback.say("Nothing to cancel: no run is queued or running.", "warning")
            return
        try:
            cancel_run(self.context.sessions, self.context.tenant_id, self.run_id)
        except QBankError as error:
            self.feedback.say(str(error), "danger")
        self.poll()

    def start_polling(self) -> None:
        """Poll every ``POLL_PERIOD_MS`` in the browser session until the run ends."""
        import panel as pn

        self.stop_polling()
        if pn.state.curdoc is None:
            return  # no browser session (unit tests call poll themselves)

        def tick() -> None:
            if not self.poll():
                self.stop_polling()

        self._callback = pn.state.add_periodic_callback(tick, period=POLL_PERIOD_MS)

    def stop_polling(self) -> None:
        """Stop the periodic poll, if any."""
        if self._callback is not None:
            self._callback.stop()
            self._callback = None
