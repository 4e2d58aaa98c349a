"""Administrators: partner cities (pages and JSON API)."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from cardservice import trust
from cardservice.clock import utcnow
from cardservice.errors import DomainError
from cardservice.web import state
from cardservice.web.access import actor, api, page
from cardservice.web.api import json_body
from cardservice.web.extensions import csrf
from cardservice.web.main import add_home_link

bp = Blueprint("partners", __name__, url_prefix="/admin/partners")
api_bp = Blueprint("partners_api", __name__, url_prefix="/api/v1")

add_home_link(("admin",), "partners.index", _l("Partner cities"),
              _l("Recognise other cities' cards: pin their keys, sync, suspend."))


class AddForm(FlaskForm):
    """Add a partner by URL and fingerprint."""

    url = StringField(_l("Partner's base URL"), validators=[DataRequired(), Length(max=2000)],
                      render_kw={"placeholder": "https://cards.lyon.example"})
    fingerprint = StringField(_l("Fingerprint given by the partner's officials"),
                              validators=[DataRequired(), Length(max=120)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})


class ImportForm(FlaskForm):
    """Add or update a partner from files (offline exchange)."""

    bundle = FileField(_l("Trust bundle file (.cose)"))
    revocations = FileField(_l("Revocation list file (optional)"))
    fingerprint = StringField(_l("Fingerprint given by the partner's officials"),
                              validators=[Length(max=120)])


class SendForm(FlaskForm):
    """Send our recognition request to another city."""

    url = StringField(_l("Other city's base URL"), validators=[DataRequired(), Length(max=2000)])


class DecideForm(FlaskForm):
    """Accept a recognition request after the fingerprint check."""

    fingerprint = StringField(_l("Fingerprint given by that city's officials"),
                              validators=[Length(max=120)])


class ConfirmForm(FlaskForm):
    """CSRF only."""


@bp.get("/")
@page("admin")
def index() -> ResponseReturnValue:
    """Partners, their fingerprints, last sync and its result; our own fingerprint."""
    app = state.application()
    return render_template(
        "partners/index.html", partners=app.partners.all(),
        own_fingerprint=app.city.fingerprint(), requests=app.partners.pending_requests(),
        add=AddForm(), imp=ImportForm(), send=SendForm(), decide=DecideForm(),
        confirm=ConfirmForm(), now=utcnow())


def _back() -> ResponseReturnValue:
    return redirect(url_for("partners.index"))


def _run(fn: Callable[[], object], success: str) -> ResponseReturnValue:
    try:
        fn()
    except DomainError as exc:
        flash(exc.translated(_), "error")
    else:
        flash(success, "success")
    return _back()


@bp.post("/add")
@page("admin")
def add() -> ResponseReturnValue:
    """Pin a partner by URL + fingerprint; a mismatch stores nothing."""
    form = AddForm()
    if not form.validate_on_submit():
        flash(_("Give the partner's URL and fingerprint."), "error")
        return _back()
    return _run(lambda: state.application().partners.add(
        url=form.url.data or "", fingerprint=form.fingerprint.data or "", actor=actor()),
        _("The partner city is recognised: its cards now verify here."))


@bp.post("/import")
@page("admin")
def import_files() -> ResponseReturnValue:
    """Offline exchange: a bundle file (new partner with fingerprint, or update of one held)."""
    form = ImportForm()
    if not form.validate_on_submit() or not form.bundle.data:
        flash(_("Choose the partner's trust bundle file."), "error")
        return _back()
    bundle = form.bundle.data.read(trust.MAX_BUNDLE_BYTES + 1)
    rev = form.revocations.data.read(trust.MAX_REVOCATION_LIST_BYTES + 1) \
        if form.revocations.data else None
    return _run(lambda: state.application().partners.import_documents(
        bundle=bundle, revocations=rev, fingerprint=form.fingerprint.data or "",
        actor=actor()), _("The files were checked and accepted."))


@bp.post("/<partner_id>/sync")
@page("admin")
def sync(partner_id: str) -> ResponseReturnValue:
    """Fetch the partner's latest documents now."""
    if not ConfirmForm().validate_on_submit():
        return _back()
    return _run(lambda: state.application().partners.sync(partner_id, actor=actor()),
                _("Synchronised."))


@bp.post("/<partner_id>/suspend")
@page("admin")
def suspend(partner_id: str) -> ResponseReturnValue:
    """Suspend recognition."""
    if not ConfirmForm().validate_on_submit():
        return _back()
    return _run(lambda: state.application().partners.set_suspended(
        partner_id, suspended=True, actor=actor()),
        _("Suspended: this city's cards read 'partner suspended'."))


@bp.post("/<partner_id>/resume")
@page("admin")
def resume(partner_id: str) -> ResponseReturnValue:
    """Resume recognition."""
    if not ConfirmForm().validate_on_submit():
        return _back()
    return _run(lambda: state.application().partners.set_suspended(
        partner_id, suspended=False, actor=actor()), _("Recognised again."))


@bp.post("/<partner_id>/remove")
@page("admin")
def remove(partner_id: str) -> ResponseReturnValue:
    """Remove a partner and its trust data."""
    if not ConfirmForm().validate_on_submit():
        return _back()
    return _run(lambda: state.application().partners.remove(partner_id, actor=actor()),
                _("Removed."))


@bp.post("/send-request")
@page("admin")
def send_request() -> ResponseReturnValue:
    """Send our signed recognition request to another city."""
    form = SendForm()
    if not form.validate_on_submit():
        return _back()
    return _run(lambda: state.application().partners.send_request(form.url.data or ""),
                _("Sent. Read our fingerprint to their officials by another channel."))


@bp.post("/requests/<int:request_id>/<decision>")
@page("admin")
def decide(request_id: int, decision: str) -> ResponseReturnValue:
    """Accept (with the fingerprint check) or reject a recognition request."""
    form = DecideForm()
    if not form.validate_on_submit() or decision not in ("accept", "reject"):
        return _back()
    return _run(lambda: state.application().partners.decide_request(
        request_id, accept=decision == "accept", fingerprint=form.fingerprint.data or "",
        actor=actor()), _("Done."))


@api_bp.post("/partners")
@api("admin")
def api_add() -> ResponseReturnValue:
    """``{"url", "fingerprint"}`` → 201, or 4xx and nothing stored."""
    body = json_body()
    view = state.application().partners.add(url=str(body.get("url", "")),
                                            fingerprint=str(body.get("fingerprint", "")),
                                            actor=actor())
    return view.as_json(), 201


@api_bp.get("/partners")
@api("admin")
def api_list() -> ResponseReturnValue:
    """Every partner with its last sync."""
    return {"partners": [p.as_json() for p in state.application().partners.all()]}


@api_bp.post("/partners/<partner_id>/sync")
@api("admin")
def api_sync(partner_id: str) -> ResponseReturnValue:
    """Fetch and check the partner's bundle and revocation list now."""
    return state.application().partners.sync(partner_id, actor=actor()).as_json()


def init_app(app: Flask) -> None:
    """Register pages and API."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
