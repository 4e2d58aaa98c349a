"""Administrators: staff accounts, the city's keys and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField
from wtforms.validators import Length, Optional

from cardservice.application import AuditQuery
from cardservice.errors import DomainError
from cardservice.web import audit_text, state
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


class AuditFilterForm(FlaskForm):
    """Filters of the audit log page (a GET form: nothing changes, so no CSRF token)."""

    class Meta:
        csrf = False

    action = SelectField(_l("Action"), choices=[], validate_choice=False,
                         validators=[Optional(), Length(max=64)])
    actor = StringField(_l("Who (username, resident or system)"),
                        validators=[Optional(), Length(max=64)],
                        render_kw={"list": "audit-actors", "autocomplete": "off",
                                   "spellcheck": "false"})
    since = DateField(_l("From (UTC date)"), validators=[Optional()])
    until = DateField(_l("To (UTC date, included)"), validators=[Optional()])


FILTER_ARGS = ("action", "actor", "since", "until")


def _audit_query(form: AuditFilterForm) -> AuditQuery | None:
    """The query the filter asks for, or None (with the field's error) when it is wrong."""
    if not form.validate():
        return None
    since, until = form.since.data, form.until.data
    if since and until and until < since:
        form.until.errors = [*form.until.errors,
                             _("The end date is before the start date.")]
        return None
    return AuditQuery(
        action=form.action.data or None,
        actor=(form.actor.data or "").strip() or None,
        since=datetime.combine(since, time.min, UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, UTC) if until else None,
    )


@bp.get("/audit")
@page("admin")
def audit_page() -> ResponseReturnValue:
    """The audit log in plain words, newest first, filtered and a page at a time."""
    application = state.application()
    form = AuditFilterForm(formdata=request.args)
    choices = [("", _("All actions")), *audit_text.action_choices()]
    if form.action.data and form.action.data not in audit_text.ACTIONS:
        choices.append((form.action.data, form.action.data))  # a code without a label yet
    form.action.choices = choices
    query = _audit_query(form)
    if query is None:
        return render_template("admin/audit.html", form=form, page=None, rows=[],
                               actors=[], filters={}), 400
    result = application.staff.audit_page(query, size=AUDIT_PAGE,
                                          before=request.args.get("before", type=int),
                                          after=request.args.get("after", type=int))
    staff_names = [m.username for m in application.staff.all()]
    actors = [(audit_text.RESIDENT, audit_text.actor_label(audit_text.RESIDENT)),
              (audit_text.SYSTEM, audit_text.actor_label(audit_text.SYSTEM)),
              *((name, name) for name in staff_names)]
    filters = {name: request.args[name] for name in FILTER_ARGS if request.args.get(name)}
    return render_template("admin/audit.html", form=form, page=result,
                           rows=[audit_text.row(e) for e in result.entries], actors=actors,
                           filters=filters)


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
