"""Exams: what makes one, the list with live item counts, and the one check of an exam code.

An exam has no row of its own: it exists while at least one item version is live in it. The
first publish to a new code creates it (the publish says so, ``exam_created``), and retiring or
deleting its last live item ends it. Every use case that takes an exam code to work on (a quiz,
a calibration, a sweep, the exposure table) checks it with :func:`require_exam`, so an unknown
code is one ``NotFoundError`` (HTTP 404) with one message everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import InvalidInputError, NotFoundError
from qbank.store.models import Question, QuestionPublication, QuestionVersion

__all__ = [
    "MAX_PAGE_SIZE",
    "Exam",
    "ExamPage",
    "exam_exists",
    "exam_not_found",
    "list_exams",
    "require_exam",
]

MAX_PAGE_SIZE = 200


@dataclass(frozen=True, slots=True)
class Exam:
    """An exam code and the number of item versions live in it now."""

    exam_code: str
    live_items: int


@dataclass(frozen=True, slots=True)
class ExamPage:
    """One page of exams by code, and how many there are."""

    items: list[Exam]
    total: int
    page: int
    page_size: int


def _live_publications(tenant_id: str) -> Select[str]:
    """Publications of live, not deleted, published versions of the tenant."""
    return (
        select(QuestionPublication.exam_code)
        .join(Question, Question.id == QuestionPublication.question_id)
        .join(QuestionVersion, and_(QuestionVersion.question_id == QuestionPublication.question_id,
                                    QuestionVersion.version == QuestionPublication.live_version))
        .where(QuestionPublication.tenant_id == tenant_id, Question.tenant_id == tenant_id,
               Question.is_deleted.is_(False), QuestionVersion.state == "published")
    )  # fmt: skip


def exam_exists(session: Session, tenant_id: str, exam_code: str) -> bool:
    """Whether the exam has a live item version (inside the caller's session)."""
    query = _live_publications(tenant_id).where(QuestionPublication.exam_code == exam_code)
    return session.scalar(query.limit(1)) is not None


def exam_not_found(exam_code: str) -> NotFoundError:
    """The one error for an exam code with nothing live in it."""
    return NotFoundError(
        f"exam {exam_code!r} has no live published items (an exam exists once a version is "
        "published to it)"
    )


def require_exam(sessions: sessionmaker[Session], tenant_id: str, exam_code: str) -> None:
    """Refuse an exam code with nothing live in it.

    Raises:
        NotFoundError: no item version is live in the exam (or the code was never used).
    """
    with sessions() as session:
        if not exam_exists(session, tenant_id, exam_code):
            raise exam_not_found(exam_code)


def list_exams(
    sessions: sessionmaker[Session], tenant_id: str, *, page: int = 1, page_size: int = 50
) -> ExamPage:
    """The tenant's exams by code, with their live item counts, one page.

    Raises:
        InvalidInputError: bad page or page size.
    """
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page must be >= 1 and page_size in [1, {MAX_PAGE_SIZE}]")
    counts = (
        _live_publications(tenant_id)
        .add_columns(func.count().label("live_items"))
        .group_by(QuestionPublication.exam_code)
        .subquery()
    )
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(counts)) or 0
        rows = session.execute(
            select(counts.c.exam_code, counts.c.live_items)
            .order_by(counts.c.exam_code)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    exams = [Exam(str(code), int(n)) for code, n in rows]
    return ExamPage(exams, int(total), page, page_size)
