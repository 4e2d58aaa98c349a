"""Turn every error into an answer: JSON under /api/ (and /metrics), a friendly page elsewhere.

A stack trace never reaches the client; it goes to the server log.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from cardservice.application import database_unavailable
from cardservice.errors import DomainError, ServiceBusyError

log = logging.getLogger("cardservice.web")

_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    429: "rate_limited", 500: "server_error",
}


def wants_json() -> bool:
    """Whether this request should get a JSON error."""
    return (request.path.startswith(("/api/", "/.well-known/"))
            or request.path == "/metrics")


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood."),
        401: _("Please sign in."),
        403: _("You are not allowed to do this."),
        404: _("This page does not exist."),
        405: _("This action is not allowed here."),
        409: _("This conflicts with the current state."),
        413: _("The upload is too large."),
        429: _("Too many requests. Please wait a moment and try again."),
        500: _("Something went wrong on our side. Nothing you confirmed has been lost."),
    }


def error_response(
    status: int, code: str | None = None, message: str | None = None, field: str | None = None,
    details: Mapping[str, str] | None = None,
) -> Response:
    """Build the error answer for the current request (JSON names the field when known)."""
    message = message or _titles().get(status, _("Something went wrong."))
    if wants_json():
        body = {**(details or {}), "error": code or _CODES.get(status, "error"),
                "message": message}
        if field:
            body["field"] = field
        resp = jsonify(body)
    else:
        resp = Response(render_template("errors/error.html", status=status, message=message))
    resp.status_code = status
    return resp


def _retry_after(exc: HTTPException) -> int:
    """Seconds until the breached limit's window resets (at least 1)."""
    from flask_limiter.errors import RateLimitExceeded

    from cardservice.web.extensions import limiter

    current = limiter.current_limit
    if current is not None:
        return max(1, math.ceil(current.reset_at - time.time()))
    if isinstance(exc, RateLimitExceeded):
        return max(1, int(exc.limit.limit.get_expiry()))
    return 60


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        # Services write English marked with N_; show it in the user's language.
        resp = error_response(exc.http_status, exc.code, exc.translated(_), exc.field,
                              exc.details)
        if isinstance(exc, ServiceBusyError):
            resp.headers["Retry-After"] = str(exc.retry_after_seconds)
        return resp

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError) -> Response:
        return error_response(
            400, "csrf", _("The form expired or was not sent from this site. Please try again.")
        )

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        status = exc.code or 500
        resp = error_response(status, None, _titles().get(status))
        if status == 429:
            resp.headers["Retry-After"] = str(_retry_after(exc))
        if status == 405 and exc.response is None:
            allow = getattr(exc, "valid_methods", None)
            if allow:
                resp.headers["Allow"] = ", ".join(allow)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        # A database lost outside a unit of work (a pooled connection on the verify path,
        # the health check) is the same 503 as inside one, not a server error.
        unavailable = database_unavailable(exc)
        if unavailable is not None:
            log.warning("database unavailable on %s %s: %s", request.method, request.url_rule,
                        type(exc).__name__)
            return _domain(unavailable)
        log.exception("unhandled error on %s %s", request.method, request.url_rule)
        return error_response(500)

    app.register_error_handler(InternalServerError, _unexpected)
