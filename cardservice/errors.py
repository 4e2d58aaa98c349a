"""Typed domain errors. Web and CLI turn them into answers in one place each."""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user can act on; ``code`` is stable, ``message`` is for people."""

    code = "bad_request"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInputError(DomainError):
    """Input that fails validation; ``field`` names what to fix."""

    code = "invalid"


class NotCollectedError(InvalidInputError):
    """A field the service refuses to collect (SPEC §2)."""

    code = "not_collected"


class NotFoundError(DomainError):
    """No such record."""

    code = "not_found"
    http_status = 404


class ConflictError(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    http_status = 409


class AuthenticationError(DomainError):
    """Who is asking could not be established."""

    code = "unauthorized"
    http_status = 401


class AccountLockedError(AuthenticationError):
    """Too many failed sign-ins; try again later."""

    code = "locked"


class PermissionDeniedError(DomainError):
    """Known user, not allowed to do this."""

    code = "forbidden"
    http_status = 403
