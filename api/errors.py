"""One translation of errors to HTTP, for the whole app: ``{"error", "detail"[, "extra"]}``."""

from __future__ import annotations

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
)

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "domain_error_response",
    "http_error_response",
    "undecodable_body_response",
]

_STATUS: dict[type[QBankError], int] = {
    InvalidInputError: 400, PermissionDeniedError: 403, NotFoundError: 404, ConflictError: 409,
    ConfigError: 503,
}  # fmt: skip


class ErrorBody(msgspec.Struct):
    """What went wrong: the error's kind, a sentence for people, field details if any."""

    error: str
    detail: str
    extra: Any = None


def _body(
    status: int, error: str, detail: str, extra: Any = None, headers: dict[str, str] | None = None
) -> Response[ErrorBody]:
    return Response(ErrorBody(error, detail, extra), status_code=status, headers=headers)


def domain_error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A ``QBankError`` with the status of its kind."""
    status = next((_STATUS[t] for t in type(exc).__mro__ if t in _STATUS), 400)
    return _body(status, type(exc).__name__, str(exc))


def http_error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """Litestar's own errors (validation, 401, 404 routes, 405) in the same shape."""
    assert isinstance(exc, HTTPException)
    name = type(exc).__name__.replace("Exception", "Error")
    extra = getattr(exc, "extra", None) or None
    return _body(exc.status_code, name, str(exc.detail), extra, dict(exc.headers or {}))


def undecodable_body_response(_: Request[Any, Any, Any], exc: Exception) -> Response[ErrorBody]:
    """A body that is not UTF-8, or nests too deeply to decode: 400, not 500."""
    reason = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "nests too deeply"
    return _body(400, "ValidationError", f"the request body {reason}")


def _spec(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=ErrorBody, description=description)


ERROR_RESPONSES: dict[int, ResponseSpec] = {
    400: _spec("Bad input: the detail names the field or rule"),
    401: _spec("No token, or an invalid or expired one"),
    403: _spec("The token's roles or tenant do not allow this"),
    404: _spec("Not found (or not visible to the caller)"),
    409: _spec("Conflicts with the current state"),
    503: _spec("A backing service (Redis) is unreachable"),
}
