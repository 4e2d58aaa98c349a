"""Typed domain errors. Web and CLI turn them into answers in one place each.

Messages are English sentences marked with ``N_`` so the catalog extracts them; the web
layer translates them into the user's language when it shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


def N_(message: str) -> str:  # noqa: N802 - the gettext convention: mark now, translate later
    """Mark a message for translation without translating it here."""
    return message


class Label(str):
    """A message parameter that is itself a phrase to translate (a field's name, say).

    Mark it with ``N_`` where it is written: ``params={"field": Label(N_("Given names"))}``;
    ``DomainError.translated`` translates it along with the message.
    """

    __slots__ = ()


class DomainError(Exception):
    """A refusal the user can act on; ``code`` is stable, ``message`` is for people."""

    code = "bad_request"
    http_status = 400
    #: Extra members of the JSON error body, beside "error", "message" and "field".
    details: Mapping[str, str] = {}

    def __init__(self, message: str, *, field: str | None = None,
                 params: Mapping[str, object] | None = None) -> None:
        self.template = message
        self.params = dict(params or {})
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        self.field = field

    def translated(self, gettext: Callable[[str], str]) -> str:
        """The message in another language: ``gettext`` translates the template first."""
        text = gettext(self.template)
        if not self.params:
            return text
        return text % {k: gettext(v) if isinstance(v, Label) else v
                       for k, v in self.params.items()}


class InvalidInputError(DomainError):
    """Input that fails validation; ``field`` names what to fix."""

    code = "invalid"


class NotCollectedError(InvalidInputError):
    """A field the service refuses to collect (SPEC §2)."""

    code = "not_collected"


class LatinLineNeededError(InvalidInputError):
    """A name in another script than Latin came without a Latin line for the card.

    ``proposal`` is a transliteration for the clerk to check with the resident (and to
    send back, corrected or not, as ``name_latin``); API answers carry it.
    """

    code = "name_latin_proposed"

    def __init__(self, message: str, *, proposal: str,
                 params: Mapping[str, object] | None = None) -> None:
        super().__init__(message, field="name_latin", params=params)
        self.proposal = proposal
        self.details = {"proposal": proposal}


class FontMissingError(InvalidInputError):
    """The server lacks the font package a script needs; an administrator installs it.

    ``script`` and ``package`` name them (``package`` is a Debian package).
    """

    code = "font_missing"

    def __init__(self, message: str, *, script: str, package: str, field: str | None = None,
                 ) -> None:
        super().__init__(message, field=field, params={"script": script, "package": package})
        self.script = script
        self.package = package


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


class PermissionDeniedError(DomainError):
    """Known user, not allowed to do this."""

    code = "forbidden"
    http_status = 403


class UnreadableUploadError(InvalidInputError):
    """An uploaded file is not a picture or PDF that can be read."""

    code = "unreadable_file"


class UploadTooLargeError(UnreadableUploadError):
    """An uploaded file is over a budget: pixels, pages, content, or the decoder's limits."""

    code = "too_large"
    http_status = 413


class NoCardCodeError(InvalidInputError):
    """An uploaded picture or PDF opens, but holds no readable card code."""

    code = "no_code"


class CardFrontUploadedError(NoCardCodeError):
    """No card code, and the picture looks like a card: probably its front (a hint)."""

    code = "card_front"


class ServiceBusyError(DomainError):
    """Every slot for heavy work is taken; the client should retry after a short pause."""

    code = "busy"
    http_status = 503
    retry_after_seconds = 5


class DatabaseUnavailableError(ServiceBusyError):
    """The database cannot be reached (restarting, network cut): nothing was done; retry."""

    code = "database_unavailable"
    retry_after_seconds = 10
