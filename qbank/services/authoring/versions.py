"""A question's life after creation: new versions, publish, retire, delete."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError
from qbank.services.access.auth import Principal
from qbank.services.authoring.delete_rule import check_may_delete
from qbank.services.authoring.exams import exam_exists
from qbank.services.authoring.questions import (
    DEFAULT_EXAM_CODE,
    QuestionCreated,
    QuestionInput,
    _add_version_rows,
    _publish,
    _question,
    _set_state,
    _version,
    get_or_create_topic,
)
from qbank.store.models import (
    QuestionPublication,
    QuestionVersion,
)

__all__ = [
    "add_version",
    "publish_version",
    "retire_version",
    "soft_delete_question",
]


def add_version(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int, data: QuestionInput
) -> QuestionCreated:
    """Add the next version of a question (a draft unless ``data.publish``)."""
    with sessions.begin() as session:
        question = _question(session, tenant_id, question_id, lock=True)
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
) -> bool:
    """Make ``version`` the live version of the question in ``exam_code`` (one per exam).

    Returns whether this publish created the exam (nothing was live in it before).

    Raises:
        ConflictError: the version is retired.
    """
    if not exam_code.strip():
        raise InvalidInputError("exam_code must not be empty")
    with sessions.begin() as session:
        _question(session, tenant_id, question_id, lock=True)
        row = _version(session, question_id, version)
        if row.state == "retired":
            raise ConflictError(f"version {version} of question {question_id} is retired")
        created = not exam_exists(session, tenant_id, exam_code)
        row.state = "published"
        _publish(session, tenant_id, question_id, version, exam_code)
        return created


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
        _question(session, tenant_id, question_id, lock=True)
        _version(session, question_id, version).state = "retired"
        _unpublish(session, question_id, version)


def soft_delete_question(
    sessions: sessionmaker[Session], tenant_id: str, question_id: int, by: Principal | None = None
) -> None:
    """Hide a question everywhere (rows stay for past responses and reports).

    With ``by``, the caller's roles are checked first (``delete_rule``); None is a trusted caller.

    Raises:
        PermissionDeniedError: ``by`` may not delete this question.
    """
    with sessions.begin() as session:
        question = _question(session, tenant_id, question_id, lock=True)
        if by is not None:
            check_may_delete(session, question, by)
        question.is_deleted = True
        _unpublish(session, question_id)
