"""A page's feedback line: what just happened, as a success, info or error message."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from typing import Any

import panel as pn
import param

__all__ = ["TABLE_CSS", "Feedback", "as_text", "feedback_alert", "in_words"]

# Tables in a compact font, so that a laptop screen shows a useful number of rows and columns.
TABLE_CSS = [".tabulator { font-size: 13px; } "
             ".tabulator .tabulator-row .tabulator-cell { padding: 5px 6px; } "
             ".tabulator .tabulator-header .tabulator-col .tabulator-col-content "
             "{ padding: 5px 6px; }"]  # fmt: skip


def as_text(message: str) -> str:
    """``message`` escaped for a Markdown pane, so that ``<mu>`` shows as ``<mu>``, not as HTML."""
    return html.escape(message, quote=False)


def in_words(message: str, labels: Mapping[str, str]) -> str:
    """``message`` with the parameter names it mentions replaced by the form's labels."""
    if not labels:
        return message
    names = sorted(labels, key=len, reverse=True)
    pattern = re.compile(r"\b(" + "|".join(re.escape(name) for name in names) + r")\b")
    return pattern.sub(lambda match: labels[match.group(1)], message)


class Feedback(param.Parameterized):
    """Message state shared by the pages; ``kind`` is a Bootstrap alert type."""

    message = param.String(default="")
    kind = param.Selector(default="info", objects=["info", "success", "danger", "warning"])

    def say(self, message: str, kind: str = "info") -> None:
        """Show ``message`` (replacing the last one)."""
        self.param.update(message=message, kind=kind)

    def clear(self) -> None:
        """Show nothing."""
        self.message = ""


def feedback_alert(feedback: Feedback) -> Any:
    """An alert that shows the feedback's message, hidden while there is none."""

    def render(message: str, kind: str) -> pn.pane.Alert:
        return pn.pane.Alert(as_text(message), alert_type=kind, visible=bool(message),
                             css_classes=["qbank-feedback", f"qbank-{kind}"],
                             sizing_mode="stretch_width")  # fmt: skip

    return pn.panel(pn.bind(render, feedback.param.message, feedback.param.kind))
