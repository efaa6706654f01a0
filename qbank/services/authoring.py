"""Authoring use cases: questions, versions, publication to exams, retirement, import."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError, NotFoundError
from qbank.store.models import (
    ItemCalibration,
    ItemExposureControl,
    Question,
    QuestionOption,
    QuestionPublication,
    QuestionVersion,
    Topic,
)

__all__ = [
    "DEFAULT_EXAM_CODE",
    "OptionInput",
    "Page",
    "QuestionCreated",
    "QuestionInput",
    "QuestionSummary",
    "add_version",
    "create_question",
    "get_or_create_topic",
    "get_question",
    "insert_question",
    "list_questions",
    "publish_version",
    "retire_version",
    "soft_delete_question",
]

DEFAULT_EXAM_CODE = "DEMO-EXAM"
DIFFICULTY_LABELS = ("easy", "medium", "hard")
OPTION_LABELS = "ABCDEFGHIJ"
MAX_PAGE_SIZE = 200
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


@dataclass(frozen=True, slots=True)
class QuestionSummary:
    """One row of a question listing: the newest version of a question."""

    question_id: int
    external_ref: str | None
    version: int
    state: str
    topic: str
    difficulty_label: str
    lead_in: str
    stem_md: str
    exams: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Page:
    """A page of results with the total count over all pages."""

    items: list[QuestionSummary]
    total: int
    page: int
    page_size: int


def get_or_create_topic(
    session: Session, tenant_id: str, name: str, blueprint_code: str | None = None
) -> Topic:
    """The tenant's topic called ``name``, created if missing (inside the caller's transaction)."""
    topic = session.scalars(
        select(Topic).where(Topic.tenant_id == tenant_id, Topic.name == name.strip())
    ).one_or_none()
    if topic is None:
        topic = Topic(tenant_id=tenant_id, name=name.strip(), blueprint_code=blueprint_code)
        session.add(topic)
        session.flush()
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


def _question(session: Session, tenant_id: str, question_id: int) -> Question:
    question = session.scalars(
        select(Question).where(
            Question.id == question_id,
            Question.tenant_id == tenant_id,
            Question.is_deleted.is_(False),
        )
    ).one_or_none()
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


def add_version(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int, data: QuestionInput
) -> QuestionCreated:
    """Add the next version of a question (a draft unless ``data.publish``)."""
    with sessions.begin() as session:
        question = _question(session, tenant_id, question_id)
        latest = session.scalar(
            select(func.max(QuestionVersion.version)).where(
                QuestionVersion.question_id == question_id
            )
        )
        topic = get_or_create_topic(session, tenant_id, data.topic_name, data.blueprint_code)
        version = int(latest or 0) + 1
        _add_version_rows(session, question, version, data, topic)
        if data.publish:
            _set_state(session, question_id, version, "published")
            _publish(session, tenant_id, question_id, version, data.exam_code)
        return QuestionCreated(question_id, version, topic.id)


def publish_version(
    sessions: sessionmaker[Session],
    tenant_id: str,
    question_id: int,
    version: int,
    exam_code: str = DEFAULT_EXAM_CODE,
) -> None:
    """Make ``version`` the live version of the question in ``exam_code`` (one per exam).

    Raises:
        ConflictError: the version is retired.
    """
    if not exam_code.strip():
        raise InvalidInputError("exam_code must not be empty")
    with sessions.begin() as session:
        _question(session, tenant_id, question_id)
        row = _version(session, question_id, version)
        if row.state == "retired":
            raise ConflictError(f"version {version} of question {question_id} is retired")
        row.state = "published"
        _publish(session, tenant_id, question_id, version, exam_code)


def _unpublish(session: Session, question_id: int, version: int | None = None) -> None:
    statement = delete(QuestionPublication).where(QuestionPublication.question_id == question_id)
    if version is not None:
        statement = statement.where(QuestionPublication.live_version == version)
    session.execute(statement)


def retire_version(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int, version: int
) -> None:
    """Retire a version: it is no longer live in any exam."""
    with sessions.begin() as session:
        _question(session, tenant_id, question_id)
        _version(session, question_id, version).state = "retired"
        _unpublish(session, question_id, version)


def soft_delete_question(sessions: sessionmaker[Session], tenant_id: str, question_id: int) -> None:
    """Hide a question everywhere (rows stay for past responses and reports)."""
    with sessions.begin() as session:
        _question(session, tenant_id, question_id).is_deleted = True
        _unpublish(session, question_id)


def list_questions(
    sessions: sessionmaker[Session],
    tenant_id: str,
    *,
    exam_code: str | None = None,
    topic: str | None = None,
    state: str | None = None,
    search: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page:
    """Newest version of each (not deleted) question, filtered, newest questions first."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(f"page must be >= 1 and page_size in [1, {MAX_PAGE_SIZE}]")
    newest = (
        select(QuestionVersion.question_id, func.max(QuestionVersion.version).label("version"))
        .group_by(QuestionVersion.question_id)
        .subquery()
    )
    query = (
        select(Question, QuestionVersion, Topic)
        .join(newest, newest.c.question_id == Question.id)
        .join(
            QuestionVersion,
            (QuestionVersion.question_id == Question.id)
            & (QuestionVersion.version == newest.c.version),
        )
        .join(Topic, Topic.id == QuestionVersion.topic_id)
        .where(Question.tenant_id == tenant_id, Question.is_deleted.is_(False))
    )
    if exam_code:
        published = select(QuestionPublication.question_id).where(
            QuestionPublication.exam_code == exam_code, QuestionPublication.tenant_id == tenant_id
        )
        query = query.where(Question.id.in_(published))
    if topic:
        query = query.where(Topic.name == topic)
    if state:
        query = query.where(QuestionVersion.state == state)
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(
            or_(
                func.lower(QuestionVersion.stem_md).like(pattern),
                func.lower(QuestionVersion.lead_in).like(pattern),
                func.lower(Question.external_ref).like(pattern),
            )
        )
    with sessions() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(Question.id.desc()).offset((page - 1) * page_size).limit(page_size)
        ).all()
        ids = [question.id for question, _version, _topic in rows]
        exams: dict[int, list[str]] = {}
        for question_id, code in session.execute(
            select(QuestionPublication.question_id, QuestionPublication.exam_code).where(
                QuestionPublication.question_id.in_(ids)
            )
        ):
            exams.setdefault(question_id, []).append(code)
    items = [
        QuestionSummary(
            question.id,
            question.external_ref,
            version.version,
            version.state,
            topic_row.name,
            version.difficulty_label,
            version.lead_in,
            version.stem_md,
            tuple(sorted(exams.get(question.id, []))),
        )
        for question, version, topic_row in rows
    ]
    return Page(items, int(total), page, page_size)


def get_question(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int
) -> dict[str, Any]:
    """A question with every version, options and answer key (for authors), exams and calibration.

    Raises:
        NotFoundError: no such question in the tenant.
    """
    with sessions() as session:
        question = _question(session, tenant_id, question_id)
        versions = session.scalars(
            select(QuestionVersion)
            .where(QuestionVersion.question_id == question_id)
            .order_by(QuestionVersion.version)
        ).all()
        live = session.execute(
            select(QuestionPublication.exam_code, QuestionPublication.live_version).where(
                QuestionPublication.question_id == question_id
            )
        ).all()
        rendered = []
        for row in versions:
            options = session.scalars(
                select(QuestionOption)
                .where(QuestionOption.question_version_id == row.id)
                .order_by(QuestionOption.option_label)
            )
            topic = session.get(Topic, row.topic_id)
            calibration = session.get(ItemCalibration, (question_id, row.version))
            exposure = session.get(ItemExposureControl, (question_id, row.version))
            rendered.append(
                {
                    "version": row.version,
                    "state": row.state,
                    "topic": topic.name if topic else None,
                    "stem_md": row.stem_md,
                    "lead_in": row.lead_in,
                    "rationale_md": row.rationale_md,
                    "difficulty_label": row.difficulty_label,
                    "bloom_level": row.bloom_level,
                    "tags": list(row.tags),
                    "options": [
                        {
                            "label": o.option_label,
                            "text_md": o.option_text_md,
                            "is_correct": o.is_correct,
                        }
                        for o in options
                    ],
                    "calibration": None
                    if calibration is None
                    else {
                        "model": calibration.model,
                        "a": calibration.a,
                        "b": calibration.b,
                        "c": calibration.c,
                        "n_respondents": calibration.n_respondents,
                    },
                    "sh_p": 1.0 if exposure is None else exposure.sh_p,
                }
            )
        return {
            "question_id": question.id,
            "external_ref": question.external_ref,
            "created_by": question.created_by,
            "versions": rendered,
            "live": [{"exam_code": code, "version": ver} for code, ver in live],
        }
