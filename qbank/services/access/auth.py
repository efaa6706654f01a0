"""Users, password hashes and access tokens (JWT HS256 with subject, roles, tenant, expiry)."""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qbank.errors import ConflictError, InvalidInputError, PermissionDeniedError
from qbank.services.access.hashing import scrypt
from qbank.settings import KNOWN_SECRETS, MIN_SECRET_BYTES
from qbank.store.models import User

__all__ = [
    "ROLES",
    "Principal",
    "authenticate",
    "create_user",
    "decode_token",
    "hash_password",
    "issue_token",
    "reset_user",
    "verify_password",
]

ROLES = ("student", "author", "publisher", "admin")
TOKEN_LIFETIME = timedelta(hours=8)
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_DUMMY_HASH: str | None = None


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's subject, tenant and roles."""

    user_id: str
    tenant_id: str
    roles: tuple[str, ...]

    def has_any(self, *roles: str) -> bool:
        """True if the caller holds at least one of ``roles``."""
        return any(role in self.roles for role in roles)


def hash_password(password: str) -> str:
    """A salted scrypt hash, self-describing: ``scrypt$n$r$p$salt$hash`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = scrypt(password.encode(), salt, _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"], 32)
    salt_text, digest_text = (base64.b64encode(raw).decode() for raw in (salt, digest))
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt_text}${digest_text}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a ``hash_password`` string."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = scrypt(
            password.encode(), base64.b64decode(salt), int(n), int(r), int(p), len(expected)
        )
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


def _check_roles(roles: tuple[str, ...]) -> None:
    if not roles:
        raise InvalidInputError(f"give at least one role of {', '.join(ROLES)}")
    unknown = [role for role in roles if role not in ROLES]
    if unknown:
        raise InvalidInputError(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")


def create_user(
    sessions: sessionmaker[Session],
    tenant_id: str,
    username: str,
    password: str,
    roles: tuple[str, ...],
) -> int:
    """Add a user with a hashed password; returns the user id.

    Raises:
        InvalidInputError: empty/long username, short password or unknown role.
        ConflictError: the username is taken in the tenant.
    """
    if not username.strip() or len(username) > 128 or "\x00" in username:
        raise InvalidInputError("username must be 1 to 128 characters")
    if len(password) < 8:
        raise InvalidInputError("password must be at least 8 characters")
    _check_roles(roles)
    try:
        with sessions.begin() as session:
            user = User(
                tenant_id=tenant_id,
                username=username.strip(),
                password_hash=hash_password(password),
                roles=list(dict.fromkeys(roles)),
                created_at=datetime.now(UTC),
            )
            session.add(user)
            session.flush()
            return user.id
    except IntegrityError:
        raise ConflictError(f"user {username!r} already exists in tenant {tenant_id}") from None


def authenticate(
    sessions: sessionmaker[Session], tenant_id: str, username: str, password: str
) -> Principal:
    """The user's principal if the password matches.

    Raises:
        PermissionDeniedError: unknown user or wrong password (the same message for both).
    """
    global _DUMMY_HASH
    with sessions() as session:
        user = session.scalars(
            select(User).where(User.tenant_id == tenant_id, User.username == username)
        ).one_or_none()
    if user is None:
        _DUMMY_HASH = _DUMMY_HASH or hash_password(secrets.token_hex(8))
        verify_password(password, _DUMMY_HASH)  # same work, so timing does not reveal users
        raise PermissionDeniedError("wrong username or password")
    if not verify_password(password, user.password_hash):
        raise PermissionDeniedError("wrong username or password")
    return Principal(user.username, user.tenant_id, tuple(user.roles))


def _check_key(secret: str) -> None:
    if secret in KNOWN_SECRETS or len(secret.encode()) < MIN_SECRET_BYTES:
        raise PermissionDeniedError("tokens are not accepted: the server's signing key is unsafe")


def issue_token(
    secret: str,
    principal: Principal,
    lifetime: timedelta = TOKEN_LIFETIME,
    now: datetime | None = None,
) -> str:
    """A signed access token for ``principal``.

    Raises:
        PermissionDeniedError: ``secret`` is empty, short or a default published in the source.
    """
    _check_key(secret)
    issued = now or datetime.now(UTC)
    claims = {
        "sub": principal.user_id,
        "tenant": principal.tenant_id,
        "roles": list(principal.roles),
        "iat": issued,
        "exp": issued + lifetime,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(secret: str, token: str) -> Principal:
    """Verify a token's signature and expiry.

    Raises:
        PermissionDeniedError: invalid, tampered or expired token, or a key that is empty, short
            or a default published in the source (whoever read the source could sign with it).
    """
    _check_key(secret)
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            options={"require": ["sub", "exp", "tenant", "roles"]},
        )
    except jwt.ExpiredSignatureError:
        raise PermissionDeniedError("the token has expired; log in again") from None
    except jwt.PyJWTError:
        raise PermissionDeniedError("invalid token") from None
    roles = claims.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise PermissionDeniedError("invalid token")
    return Principal(str(claims["sub"]), str(claims["tenant"]), tuple(roles))


def reset_user(
    sessions: sessionmaker[Session],
    tenant_id: str,
    username: str,
    password: str,
    roles: tuple[str, ...],
) -> None:
    """Create the user, or give an existing one this password and these roles."""
    if len(password) < 8:
        raise InvalidInputError("password must be at least 8 characters")
    _check_roles(roles)
    with sessions.begin() as session:
        user = session.scalars(
            select(User).where(User.tenant_id == tenant_id, User.username == username)
        ).one_or_none()
        if user is not None:
            user.password_hash, user.roles = hash_password(password), list(dict.fromkeys(roles))
            return
    create_user(sessions, tenant_id, username, password, roles)
