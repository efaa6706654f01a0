"""The exam selector that the Calibrate, Sweep, Monitor and Design pages share."""

from __future__ import annotations

from typing import Any

from dashboard.context import DashboardContext
from qbank.services.exposure.table import list_exams


def offer_exams(page: Any, context: DashboardContext) -> None:
    """Offer the tenant's exams with live items in ``page.exam``; keep its choice if still there.

    Otherwise the first exam is chosen, or none when the tenant has none.
    """
    exams = list_exams(context.sessions, context.tenant_id)
    page.param.exam.objects = exams
    if page.exam not in exams:
        page.exam = exams[0] if exams else None
