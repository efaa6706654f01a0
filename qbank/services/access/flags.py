"""Feature flags, cohort assignments and DESIGN.md's choice of selector per user."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import SELECTORS
from qbank.errors import InvalidInputError
from qbank.store.models import CohortAssignment, FeatureFlag, User
from qbank.store.upsert import upsert

__all__ = [
    "SELECTOR_KEY",
    "SelectorOverview",
    "assign_cohort",
    "selector_for_user",
    "selector_overview",
    "set_feature_flag",
    "set_selector",
]

SELECTOR_KEY = "selector_strategy"


def _check_key(name: str, value: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 128:
        raise InvalidInputError(f"{name} must be a non-empty string of at most 128 characters")


def set_feature_flag(
    sessions: sessionmaker[Session], tenant_id: str, key: str, enabled: bool, value: Any = None
) -> None:
    """Create or update a tenant's feature flag."""
    _check_key("key", key)
    if key == SELECTOR_KEY and value is not None and value not in SELECTORS:
        raise InvalidInputError(f"{SELECTOR_KEY} must be one of {', '.join(SELECTORS)}")
    try:
        encoded = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise InvalidInputError("value must be plain JSON without NaN or infinity") from None
    if len(encoded) > 10_000 or "\\u0000" in encoded:
        raise InvalidInputError("value must be at most 10 000 characters of JSON, without NUL")
    with sessions.begin() as session:
        upsert(session, FeatureFlag,
               {"tenant_id": tenant_id, "key": key, "enabled": enabled, "value_json": value},
               ("tenant_id", "key"), ("enabled", "value_json"))  # fmt: skip


def assign_cohort(
    sessions: sessionmaker[Session], tenant_id: str, user_id: str, cohort_key: str, value: str
) -> None:
    """Put a user in a cohort (replacing an earlier assignment for the same key)."""
    _check_key("user_id", user_id)
    _check_key("cohort_key", cohort_key)
    _check_key("cohort_value", value)
    if cohort_key == SELECTOR_KEY and value not in SELECTORS:
        raise InvalidInputError(f"{SELECTOR_KEY} must be one of {', '.join(SELECTORS)}")
    with sessions.begin() as session:
        upsert(session, CohortAssignment,
               {"tenant_id": tenant_id, "user_id": user_id, "cohort_key": cohort_key,
                "cohort_value": value},
               ("tenant_id", "user_id", "cohort_key"), ("cohort_value",))  # fmt: skip


def selector_for_user(sessions: sessionmaker[Session], tenant_id: str, user_id: str) -> str:
    """The selector of a user's adaptive quizzes (DESIGN.md).

    A ``selector_strategy`` cohort assignment wins; else the enabled ``selector_strategy`` flag
    with value ``sympson_hetter``; else ``vanilla``.
    """
    with sessions() as session:
        cohort = session.scalar(
            select(CohortAssignment.cohort_value).where(
                CohortAssignment.tenant_id == tenant_id, CohortAssignment.user_id == user_id,
                CohortAssignment.cohort_key == SELECTOR_KEY)
        )  # fmt: skip
        if cohort in SELECTORS:
            return str(cohort)
        flag = session.get(FeatureFlag, (tenant_id, SELECTOR_KEY))
    if flag is not None and flag.enabled and flag.value_json == "sympson_hetter":
        return "sympson_hetter"
    return "vanilla"


@dataclass(frozen=True, slots=True)
class SelectorOverview:
    """Which selector a tenant's students get, and how many students each way (DESIGN.md)."""

    flag_selector: str  # what a student without a selector_strategy cohort gets
    flag_enabled: bool
    cohorts: dict[str, int]  # selector → students assigned to that cohort
    students_without_cohort: int

    @property
    def students_by_selector(self) -> dict[str, int]:
        """Students that each selector serves now (cohorts plus the flag's share)."""
        totals = {name: self.cohorts.get(name, 0) for name in SELECTORS}
        totals[self.flag_selector] += self.students_without_cohort
        return totals


def selector_overview(sessions: sessionmaker[Session], tenant_id: str) -> SelectorOverview:
    """The tenant's ``selector_strategy`` flag and the students in each selector cohort."""
    with sessions() as session:
        flag = session.get(FeatureFlag, (tenant_id, SELECTOR_KEY))
        students = {
            user.username
            for user in session.scalars(select(User).where(User.tenant_id == tenant_id))
            if "student" in (user.roles or [])
        }
        assigned = dict(session.execute(
            select(CohortAssignment.user_id, CohortAssignment.cohort_value).where(
                CohortAssignment.tenant_id == tenant_id,
                CohortAssignment.cohort_key == SELECTOR_KEY)
        ).all())  # fmt: skip
    enabled = bool(flag is not None and flag.enabled)
    by_flag = "sympson_hetter" if enabled and flag and flag.value_json == "sympson_hetter" else None
    cohorts = Counter(value for user, value in assigned.items() if user in students and
                      value in SELECTORS)  # fmt: skip
    return SelectorOverview(
        flag_selector=by_flag or "vanilla", flag_enabled=enabled, cohorts=dict(cohorts),
        students_without_cohort=sum(1 for user in students if assigned.get(user) not in SELECTORS),
    )  # fmt: skip


def set_selector(sessions: sessionmaker[Session], tenant_id: str, selector: str) -> None:
    """Switch the ``selector_strategy`` flag: the selector of students without a cohort.

    Raises:
        InvalidInputError: not one of ``SELECTORS``.
    """
    if selector not in SELECTORS:
        raise InvalidInputError(f"the selector must be one of {', '.join(SELECTORS)}")
    set_feature_flag(sessions, tenant_id, SELECTOR_KEY, True, selector)
