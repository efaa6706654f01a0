"""One test design per exam (``qbank.cat.design.TestDesign``): read, validate and store it.

The design says how the exam's adaptive quizzes select (rule and options), estimate θ̂, control
exposure, stop and balance content; calibration runs and ``qbank simulate`` use the same one. An
exam without a stored design has none: delivery then keeps the ``selector_strategy`` flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat.design import TestDesign
from qbank.errors import InvalidInputError
from qbank.store.models import ExamDesign, Topic
from qbank.store.upsert import upsert

__all__ = ["ExamDesignView", "get_exam_design", "load_exam_design", "set_exam_design"]

_MAX_CODE = 64


@dataclass(frozen=True, slots=True)
class ExamDesignView:
    """An exam's design as the API shows it; ``stored`` False means the defaults (no row)."""

    exam_code: str
    design: dict[str, Any]
    stored: bool
    updated_at: str | None = None
    updated_by: str | None = None


def _check_exam_code(exam_code: str) -> None:
    if not isinstance(exam_code, str) or not exam_code.strip() or len(exam_code) > _MAX_CODE:
        raise InvalidInputError(f"exam_code must be 1 to {_MAX_CODE} characters")


def load_exam_design(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str
) -> TestDesign | None:
    """The exam's stored design, or None when it has none."""
    with sessions() as session:
        row = session.get(ExamDesign, (tenant_id, exam_code))
        data = None if row is None else row.design
    return None if data is None else TestDesign.from_json(data)


def get_exam_design(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str
) -> ExamDesignView:
    """The exam's design, or the defaults (today's CAT) marked ``stored=False``."""
    _check_exam_code(exam_code)
    with sessions() as session:
        row = session.get(ExamDesign, (tenant_id, exam_code))
        if row is None:
            return ExamDesignView(exam_code, TestDesign().as_json(), stored=False)
        return ExamDesignView(
            exam_code, TestDesign.from_json(row.design).as_json(), True,
            row.updated_at.isoformat(), row.updated_by,
        )  # fmt: skip


def set_exam_design(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    data: Any,
    updated_by: str | None = None,
) -> ExamDesignView:
    """Validate a design and store it as the exam's (replacing any earlier one).

    Raises:
        InvalidInputError: the design is invalid (the message names the field), or its
            blueprint names a topic the tenant does not have.
    """
    _check_exam_code(exam_code)
    design = TestDesign.from_json(data)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        _check_blueprint_topics(session, tenant_id, design)
        upsert(session, ExamDesign,
               {"tenant_id": tenant_id, "exam_code": exam_code, "design": design.as_json(),
                "updated_by": updated_by, "updated_at": now},
               ("tenant_id", "exam_code"), ("design", "updated_by", "updated_at"))  # fmt: skip
    return ExamDesignView(exam_code, design.as_json(), True, now.isoformat(), updated_by)


def _check_blueprint_topics(session: Session, tenant_id: str, design: TestDesign) -> None:
    names = [name for name, _ in design.blueprint]
    if not names:
        return
    known = set(
        session.scalars(
            select(Topic.name).where(Topic.tenant_id == tenant_id, Topic.name.in_(names))
        )
    )
    missing = [name for name in names if name not in known]
    if missing:
        raise InvalidInputError(f"blueprint topic(s) not found: {', '.join(missing)}")
