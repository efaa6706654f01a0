"""Authoring: questions, versions, publication."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.errors import error_responses
from api.responses import (
    DeletedOut,
    ExamPage,
    ImportOut,
    PublishOut,
    QuestionCreatedOut,
    QuestionDetailOut,
    QuestionPage,
    RetireOut,
)
from api.runtime import Runtime
from api.schemas import NO_NUL, PublishIn, QuestionIn
from api.security import current_principal, requires
from qbank.services.access.auth import Principal
from qbank.services.authoring import catalog, exams, importing, questions, versions
from qbank.services.authoring.questions import OptionInput, QuestionInput

__all__ = ["ROUTES"]

AUTHORS = requires("author", "admin")
PUBLISHERS = requires("publisher", "admin")
READERS = requires("author", "publisher", "admin")
QuestionId = Annotated[int, PathParameter(ge=1, le=9_007_199_254_740_991)]
Version = Annotated[int, PathParameter(ge=1, le=1_000_000)]


def _publish_flag(principal: Principal, requested: bool | None) -> bool:
    """Whether to publish: as requested, else by the caller's roles (an author makes drafts)."""
    may_publish = principal.has_any("publisher", "admin")
    if requested and not may_publish:
        raise PermissionDeniedException(
            "publishing needs the publisher role; leave publish out to keep a draft"
        )
    return may_publish if requested is None else requested


def _question_input(data: QuestionIn, created_by: str, publish: bool) -> QuestionInput:
    return QuestionInput(
        topic_name=data.topic_name,
        stem_md=data.stem_md,
        lead_in=data.lead_in,
        rationale_md=data.rationale_md,
        difficulty_label=data.difficulty_label,
        options=tuple(OptionInput(o.label, o.text_md, o.is_correct) for o in data.options),
        external_ref=data.external_ref,
        exam_code=data.exam_code,
        publish=publish,
        bloom_level=data.bloom_level,
        tags=tuple(data.tags),
        created_by=created_by,
    )


@post(
    "/v1/author/questions",
    guards=[AUTHORS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 409),
    tags=["authoring"],
)
def create_question(
    request: Request[Any, Any, Any], data: JSONBody[QuestionIn], runtime: NamedDependency[Runtime]
) -> QuestionCreatedOut:
    """Create a question with its first version.

    Published when ``publish`` is true, a draft when false; left out, it follows the caller's
    roles: published for a publisher or admin, a draft for an author.
    """
    principal = current_principal(request)
    publish = _publish_flag(principal, data.publish)
    created = questions.create_question(
        runtime.sessions, principal.tenant_id, _question_input(data, principal.user_id, publish)
    )
    return msgspec.convert(created, QuestionCreatedOut, from_attributes=True)


@get(
    "/v1/author/questions",
    guards=[READERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403),
    tags=["authoring"],
)
def list_questions(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    exam_code: Annotated[str | None, QueryParameter(max_length=64, pattern=NO_NUL)] = None,
    topic: Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)] = None,
    version_state: Annotated[
        str | None, QueryParameter(name="state", max_length=16, pattern=NO_NUL)
    ] = None,
    q: Annotated[str | None, QueryParameter(max_length=200, pattern=NO_NUL)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> QuestionPage:
    """Newest version of each question, filtered and paginated."""
    principal = current_principal(request)
    result = catalog.list_questions(
        runtime.sessions,
        principal.tenant_id,
        exam_code=exam_code,
        topic=topic,
        state=version_state,
        search=q,
        page=page,
        page_size=page_size,
    )
    return msgspec.convert(result, QuestionPage, from_attributes=True)


@post(
    "/v1/author/questions/{question_id:int}/versions",
    guards=[AUTHORS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409),
    tags=["authoring"],
)
def add_version(
    request: Request[Any, Any, Any],
    question_id: QuestionId,
    data: JSONBody[QuestionIn],
    runtime: NamedDependency[Runtime],
) -> QuestionCreatedOut:
    """Add the next version of a question (``publish`` as for a new question)."""
    principal = current_principal(request)
    publish = _publish_flag(principal, data.publish)
    created = versions.add_version(
        runtime.sessions,
        principal.tenant_id,
        question_id,
        _question_input(data, principal.user_id, publish),
    )
    return msgspec.convert(created, QuestionCreatedOut, from_attributes=True)


@post(
    "/v1/author/questions/{question_id:int}/versions/{version:int}/publish",
    guards=[PUBLISHERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409),
    tags=["authoring"],
    status_code=200,
)
def publish(
    request: Request[Any, Any, Any],
    question_id: QuestionId,
    version: Version,
    runtime: NamedDependency[Runtime],
    data: JSONBody[PublishIn | None] = None,
) -> PublishOut:
    """Make a version the live one in an exam (no body, or ``{}``: the default exam).

    The first publish to a new exam code creates that exam (``exam_created: true``); an exam
    exists while a version is live in it (``GET /v1/exams``).
    """
    target = data or PublishIn()
    principal = current_principal(request)
    created = versions.publish_version(
        runtime.sessions, principal.tenant_id, question_id, version, target.exam_code
    )
    return PublishOut(question_id, version, target.exam_code, created)


@post(
    "/v1/author/questions/{question_id:int}/versions/{version:int}/retire",
    guards=[PUBLISHERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409),
    tags=["authoring"],
    status_code=200,
)
def retire(
    request: Request[Any, Any, Any],
    question_id: QuestionId,
    version: Version,
    runtime: NamedDependency[Runtime],
) -> RetireOut:
    """Retire a version: it stops being live anywhere."""
    versions.retire_version(
        runtime.sessions, current_principal(request).tenant_id, question_id, version
    )
    return RetireOut(question_id, version, "retired")


@delete(
    "/v1/author/questions/{question_id:int}",
    guards=[READERS],  # and delete_rule: the live bank needs publisher/admin
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409),
    tags=["authoring"],
    status_code=200,
)
def soft_delete(
    request: Request[Any, Any, Any], question_id: QuestionId, runtime: NamedDependency[Runtime]
) -> DeletedOut:
    """Hide a question everywhere (its rows stay for reports).

    A question published in any exam needs publisher or admin; an author deletes own drafts.
    """
    principal = current_principal(request)
    versions.soft_delete_question(runtime.sessions, principal.tenant_id, question_id, principal)
    return DeletedOut(question_id, True)


@get(
    "/v1/author/questions/{question_id:int}",
    guards=[READERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404),
    tags=["authoring"],
)
def get_question(
    request: Request[Any, Any, Any], question_id: QuestionId, runtime: NamedDependency[Runtime]
) -> QuestionDetailOut:
    """One question: every version with options and answer key, live exams, calibration."""
    found = catalog.get_question(runtime.sessions, current_principal(request).tenant_id,
                                 question_id)  # fmt: skip
    return msgspec.convert(found, QuestionDetailOut)


@post(
    "/v1/author/questions/import",
    guards=[AUTHORS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 409),
    tags=["authoring"],
)
def import_questions(
    request: Request[Any, Any, Any],
    data: JSONBody[list[dict[str, Any]]],
    runtime: NamedDependency[Runtime],
) -> ImportOut:
    """Bulk import question records (as ``qbank import`` reads from JSON), all or nothing."""
    principal = current_principal(request)
    explicit = any(record.get("publish") is True for record in data)
    publish_default = _publish_flag(principal, True if explicit else None)
    report = importing.import_records(
        runtime.sessions, principal.tenant_id, data, principal.user_id, publish_default
    )
    return ImportOut(report.created, list(report.question_ids))


@get(
    "/v1/exams",
    guards=[READERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403),
    tags=["authoring"],
)
def list_exams(
    request: Request[Any, Any, Any],
    runtime: NamedDependency[Runtime],
    page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
) -> ExamPage:
    """The tenant's exams by code, with how many item versions are live in each now.

    An exam exists while a version is live in it: the first publish to a code creates it.
    """
    found = exams.list_exams(runtime.sessions, current_principal(request).tenant_id, page=page,
                             page_size=page_size)  # fmt: skip
    return msgspec.convert(found, ExamPage, from_attributes=True)


ROUTES = [
    list_exams,
    create_question,
    list_questions,
    get_question,
    import_questions,
    add_version,
    publish,
    retire,
    soft_delete,
]
