"""Domain errors: raised where a rule lives, translated once at the edge (HTTP, CLI, UI).

Stdlib only, so the numeric core may import it.
"""

from __future__ import annotations

__all__ = [
    "ChangedSinceError",
    "ConfigError",
    "ConflictError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "QBankError",
    "RateLimitedError",
    "RequestMismatchError",
]


class QBankError(Exception):
    """Base of every error QBank raises on purpose; the message is shown to the user."""


class InvalidInputError(QBankError):
    """A value is outside what is allowed; the message says what is allowed."""


class NotFoundError(QBankError):
    """A referenced thing does not exist (or is not visible to the caller)."""


class ConflictError(QBankError):
    """The request clashes with the current state (answered twice, already applied, …)."""


class PermissionDeniedError(QBankError):
    """The caller's roles or tenant do not allow this."""


class ConfigError(QBankError):
    """Configuration (``QBANK_*`` variables) is missing or invalid."""


class RequestMismatchError(QBankError):
    """A request reuses an Idempotency-Key that an earlier, different request carried."""


class RateLimitedError(QBankError):
    """A per-user limit is reached; ``retry_after_s`` says when the caller may try again."""

    def __init__(self, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ChangedSinceError(ConflictError):
    """Items changed since a run: applying or rolling it back would undo the newer changes.

    ``extra`` lists who changed them (JSON-ready), for the error body.
    """

    def __init__(self, message: str, extra: list[dict[str, object]]) -> None:
        super().__init__(message)
        self.extra = extra
