"""Exposure use cases: items with sh_p and recent attempts, setting sh_p, daily counters."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.store.models import (
    ItemExposureControl,
    Question,
    QuestionPublication,
    QuestionVersion,
    UserResponse,
)

__all__ = [
    "RECENT_DAYS",
    "ExposureItem",
    "list_exposure_items",
    "set_sh_p",
    "write_sh_p",
]

RECENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class ExposureItem:
    """An item version with its S–H parameter and its attempts in the last 7 days."""

    question_id: int
    version: int
    topic_id: int
    sh_p: float
    recent_attempts: int


def list_exposure_items(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    exam_code: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[ExposureItem]:
    """Live item versions (of one exam, or all) with sh_p, most attempted first.

    Items without an exposure row show sh_p 1.0 (DESIGN.md).
    """
    if not 1 <= limit <= 1000:
        raise InvalidInputError(f"limit must be in [1, 1000], got {limit}")
    since = (now or datetime.now(UTC)).astimezone(UTC) - timedelta(days=RECENT_DAYS)
    attempts = (
        select(UserResponse.question_id, UserResponse.version,
               func.count().label("attempts"))
        .where(UserResponse.tenant_id == tenant_id, UserResponse.created_at >= since)
        .group_by(UserResponse.question_id, UserResponse.version)
        .subquery()
    )  # fmt: skip
    live = select(QuestionPublication.question_id, QuestionPublication.live_version).where(
        QuestionPublication.tenant_id == tenant_id
    )
    if exam_code:
        live = live.where(QuestionPublication.exam_code == exam_code)
    live_items = live.distinct().subquery()
    query = (
        select(QuestionVersion.question_id, QuestionVersion.version, QuestionVersion.topic_id,
               ItemExposureControl.sh_p, attempts.c.attempts)
        .join(live_items, and_(live_items.c.question_id == QuestionVersion.question_id,
                               live_items.c.live_version == QuestionVersion.version))
        .join(Question, Question.id == QuestionVersion.question_id)
        .outerjoin(ItemExposureControl, and_(
            ItemExposureControl.question_id == QuestionVersion.question_id,
            ItemExposureControl.version == QuestionVersion.version))
        .outerjoin(attempts, and_(attempts.c.question_id == QuestionVersion.question_id,
                                  attempts.c.version == QuestionVersion.version))
        .where(Question.tenant_id == tenant_id, Question.is_deleted.is_(False))
        .order_by(func.coalesce(attempts.c.attempts, 0).desc(), QuestionVersion.question_id)
        .limit(limit)
    )  # fmt: skip
    with sessions() as session:
        rows = session.execute(query).all()
    return [
        ExposureItem(int(qid), int(ver), int(topic_id), 1.0 if sh_p is None else float(sh_p),
                     int(count or 0))
        for qid, ver, topic_id, sh_p, count in rows
    ]  # fmt: skip


def _check_sh_p(sh_p: float) -> None:
    if isinstance(sh_p, bool) or not isinstance(sh_p, int | float) or not math.isfinite(sh_p):
        raise InvalidInputError(f"sh_p must be a number in [0, 1], got {sh_p!r}")
    if not 0 <= sh_p <= 1:
        raise InvalidInputError(f"sh_p must be in [0, 1], got {sh_p}")


def write_sh_p(
    session: Session,
    values: Sequence[tuple[int, int, float]],
    changed_by: str | None = None,
    update_rule: str | None = None,
) -> None:
    """Upsert sh_p for (question_id, version, sh_p) rows inside the caller's transaction.

    ``changed_by`` records who wrote them (``run:<id>``, ``rollback:<id>``, ``manual``,
    ``import``): a rollback names it when it finds an item changed since its run.
    ``update_rule`` records the S–H rule that produced the values (``sympson-hetter``: delivery
    then sets the item aside for the rest of a quiz when it loses its lottery); None is the
    seed's rule or a value typed by hand.
    """
    now = datetime.now(UTC)
    question_ids = sorted({qid for qid, _ver, _value in values})
    existing = {
        (row.question_id, row.version): row
        for row in session.scalars(
            select(ItemExposureControl).where(ItemExposureControl.question_id.in_(question_ids))
        )
    }
    for qid, ver, value in values:
        row = existing.get((qid, ver))
        if row is None:
            session.add(ItemExposureControl(question_id=qid, version=ver, sh_p=float(value),
                                            updated_at=now, changed_by=changed_by,
                                            update_rule=update_rule))  # fmt: skip
        else:
            row.sh_p = float(value)
            row.updated_at, row.changed_by, row.update_rule = now, changed_by, update_rule
    session.flush()


def set_sh_p(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int, version: int, sh_p: float
) -> None:
    """Set one item version's S–H parameter.

    Raises:
        InvalidInputError: sh_p outside [0, 1].
        NotFoundError: no such version in the tenant.
    """
    _check_sh_p(sh_p)
    try:
        _set_one(sessions, tenant_id, question_id, version, float(sh_p))
    except IntegrityError:
        raise ConflictError("sh_p of this item changed concurrently; try again") from None


def _set_one(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int, version: int, sh_p: float
) -> None:
    with sessions.begin() as session:
        found = session.scalar(
            select(QuestionVersion.id)
            .join(Question, Question.id == QuestionVersion.question_id)
            .where(QuestionVersion.question_id == question_id, QuestionVersion.version == version,
                   Question.tenant_id == tenant_id, Question.is_deleted.is_(False))
        )  # fmt: skip
        if found is None:
            raise NotFoundError(f"question {question_id} version {version} not found")
        write_sh_p(session, [(question_id, version, sh_p)], changed_by="manual")
