"""What a student sees of an item version, and its key, cached per process.

A question version never changes once written (edits make a new version), so its stem, options,
key and rationale can be cached for as long as the process lives; delivery then reads no item
rows on a quiz step.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import NotFoundError
from qbank.store.models import QuestionOption, QuestionVersion, Topic

__all__ = ["ItemContent", "item_content"]

_CACHE_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class ItemContent:
    """One question version: what is shown, and what is revealed after answering."""

    question_id: int
    version: int
    stem_md: str
    lead_in: str | None
    options: tuple[tuple[str, str], ...]  # (label, text), by label
    correct_label: str | None
    rationale_md: str | None
    difficulty_label: str | None
    topic_name: str

    @property
    def labels(self) -> frozenset[str]:
        """The option labels a student may choose."""
        return frozenset(label for label, _text in self.options)

    def payload(self) -> dict[str, Any]:
        """What ``/next`` shows: never the key."""
        return {
            "stem_md": self.stem_md,
            "lead_in": self.lead_in,
            "options": [{"label": label, "text_md": text} for label, text in self.options],
        }


_caches: weakref.WeakKeyDictionary[Engine, OrderedDict[tuple[int, int], ItemContent]] = (
    weakref.WeakKeyDictionary()
)
_lock = threading.Lock()


def _load(session: Session, question_id: int, version: int) -> ItemContent:
    row = session.execute(
        select(QuestionVersion, Topic.name)
        .join(Topic, Topic.id == QuestionVersion.topic_id)
        .where(QuestionVersion.question_id == question_id, QuestionVersion.version == version)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"question {question_id} version {version} not found")
    found, topic_name = row
    options = session.execute(
        select(
            QuestionOption.option_label, QuestionOption.option_text_md, QuestionOption.is_correct
        )
        .where(QuestionOption.question_version_id == found.id)
        .order_by(QuestionOption.option_label)
    ).all()
    return ItemContent(
        question_id, version, found.stem_md, found.lead_in,
        tuple((label, text) for label, text, _ in options),
        next((label for label, _, correct in options if correct), None),
        found.rationale_md, found.difficulty_label, topic_name,
    )  # fmt: skip


def item_content(sessions: sessionmaker[Session], question_id: int, version: int) -> ItemContent:
    """The content of a question version (two small queries the first time, then none).

    Callers must have checked that the version belongs to the caller's tenant (a quiz only
    serves items of its tenant's pool).

    Raises:
        NotFoundError: no such version.
    """
    engine = sessions.kw["bind"]
    key = (question_id, version)
    with _lock:
        cache = _caches.setdefault(engine, OrderedDict())
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
    with sessions() as session:
        content = _load(session, question_id, version)
    with _lock:
        cache[key] = content
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return content
