"""Who is asking, and may they: sessions for pages, bearer tokens for the API.

Every view declares its audience with ``@page(...)`` or ``@api(...)``; the
declaration is kept on the view function so tests can list every route's roles.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import g, redirect, request, session, url_for

from cardservice.application.staff import SignedIn, StaffMember
from cardservice.errors import N_, AuthenticationError, PermissionDeniedError
from cardservice.web import state

F = TypeVar("F", bound=Callable[..., Any])
PUBLIC = "public"


def current_user() -> StaffMember | None:
    """The signed-in staff member of this request, if any."""
    if "user" in g:
        user: StaffMember | None = g.user
        return user
    user = None
    session_id = session.get("sid")
    if isinstance(session_id, str):
        user = state.application().staff.member_for_session(session_id)
        if user is None:
            # Signed out, expired, disabled, or the password changed: forget the cookie.
            _forget_sign_in()
    g.user = user
    return user


def login_user(signed: SignedIn) -> None:
    """Start a fresh cookie for a new server-side session."""
    _forget_sign_in()
    session.permanent = True
    # Only a random id: who is signed in, and until when, is decided by the database.
    session["sid"] = signed.session_id
    g.user = signed.member


def logout_user() -> None:
    """End the session on the server and in the cookie, keeping the language choice."""
    session_id = session.get("sid")
    if isinstance(session_id, str):
        state.application().staff.sign_out(session_id)
    _forget_sign_in()
    g.user = None


def _forget_sign_in() -> None:
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def page(*roles: str) -> Callable[[F], F]:
    """A page for these roles (or ``PUBLIC``): anonymous users go to the login page."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if PUBLIC not in roles:
                user = current_user()
                if user is None:
                    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
                if user.role not in roles:
                    raise PermissionDeniedError(N_("You are not allowed to do this."))
                if user.must_change_password and request.endpoint != "auth.password":
                    return redirect(url_for("auth.password"))
            return view(*args, **kwargs)

        wrapper.access = ("page", roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def api(*roles: str) -> Callable[[F], F]:
    """A JSON endpoint for these roles (or ``PUBLIC``); a bearer token is required otherwise."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if PUBLIC not in roles:
                user = api_user()
                if user.role not in roles:
                    raise PermissionDeniedError(N_("This token's role may not do this."))
            return view(*args, **kwargs)

        wrapper.access = ("api", roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def api_user() -> StaffMember:
    """The user of the request's bearer token, or ``AuthenticationError``."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(N_("Send an API token: 'Authorization: Bearer <token>'."))
    user = state.application().staff.for_token(token.strip())
    g.user = user
    return user


def actor() -> str:
    """The username to write in the audit log for this request."""
    user = g.get("user")
    return user.username if user is not None else "anonymous"
