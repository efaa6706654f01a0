"""Applying a finished run's values, and rolling them back: compare and set, per item.

Both happen in one transaction that locks the run and the item rows it compares. Applying
expects every item to still hold the run's ``before`` value, rolling back expects its
``after`` value; an item that holds something else was changed since (by a newer run, a
rollback, a manual ``exposure/set`` or an import), and writing would silently undo that
change. So the call is refused (``ChangedSinceError``, HTTP 409) naming the newer changes, and
nothing is written, unless ``force`` is given: then it writes anyway and records what it
overrode in the run's ``apply_note``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ChangedSinceError, ConflictError
from qbank.services.calibration.runs import (
    ChangedItem,
    _aware,
    _done_result,
    _now,
    _run,
    _run_kind,
)
from qbank.store.models import CalibrationRun

__all__ = [
    "apply_run",
    "changes_since",
    "describe_change",
    "rollback_run",
    "run_effect",
    "values_changed",
]


def _is_applied(run: CalibrationRun) -> bool:
    applied, rolled_back = _aware(run.applied_at), _aware(run.rolled_back_at)
    return applied is not None and (rolled_back is None or rolled_back < applied)


def _writer(run: CalibrationRun) -> Callable[[Session, str, dict[str, Any], str, str], int]:
    write = _run_kind(run.kind).write
    if write is None:
        raise ConflictError(f"a {run.kind} run only reports; it has nothing to apply")
    return write


def describe_change(changed_by: str | None) -> str:
    """Who wrote an item's values, in words."""
    if changed_by is None:
        return "a change made before QBank recorded who made it"
    kind, _, ident = changed_by.partition(":")
    words = {"run": f"run {ident}", "rollback": f"the rollback of run {ident}",
             "manual": "a manual exposure/set", "import": "an import"}  # fmt: skip
    return words.get(kind, changed_by)


def changes_since(changed: list[ChangedItem]) -> list[dict[str, Any]]:
    """The changes behind ``changed`` items, most items first: who, in words, and how many."""
    counts = Counter(item.changed_by for item in changed)
    return [{"changed_by": who, "description": describe_change(who), "items": n}
            for who, n in counts.most_common()]  # fmt: skip


_VALUE_KEYS = ("a", "b", "c", "se_a", "se_b", "se_c")


def values_changed(result: dict[str, Any]) -> int:
    """How many of a result's rows hold a different value after than before.

    Applying or rolling back writes every row (``rows_written``); this counts the rows whose
    value actually changes: k for an ``sh`` run's ``diff``, any of a, b, c and their SEs (or
    the row's existence) for an ``irt`` run's ``items``.
    """
    changed = 0
    for row in result.get("diff", []):
        changed += int(float(row["before"]) != float(row["after"]))
    for row in result.get("items", []):
        before, after = row.get("before"), row.get("after")
        if before is None or after is None:
            changed += int(before is not after)
        else:
            changed += int(any(before.get(key) != after.get(key) for key in _VALUE_KEYS))
    return changed


def _compare(
    session: Session, run: CalibrationRun, result: dict[str, Any], side: str
) -> list[ChangedItem]:
    changed = _run_kind(run.kind).changed
    return [] if changed is None else changed(session, result, side)


def _refuse_or_note(
    run: CalibrationRun, changed: list[ChangedItem], action: str, force: bool, now: datetime
) -> None:
    if not changed:
        return
    changes = changes_since(changed)
    words = "; ".join(f"{c['description']} ({c['items']} items)" for c in changes)
    if not force:
        raise ChangedSinceError(
            f"{len(changed)} items of run {run.id} changed since, by {words}; a {action} would "
            f"undo that, so nothing was written (force=true / --force to {action} anyway)",
            changes,
        )
    note = f"{now.isoformat()}: {action} forced over {words}"
    run.apply_note = f"{run.apply_note}\n{note}" if run.apply_note else note


def apply_run(
    sessions: sessionmaker[Session], tenant_id: str, run_id: str, *, force: bool = False
) -> int:
    """Write a finished run's new values (e.g. a dry run's) in one transaction; returns the rows.

    Raises:
        ConflictError: the run is not done, or its values are already applied.
        ChangedSinceError: items no longer hold the run's ``before`` values (unless ``force``).
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        result = _done_result(run)
        if _is_applied(run):
            raise ConflictError(f"run {run_id} is already applied")
        write, now = _writer(run), _now()
        _refuse_or_note(run, _compare(session, run, result, "before"), "apply", force, now)
        count = write(session, tenant_id, result, "after", f"run:{run.id}")
        run.applied_at = now
        return count


def rollback_run(
    sessions: sessionmaker[Session], tenant_id: str, run_id: str, *, force: bool = False
) -> int:
    """Restore the values a run found (its ``before``), in one transaction.

    Raises:
        ConflictError: the run's values are not applied.
        ChangedSinceError: items no longer hold the run's ``after`` values (unless ``force``).
    """
    with sessions.begin() as session:
        run = _run(session, tenant_id, run_id, lock=True)
        result = _done_result(run)
        if not _is_applied(run):
            raise ConflictError(f"run {run_id} is not applied; nothing to roll back")
        write, now = _writer(run), _now()
        _refuse_or_note(run, _compare(session, run, result, "after"), "rollback", force, now)
        count = write(session, tenant_id, result, "before", f"rollback:{run.id}")
        run.rolled_back_at = now
        return count


def run_effect(session: Session, run: CalibrationRun) -> tuple[bool, list[dict[str, Any]]]:
    """Whether an applied run's values are all still in effect, and else what superseded them."""
    if run.status != "done" or run.result is None or not _is_applied(run):
        return False, []
    changed = _compare(session, run, run.result, "after")
    return not changed, changes_since(changed)
