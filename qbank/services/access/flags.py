"""Feature flags, cohort assignments and DESIGN.md's choice of selector per user."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat import SELECTORS
from qbank.errors import InvalidInputError
from qbank.store.models import CohortAssignment, FeatureFlag
from qbank.store.upsert import upsert

__all__ = ["SELECTOR_KEY", "assign_cohort", "selector_for_user", "set_feature_flag"]

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
