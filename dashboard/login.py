"""Login: only users with the admin role get in (the API's user store and password hashes)."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.context import DashboardContext
from dashboard.feedback import Feedback, feedback_alert
from qbank.errors import PermissionDeniedError
from qbank.services.access.auth import Principal
from qbank.services.access.throttle import throttled_login

__all__ = ["LoginForm"]


def _client_address() -> str | None:
    """The address of the browser this session serves (None outside a served session)."""
    context = getattr(pn.state.curdoc, "session_context", None)
    request = getattr(context, "request", None)
    address = getattr(request, "remote_ip", None)
    return address if isinstance(address, str) else None


class PasswordField(pn.widgets.PasswordInput):
    """A password input that reports Enter (Bokeh's ``value_submit``; Panel's ignores it)."""

    enter_pressed = param.Event(doc="Enter was pressed in the field.")

    _rename: ClassVar[dict[str, str | None]] = {
        **pn.widgets.PasswordInput._rename,
        "enter_pressed": None,
    }

    def _get_model(self, doc: Any, root: Any = None, parent: Any = None, comm: Any = None) -> Any:
        model = super()._get_model(doc, root, parent, comm)
        self._register_events("value_submit", model=model, doc=doc, comm=comm)
        return model

    def _process_event(self, event: Any) -> None:
        if event.event_name == "value_submit":
            self.value = event.value
            self.value_input = event.value
            self.enter_pressed = True


class LoginForm(Viewer):
    """Username and password; ``principal`` is set once an admin logged in."""

    username = param.String(default="")
    password = param.String(default="")
    principal = param.Parameter(default=None, doc="the logged-in admin's Principal, or None")

    def __init__(
        self, context: DashboardContext, address: str | None = None, **params: Any
    ) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()
        # Failed logins are throttled per account and per browser's address, as on the API.
        self.address = address if address is not None else _client_address()

    def submit(self, _event: Any = None) -> bool:
        """Check the credentials; True (and ``principal`` set) when an admin logged in."""
        return self._apply(*self._attempt())

    def _attempt(self) -> tuple[Principal | None, str]:
        """The password check (scrypt: slow on purpose), without touching the page."""
        username = self.username.strip()
        if not username or not self.password:
            return None, "Enter your username and password."
        try:
            principal: Principal = throttled_login(
                self.context.sessions, self.context.throttle, self.context.tenant_id, username,
                self.password, self.address,
            )  # fmt: skip
        except PermissionDeniedError as error:
            return None, f"Login refused: {error}."
        if not principal.has_any("admin"):
            return None, (
                f"Login refused: {username} is not an admin; the dashboard is for admins only."
            )
        return principal, ""

    def _apply(self, principal: Principal | None, refusal: str) -> bool:
        self.password = ""
        if principal is None:
            self.feedback.say(refusal, "danger")
            return False
        self.feedback.clear()
        self.principal = principal
        return True

    async def _clicked(self, _event: Any) -> None:
        # The scrypt check runs on a worker thread: the server's event loop, shared by every
        # session, stays free while someone logs in (or guesses passwords).
        self._apply(*await asyncio.to_thread(self._attempt))

    def __panel__(self) -> pn.viewable.Viewable:
        username = pn.widgets.TextInput.from_param(
            self.param.username, label="Username", placeholder="e.g. demo-admin", width=300
        )
        password = PasswordField.from_param(self.param.password, label="Password", width=300)
        button = pn.widgets.Button(label="Log in", color="primary", width=300)
        button.on_click(self._clicked)
        password.param.watch(self._clicked, "enter_pressed")  # Enter submits, as in any form
        return pn.Column(
            pn.pane.Markdown("## QBank admin dashboard\nLog in with an admin account."),
            username, password, button, feedback_alert(self.feedback), width=340,
        )  # fmt: skip
