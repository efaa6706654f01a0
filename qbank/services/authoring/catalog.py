"""Browsing the bank: search and pages of questions, one question with its versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import InvalidInputError
from qbank.services.authoring.questions import _question
from qbank.store.models import (
    ItemCalibration,
    ItemExposureControl,
    Question,
    QuestionOption,
    QuestionPublication,
    QuestionVersion,
    Topic,
)

__all__ = [
    "MAX_PAGE_SIZE",
    "Page",
    "QuestionSummary",
    "get_question",
    "list_questions",
]
MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class QuestionSummary:
    """One row of a question listing: the newest version of a question."""

    question_id: int
    external_ref: str | None
    version: int
    state: str
    topic: str
    difficulty_label: str
    lead_in: str
    stem_md: str
    exams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """A page of results with the total count over all pages."""

    items: list[QuestionSummary]
    total: int
    page: int
    page_size: int


LIKE_ESCAPE = "\\"


def like_literal(text: str) -> str:
    """``text`` for a LIKE pattern matching it literally: the wildcards and the escape escaped."""
    return text.replace(LIKE_ESCAPE, 2 * LIKE_ESCAPE).replace("%", "\\%").replace("_", "\\_")


def list_questions(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    exam_code: str | None = None,
    topic: str | None = None,
    state: str | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """Newest version of each (not deleted) question, filtered, newest questions first."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page must be >= 1 and page_size in [1, {MAX_PAGE_SIZE}]")
    newest = (
        select(QuestionVersion.question_id, func.max(QuestionVersion.version).label("version"))
        .group_by(QuestionVersion.question_id)
        .subquery()
    )
    query = (
        select(Question, QuestionVersion, Topic)
        .join(newest, newest.c.question_id == Question.id)
        .join(
            QuestionVersion,
            (QuestionVersion.question_id == Question.id)
            & (QuestionVersion.version == newest.c.version),
        )
        .join(Topic, Topic.id == QuestionVersion.topic_id)
        .where(Question.tenant_id == tenant_id, Question.is_deleted.is_(False))
    )
    if exam_code:
        published = select(QuestionPublication.question_id).where(
            QuestionPublication.exam_code == exam_code, QuestionPublication.tenant_id == tenant_id
        )
        query = query.where(Question.id.in_(published))
    if topic:
        query = query.where(Topic.name == topic)
    if state:
        query = query.where(QuestionVersion.state == state)
    if search:
        pattern = f"%{like_literal(search.lower())}%"  # % and _ in the text are characters
        query = query.where(
            or_(
                func.lower(QuestionVersion.stem_md).like(pattern, escape=LIKE_ESCAPE),
                func.lower(QuestionVersion.lead_in).like(pattern, escape=LIKE_ESCAPE),
                func.lower(Question.external_ref).like(pattern, escape=LIKE_ESCAPE),
            )
        )
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(Question.id.desc()).offset((page - 1) * page_size).limit(page_size)
        ).all()
        ids = [question.id for question, _version, _topic in rows]
        exams: dict[int, list[str]] = {}
        for question_id, code in session.execute(
            select(QuestionPublication.question_id, QuestionPublication.exam_code).where(
                QuestionPublication.question_id.in_(ids)
            )
        ):
            exams.setdefault(question_id, []).append(code)
    items = [
        QuestionSummary(
            question.id,
            question.external_ref,
            version.version,
            version.state,
            topic_row.name,
            version.difficulty_label,
            version.lead_in,
            version.stem_md,
            tuple(sorted(exams.get(question.id, []))),
        )
        for question, version, topic_row in rows
    ]
    return Page(items, int(total), page, page_size)


def get_question(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int
) -> dict[str, Any]:
    """A question with every version, options and answer key (for authors), exams and calibration.

    Raises:
        NotFoundError: no such question in the tenant.
    """
    with sessions() as session:
        question = _question(session, tenant_id, question_id)
        versions = session.scalars(
            select(QuestionVersion)
            .where(QuestionVersion.question_id == question_id)
            .order_by(QuestionVersion.version)
        ).all()
        live = session.execute(
            select(QuestionPublication.exam_code, QuestionPublication.live_version).where(
                QuestionPublication.question_id == question_id
            )
        ).all()
        rendered = []
        for row in versions:
            options = session.scalars(
                select(QuestionOption)
                .where(QuestionOption.question_version_id == row.id)
                .order_by(QuestionOption.option_label)
            )
            topic = session.get(Topic, row.topic_id)
            calibration = session.get(ItemCalibration, (question_id, row.version))
            exposure = session.get(ItemExposureControl, (question_id, row.version))
            rendered.append(
                {
                    "version": row.version,
                    "state": row.state,
                    "topic": topic.name if topic else None,
                    "stem_md": row.stem_md,
                    "lead_in": row.lead_in,
                    "rationale_md": row.rationale_md,
                    "difficulty_label": row.difficulty_label,
                    "bloom_level": row.bloom_level,
                    "tags": list(row.tags),
                    "options": [
                        {
                            "label": o.option_label,
                            "text_md": o.option_text_md,
                            "is_correct": o.is_correct,
                        }
                        for o in options
                    ],
                    "calibration": None
                    if calibration is None
                    else {
                        "model": calibration.model,
                        "a": calibration.a,
                        "b": calibration.b,
                        "c": calibration.c,
                        "n_respondents": calibration.n_respondents,
                    },
                    "sh_p": 1.0 if exposure is None else exposure.sh_p,
                }
            )
        return {
            "question_id": question.id,
            "external_ref": question.external_ref,
            "created_by": question.created_by,
            "versions": rendered,
            "live": [{"exam_code": code, "version": ver} for code, ver in live],
        }
