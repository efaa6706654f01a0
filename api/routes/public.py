"""Health and login."""

from __future__ import annotations

from typing import Any

from litestar import get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import JSONBody
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import ERROR_RESPONSES
from api.runtime import Runtime
from api.schemas import LoginIn, LoginOut, MockLoginIn
from qbank.errors import PermissionDeniedError
from qbank.services.access.auth import Principal, authenticate, issue_token

__all__ = ["health", "login", "mock_login"]


@get("/health", sync_to_thread=True, responses=ERROR_RESPONSES, tags=["health"])
def health(runtime: NamedDependency[Runtime]) -> dict[str, Any]:
    """Whether the database and Redis answer."""
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        database = "ok"
    except SQLAlchemyError as error:
        database = f"error: {type(error).__name__}"
    redis = (
        ("ok" if runtime.state.ping() else "error")
        if runtime.settings.redis_url
        else "not configured"
    )
    status = "ok" if database == "ok" and redis != "error" else "degraded"
    return {
        "status": status,
        "database": database,
        "redis": redis,
        "runtime": "redis" if runtime.settings.redis_url else "embedded",
    }


@post(
    "/v1/auth/login", sync_to_thread=True, responses=ERROR_RESPONSES, tags=["auth"], status_code=200
)
def login(data: JSONBody[LoginIn], runtime: NamedDependency[Runtime]) -> LoginOut:
    """Exchange a username and password for a bearer token."""
    tenant = data.tenant_id or runtime.settings.tenant_id
    try:
        principal = authenticate(runtime.sessions, tenant, data.username, data.password)
    except PermissionDeniedError as error:
        raise NotAuthorizedException(str(error)) from None
    token = issue_token(runtime.settings.secret, principal)
    return LoginOut(token, "bearer", list(principal.roles), principal.tenant_id)


@post(
    "/v1/auth/mock-login",
    sync_to_thread=True,
    responses=ERROR_RESPONSES,
    tags=["auth"],
    status_code=200,
)
def mock_login(data: JSONBody[MockLoginIn], runtime: NamedDependency[Runtime]) -> LoginOut:
    """Development only: a token for any user id and roles (the route exists only in dev)."""
    if runtime.settings.env != "dev":  # not routed outside dev; refused again here all the same
        raise NotFoundException("not found")
    principal = Principal(
        data.user_id, data.tenant_id or runtime.settings.tenant_id, tuple(dict.fromkeys(data.roles))
    )
    token = issue_token(runtime.settings.secret, principal)
    return LoginOut(token, "bearer", list(principal.roles), principal.tenant_id)
