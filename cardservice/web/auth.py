"""Staff sign-in, sign-out and password change."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from cardservice.errors import AuthenticationError, InvalidInputError
from cardservice.web import state
from cardservice.web.access import PUBLIC, current_user, login_user, logout_user, page
from cardservice.web.extensions import limiter
from cardservice.web.forms import LoginForm, PasswordForm
from cardservice.web.main import safe_next

bp = Blueprint("auth", __name__)

HOME_BY_ROLE = {"admin": "admin.users_page", "clerk": "main.index", "agent": "main.index"}


def _home_for(role: str) -> str:
    return url_for(HOME_BY_ROLE.get(role, "main.index"))


@bp.route("/login", methods=["GET", "POST"])
@page(PUBLIC)
@limiter.limit("20 per minute", methods=["POST"])
def login() -> ResponseReturnValue:
    """The sign-in form; too many failures make this client wait (per account)."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            signed = state.application().staff.sign_in(username=form.username.data or "",
                                                       password=form.password.data or "",
                                                       source=request.remote_addr)
        except AuthenticationError as exc:  # one answer for unknown, wrong and waiting
            form.form_errors.append(exc.translated(_))
        else:
            login_user(signed)
            user = signed.member
            if user.must_change_password:
                flash(_("Welcome. Please choose your own password now."), "info")
                return redirect(url_for("auth.password"))
            return redirect(safe_next(form.next.data, _home_for(user.role)))
        return render_template("auth/login.html", form=form), 401
    if not form.is_submitted():
        form.next.data = safe_next(request.args.get("next"), "")
    signed_in = current_user()
    if signed_in is not None and not form.is_submitted():
        return redirect(_home_for(signed_in.role))
    return render_template("auth/login.html", form=form), (400 if form.errors else 200)


@bp.post("/logout")
@page(PUBLIC)
def logout() -> ResponseReturnValue:
    """Sign out (a POST, so a link elsewhere cannot sign you out)."""
    logout_user()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@page("admin", "clerk", "agent")
def password() -> ResponseReturnValue:
    """Change one's own password (required after a one-time password)."""
    form = PasswordForm()
    user = current_user()
    assert user is not None  # page() guarantees a signed-in user
    if form.validate_on_submit():
        try:
            signed = state.application().staff.change_password(
                user.id, current=form.current_password.data or "",
                new=form.new_password.data or "")
        except InvalidInputError as exc:
            field = getattr(form, exc.field or "", None)
            (field.errors if field is not None else form.form_errors).append(  # type: ignore[union-attr]
                exc.translated(_))
        else:
            login_user(signed)  # every other session of the account has ended
            flash(_("Your password has been changed."), "success")
            return redirect(_home_for(signed.member.role))
    status = 400 if form.errors or form.form_errors else 200
    return render_template("auth/password.html", form=form), status
