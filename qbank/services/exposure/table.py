"""The admin exposure table: live items with 3PL parameters, sh_p, recent and today's exposure.

One page of rows at a time, filtered (exam, topic, text) and sorted in the database; today's
exposure counts come from the state store in one read for the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import InvalidInputError
from qbank.irt import DEFAULT_A, DEFAULT_B, DEFAULT_C
from qbank.services.exposure.sh_p import RECENT_DAYS
from qbank.state import StateStore
from qbank.store.models import (
    ItemCalibration,
    ItemExposureControl,
    Question,
    QuestionPublication,
    QuestionVersion,
    Topic,
    UserResponse,
)

__all__ = [
    "EXPOSURE_SORT_KEYS",
    "ExposurePage",
    "ExposureRow",
    "list_exams",
    "list_exposure_rows",
    "list_topics",
]

MAX_PAGE_SIZE = 200
STEM_PREVIEW_CHARS = 120
EXPOSURE_SORT_KEYS = ("attempts_7d", "question_id", "topic", "a", "b", "c", "sh_p")


@dataclass(frozen=True, slots=True)
class ExposureRow:
    """One live item version as the exposure table shows it."""

    question_id: int
    version: int
    topic: str
    question: str  # stem (shortened) and lead-in
    a: float
    b: float
    c: float
    sh_p: float
    attempts_7d: int
    exposures_today: int


@dataclass(frozen=True, slots=True)
class ExposurePage:
    """One page of the table and the number of rows matching the filters."""

    rows: list[ExposureRow]
    total: int
    page: int
    page_size: int

    @property
    def n_pages(self) -> int:
        """Pages in all (at least 1, so an empty table is "page 1 of 1")."""
        return max(1, -(-self.total // self.page_size))


def _preview(stem: str, lead_in: str) -> str:
    stem = " ".join(stem.split())
    if len(stem) > STEM_PREVIEW_CHARS:
        stem = stem[: STEM_PREVIEW_CHARS - 1].rstrip() + "…"
    return f"{stem} {lead_in}".strip()


def _check_page(page: int, page_size: int, sort: str) -> None:
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page must be >= 1 and page_size in [1, {MAX_PAGE_SIZE}]")
    if sort not in EXPOSURE_SORT_KEYS:
        raise InvalidInputError(f"sort must be one of {', '.join(EXPOSURE_SORT_KEYS)}")


def list_exposure_rows(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    *,
    exam_code: str | None = None,
    topic: str | None = None,
    text: str | None = None,
    sort: str = "attempts_7d",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> ExposurePage:
    """Live item versions matching the filters, one page, sorted (ties by question id).

    ``text`` matches stem or lead-in, case-insensitively. Missing calibration shows DESIGN.md's
    defaults (a 1, b 0, c 0.2) and a missing exposure row sh_p 1.

    Raises:
        InvalidInputError: bad page, page size or sort key.
    """
    _check_page(page, page_size, sort)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    attempts = (
        select(UserResponse.question_id, UserResponse.version, func.count().label("n"))
        .where(UserResponse.tenant_id == tenant_id,
               UserResponse.created_at >= moment - timedelta(days=RECENT_DAYS))
        .group_by(UserResponse.question_id, UserResponse.version)
        .subquery()
    )  # fmt: skip
    live = select(QuestionPublication.question_id, QuestionPublication.live_version).where(
        QuestionPublication.tenant_id == tenant_id
    )
    if exam_code:
        live = live.where(QuestionPublication.exam_code == exam_code)
    live_items = live.distinct().subquery()
    columns: dict[str, Any] = {
        "question_id": QuestionVersion.question_id,
        "topic": Topic.name,
        "a": func.coalesce(ItemCalibration.a, DEFAULT_A),
        "b": func.coalesce(ItemCalibration.b, DEFAULT_B),
        "c": func.coalesce(ItemCalibration.c, DEFAULT_C),
        "sh_p": func.coalesce(ItemExposureControl.sh_p, 1.0),
        "attempts_7d": func.coalesce(attempts.c.n, 0),
    }
    query = (
        select(QuestionVersion.question_id, QuestionVersion.version, Topic.name,
               QuestionVersion.stem_md, QuestionVersion.lead_in, columns["a"], columns["b"],
               columns["c"], columns["sh_p"], columns["attempts_7d"])
        .join(live_items, and_(live_items.c.question_id == QuestionVersion.question_id,
                               live_items.c.live_version == QuestionVersion.version))
        .join(Question, Question.id == QuestionVersion.question_id)
        .join(Topic, Topic.id == QuestionVersion.topic_id)
        .outerjoin(ItemCalibration, and_(
            ItemCalibration.question_id == QuestionVersion.question_id,
            ItemCalibration.version == QuestionVersion.version))
        .outerjoin(ItemExposureControl, and_(
            ItemExposureControl.question_id == QuestionVersion.question_id,
            ItemExposureControl.version == QuestionVersion.version))
        .outerjoin(attempts, and_(attempts.c.question_id == QuestionVersion.question_id,
                                  attempts.c.version == QuestionVersion.version))
        .where(Question.tenant_id == tenant_id, Question.is_deleted.is_(False))
    )  # fmt: skip
    if topic:
        query = query.where(Topic.name == topic)
    if text and text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where(
            or_(QuestionVersion.stem_md.ilike(pattern), QuestionVersion.lead_in.ilike(pattern))
        )
    order = columns[sort].desc() if descending else columns[sort].asc()
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        found = session.execute(
            query.order_by(order, QuestionVersion.question_id, QuestionVersion.version)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    today = moment.date()
    counts = state.exposure_counts(tenant_id, [(int(r[0]), int(r[1])) for r in found], today)
    rows = [
        ExposureRow(int(qid), int(ver), str(topic_name), _preview(stem, lead_in), float(a),
                    float(b), float(c), float(sh_p), int(n), int(count))
        for (qid, ver, topic_name, stem, lead_in, a, b, c, sh_p, n), count
        in zip(found, counts, strict=True)
    ]  # fmt: skip
    return ExposurePage(rows, int(total), page, page_size)


def list_exams(sessions: sessionmaker[Session], tenant_id: str) -> list[str]:
    """Exam codes with at least one live item, sorted."""
    with sessions() as session:
        return list(
            session.scalars(
                select(QuestionPublication.exam_code)
                .where(QuestionPublication.tenant_id == tenant_id)
                .distinct()
                .order_by(QuestionPublication.exam_code)
            )
        )


def list_topics(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str | None = None
) -> list[str]:
    """Names of the topics of live items (of one exam, or all), sorted."""
    query = (
        select(Topic.name)
        .join(QuestionVersion, QuestionVersion.topic_id == Topic.id)
        .join(QuestionPublication,
              and_(QuestionPublication.question_id == QuestionVersion.question_id,
                   QuestionPublication.live_version == QuestionVersion.version))
        .where(QuestionPublication.tenant_id == tenant_id)
    )  # fmt: skip
    if exam_code:
        query = query.where(QuestionPublication.exam_code == exam_code)
    with sessions() as session:
        return list(session.scalars(query.distinct().order_by(Topic.name)))
