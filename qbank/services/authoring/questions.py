"""Creating questions: inputs, topics, a question's first version and its publication."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.store.models import (
    Question,
    QuestionOption,
    QuestionPublication,
    QuestionVersion,
    Topic,
)
from qbank.store.upsert import upsert

__all__ = [
    "DEFAULT_EXAM_CODE",
    "DIFFICULTY_LABELS",
    "MAX_TEXT",
    "OPTION_LABELS",
    "OptionInput",
    "QuestionCreated",
    "QuestionInput",
    "create_question",
    "get_or_create_topic",
    "insert_question",
]

DEFAULT_EXAM_CODE = "DEMO-EXAM"
DIFFICULTY_LABELS = ("easy", "medium", "hard")
OPTION_LABELS = "ABCDEFGHIJ"
MAX_TEXT = 20_000
# Column widths of sql/schema.sql, checked up front so PostgreSQL and SQLite refuse alike.
_TEXT_LIMITS = {
    "topic_name": 200,
    "exam_code": 64,
    "external_ref": 128,
    "bloom_level": 32,
    "blueprint_code": 64,
    "created_by": 128,
}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OptionInput:
    """One answer option as an author writes it."""

    label: str
    text_md: str
    is_correct: bool = False


@dataclass(frozen=True, slots=True)
class QuestionInput:
    """The content of a question version, validated once."""

    topic_name: str
    stem_md: str
    lead_in: str
    rationale_md: str
    difficulty_label: str
    options: tuple[OptionInput, ...]
    external_ref: str | None = None
    exam_code: str = DEFAULT_EXAM_CODE
    publish: bool = True
    bloom_level: str | None = None
    blueprint_code: str | None = None
    tags: tuple[str, ...] = ()
    assets: tuple[Any, ...] = ()
    references: tuple[Any, ...] = ()
    created_by: str = field(default="system")

    def __post_init__(self) -> None:
        for name in ("topic_name", "stem_md", "lead_in", "rationale_md", "exam_code"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"{name} must be a non-empty string")
        for name, limit in _TEXT_LIMITS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if not isinstance(value, str) or len(value) > limit or "\x00" in value:
                raise InvalidInputError(f"{name} must be text of at most {limit} characters")
        texts = [self.stem_md, self.lead_in, self.rationale_md, *(o.text_md for o in self.options)]
        if any("\x00" in text for text in texts if isinstance(text, str)):
            raise InvalidInputError("text must not contain NUL characters")
        if len(self.tags) > 50 or not all(
            isinstance(tag, str) and len(tag) <= 64 and "\x00" not in tag for tag in self.tags
        ):
            raise InvalidInputError("tags: at most 50 strings of at most 64 characters")
        if any(isinstance(text, str) and len(text) > MAX_TEXT for text in texts):
            raise InvalidInputError(f"texts must be at most {MAX_TEXT} characters")
        if self.difficulty_label not in DIFFICULTY_LABELS:
            raise InvalidInputError(
                f"difficulty_label must be one of {', '.join(DIFFICULTY_LABELS)}, "
                f"got {self.difficulty_label!r}"
            )
        if not 2 <= len(self.options) <= len(OPTION_LABELS):
            raise InvalidInputError(f"a question needs 2 to 10 options, got {len(self.options)}")
        labels = [option.label for option in self.options]
        if any(label not in OPTION_LABELS or len(label) != 1 for label in labels):
            raise InvalidInputError(f"option labels must be single letters A–J, got {labels}")
        if len(set(labels)) != len(labels):
            raise InvalidInputError(f"option labels must be unique, got {labels}")
        if any(not isinstance(o.text_md, str) or not o.text_md.strip() for o in self.options):
            raise InvalidInputError("every option needs text")
        if any(not isinstance(option.is_correct, bool) for option in self.options):
            raise InvalidInputError("is_correct must be true or false")
        correct = sum(option.is_correct for option in self.options)
        if correct != 1:
            raise InvalidInputError(f"exactly one option must be correct, got {correct}")


@dataclass(frozen=True, slots=True)
class QuestionCreated:
    """Identity of a new question version."""

    question_id: int
    version: int
    topic_id: int


def get_or_create_topic(
    session: Session, tenant_id: str, name: str, blueprint_code: str | None = None
) -> Topic:
    """The tenant's topic called ``name``, created if missing (inside the caller's transaction).

    Concurrent creators of one new topic all get it: the insert skips on a clash (it waits for
    the clashing transaction), and the read after it sees whichever insert won.
    """
    query = select(Topic).where(Topic.tenant_id == tenant_id, Topic.name == name.strip())
    topic = session.scalars(query).one_or_none()
    if topic is None:
        upsert(session, Topic,
               {"tenant_id": tenant_id, "name": name.strip(), "blueprint_code": blueprint_code},
               ("tenant_id", "name"))  # fmt: skip
        topic = session.scalars(query).one()
    return topic


def _add_version_rows(
    session: Session, question: Question, version: int, data: QuestionInput, topic: Topic
) -> QuestionVersion:
    row = QuestionVersion(
        question_id=question.id,
        version=version,
        state="draft",
        stem_md=data.stem_md,
        lead_in=data.lead_in,
        rationale_md=data.rationale_md,
        difficulty_label=data.difficulty_label,
        bloom_level=data.bloom_level,
        topic_id=topic.id,
        tags=list(data.tags),
        assets=list(data.assets),
        references=list(data.references),
        created_at=_now(),
    )
    session.add(row)
    session.flush()
    session.add_all(
        QuestionOption(
            question_version_id=row.id,
            option_label=option.label,
            option_text_md=option.text_md,
            is_correct=option.is_correct,
        )
        for option in data.options
    )
    return row


def _publish(
    session: Session, tenant_id: str, question_id: int, version: int, exam_code: str
) -> None:
    publication = session.scalars(
        select(QuestionPublication).where(
            QuestionPublication.question_id == question_id,
            QuestionPublication.exam_code == exam_code,
        )
    ).one_or_none()
    if publication is None:
        session.add(
            QuestionPublication(
                question_id=question_id,
                live_version=version,
                exam_code=exam_code,
                tenant_id=tenant_id,
                published_at=_now(),
            )
        )
    else:
        publication.live_version = version
        publication.published_at = _now()


def insert_question(session: Session, tenant_id: str, data: QuestionInput) -> QuestionCreated:
    """Create a question inside the caller's transaction (see ``create_question``)."""
    if data.external_ref is not None:
        exists = session.scalar(
            select(Question.id).where(
                Question.tenant_id == tenant_id, Question.external_ref == data.external_ref
            )
        )
        if exists is not None:
            raise ConflictError(
                f"a question with external_ref {data.external_ref!r} exists (id {exists})"
            )
    topic = get_or_create_topic(session, tenant_id, data.topic_name, data.blueprint_code)
    question = Question(
        tenant_id=tenant_id,
        external_ref=data.external_ref,
        created_by=data.created_by,
        is_deleted=False,
        created_at=_now(),
    )
    session.add(question)
    session.flush()
    _add_version_rows(session, question, 1, data, topic)
    if data.publish:
        _set_state(session, question.id, 1, "published")
        _publish(session, tenant_id, question.id, 1, data.exam_code)
    return QuestionCreated(question.id, 1, topic.id)


def create_question(
    sessions: sessionmaker[Session], tenant_id: str, data: QuestionInput
) -> QuestionCreated:
    """Create a question with its first version and options; publish it unless told not to.

    Raises:
        ConflictError: the tenant already has a question with this ``external_ref``.
    """
    try:
        with sessions.begin() as session:
            return insert_question(session, tenant_id, data)
    except IntegrityError:
        raise ConflictError("the question clashes with an existing one") from None


def _question(
    session: Session, tenant_id: str, question_id: int, *, lock: bool = False
) -> Question:
    """The live question; ``lock`` holds its row until commit (``SELECT … FOR UPDATE``).

    Every write to a question's versions or publications takes that lock first, so they run
    one at a time per question: version numbers never clash and a publish cannot interleave
    with a retire or a delete (SQLite gets the same order from ``BEGIN IMMEDIATE``).
    """
    query = select(Question).where(
        Question.id == question_id,
        Question.tenant_id == tenant_id,
        Question.is_deleted.is_(False),
    )
    if lock:
        query = query.with_for_update()
    question = session.scalars(query).one_or_none()
    if question is None:
        raise NotFoundError(f"question {question_id} not found")
    return question


def _version(session: Session, question_id: int, version: int) -> QuestionVersion:
    row = session.scalars(
        select(QuestionVersion).where(
            QuestionVersion.question_id == question_id, QuestionVersion.version == version
        )
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"question {question_id} has no version {version}")
    return row


def _set_state(session: Session, question_id: int, version: int, state: str) -> None:
    _version(session, question_id, version).state = state
