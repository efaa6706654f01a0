"""Quiz delivery: create, serve the next item (adaptive or planned), grade, summarise.

The database is the source of truth: every served item is a ``quiz_items`` row recording what
it was chosen with, every answer a ``user_responses`` row, and θ̂/SE are recomputed from them by
EAP after each answer. A step reads the quiz's cursor from the state store (``quiz_cursor``),
writes the database, then the cursor; item content comes from a per-process cache of immutable
versions (``item_content``) and the pool from a per-process cache (``item_pool``). So a step
costs one write transaction, and a quiz survives a restart of the API and of Redis.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.cat.delivery import (
    DesignedChoice,
    PreparedItems,
    choose_designed,
    choose_prepared,
    choose_prepared_with_walk,
)
from qbank.cat.design import TestDesign
from qbank.cat.exposure.rmax import under_exposure_cap
from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.irt import DEFAULT_A, DEFAULT_B, DEFAULT_C
from qbank.services.access.flags import selector_for_user
from qbank.services.authoring.exams import require_exam
from qbank.services.authoring.questions import DEFAULT_EXAM_CODE, DIFFICULTY_LABELS
from qbank.services.delivery.exam_design import load_exam_design
from qbank.services.delivery.exposure_caps import (
    capped_today,
    release_exposure,
    reserve_exposure,
)
from qbank.services.delivery.item_content import item_content
from qbank.services.delivery.item_pool import DeliveryPool, cached_delivery_pool
from qbank.services.delivery.quiz_cursor import (
    QuizCursor,
    ServedRow,
    end_quiz,
    load_cursor,
    save_cursor,
)
from qbank.services.delivery.student_limits import StudentLimits, check_quiz_limits
from qbank.services.exposure.monitor import exam_exposure_counts
from qbank.state import StateStore
from qbank.store.models import ItemCalibration, QuizItem, QuizSession, UserResponse

__all__ = [
    "MAX_QUESTIONS",
    "MODES",
    "QUIZ_LIFETIME",
    "QuizCreated",
    "QuizFilters",
    "ServedItem",
    "create_quiz",
    "next_item",
    "serves_another_item",
]

QUIZ_LIFETIME = timedelta(hours=24)
# Built once: a statement made per request costs more Python than the round trip it sends.
_INSERT_QUIZ_ITEM = insert(QuizItem)
_INSERT_RESPONSE = insert(UserResponse)
_ACTIVE_QUIZ = (QuizSession.id == bindparam("quiz_key"), QuizSession.status == "active")
_LOCK_QUIZ = update(QuizSession).where(*_ACTIVE_QUIZ).values(status=QuizSession.status)
_SCORE_QUIZ = (
    update(QuizSession)
    .where(*_ACTIVE_QUIZ)
    .values(theta=bindparam("theta"), se=bindparam("se"), status=bindparam("status"),
            finished_at=bindparam("finished_at"))
)  # fmt: skip
MODES = ("tutor", "exam")
MAX_QUESTIONS = 120


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class QuizFilters:
    """What a student asks for; validated once."""

    topics: tuple[str, ...] = ()
    difficulty: tuple[str, ...] = ()
    num_questions: int = 40
    mode: str = "tutor"
    exam_code: str = DEFAULT_EXAM_CODE
    stop_se: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.num_questions, bool) or not isinstance(self.num_questions, int):
            raise InvalidInputError("num_questions must be an integer")
        if not 1 <= self.num_questions <= MAX_QUESTIONS:
            raise InvalidInputError(f"num_questions must be in [1, {MAX_QUESTIONS}]")
        if self.mode not in MODES:
            raise InvalidInputError(f"mode must be tutor or exam, got {self.mode!r}")
        bad = [label for label in self.difficulty if label not in DIFFICULTY_LABELS]
        if bad:
            raise InvalidInputError(f"difficulty must be among {', '.join(DIFFICULTY_LABELS)}")
        if self.stop_se is not None and not 0 < self.stop_se <= 1:
            raise InvalidInputError(f"stop_se must be in (0, 1], got {self.stop_se}")
        if not self.exam_code.strip():
            raise InvalidInputError("exam_code must not be empty")

    def as_json(self) -> dict[str, Any]:
        """Stored with the quiz."""
        return {
            "topics": list(self.topics),
            "difficulty": list(self.difficulty),
            "num_questions": self.num_questions,
            "mode": self.mode,
            "exam_code": self.exam_code,
            "stop_se": self.stop_se,
        }


@dataclass(frozen=True, slots=True)
class QuizCreated:
    """A new quiz; ``question_ids`` is the planned order (empty for adaptive quizzes)."""

    quiz_id: str
    question_ids: list[int]
    expires_at: str
    mode: str
    adaptive: bool


@dataclass(frozen=True, slots=True)
class ServedItem:
    """The item to show: never the answer."""

    question_id: int
    version: int
    position: int
    payload: dict[str, Any]


def create_quiz(
    sessions: sessionmaker[Session],
    tenant_id: str,
    user_id: str,
    filters: QuizFilters,
    adaptive: bool,
    limits: StudentLimits | None = None,
) -> QuizCreated:
    """Start a quiz over the exam's live items matching the filters.

    With ``limits``, a student at their limit of active quizzes or quizzes per day is refused.

    An adaptive quiz of an exam with a test design (``exam_design``) follows that design, fixed
    at creation: its selection rule, estimator, exposure control, blueprint and stopping rules
    (its ``max_len`` replaces ``num_questions``; ``stop_se`` is the design's SE rule).

    Raises:
        NotFoundError: the exam has no live items at all (``require_exam``).
        InvalidInputError: no live item matches the filters.
        RateLimitedError: a per-student limit is reached.
    """
    require_exam(sessions, tenant_id, filters.exam_code)
    pool = cached_delivery_pool(
        sessions, tenant_id, filters.exam_code, topics=filters.topics,
        difficulties=filters.difficulty,
    ).pool  # fmt: skip
    if pool.n_items == 0:
        raise InvalidInputError(f"no live items of {filters.exam_code} match the filters")
    design = load_exam_design(sessions, tenant_id, filters.exam_code) if adaptive else None
    stored_filters = filters.as_json()
    num_questions, stop_se = filters.num_questions, filters.stop_se
    if design is not None:
        stored_filters["design"] = design.as_json()
        num_questions, stop_se = design.stopping.max_len, design.stopping.se
    plan = None
    if not adaptive:  # non-adaptive quizzes deliver the filtered items in a random order
        order = np.random.default_rng(secrets.randbits(64)).permutation(pool.n_items)
        plan = [[int(pool.qids[i]), pool.versions[i]] for i in order[: filters.num_questions]]
    now = _now()
    quiz = QuizSession(
        id=uuid.uuid4(),
        user_id=user_id,
        tenant_id=tenant_id,
        mode=filters.mode,
        adaptive=adaptive,
        exam_code=filters.exam_code,
        filters=stored_filters,
        plan=plan,
        num_questions=min(num_questions, pool.n_items),
        stop_se=stop_se,
        status="active",
        theta=0.0,
        se=1.0,
        created_at=now,
        expires_at=now + QUIZ_LIFETIME,
    )
    with sessions.begin() as session:
        if limits is not None:
            check_quiz_limits(session, tenant_id, user_id, limits, now)
        session.add(quiz)
    return QuizCreated(
        str(quiz.id),
        [qid for qid, _ in plan or []],
        quiz.expires_at.isoformat(),
        quiz.mode,
        adaptive,
    )


def _open_items(
    sessions: sessionmaker[Session],
    state: StateStore,
    cursor: QuizCursor,
    refused: set[tuple[int, int]],
) -> tuple[DeliveryPool, np.ndarray]:
    """The quiz's pool and the mask of its items not yet given and under the daily cap."""
    delivery = cached_delivery_pool(
        sessions, cursor.tenant_id, cursor.exam_code,
        topics=cursor.topics, difficulties=cursor.difficulty,
    )  # fmt: skip
    available = np.ones(len(delivery.keys), bool)
    for row in cursor.served:  # never the same question twice, whatever its version now
        index = delivery.by_question.get(row.question_id)
        if index is not None:
            available[index] = False
    for key in capped_today(state, cursor.tenant_id) | refused:
        index = delivery.index.get(key)
        if index is not None:
            available[index] = False
    return delivery, available


def _choose_adaptive(
    sessions: sessionmaker[Session],
    state: StateStore,
    cursor: QuizCursor,
    refused: set[tuple[int, int]],
) -> dict[str, Any] | None:
    delivery, available = _open_items(sessions, state, cursor, refused)
    if not available.any():
        return None
    design = cursor.test_design()
    if design is not None:
        return _choose_designed(sessions, delivery, cursor, available, design)
    if cursor.selector is None:
        cursor.selector = selector_for_user(sessions, cursor.tenant_id, cursor.user_id)
    published = delivery.pool.sets_aside
    prepared, k, strata = delivery.at_theta(cursor.theta)
    if cursor.selector == "sympson_hetter" and published is not None and published.any():
        index, lost = _walk_with_set_aside(delivery, prepared, cursor, available, published)
    else:
        lost = None
        index = choose_prepared(
            secrets.randbits(32), prepared, available, cursor.theta, cursor.selector
        )
    qid, ver = delivery.keys[index]
    choice: dict[str, Any] = {
        "question_id": qid,
        "version": ver,
        "selector": cursor.selector,
        "a": float(delivery.a[index]),
        "b": float(delivery.b[index]),
        "c": float(delivery.c[index]),
        "k": float(k[index]),
    }
    if cursor.selector == "sympson_hetter" and strata[index] >= 0:
        # quiz_items.stratum: conditional S–H drew this item's lottery with that stratum's k
        choice["stratum"] = int(strata[index])
    if lost is not None:  # quiz_items.set_aside: what this step's lottery took out of the quiz
        choice["set_aside"] = lost
    return choice


def _under_r_max(
    sessions: sessionmaker[Session], delivery: DeliveryPool, cursor: QuizCursor, r_max: float
) -> np.ndarray:
    """Mask of the pool's items below r_max (catR's "restricted" method, ``cat.exposure.rmax``).

    An item's rate is its share of the exam's other adaptive quizzes that served it.
    """
    counts, n_quizzes = exam_exposure_counts(
        sessions, cursor.tenant_id, cursor.exam_code, exclude_quiz=cursor.quiz_id
    )
    served = np.asarray([counts.get(key, 0) for key in delivery.keys], np.float32)
    rates = served / max(n_quizzes, 1)
    return np.asarray(under_exposure_cap(rates, r_max))


def _design_candidates(
    sessions: sessionmaker[Session],
    delivery: DeliveryPool,
    cursor: QuizCursor,
    available: np.ndarray,
    design: TestDesign,
) -> np.ndarray:
    """The items the design's next step may choose among, and whose information it weighs.

    They are ``available`` less the items the quiz set aside and, with an r_max design, those
    at an exposure rate ≥ r_max. Each of the two is lifted should it leave nothing, so that a
    small pool raises exposure rather than ending quizzes early.
    """
    candidates = available.copy()
    for key in cursor.set_aside:
        position = delivery.index.get(key)
        if position is not None:
            candidates[position] = False
    if not candidates.any():
        candidates = available
    if design.exposure == "r_max" and design.r_max is not None:
        capped = candidates & _under_r_max(sessions, delivery, cursor, design.r_max)
        if capped.any():
            candidates = capped
    return candidates


def _designed_step(
    sessions: sessionmaker[Session],
    delivery: DeliveryPool,
    cursor: QuizCursor,
    candidates: np.ndarray,
    design: TestDesign,
) -> DesignedChoice:
    """``cat.delivery.choose_designed`` on the quiz's answers and blueprint counts."""
    answered = [row for row in cursor.served if (row.question_id, row.version) in cursor.answered]
    responses = (
        [row.a for row in answered], [row.b for row in answered], [row.c for row in answered],
        [cursor.answered[(row.question_id, row.version)].correct for row in answered],
    )  # fmt: skip
    item_topic = counts = None
    blueprint = design.blueprint_for(delivery.pool.topics)
    if blueprint is not None:
        item_topic = np.asarray(blueprint.item_topic)
        slot = {name: position for position, (name, _) in enumerate(design.blueprint)}
        counts = np.zeros(len(design.blueprint) + 1, np.float32)
        for row in cursor.served:
            topic = item_content(sessions, row.question_id, row.version).topic_name
            counts[slot.get(topic, len(design.blueprint))] += 1
    # Conditional S–H k are the ones of the stratum holding the current θ̂.
    prepared = delivery.at_theta(cursor.theta)[0]
    return choose_designed(secrets.randbits(32), prepared, candidates, design, responses,
                           item_topic, counts)  # fmt: skip


def _choose_designed(
    sessions: sessionmaker[Session],
    delivery: DeliveryPool,
    cursor: QuizCursor,
    available: np.ndarray,
    design: TestDesign,
) -> dict[str, Any] | None:
    """The next item under the quiz's design (``cat.delivery.choose_designed``); None: stop.

    Items the quiz set aside are no candidates (released should none be left); of the items the
    lottery walk considered and rejected, those whose k came from the 1985 rule are set aside.
    """
    candidates = _design_candidates(sessions, delivery, cursor, available, design)
    step = _designed_step(sessions, delivery, cursor, candidates, design)
    _, k, strata = delivery.at_theta(cursor.theta)
    if step.stop:
        return None
    index = step.item
    qid, ver = delivery.keys[index]
    choice: dict[str, Any] = {
        "question_id": qid, "version": ver, "selector": f"design:{design.selection}"[:32],
        "a": float(delivery.a[index]), "b": float(delivery.b[index]),
        "c": float(delivery.c[index]), "k": float(k[index]),
    }  # fmt: skip
    if design.uses_lottery and strata[index] >= 0:
        choice["stratum"] = int(strata[index])
    published = delivery.pool.sets_aside
    if design.uses_lottery and published is not None and published.any():
        lost = step.considered & published
        lost[index] = False
        choice["set_aside"] = [list(delivery.keys[p]) for p in np.flatnonzero(lost)]
    return choice


def serves_another_item(
    sessions: sessionmaker[Session], state: StateStore, cursor: QuizCursor
) -> bool:
    """Whether the next ``GET …/next`` would serve an item, decided right after an answer.

    Beyond the length and the rules ``QuizCursor.reached_stop`` checks, an adaptive quiz is
    over once no candidate is left or, under a design, when its stopping rules fire on the
    candidates the next step would weigh (the minimum-information rule needs the pool). The
    check runs the next step's own computation, so an answer says ``finished`` exactly when the
    next request would have ended the quiz (other quizzes may move the daily caps and exposure
    rates in between).
    """
    if cursor.is_over():
        return False
    if not cursor.adaptive:
        return True
    delivery, available = _open_items(sessions, state, cursor, set())
    if not available.any():
        return False
    design = cursor.test_design()
    if design is None or not design.stopping.variable_length:
        return True
    candidates = _design_candidates(sessions, delivery, cursor, available, design)
    return not _designed_step(sessions, delivery, cursor, candidates, design).stop


def _walk_with_set_aside(
    delivery: DeliveryPool,
    prepared: PreparedItems,
    cursor: QuizCursor,
    available: np.ndarray,
    published: np.ndarray,
) -> tuple[int, list[list[int]]]:
    """The S–H choice with Sympson & Hetter's (1985) set-aside rule (``exposure.set_aside``).

    Items the quiz set aside are no candidates; of the items the walk considered and rejected,
    those whose k came from the 1985 rule are set aside now (an item calibrated under the
    seed's rule keeps its seat, as that rule assumes). Should the set-aside items leave no
    candidate, they are released for this step.
    """
    candidates = available.copy()
    for key in cursor.set_aside:
        position = delivery.index.get(key)
        if position is not None:
            candidates[position] = False
    if not candidates.any():
        candidates = available
    index, considered = choose_prepared_with_walk(
        secrets.randbits(32), prepared, candidates, cursor.theta
    )
    lost = considered & published
    lost[index] = False
    return index, [list(delivery.keys[position]) for position in np.flatnonzero(lost)]


def _choose_planned(sessions: sessionmaker[Session], cursor: QuizCursor) -> dict[str, Any] | None:
    plan = cursor.plan or []
    if len(cursor.served) >= len(plan):
        return None
    qid, ver = plan[len(cursor.served)]
    with sessions() as session:
        calibration = session.get(ItemCalibration, (qid, ver))
    a, b, c = (
        (calibration.a, calibration.b, calibration.c)
        if calibration
        else (DEFAULT_A, DEFAULT_B, DEFAULT_C)
    )
    return {"question_id": qid, "version": ver, "selector": "random", "a": a, "b": b, "c": c,
            "k": 1.0}  # fmt: skip


def _choose_and_reserve(
    sessions: sessionmaker[Session], state: StateStore, cursor: QuizCursor, cap: int
) -> dict[str, Any] | None:
    """The next item, with its exposure reserved under the hard daily cap.

    An adaptive choice that another process took to the cap meanwhile is set aside and the
    choice made again; a planned quiz serves its fixed list and only counts.
    """
    if not cursor.adaptive:
        choice = _choose_planned(sessions, cursor)
        if choice is not None:
            reserve_exposure(sessions, state, cursor.tenant_id, choice["question_id"],
                             choice["version"], cap, enforce=False)  # fmt: skip
        return choice
    refused: set[tuple[int, int]] = set()
    while True:
        choice = _choose_adaptive(sessions, state, cursor, refused)
        if choice is None or reserve_exposure(
            sessions, state, cursor.tenant_id, choice["question_id"], choice["version"], cap
        ):
            return choice
        refused.add((choice["question_id"], choice["version"]))


def next_item(
    sessions: sessionmaker[Session],
    state: StateStore,
    tenant_id: str,
    user_id: str | None,
    quiz_id: str,
    max_daily_exposures: int,
    *,
    _retried: bool = False,
) -> ServedItem:
    """The item to answer now: the pending one if any, else a newly chosen one.

    Adaptive quizzes choose at θ̂ with the user's selector among live items not yet given and
    under the daily exposure cap, and count the exposure. ``user_id`` None means an admin.
    A step reads the quiz's cursor (``quiz_cursor``) and writes one ``quiz_items`` row.

    Raises:
        NotFoundError: unknown quiz, or the quiz is over or expired.
    """
    cursor, _ = load_cursor(sessions, state, tenant_id, user_id, quiz_id, fresh=_retried)
    if cursor.status != "active":
        raise NotFoundError(f"quiz {quiz_id} is {cursor.status}")
    pending = cursor.pending()
    if pending is not None:
        content = item_content(sessions, pending.question_id, pending.version)
        return ServedItem(pending.question_id, pending.version, pending.position,
                          content.payload())  # fmt: skip
    if cursor.is_over():
        end_quiz(sessions, state, cursor, "finished")
        raise NotFoundError(f"quiz {quiz_id} is over")
    choice = _choose_and_reserve(sessions, state, cursor, max_daily_exposures)
    if choice is None:
        end_quiz(sessions, state, cursor, "finished")
        raise NotFoundError(f"quiz {quiz_id} is over: no more items available")
    position = len(cursor.served) + 1
    try:
        with sessions.begin() as session:
            _lock_active(session, cursor)
            session.connection().execute(_INSERT_QUIZ_ITEM, {
                "quiz_id": uuid.UUID(cursor.quiz_id), "position": position,
                "theta_at_selection": cursor.theta, "served_at": _now(), **choice,
            })  # fmt: skip
    except (IntegrityError, ConflictError):
        release_exposure(state, tenant_id, choice["question_id"], choice["version"])
        # The database is ahead of this cursor (a concurrent request served this position or
        # ended the quiz, or a cursor write was lost): go by the database, on a fresh cursor.
        if _retried:
            raise ConflictError(f"quiz {quiz_id} changed concurrently; try again") from None
        return next_item(sessions, state, tenant_id, user_id, quiz_id, max_daily_exposures,
                         _retried=True)  # fmt: skip
    cursor.served.append(ServedRow(choice["question_id"], choice["version"], position,
                                   choice["a"], choice["b"], choice["c"]))  # fmt: skip
    cursor.set_aside.update((int(qid), int(ver)) for qid, ver in choice.get("set_aside", ()))
    save_cursor(state, cursor)
    content = item_content(sessions, choice["question_id"], choice["version"])
    return ServedItem(choice["question_id"], choice["version"], position, content.payload())


def _lock_active(
    session: Session, cursor: QuizCursor, changes: dict[str, Any] | None = None
) -> None:
    """Lock the quiz row for this step's transaction, applying ``changes``; it must be active.

    The lock orders a step against a concurrent finish (or another step) of the same quiz, so a
    stale cursor can never add an item or an answer to a quiz the database has ended.

    Raises:
        ConflictError: the quiz is no longer active in the database.
    """
    key = {"quiz_key": uuid.UUID(cursor.quiz_id)}
    statement, values = (_LOCK_QUIZ, key) if changes is None else (_SCORE_QUIZ, key | changes)
    changed = session.connection().execute(statement, values)
    if changed.rowcount != 1:
        raise ConflictError(f"quiz {cursor.quiz_id} is no longer active")
