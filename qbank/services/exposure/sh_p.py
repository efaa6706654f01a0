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
    "ExposureControl",
    "ExposureItem",
    "list_exposure_items",
    "set_sh_p",
    "write_exposure_control",
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


@dataclass(frozen=True, slots=True)
class ExposureControl:
    """The exposure control of one item version, as stored.

    ``strata`` (increasing θ cut points) and ``sh_p_by_stratum`` (one k per stratum they make)
    are conditional S–H (Stocking & Lewis 1998); both None means ``sh_p`` for every θ.
    ``update_rule`` is the S–H rule that produced the values (``sympson-hetter``: delivery sets
    the item aside for the rest of a quiz when it loses its lottery); None is the seed's rule or
    a value typed by hand.
    """

    question_id: int
    version: int
    sh_p: float
    update_rule: str | None = None
    strata: tuple[float, ...] | None = None
    sh_p_by_stratum: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if (self.strata is None) != (self.sh_p_by_stratum is None):
            raise InvalidInputError("strata and sh_p_by_stratum come together")
        if self.strata is not None and self.sh_p_by_stratum is not None:
            if len(self.sh_p_by_stratum) != len(self.strata) + 1:
                raise InvalidInputError(
                    f"{len(self.strata)} cut points make {len(self.strata) + 1} strata, got "
                    f"{len(self.sh_p_by_stratum)} k"
                )
            if any(b <= a for a, b in zip(self.strata, self.strata[1:], strict=False)):
                raise InvalidInputError(f"strata must increase, got {list(self.strata)}")
            for value in self.sh_p_by_stratum:
                _check_sh_p(value)


def write_exposure_control(
    session: Session, rows: Sequence[ExposureControl], changed_by: str | None = None
) -> None:
    """Upsert the rows' exposure control inside the caller's transaction.

    ``changed_by`` records who wrote them (``run:<id>``, ``rollback:<id>``, ``manual``,
    ``import``): a rollback names it when it finds an item changed since its run. A row
    without strata makes the item unconditional again.
    """
    now = datetime.now(UTC)
    question_ids = sorted({row.question_id for row in rows})
    existing = {
        (row.question_id, row.version): row
        for row in session.scalars(
            select(ItemExposureControl).where(ItemExposureControl.question_id.in_(question_ids))
        )
    }
    for row in rows:
        stored = existing.get((row.question_id, row.version))
        if stored is None:
            stored = ItemExposureControl(question_id=row.question_id, version=row.version)
            session.add(stored)
        stored.sh_p = float(row.sh_p)
        stored.updated_at, stored.changed_by, stored.update_rule = now, changed_by, row.update_rule
        stored.strata = None if row.strata is None else [float(x) for x in row.strata]
        stored.sh_p_by_stratum = (
            None if row.sh_p_by_stratum is None else [float(x) for x in row.sh_p_by_stratum]
        )
    session.flush()


def write_sh_p(
    session: Session,
    values: Sequence[tuple[int, int, float]],
    changed_by: str | None = None,
    update_rule: str | None = None,
) -> None:
    """Upsert one sh_p for every θ from (question_id, version, sh_p) rows.

    An item that had one k per θ stratum gets this one k for every θ.
    """
    rows = [ExposureControl(qid, ver, float(value), update_rule) for qid, ver, value in values]
    write_exposure_control(session, rows, changed_by)


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
