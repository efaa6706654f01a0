"""The dashboard: a login gate, then the Items, Calibrate, Runs, Sweep, Monitor, Design tabs.

Each browser session gets its own ``DashboardApp`` (its own login and page state); the
database, state store and job queue are shared by the server process. A login lasts as long
as the browser tab's session: reloading the page asks again.
"""

from __future__ import annotations

import html
import secrets
from typing import Any

import panel as pn
import param
from panel.viewable import Viewer

from dashboard.assets import Tabs, serve_assets_locally
from dashboard.calibrate import CalibratePage
from dashboard.context import DashboardContext, build_context
from dashboard.design_page import DesignPage
from dashboard.items import ItemsPage
from dashboard.login import LoginForm
from dashboard.monitor import MonitorPage
from dashboard.runs import RunsPage
from dashboard.sweep import SweepPage
from qbank.settings import Settings

__all__ = ["TABS", "DashboardApp", "serve", "session_page"]

TABS = ("Items", "Calibrate", "Runs", "Sweep", "Monitor", "Design")


class DashboardApp(Viewer):
    """One browser session: the login form until an admin logs in, then the pages."""

    user = param.String(default="")

    def __init__(self, context: DashboardContext, **params: Any) -> None:
        super().__init__(**params)
        self.context = context
        self.login = LoginForm(context)
        self.pages: dict[str, Any] = {}
        self.header = pn.Row(sizing_mode="stretch_width", css_classes=["qbank-header"])
        self._main = pn.Column(self.login, sizing_mode="stretch_width")
        self.login.param.watch(self._logged_in, "principal")

    def _logged_in(self, event: param.parameterized.Event) -> None:
        if event.new is None:
            return
        self.user = event.new.user_id
        self.pages = {
            "Items": ItemsPage(self.context),
            "Calibrate": CalibratePage(self.context),
            "Runs": RunsPage(self.context),
            "Sweep": SweepPage(self.context),
            "Monitor": MonitorPage(self.context),
            "Design": DesignPage(self.context, user=self.user),
        }
        tabs = Tabs(*((name, page) for name, page in self.pages.items()),
                    dynamic=True, sizing_mode="stretch_width")  # fmt: skip
        tabs.param.watch(self._tab_shown, "active")
        logout = pn.widgets.Button(label="Log out", width=90, height=32, margin=(2, 5))
        logout.on_click(self.logout)
        # One compact line at any width: the template's title already says "QBank admin".
        signed_in = pn.pane.HTML(f"signed in as <b>{html.escape(self.user)}</b>",
                                 styles={"white-space": "nowrap", "color": "white"},
                                 margin=(8, 10), css_classes=["qbank-signed-in"])  # fmt: skip
        # In the template's title bar, beside "QBank admin": one line at any width.
        self.header.objects = [pn.HSpacer(), signed_in, logout]
        self._main.objects = [tabs]

    def _tab_shown(self, event: param.parameterized.Event) -> None:
        page = self.pages[TABS[event.new]]
        if hasattr(page, "on_show"):
            page.on_show()
        elif hasattr(page, "load_choices"):
            page.load_choices()

    def logout(self, _event: object = None) -> None:
        """Forget the login and show the form again."""
        self.login = LoginForm(self.context)
        self.login.param.watch(self._logged_in, "principal")
        self.user, self.pages = "", {}
        self.header.objects = []
        self._main.objects = [self.login]

    def __panel__(self) -> pn.viewable.Viewable:
        return self._main


def session_page(
    context: DashboardContext, app: DashboardApp | None = None
) -> pn.template.BootstrapTemplate:
    """One session's page: the app in the template, Panel's assets from this server."""
    if pn.state.curdoc is not None:
        serve_assets_locally(pn.state.curdoc)
    app = app or DashboardApp(context)
    return pn.template.BootstrapTemplate(title="QBank admin", main=[app],
                                         header=[app.header])  # fmt: skip


def _origins(host: str, port: int) -> list[str]:
    if host in ("0.0.0.0", "::", ""):
        return ["*"]
    return [f"{name}:{port}" for name in {host, "localhost", "127.0.0.1"}]


def serve(
    settings: Settings, host: str = "127.0.0.1", port: int = 5006, *, threaded: bool = False
) -> Any:
    """Serve the dashboard (what ``qbank dashboard`` and ``qbank demo`` run).

    Blocks until interrupted, or with ``threaded`` runs on a thread of its own and returns it
    (stop it with ``.stop()``).
    """
    import holoviews as hv

    pn.extension("tabulator", sizing_mode="stretch_width", notifications=False)
    hv.extension("bokeh")
    context = build_context(settings)
    return pn.serve(
        {"/": lambda: session_page(context)}, address=host, port=port,
        websocket_origin=_origins(host, port),
        show=False, start=True, threaded=threaded, verbose=False, title="QBank admin",
        # Only session ids this process made are accepted, so a link carrying an id an attacker
        # chose (session fixation) cannot be logged in by an admin and then joined.
        sign_sessions=True, secret_key=secrets.token_urlsafe(48),
    )  # fmt: skip
