"""Bearer tokens and role guards: every route states the roles it admits."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from qbank.errors import PermissionDeniedError
from qbank.services.access.auth import Principal, decode_token

__all__ = ["current_principal", "requires"]

_PRINCIPAL = "qbank_principal"


def _principal_from(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException("send 'Authorization: Bearer <token>' (POST /v1/auth/login)")
    runtime = connection.app.state.runtime
    try:
        return decode_token(runtime.settings.secret, token.strip())
    except PermissionDeniedError as error:
        raise NotAuthorizedException(str(error)) from None


def requires(*roles: str) -> Guard:
    """A guard that admits callers holding any of ``roles``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = _principal_from(connection)
        if not principal.has_any(*roles):
            raise PermissionDeniedException(
                f"this route needs one of the roles: {', '.join(roles)}"
            )
        connection.scope[_PRINCIPAL] = principal  # type: ignore[literal-required,unused-ignore]

    return guard


def current_principal(request: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    """The caller, as checked by the route's guard."""
    principal = request.scope.get(_PRINCIPAL)
    if not isinstance(principal, Principal):
        raise NotAuthorizedException("authentication required")
    return principal
