"""Login: only users with the admin role get in (the API's user store and password hashes)."""

from __future__ import annotations

from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.context import DashboardContext
from dashboard.feedback import Feedback, feedback_alert
from qbank.errors import PermissionDeniedError
from qbank.services.auth import Principal, authenticate

__all__ = ["LoginForm"]


class LoginForm(Viewer):
    """Username and password; ``principal`` is set once an admin logged in."""

    username = param.String(default="")
    password = param.String(default="")
    principal = param.Parameter(default=None, doc="the logged-in admin's Principal, or None")

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.feedback = Feedback()

    def submit(self, _event: Any = None) -> bool:
        """Check the credentials; True (and ``principal`` set) when an admin logged in."""
        username = self.username.strip()
        if not username or not self.password:
            self.feedback.say("Enter your username and password.", "danger")
            return False
        try:
            principal: Principal = authenticate(
                self.context.sessions, self.context.tenant_id, username, self.password
            )
        except PermissionDeniedError as error:
            self.feedback.say(f"Login refused: {error}.", "danger")
            self.password = ""
            return False
        if not principal.has_any("admin"):
            self.feedback.say(
                f"Login refused: {username} is not an admin; the dashboard is for admins only.",
                "danger",
            )
            self.password = ""
            return False
        self.feedback.clear()
        self.password = ""
        self.principal = principal
        return True

    def _clicked(self, _event: Any) -> None:
        self.submit()

    def __panel__(self) -> pn.viewable.Viewable:
        username = pn.widgets.TextInput.from_param(
            self.param.username, label="Username", placeholder="e.g. demo-admin", width=300
        )
        password = pn.widgets.PasswordInput.from_param(
            self.param.password, label="Password", width=300
        )
        button = pn.widgets.Button(label="Log in", color="primary", width=300)
        button.on_click(self._clicked)
        return pn.Column(
            pn.pane.Markdown("## QBank admin dashboard\nLog in with an admin account."),
            username, password, button, feedback_alert(self.feedback), width=340,
        )  # fmt: skip
