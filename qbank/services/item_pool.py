"""The item pool of an exam: live published versions with 3PL parameters and S–H k."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.irt import DEFAULT_A, DEFAULT_B, DEFAULT_C, ItemParams
from qbank.services.pool_files import ItemPool
from qbank.store.models import (
    ItemCalibration,
    ItemExposureControl,
    Question,
    QuestionPublication,
    QuestionVersion,
    Topic,
)

__all__ = ["cached_exam_pool", "load_exam_pool"]


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

    def column(index: int, default: float) -> jnp.ndarray:
        return jnp.asarray([default if row[index] is None else row[index] for row in rows],
                           jnp.float32)  # fmt: skip

    items = ItemParams(column(3, DEFAULT_A), column(4, DEFAULT_B), column(5, DEFAULT_C))
    k = np.asarray([1.0 if row[6] is None else row[6] for row in rows], np.float32)
    return ItemPool(
        [str(row[0]) for row in rows], [int(row[1]) for row in rows],
        [str(row[2]) for row in rows], items, k,
    )  # fmt: skip


_CACHE_SIZE = 64
_pool_cache: OrderedDict[tuple[Any, ...], ItemPool] = OrderedDict()
_cache_lock = threading.Lock()


def _pool_stamp(session: Session, tenant_id: str, exam_code: str) -> tuple[Any, ...]:
    """Changes whenever anything the pool is built from changes (publications, k, a/b/c)."""
    publications = session.execute(
        select(func.count(), func.max(QuestionPublication.published_at)).where(
            QuestionPublication.tenant_id == tenant_id, QuestionPublication.exam_code == exam_code
        )
    ).one()
    exposure = session.execute(select(func.count(), func.max(ItemExposureControl.updated_at))).one()
    calibration = session.execute(select(func.count(), func.max(ItemCalibration.updated_at))).one()
    return (*publications, *exposure, *calibration)


def cached_exam_pool(
    sessions: sessionmaker[Session],
    tenant_id: str,
    exam_code: str,
    *,
    topics: Sequence[str] | None = None,
    difficulties: Sequence[str] | None = None,
) -> ItemPool:
    """``load_exam_pool`` behind a per-process cache, for quiz delivery.

    Delivery reads the pool on every request and it changes rarely; three cheap aggregate
    queries (publications, k, a/b/c) key the cache, so an entry is never stale.
    """
    with sessions() as session:
        stamp = _pool_stamp(session, tenant_id, exam_code)
    key = (id(sessions), str(sessions.kw.get("bind")), tenant_id, exam_code,
           tuple(sorted(topics or ())), tuple(sorted(difficulties or ())), stamp)  # fmt: skip
    with _cache_lock:
        if key in _pool_cache:
            _pool_cache.move_to_end(key)
            return _pool_cache[key]
    pool = load_exam_pool(sessions, tenant_id, exam_code, topics=topics, difficulties=difficulties)
    with _cache_lock:
        _pool_cache[key] = pool
        while len(_pool_cache) > _CACHE_SIZE:
            _pool_cache.popitem(last=False)
    return pool
