"""Administrators: staff accounts, the city's keys and the audit log."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from cardservice.errors import DomainError
from cardservice.web import state
from cardservice.web.access import actor, page
from cardservice.web.forms import ConfirmForm, NewUserForm
from cardservice.web.main import add_home_link

bp = Blueprint("admin", __name__, url_prefix="/admin")

add_home_link(("admin",), "admin.keys_page", _l("City keys"),
              _l("The city's fingerprint, its signing keys and when they expire; rotate them."))

#: How the keys page names each signing key's state (``SigningKeyView.state``).
KEY_STATES = {
    "current": _l("Current: signs cards now"),
    "next": _l("Next: signs from its start date"),
    "retired": _l("Retired: signs no more, its cards still verify"),
    "expired": _l("Expired: no card it signed is still valid"),
}

AUDIT_PAGE = 50


@bp.route("/users", methods=["GET", "POST"])
@page("admin")
def users_page() -> ResponseReturnValue:
    """List accounts and create one; a new account's one-time password is shown once."""
    staff = state.application().staff
    form = NewUserForm()
    created: tuple[str, str] | None = None
    status = 200
    if form.validate_on_submit():
        try:
            new = staff.create(username=form.username.data or "", role=form.role.data or "",
                               actor=actor())
        except DomainError as exc:
            form.username.errors = [*form.username.errors, exc.translated(_)]
            status = 400
        else:
            created = (new.member.username, new.password)
            form = NewUserForm(formdata=None)
    elif form.is_submitted():
        status = 400
    return render_template("admin/users.html", users=staff.all(),
                           form=form, created=created, confirm=ConfirmForm()), status




def _act(username: str, action: str) -> ResponseReturnValue:
    form = ConfirmForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("admin.users_page"))
    staff = state.application().staff
    try:
        if action == "disable":
            staff.set_disabled(username, disabled=True, actor=actor())
            flash(_("%(name)s is disabled and their API tokens are revoked.", name=username),
                  "success")
        elif action == "enable":
            staff.set_disabled(username, disabled=False, actor=actor())
            flash(_("%(name)s can sign in again.", name=username), "success")
        elif action == "reset":
            password = staff.reset_password(username, actor=actor())
            flash(_("New one-time password for %(name)s: %(password)s — it is shown only once.",
                    name=username, password=password), "secret")
        elif action == "token":
            token = staff.create_token(username, actor=actor())
            flash(_("New API token for %(name)s: %(token)s — copy it now, it is shown only "
                    "once.", name=username, token=token), "secret")
    except DomainError as exc:
        flash(exc.translated(_), "error")
    return redirect(url_for("admin.users_page"))


@bp.post("/users/<username>/disable")
@page("admin")
def disable_user(username: str) -> ResponseReturnValue:
    """Disable an account (after the confirmation step on the page)."""
    return _act(username, "disable")


@bp.post("/users/<username>/enable")
@page("admin")
def enable_user(username: str) -> ResponseReturnValue:
    """Enable an account again."""
    return _act(username, "enable")


@bp.post("/users/<username>/reset")
@page("admin")
def reset_user(username: str) -> ResponseReturnValue:
    """Give an account a new one-time password."""
    return _act(username, "reset")


@bp.post("/users/<username>/token")
@page("admin")
def token_user(username: str) -> ResponseReturnValue:
    """Create an API token for an account."""
    return _act(username, "token")


@bp.get("/audit")
@page("admin")
def audit_page() -> ResponseReturnValue:
    """The audit log, newest first, a page at a time."""
    before = request.args.get("before", type=int)
    entries = state.application().staff.audit_entries(limit=AUDIT_PAGE + 1, before=before)
    more = len(entries) > AUDIT_PAGE
    entries = entries[:AUDIT_PAGE]
    next_before = entries[-1].seq if more and entries else None
    return render_template("admin/audit.html", entries=entries, next_before=next_before)


# ---- the city's keys -----------------------------------------------------------------------

@bp.get("/keys")
@page("admin")
def keys_page() -> ResponseReturnValue:
    """Root fingerprint, signing keys with their periods and states, warnings before expiry."""
    try:
        overview = state.application().city.overview()
    except DomainError as exc:
        flash(exc.translated(_), "error")
        return render_template("admin/keys.html", overview=None, states=KEY_STATES), 503
    return render_template("admin/keys.html", overview=overview, states=KEY_STATES)


@bp.get("/keys/rotate")
@page("admin")
def rotate_confirm() -> ResponseReturnValue:
    """Say what rotating the signing key does, and ask."""
    return render_template("admin/keys_rotate.html", kind="signing", confirm=ConfirmForm(),
                           action=url_for("admin.rotate_signing"))


@bp.get("/keys/rotate-root")
@page("admin")
def rotate_root_confirm() -> ResponseReturnValue:
    """Say what rotating the city root does, and ask."""
    return render_template("admin/keys_rotate.html", kind="root", confirm=ConfirmForm(),
                           action=url_for("admin.rotate_root"))


@bp.post("/keys/rotate")
@page("admin")
def rotate_signing() -> ResponseReturnValue:
    """Make a new signing key (after the confirmation page); audited and published."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("admin.rotate_confirm"))
    try:
        kid = state.application().city.rotate_signing_key(actor=actor())
    except DomainError as exc:
        flash(exc.translated(_), "error")
    else:
        flash(_("A new signing key (%(kid)s) signs cards from now on. The previous one signs "
                "no more; the cards it signed still verify.", kid=kid), "success")
    return redirect(url_for("admin.keys_page"))


@bp.post("/keys/rotate-root")
@page("admin")
def rotate_root() -> ResponseReturnValue:
    """Replace the city root (after the confirmation page); audited and published."""
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("admin.rotate_root_confirm"))
    try:
        rotation = state.application().city.rotate_root(actor=actor())
    except DomainError as exc:
        flash(exc.translated(_), "error")
    else:
        flash(_("The city has a new root key. Its fingerprint is %(fingerprint)s: read it to "
                "every partner city's officials. Trust bundle version %(version)s is signed by "
                "the old and the new root.", fingerprint=rotation.fingerprint,
                version=rotation.bundle_version), "success")
    return redirect(url_for("admin.keys_page"))
