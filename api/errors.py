"""One translation of errors to HTTP, for the whole app: ``{error, detail, extra, request_id}``.

The request id is the caller's ``X-Request-ID`` (when it is a short token) or a new one; it is
in the body and the ``X-Request-ID`` header of every error, and in the log line of an
unexpected error, so a user's report can be matched to its traceback.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec

from qbank.errors import (
    ConfigError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    QBankError,
    RateLimitedError,
    RequestMismatchError,
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "domain_error_response",
    "error_responses",
    "http_error_response",
    "undecodable_body_response",
    "unexpected_error_response",
]

_log = logging.getLogger("api.errors")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_BACKING_SERVICE_RETRY_S = 5

_STATUS: dict[type[QBankError], int] = {
    InvalidInputError: 400, PermissionDeniedError: 403, NotFoundError: 404, ConflictError: 409,
    RequestMismatchError: 422, RateLimitedError: 429, ConfigError: 503,
}  # fmt: skip


class ErrorBody(msgspec.Struct):
    """What went wrong: the error's kind, a sentence for people, field details if any."""

    error: str  # the error's kind, e.g. ValidationError, NotFoundError, ConflictError
    detail: str  # a sentence for people
    extra: Any  # machine-readable details (field errors, the changes behind a 409), or null
    request_id: str  # the caller's X-Request-ID, or a new id; also in the response header


def request_id(request: Request[Any, Any, Any]) -> str:
    """The request's id: the caller's ``X-Request-ID`` if it is a plain token, else a new one."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def _body(
    request: Request[Any, Any, Any],
    status: int,
    error: str,
    detail: str,
    extra: Any = None,
    headers: dict[str, str] | None = None,
    *,
    rid: str | None = None,
) -> Response[ErrorBody]:
    rid = rid or request_id(request)
    return Response(ErrorBody(error, detail, extra, rid), status_code=status,
                    headers={**(headers or {}), "X-Request-ID": rid})  # fmt: skip


def domain_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A ``QBankError`` with the status of its kind."""
    status = next((_STATUS[t] for t in type(exc).__mro__ if t in _STATUS), 400)
    extra = getattr(exc, "extra", None)
    retry_after = getattr(exc, "retry_after_s", None)
    if retry_after is None and status == 503:
        retry_after = _BACKING_SERVICE_RETRY_S  # an outage: come back soon, not never
    headers = {"Retry-After": str(int(retry_after))} if retry_after is not None else None
    return _body(request, status, type(exc).__name__, str(exc), extra, headers)


def http_error_response(request: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """Litestar's own errors (validation, 401, 404 routes, 405) in the same shape."""
    assert isinstance(exc, HTTPException)
    name = type(exc).__name__.replace("Exception", "Error")
    extra = getattr(exc, "extra", None) or None
    return _body(request, exc.status_code, name, str(exc.detail), extra, dict(exc.headers or {}))


def undecodable_body_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorBody]:
    """A body that is not UTF-8, or nests too deeply to decode: 400, not 500."""
    reason = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "nests too deeply"
    return _body(request, 400, "ValidationError", f"the request body {reason}")


def unexpected_error_response(
    request: Request[Any, Any, Any], exc: Exception
) -> Response[ErrorBody]:
    """Anything else is a bug: log its traceback with the request id, answer 500 in our shape."""
    rid = request_id(request)
    _log.error("unexpected %s on %s %s (request_id %s)", type(exc).__name__, request.method,
               request.url.path, rid, exc_info=exc)  # fmt: skip
    detail = "an unexpected error happened; it was logged under this request_id"
    return _body(request, 500, "InternalServerError", detail, rid=rid)


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    400: _spec("Bad input: the detail names the field or rule"),
    401: _spec("No token, or an invalid or expired one"),
    403: _spec("The token's roles or tenant do not allow this"),
    404: _spec("Not found (or not visible to the caller)"),
    409: _spec("Conflicts with the current state"),
    422: _spec("The request clashes with an earlier one under the same Idempotency-Key"),
    429: _spec("A per-student limit is reached; Retry-After says when to try again"),
    503: _spec("A backing service (Redis) is unreachable"),
}


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """The error responses a route can produce, for its OpenAPI entry (and nothing more)."""
    unknown = set(statuses) - set(ERROR_RESPONSES)
    if unknown:
        raise ValueError(f"no documented error response for {sorted(unknown)}")
    return {status: ERROR_RESPONSES[status] for status in sorted(statuses)}
