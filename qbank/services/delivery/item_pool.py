"""The item pool of an exam: live published versions with 3PL parameters and S–H k."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np
from sqlalchemy import and_, event, func, select, true
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from qbank.cat.delivery import PreparedItems, prepare_items, with_k
from qbank.irt import DEFAULT_A, DEFAULT_B, DEFAULT_C, ItemParams
from qbank.services.delivery.pool import ItemPool, StoredValues, StratifiedK
from qbank.store.models import (
    ItemCalibration,
    ItemExposureControl,
    Question,
    QuestionPublication,
    QuestionVersion,
    Topic,
)

__all__ = [
    "POOL_STAMP_TTL_S",
    "DeliveryPool",
    "ItemPool",
    "StoredValues",
    "StratifiedK",
    "cached_delivery_pool",
    "forget_pool_stamps",
    "load_exam_pool",
]


def load_exam_pool(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    *,
    topics: Sequence[str] | None = None,
    difficulties: Sequence[str] | None = None,
) -> ItemPool:
    """Live versions of ``exam_code`` (optionally filtered), in question-id order, in one query.

    Items without calibration get a = 1, b = 0, c = 0.2 and items without an exposure row
    k = 1 (DESIGN.md). ``qids`` are question ids as strings, ``topics`` topic names.
    """
    query = (
        select(
            QuestionPublication.question_id, QuestionPublication.live_version, Topic.name,
            ItemCalibration.a, ItemCalibration.b, ItemCalibration.c, ItemExposureControl.sh_p,
            ItemExposureControl.update_rule, ItemExposureControl.strata,
            ItemExposureControl.sh_p_by_stratum,
        )
        .join(Question, Question.id == QuestionPublication.question_id)
        .join(QuestionVersion, and_(QuestionVersion.question_id == QuestionPublication.question_id,
                                    QuestionVersion.version == QuestionPublication.live_version))
        .join(Topic, Topic.id == QuestionVersion.topic_id)
        .outerjoin(ItemCalibration, and_(
            ItemCalibration.question_id == QuestionPublication.question_id,
            ItemCalibration.version == QuestionPublication.live_version))
        .outerjoin(ItemExposureControl, and_(
            ItemExposureControl.question_id == QuestionPublication.question_id,
            ItemExposureControl.version == QuestionPublication.live_version))
        .where(QuestionPublication.tenant_id == tenant_id,
               QuestionPublication.exam_code == exam_code,
               Question.tenant_id == tenant_id, Question.is_deleted.is_(False),
               QuestionVersion.state == "published")
        .order_by(QuestionPublication.question_id)
    )  # fmt: skip
    if topics:
        query = query.where(Topic.name.in_(list(topics)))
    if difficulties:
        query = query.where(QuestionVersion.difficulty_label.in_(list(difficulties)))
    with sessions() as session:
        rows = session.execute(query).all()

    def column(index: int, default: float) -> np.ndarray:
        return np.asarray([default if row[index] is None else row[index] for row in rows],
                          np.float64)  # fmt: skip

    # Stored as float64; the core gets float32 copies (the only conversion, at its boundary).
    stored = StoredValues(column(3, DEFAULT_A), column(4, DEFAULT_B), column(5, DEFAULT_C),
                          column(6, 1.0))  # fmt: skip
    items = ItemParams(*(jnp.asarray(values, jnp.float32) for values in stored[:3]))
    sets_aside = np.asarray([row[7] == "sympson-hetter" for row in rows], bool)
    stratified = [
        None if row[8] is None or row[9] is None
        else StratifiedK(tuple(float(x) for x in row[8]), tuple(float(x) for x in row[9]))
        for row in rows
    ]  # fmt: skip
    return ItemPool(
        [str(row[0]) for row in rows], [int(row[1]) for row in rows],
        [str(row[2]) for row in rows], items, stored.k.astype(np.float32), sets_aside, stored,
        [row[7] for row in rows], stratified,
    )  # fmt: skip


_CACHE_SIZE = 64
# How long a process trusts the pool's change stamp before asking the database again. Writes
# made through this process's services forget the stamps at once (``forget_pool_stamps``); a
# change made by another process reaches delivery within this many seconds.
POOL_STAMP_TTL_S = 1.0


@dataclass(frozen=True, slots=True)
class DeliveryPool:
    """An exam pool ready for live item selection: arrays on the device, items by key."""

    pool: ItemPool
    keys: list[tuple[int, int]]  # (question_id, version) per item, in pool order
    index: dict[tuple[int, int], int]
    by_question: dict[int, int]
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    prepared: PreparedItems
    # Conditional S–H items grouped by their cut points: (cuts, item indices, k per stratum
    # (n_strata, n_group)). Empty when every item has one k.
    strata_groups: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...] = ()

    @classmethod
    def of(cls, pool: ItemPool) -> DeliveryPool:
        """Index and prepare a loaded pool."""
        keys = [(int(qid), version) for qid, version in zip(pool.qids, pool.versions, strict=True)]
        a, b, c = (np.asarray(values, np.float32) for values in pool.items)
        grouped: dict[tuple[float, ...], list[int]] = {}
        for index, entry in enumerate(pool.stratified or ()):
            if entry is not None:
                grouped.setdefault(entry.strata, []).append(index)
        groups = tuple(
            (np.asarray(cuts, np.float64), np.asarray(indices),
             np.asarray([pool.stratified[i].k for i in indices], np.float64).T)  # type: ignore[index,union-attr]
            for cuts, indices in grouped.items()
        )  # fmt: skip
        prepared = prepare_items(a, b, c, pool.k)
        if pool.stored is not None:  # served rows record the values as stored, not float32's
            a, b, c = pool.stored.a, pool.stored.b, pool.stored.c
        return cls(pool, keys, {key: i for i, key in enumerate(keys)},
                   {qid: i for i, (qid, _version) in enumerate(keys)}, a, b, c,
                   prepared, groups)  # fmt: skip

    def at_theta(self, theta: float) -> tuple[PreparedItems, np.ndarray, np.ndarray]:
        """The pool as the lottery sees it at θ̂: prepared items, k per item, stratum per item.

        Conditional S–H items take the k of the stratum holding θ̂ (their stratum index; −1 for
        items with one k for every θ). The k per item are as stored (float64 where known).
        """
        strata = np.full(len(self.keys), -1, np.int64)
        stored = self.pool.k if self.pool.stored is None else self.pool.stored.k
        if not self.strata_groups:
            return self.prepared, stored, strata
        k = np.array(stored, np.float64)
        for cuts, indices, table in self.strata_groups:
            stratum = int(np.searchsorted(cuts, theta, side="right"))
            k[indices] = table[stratum]
            strata[indices] = stratum
        return with_k(self.prepared, k), k, strata


_pool_cache: OrderedDict[tuple[Any, ...], DeliveryPool] = OrderedDict()
_stamps: dict[tuple[Any, ...], tuple[tuple[Any, ...], float]] = {}
_cache_lock = threading.Lock()


def forget_pool_stamps() -> None:
    """Make the next delivery read re-check every pool (call after writing items, k or a/b/c)."""
    with _cache_lock:
        _stamps.clear()


_POOL_TABLES = (QuestionPublication, ItemCalibration, ItemExposureControl, Question,
                QuestionVersion)  # fmt: skip


@event.listens_for(Session, "after_flush")
def _note_pool_rows(session: Session, _context: Any) -> None:
    touched = (*session.new, *session.dirty, *session.deleted)
    if any(isinstance(row, _POOL_TABLES) for row in touched):
        session.info["qbank_pool_changed"] = True


@event.listens_for(Session, "do_orm_execute")
def _note_pool_statements(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and any(
        mapper.class_ in _POOL_TABLES for mapper in state.all_mappers
    ):
        state.session.info["qbank_pool_changed"] = True


@event.listens_for(Session, "after_commit")
def _forget_after_pool_write(session: Session) -> None:
    # Writes through any session of this process show in delivery at once, not after the TTL.
    if session.info.pop("qbank_pool_changed", False):
        forget_pool_stamps()


def _pool_stamp(session: Session, tenant_id: str, exam_code: str) -> tuple[Any, ...]:
    """Changes whenever anything the pool is built from changes (publications, k, a/b/c)."""
    publications = (
        select(func.count(), func.max(QuestionPublication.published_at))
        .where(QuestionPublication.tenant_id == tenant_id,
               QuestionPublication.exam_code == exam_code)
        .subquery()
    )  # fmt: skip
    exposure = select(func.count(), func.max(ItemExposureControl.updated_at)).subquery()
    calibration = select(func.count(), func.max(ItemCalibration.updated_at)).subquery()
    one_row_each = publications.join(exposure, true()).join(calibration, true())  # 1 × 1 × 1
    return tuple(
        session.execute(select(publications, exposure, calibration).select_from(one_row_each)).one()
    )


def _current_stamp(
    sessions: sessionmaker[Session], database: tuple[Any, ...], tenant_id: str, exam_code: str
) -> tuple[Any, ...]:
    key = (*database, tenant_id, exam_code)
    now = time.monotonic()
    with _cache_lock:
        known = _stamps.get(key)
    if known is not None and now - known[1] < POOL_STAMP_TTL_S:
        return known[0]
    with sessions() as session:
        stamp = _pool_stamp(session, tenant_id, exam_code)
    with _cache_lock:
        _stamps[key] = (stamp, now)
    return stamp


def cached_delivery_pool(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    *,
    topics: Sequence[str] | None = None,
    difficulties: Sequence[str] | None = None,
) -> DeliveryPool:
    """``load_exam_pool`` behind a per-process cache, prepared for quiz delivery.

    Delivery reads the pool on every request and it changes rarely. One aggregate query
    (publications, k, a/b/c), made at most every ``POOL_STAMP_TTL_S`` seconds, keys the cache.
    """
    database = (id(sessions), str(sessions.kw.get("bind")))
    stamp = _current_stamp(sessions, database, tenant_id, exam_code)
    key = (*database, tenant_id, exam_code, tuple(sorted(topics or ())),
           tuple(sorted(difficulties or ())), stamp)  # fmt: skip
    with _cache_lock:
        if key in _pool_cache:
            _pool_cache.move_to_end(key)
            return _pool_cache[key]
    pool = load_exam_pool(sessions, tenant_id, exam_code, topics=topics, difficulties=difficulties)
    ready = DeliveryPool.of(pool)
    with _cache_lock:
        _pool_cache[key] = ready
        while len(_pool_cache) > _CACHE_SIZE:
            _pool_cache.popitem(last=False)
    return ready
