"""One translation of domain errors to HTTP, for the whole app."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response

from qbank.errors import (
    ConfigError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    QBankError,
)

__all__ = ["domain_error_response"]

_STATUS: dict[type[QBankError], int] = {
    InvalidInputError: 400, PermissionDeniedError: 403, NotFoundError: 404, ConflictError: 409,
    ConfigError: 503,
}  # fmt: skip


def domain_error_response(_: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, str]]:
    """``{"error": ..., "detail": ...}`` with the status of the error's kind."""
    status = next((_STATUS[t] for t in type(exc).__mro__ if t in _STATUS), 400)
    return Response({"error": type(exc).__name__, "detail": str(exc)}, status_code=status)
