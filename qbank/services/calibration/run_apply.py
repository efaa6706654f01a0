"""Applying a finished run's values, and rolling them back, each in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError
from qbank.services.calibration.runs import _aware, _done_result, _now, _run, _run_kind
from qbank.store.models import CalibrationRun

__all__ = [
    "apply_run",
    "rollback_run",
]


def _is_applied(run: CalibrationRun) -> bool:
    applied, rolled_back = _aware(run.applied_at), _aware(run.rolled_back_at)
    return applied is not None and (rolled_back is None or rolled_back < applied)


def _writer(run: CalibrationRun) -> Callable[[Session, str, dict[str, Any], str], int]:
    write = _run_kind(run.kind).write
    if write is None:
        raise ConflictError(f"a {run.kind} run only reports; it has nothing to apply")
    return write


def apply_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> int:
    """Write a finished run's new k (e.g. a dry run's) in one transaction; returns the rows.

    Raises:
        ConflictError: the run is not done, or its values are already applied.
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        result = _done_result(run)
        if _is_applied(run):
            raise ConflictError(f"run {run_id} is already applied")
        count = _writer(run)(session, tenant_id, result, "after")
        run.applied_at = _now()
        return count


def rollback_run(sessions: sessionmaker[Session], tenant_id: str, run_id: str) -> int:
    """Restore the k values a run found (its ``before``), in one transaction.

    Raises:
        ConflictError: the run's values are not applied.
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        result = _done_result(run)
        if not _is_applied(run):
            raise ConflictError(f"run {run_id} is not applied; nothing to roll back")
        count = _writer(run)(session, tenant_id, result, "before")
        run.rolled_back_at = _now()
        return count
