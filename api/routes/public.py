"""Health and login."""

from __future__ import annotations

import functools
from typing import Any

import anyio
from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    TooManyRequestsException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import ErrorBody, error_responses
from api.responses import HealthOut
from api.runtime import Runtime
from api.schemas import LoginIn, LoginOut, MockLoginIn
from qbank.errors import PermissionDeniedError
from qbank.services.access.auth import Principal, issue_token
from qbank.services.access.throttle import LoginThrottledError, throttled_login

__all__ = ["health", "login", "mock_login"]

LOGIN_THREADS = 4  # logins run on threads of their own: a flood never takes the quiz threads
_login_limiter: anyio.CapacityLimiter | None = None


def _login_threads() -> anyio.CapacityLimiter:
    global _login_limiter
    if _login_limiter is None:  # made inside the event loop, once per process
        _login_limiter = anyio.CapacityLimiter(LOGIN_THREADS)
    return _login_limiter


@get("/health", sync_to_thread=True, tags=["health"])
def health(runtime: NamedDependency[Runtime]) -> HealthOut:
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
    healthy = database == "ok" and redis != "error"
    return HealthOut("ok" if healthy else "degraded", database, redis,
                     "redis" if runtime.settings.redis_url else "embedded")  # fmt: skip


LOGIN_RESPONSES = {
    **error_responses(400, 401, 503),
    429: ResponseSpec(
        data_container=ErrorBody,
        description="Too many failed logins: wait Retry-After seconds",
        generate_examples=False,
    ),
}


@post("/v1/auth/login", responses=LOGIN_RESPONSES, tags=["auth"], status_code=200)
async def login(
    request: Request[Any, Any, Any], data: JSONBody[LoginIn], runtime: NamedDependency[Runtime]
) -> LoginOut:
    """Exchange a username and password for a bearer token.

    Failed logins are throttled per account and per client address: after a few, each further
    attempt must wait twice as long as the one before (429 with ``Retry-After``).
    """
    tenant = data.tenant_id or runtime.settings.tenant_id
    address = request.client.host if request.client else None
    attempt = functools.partial(throttled_login, runtime.sessions, runtime.throttle, tenant,
                                data.username, data.password, address)  # fmt: skip
    try:
        principal = await anyio.to_thread.run_sync(attempt, limiter=_login_threads())
    except LoginThrottledError as error:
        raise TooManyRequestsException(
            str(error), headers={"Retry-After": str(error.retry_after_s)}
        ) from None
    except PermissionDeniedError as error:
        raise NotAuthorizedException(str(error)) from None
    token = issue_token(runtime.settings.secret, principal)
    return LoginOut(token, "bearer", list(principal.roles), principal.tenant_id)


@post(
    "/v1/auth/mock-login",
    sync_to_thread=True,
    responses=error_responses(400),
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
