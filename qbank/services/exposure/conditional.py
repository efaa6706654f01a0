"""Live exposure conditional on the final θ̂: how often each item reached students of a stratum.

Conditional S–H (Stocking & Lewis 1998) promises each item's exposure ≤ τ within every θ
stratum. Delivery cannot know a student's true θ, so it measures what it can: among the quizzes
of an exam finished in a window, those whose final θ̂ lies in a stratum, the share that were
given each item. That is the operational figure a calibration's θ̂-indexed evaluation predicts.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat.calibration.params import DEFAULT_STRATA
from qbank.errors import InvalidInputError
from qbank.store.models import (
    ItemExposureControl,
    QuestionPublication,
    QuizItem,
    QuizSession,
)

__all__ = ["ConditionalExposure", "ItemRate", "StratumExposure", "conditional_exposure"]

MAX_DAYS = 366
MAX_TOP = 1000


@dataclass(frozen=True, slots=True)
class ItemRate:
    """One item's exposure in a stratum: the quizzes that gave it, and their share."""

    question_id: int
    version: int
    quizzes: int
    rate: float


@dataclass(frozen=True, slots=True)
class StratumExposure:
    """The finished quizzes whose final θ̂ is in [theta_from, theta_to), and their top items."""

    stratum: int
    theta_from: float
    theta_to: float
    quizzes: int
    max_exp: float  # the largest item exposure rate in the stratum (0 without quizzes)
    items: list[ItemRate]  # most exposed first, at most ``top``


@dataclass(frozen=True, slots=True)
class ConditionalExposure:
    """Exposure by final-θ̂ stratum of an exam's quizzes finished since ``since``."""

    exam_code: str
    strata: list[float]  # the cut points
    strata_source: str  # "exam" (its conditional k's cut points), "given" or "default"
    since: str  # ISO timestamp
    quizzes: int
    by_stratum: list[StratumExposure]

    @property
    def conditional_max_exp(self) -> list[float]:
        """Each stratum's max exposure, in stratum order, as calibration runs report it."""
        return [stratum.max_exp for stratum in self.by_stratum]


def _check_strata(strata: Sequence[float]) -> list[float]:
    cuts = []
    for value in strata:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError(f"strata must be numbers, got {value!r}")
        if not math.isfinite(value):
            raise InvalidInputError(f"strata must be finite, got {value}")
        cuts.append(float(value))
    if not cuts:
        raise InvalidInputError("strata needs at least one cut point")
    if any(b <= a for a, b in itertools.pairwise(cuts)):
        raise InvalidInputError(f"strata must increase, got {cuts}")
    return cuts


def _exam_strata(session: Session, tenant_id: str, exam_code: str) -> list[float] | None:
    """The cut points most of the exam's conditional items were calibrated with, if any."""
    rows = session.scalars(
        select(ItemExposureControl.strata)
        .join(QuestionPublication, and_(
            QuestionPublication.question_id == ItemExposureControl.question_id,
            QuestionPublication.live_version == ItemExposureControl.version))
        .where(QuestionPublication.tenant_id == tenant_id,
               QuestionPublication.exam_code == exam_code,
               ItemExposureControl.strata.is_not(None))
    ).all()  # fmt: skip
    counts = Counter(tuple(float(x) for x in row) for row in rows if row)
    return list(counts.most_common(1)[0][0]) if counts else None


def conditional_exposure(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    *,
    strata: Sequence[float] | None = None,
    days: int = 7,
    top: int = 20,
    now: datetime | None = None,
) -> ConditionalExposure:
    """Item exposure rates by the final θ̂'s stratum, over quizzes finished in ``days`` days.

    ``strata`` defaults to the cut points of the exam's conditional k, else ``DEFAULT_STRATA``
    (five equally likely strata of N(0, 1)). Abandoned and expired quizzes do not count: their
    θ̂ is not final.

    Raises:
        InvalidInputError: bad cut points, ``days`` outside [1, 366] or ``top`` outside
            [1, 1000].
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise InvalidInputError(f"days must be a whole number in [1, {MAX_DAYS}], got {days!r}")
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= MAX_TOP:
        raise InvalidInputError(f"top must be a whole number in [1, {MAX_TOP}], got {top!r}")
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    with sessions() as session:
        if strata is not None:
            cuts, source = _check_strata(strata), "given"
        else:
            found = _exam_strata(session, tenant_id, exam_code)
            cuts, source = (found, "exam") if found else (list(DEFAULT_STRATA), "default")
        # Cut points belong to the stratum above, as in the simulation (searchsorted "right").
        stratum = case(
            *[(QuizSession.theta < cut, index) for index, cut in enumerate(cuts)], else_=len(cuts)
        ).label("stratum")
        finished = (QuizSession.tenant_id == tenant_id, QuizSession.exam_code == exam_code,
                    QuizSession.status == "finished", QuizSession.finished_at >= since)  # fmt: skip
        per_stratum: dict[int, int] = dict(
            session.execute(select(stratum, func.count()).where(*finished).group_by(stratum)).all()
        )
        given = session.execute(
            select(stratum, QuizItem.question_id, QuizItem.version,
                   func.count(func.distinct(QuizItem.quiz_id)))
            .join(QuizSession, QuizSession.id == QuizItem.quiz_id)
            .where(*finished)
            .group_by(stratum, QuizItem.question_id, QuizItem.version)
        ).all()  # fmt: skip
    bounds = [-math.inf, *cuts, math.inf]
    by_stratum = []
    for index in range(len(cuts) + 1):
        quizzes = int(per_stratum.get(index, 0))
        rates = sorted(
            (ItemRate(int(qid), int(ver), int(n), round(n / quizzes, 6))
             for s, qid, ver, n in given if s == index and quizzes),
            key=lambda item: (-item.quizzes, item.question_id, item.version),
        )  # fmt: skip
        by_stratum.append(StratumExposure(
            index, bounds[index], bounds[index + 1], quizzes,
            rates[0].rate if rates else 0.0, rates[:top],
        ))  # fmt: skip
    return ConditionalExposure(exam_code, cuts, source, since.isoformat(),
                               sum(s.quizzes for s in by_stratum), by_stratum)  # fmt: skip
