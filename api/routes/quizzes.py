"""Quizzes: create, next item, answer, summary, finish."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import PermissionDeniedException
from litestar.params import HeaderParameter, JSONBody, PathParameter

from api.errors import error_responses
from api.responses import AnswerOut, QuizCreatedOut, QuizSummaryOut, ServedItemOut
from api.runtime import Runtime
from api.schemas import NO_NUL, AnswerIn, QuizIn
from api.security import current_principal, requires
from qbank.services.access.auth import Principal
from qbank.services.delivery import answers, quizzes
from qbank.services.delivery.quizzes import QuizFilters
from qbank.services.delivery.student_limits import StudentLimits

__all__ = ["ROUTES"]

TAKERS = requires("student", "admin")
ID = Annotated[str, PathParameter(max_length=64, pattern=NO_NUL)]


def _owner(principal: Principal) -> str | None:
    # Admins may look at any quiz of their tenant; students only at their own.
    return None if principal.has_any("admin") else principal.user_id


@post("/v1/quizzes", guards=[TAKERS], sync_to_thread=True,
      responses=error_responses(400, 401, 403, 404, 429), tags=["quizzes"])  # fmt: skip
def create_quiz(
    request: Request[Any, Any, Any], data: JSONBody[QuizIn], runtime: NamedDependency[Runtime]
) -> QuizCreatedOut:
    """Start a quiz; adaptive quizzes choose each item at the current θ̂.

    404 when the exam has nothing live; 400 when no live item matches the filters; 429 with
    ``Retry-After`` at a per-student limit.
    """
    principal = current_principal(request)
    if data.tenant_id is not None and data.tenant_id != principal.tenant_id:
        raise PermissionDeniedException("tenant_id does not match your token")
    f = data.filters
    filters = QuizFilters(
        tuple(f.topics), tuple(f.difficulty), f.num_questions, f.mode, f.exam_code, f.stop_se
    )
    limits = StudentLimits(runtime.settings.max_active_quizzes,
                           runtime.settings.max_quizzes_per_day)  # fmt: skip
    created = quizzes.create_quiz(
        runtime.sessions, principal.tenant_id, principal.user_id, filters, data.adaptive, limits
    )
    return msgspec.convert(created, QuizCreatedOut, from_attributes=True)


@get(
    "/v1/quizzes/{quiz_id:str}/next",
    guards=[TAKERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409, 503),
    tags=["quizzes"],
)
def next_item(
    request: Request[Any, Any, Any], quiz_id: ID, runtime: NamedDependency[Runtime]
) -> ServedItemOut:
    """The item to answer now (the same one until it is answered); never the answer.

    Once the quiz is over (all items answered, the SE target reached, no item left, finished
    or expired) this answers 404 ``NotFoundError`` saying so; ``GET /v1/quizzes/{id}`` then
    has the summary.
    """
    principal = current_principal(request)
    served = quizzes.next_item(
        runtime.sessions,
        runtime.state,
        principal.tenant_id,
        _owner(principal),
        quiz_id,
        runtime.settings.max_daily_exposures,
    )
    return msgspec.convert(served, ServedItemOut, from_attributes=True)


@post(
    "/v1/quizzes/{quiz_id:str}/answers",
    guards=[TAKERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409, 422, 503),
    tags=["quizzes"],
    status_code=200,
)
def answer(
    request: Request[Any, Any, Any],
    quiz_id: ID,
    data: JSONBody[AnswerIn],
    runtime: NamedDependency[Runtime],
    idempotency_key: Annotated[
        str | None,
        HeaderParameter(name="Idempotency-Key", max_length=128, min_length=1, pattern=NO_NUL),
    ] = None,
) -> AnswerOut:
    """Grade the answer to the served item; tutor mode explains, exam mode acknowledges.

    Tutor mode returns the feedback and θ̂/SE after this answer; exam mode returns them only
    in the answer that finishes the quiz.
    """
    principal = current_principal(request)
    result = answers.answer_item(
        runtime.sessions,
        runtime.state,
        principal.tenant_id,
        _owner(principal),
        quiz_id,
        data.question_id,
        data.selected,
        data.time_taken_ms,
        idempotency_key,
    )
    return msgspec.convert(
        {"question_id": result.question_id, "version": result.version,
         "position": result.position, "accepted": result.accepted, "mode": result.mode,
         "finished": result.finished, "theta": result.theta, "se": result.se,
         **result.feedback},
        AnswerOut,
    )  # fmt: skip


@get(
    "/v1/quizzes/{quiz_id:str}",
    guards=[TAKERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 503),
    tags=["quizzes"],
)
def get_quiz(
    request: Request[Any, Any, Any], quiz_id: ID, runtime: NamedDependency[Runtime]
) -> QuizSummaryOut:
    """The quiz summary, at any time: status, score, θ̂ and SE, per-topic results and items.

    Exam mode hides score, θ̂, SE and right/wrong until the quiz is finished.
    """
    principal = current_principal(request)
    summary = answers.get_quiz(
        runtime.sessions, runtime.state, principal.tenant_id, _owner(principal), quiz_id
    )
    return msgspec.convert(summary, QuizSummaryOut)


@post(
    "/v1/quizzes/{quiz_id:str}/finish",
    guards=[TAKERS],
    sync_to_thread=True,
    responses=error_responses(400, 401, 403, 404, 409, 503),
    tags=["quizzes"],
    status_code=200,
)
def finish(
    request: Request[Any, Any, Any], quiz_id: ID, runtime: NamedDependency[Runtime]
) -> QuizSummaryOut:
    """End the quiz now (unanswered items stay unanswered) and return its summary."""
    principal = current_principal(request)
    summary = answers.finish_quiz(
        runtime.sessions, runtime.state, principal.tenant_id, _owner(principal), quiz_id
    )
    return msgspec.convert(summary, QuizSummaryOut)


ROUTES = [create_quiz, next_item, answer, get_quiz, finish]
