"""Live exposure from delivery against the plan: observed rates, alerts, overlap.

An item's observed exposure rate in a window is the share of the exam's adaptive quizzes that
served it (``quiz_items.served_at`` in the window), the quantity an S–H calibration targets
(r_i, DESIGN.md). An item is an *alert* when its rate exceeds τ by more than sampling error
explains: the exact one-sided binomial test of H0 "the item's exposure probability is τ"
(P(X ≥ x) for X ~ Binomial(n quizzes, τ)), at level ``alpha`` with a Bonferroni correction over
the items tested, so a pool of 700 items does not raise an alert a day by chance. Observed
overlap is the mean share of a quiz that two quizzes share, the test overlap rate of Chen, Ankenmann
& Spray (2003), computed exactly from the counts: Σ x_i (x_i − 1) / (n (n − 1) L̄).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import InvalidInputError
from qbank.store.models import QuizItem, QuizSession

__all__ = [
    "ExposureMonitor",
    "ExposureWindow",
    "ItemExposure",
    "binomial_upper_tail",
    "exam_exposure_counts",
    "monitor_exposure",
    "observed_window",
    "overlap_rate",
]

ItemKey = tuple[int, int]  # (question_id, version)


@dataclass(frozen=True, slots=True)
class ItemExposure:
    """One item in one window: quizzes that served it, its rate, the plan and the test."""

    question_id: int
    version: int
    quizzes: int  # quizzes of the window that served the item
    n_quizzes: int  # quizzes of the window
    rate: float  # quizzes / n_quizzes (0 when there were no quizzes)
    planned_rate: float | None  # the applied run's simulated rate under its k
    p_value: float | None  # P(X ≥ quizzes | n_quizzes, τ); None when the rate is not above τ
    alert: bool
    tau: float  # the item's τ: its topic's in the applied run (``item_tau``), else the exam's


@dataclass(frozen=True, slots=True)
class ExposureWindow:
    """Observed exposure of an exam's adaptive quizzes since ``since``."""

    label: str
    since: str  # ISO timestamp, UTC
    n_quizzes: int
    mean_test_len: float
    overlap: float | None  # None with fewer than 2 quizzes
    selectors: dict[str, int]  # quizzes by the selector that chose their first item
    items: list[ItemExposure]  # most exposed first

    @property
    def alerts(self) -> list[ItemExposure]:
        """Items whose rate exceeds τ beyond sampling error, smallest p-value first."""
        flagged = [item for item in self.items if item.alert]
        return sorted(flagged, key=lambda item: (item.p_value or 0.0, -item.rate))


@dataclass(frozen=True, slots=True)
class ExposureMonitor:
    """Today and the last 7 days of an exam, against τ and (if given) the planned rates.

    ``tau`` is the exam's τ; an item whose topic has its own (``item_tau``) is tested against
    that one, and its ``ItemExposure.tau`` says which.
    """

    exam_code: str
    tau: float
    alpha: float
    today: ExposureWindow
    last_7_days: ExposureWindow


def binomial_upper_tail(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p), summed exactly in log space.

    Raises:
        InvalidInputError: counts out of range or p outside [0, 1].
    """
    if trials < 0 or not 0 <= successes <= max(trials, 0) or not 0.0 <= p <= 1.0:
        raise InvalidInputError(
            f"need 0 <= successes <= trials and p in [0, 1], got {successes}, {trials}, {p}"
        )
    if successes == 0:
        return 1.0
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(trials + 1) - math.lgamma(x + 1) - math.lgamma(trials - x + 1)
        + x * log_p + (trials - x) * log_q
        for x in range(successes, trials + 1)
    ]  # fmt: skip
    top = max(terms)
    return min(1.0, math.exp(top) * math.fsum(math.exp(term - top) for term in terms))


def overlap_rate(
    counts: Mapping[ItemKey, int], n_quizzes: int, administrations: int
) -> float | None:
    """Mean share of a quiz that two distinct quizzes share, from per-item counts (exact)."""
    if n_quizzes < 2 or administrations == 0:
        return None
    mean_len = administrations / n_quizzes
    pairs = sum(count * (count - 1) for count in counts.values())
    return pairs / (n_quizzes * (n_quizzes - 1) * mean_len)


def _served(
    session: Session, tenant_id: str, exam_code: str, since: datetime, until: datetime
) -> list[tuple[str, int, int, int, str]]:
    query = (
        select(QuizItem.quiz_id, QuizItem.question_id, QuizItem.version, QuizItem.position,
               QuizItem.selector)
        .join(QuizSession, QuizSession.id == QuizItem.quiz_id)
        .where(QuizSession.tenant_id == tenant_id, QuizSession.exam_code == exam_code,
               QuizSession.adaptive.is_(True), QuizItem.served_at >= since,
               QuizItem.served_at < until)
    )  # fmt: skip
    return [(str(quiz), int(qid), int(ver), int(pos), str(sel))
            for quiz, qid, ver, pos, sel in session.execute(query)]  # fmt: skip


def exam_exposure_counts(
    sessions: sessionmaker[Session], tenant_id: str, exam_code: str, *, exclude_quiz: str | None
) -> tuple[dict[ItemKey, int], int]:
    """Each item's count of the exam's adaptive quizzes that served it, and how many quizzes.

    The observed exposure rate of an item is its count over the number of quizzes, as
    ``observed_window`` counts them (a quiz counts once per item; only quizzes that served an
    item count), over the exam's whole history. ``exclude_quiz`` leaves out the quiz asking, so
    that its own items do not count as exposure by other examinees (catR's rates are those of
    the examinees before).
    """
    scope = (
        select(QuizItem.quiz_id, QuizItem.question_id, QuizItem.version)
        .join(QuizSession, QuizSession.id == QuizItem.quiz_id)
        .where(QuizSession.tenant_id == tenant_id, QuizSession.exam_code == exam_code,
               QuizSession.adaptive.is_(True))
    )  # fmt: skip
    if exclude_quiz is not None:
        scope = scope.where(QuizItem.quiz_id != uuid.UUID(exclude_quiz))
    served = scope.distinct().subquery()
    per_item = select(served.c.question_id, served.c.version, func.count()).group_by(
        served.c.question_id, served.c.version
    )
    quizzes = select(func.count(func.distinct(served.c.quiz_id)))
    with sessions() as session:
        counts = {(int(qid), int(ver)): int(n) for qid, ver, n in session.execute(per_item)}
        n_quizzes = int(session.scalar(quizzes) or 0)
    return counts, n_quizzes


def observed_window(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    *,
    label: str,
    since: datetime,
    until: datetime,
    tau: float,
    planned: Mapping[ItemKey, float] | None = None,
    alpha: float = 0.05,
    item_tau: Mapping[ItemKey, float] | None = None,
) -> ExposureWindow:
    """Observed exposure of the exam's adaptive quizzes served in ``[since, until)``.

    Every planned item is listed (rate 0 if never served), and every item served. Each item is
    tested against its own τ from ``item_tau`` (a run's per-topic τ), else ``tau``.
    """
    with sessions() as session:
        served = _served(session, tenant_id, exam_code, since, until)
    quizzes = {quiz for quiz, *_ in served}
    # A quiz counts once per item, even if a retried request recorded the item twice.
    counts = Counter((qid, ver) for _quiz, qid, ver in {row[:3] for row in served})
    first: dict[str, tuple[int, str]] = {}
    for quiz, _qid, _ver, position, selector in served:
        if quiz not in first or position < first[quiz][0]:
            first[quiz] = (position, selector)
    n_quizzes = len(quizzes)
    keys = sorted(set(counts) | set(planned or {}))
    taus = {key: (item_tau or {}).get(key, tau) for key in keys}
    above = [key for key in keys if n_quizzes and counts[key] / n_quizzes > taus[key]]
    threshold = alpha / max(1, len(above))  # Bonferroni over the items tested
    items = []
    for key in keys:
        count = counts[key]
        rate = count / n_quizzes if n_quizzes else 0.0
        p_value = binomial_upper_tail(count, n_quizzes, taus[key]) if key in above else None
        items.append(ItemExposure(
            key[0], key[1], count, n_quizzes, rate, (planned or {}).get(key), p_value,
            p_value is not None and p_value < threshold, taus[key],
        ))  # fmt: skip
    items.sort(key=lambda item: (-item.rate, item.question_id, item.version))
    administrations = sum(counts.values())
    return ExposureWindow(
        label=label, since=since.isoformat(), n_quizzes=n_quizzes,
        mean_test_len=administrations / n_quizzes if n_quizzes else 0.0,
        overlap=overlap_rate(counts, n_quizzes, administrations),
        selectors=dict(Counter(selector for _position, selector in first.values())),
        items=items,
    )  # fmt: skip


def monitor_exposure(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    *,
    tau: float,
    planned: Mapping[ItemKey, float] | None = None,
    now: datetime | None = None,
    alpha: float = 0.05,
    item_tau: Mapping[ItemKey, float] | None = None,
) -> ExposureMonitor:
    """Today's (since 00:00 UTC) and the last 7 days' exposure of an exam against τ and the plan.

    ``item_tau`` gives items their own τ (the applied run's per-topic τ); others use ``tau``.

    Raises:
        InvalidInputError: a τ outside (0, 1] or alpha outside (0, 1).
    """
    for value in (tau, *(item_tau or {}).values()):
        if not 0.0 < value <= 1.0:
            raise InvalidInputError(f"tau must be in (0, 1], got {value}")
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha}")
    moment = now or datetime.now(UTC)
    until = moment + timedelta(microseconds=1)
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def window(label: str, since: datetime) -> ExposureWindow:
        return observed_window(sessions, tenant_id, exam_code, label=label, since=since,
                               until=until, tau=tau, planned=planned, alpha=alpha,
                               item_tau=item_tau)  # fmt: skip

    return ExposureMonitor(exam_code, tau, alpha, window("today", midnight),
                           window("last 7 days", moment - timedelta(days=7)))  # fmt: skip
