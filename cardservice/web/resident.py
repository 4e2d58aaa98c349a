"""Residents manage their card without an account: serial + date of birth + renewal code.

The renewal code is on the resident's renewal slip, never on the card: what is printed on
a card is not enough to act on it.

A successful check is remembered in the session for a short while; attempts are
limited per client and per serial, and a wrong combination never says which part
was wrong.
"""

from __future__ import annotations

import time

from flask import Blueprint, Flask, abort, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cardservice import serials
from cardservice.application import CardNotMatchedError
from cardservice.errors import DomainError
from cardservice.web import state
from cardservice.web.access import PUBLIC, api, page
from cardservice.web.api import json_body
from cardservice.web.extensions import csrf, limiter
from cardservice.web.i18n import accepted_locale
from cardservice.web.main import add_home_link

bp = Blueprint("resident", __name__, url_prefix="/card")
api_bp = Blueprint("renewals_api", __name__, url_prefix="/api/v1")
HOLDER_MINUTES = 15

add_home_link((PUBLIC,), "resident.start", _l("Renew or replace my card"),
              _l("Expired, lost, stolen or damaged card, or a change of address, gender "
                 "marker or preferred name. No account needed."))


def serial_key() -> str:
    """Rate-limit key: the card serial being tried (normalised), whatever the client."""
    raw = request.form.get("serial") if request.form else None
    if raw is None:
        body = request.get_json(silent=True)
        raw = body.get("serial") if isinstance(body, dict) else None
    folded = serials.normalise_renewal_code(str(raw or ""))
    return f"serial:{folded[:16]}"


PER_CLIENT = "20 per hour"
PER_SERIAL = "5 per hour"


class HolderForm(FlaskForm):
    """The three facts that prove a resident holds a card."""

    serial = StringField(_l("Card number"), validators=[DataRequired(), Length(max=20)],
                         render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                    "spellcheck": "false"})
    date_of_birth = DateField(_l("Date of birth"), validators=[DataRequired()])
    renewal_code = StringField(_l("Renewal code (on your renewal slip)"),
                               validators=[DataRequired(), Length(max=20)],
                               render_kw={"autocomplete": "off", "autocapitalize": "characters",
                                          "spellcheck": "false"})


class ReportForm(FlaskForm):
    """Report a card lost, stolen or damaged."""

    kind = RadioField(_l("What happened to the card?"), choices=[
        SelectChoice("lost", _l("Lost")), SelectChoice("stolen", _l("Stolen")),
        SelectChoice("damaged", _l("Damaged"))], validators=[DataRequired()])


class ChangeForm(FlaskForm):
    """Ask to change address, gender marker or preferred name."""

    address_line1 = StringField(_l("New address"), validators=[Optional(), Length(max=120)])
    address_postcode = StringField(_l("Postcode"), validators=[Optional(), Length(max=16)])
    gender = RadioField(_l("Gender marker on the card"), validators=[Optional()], choices=[
        SelectChoice("", _l("No change")), SelectChoice("F", "F"), SelectChoice("M", "M"),
        SelectChoice("X", "X"), SelectChoice("none", _l("No marker"))], default="")
    preferred_name = StringField(_l("Preferred name"), validators=[Optional(), Length(max=80)])


class EmptyForm(FlaskForm):
    """A confirmation form (CSRF only)."""


def _holder_serial() -> str:
    """The card this browser proved it holds in the last minutes (else back to the start)."""
    serial = session.get("holder_serial")
    until = session.get("holder_until", 0)
    if not serial or until < time.time():
        session.pop("holder_serial", None)
        abort(redirect(url_for("resident.start")))
    return str(serial)


def _manage_page(serial: str, *, error: str | None = None, status: int = 200
                 ) -> ResponseReturnValue:
    view = state.application().renewals.holder_view(serial)
    if view is None:
        abort(redirect(url_for("resident.start")))
    return render_template("resident/manage.html", card=view, report=ReportForm(),
                           change=ChangeForm(), confirm=EmptyForm(), error=error,
                           serial=serials.format_serial(serial)), status


@bp.route("/", methods=["GET", "POST"])
@page(PUBLIC)
@limiter.limit(PER_CLIENT, methods=["POST"])
@limiter.limit(PER_SERIAL, methods=["POST"], key_func=serial_key)
def start() -> ResponseReturnValue:
    """Prove you hold the card."""
    form = HolderForm()
    error = None
    if form.validate_on_submit():
        try:
            serial = state.application().renewals.authenticate_holder(
                serial=form.serial.data or "",
                date_of_birth=form.date_of_birth.data.isoformat(),  # type: ignore[union-attr]
                renewal_code=form.renewal_code.data or "")
        except CardNotMatchedError:
            error = _("We could not find a card with these details. Check the card number, "
                      "your date of birth and the renewal code on your renewal slip.")
        else:
            session["holder_serial"] = serial
            session["holder_until"] = time.time() + HOLDER_MINUTES * 60
            return redirect(url_for("resident.manage"))
    status = 403 if error else (400 if form.errors else 200)
    return render_template("resident/start.html", form=form, error=error), status


@bp.get("/manage")
@page(PUBLIC)
def manage() -> ResponseReturnValue:
    """What the resident can do with their card now."""
    return _manage_page(_holder_serial())


def _file(kind: str, changes: dict[str, object] | None = None) -> ResponseReturnValue:
    serial = _holder_serial()
    try:
        req = state.application().renewals.file(serial, kind=kind, changes=changes,
                                                locale=str(get_locale()))
    except DomainError as exc:
        return _manage_page(serial, error=exc.translated(_), status=exc.http_status)
    session.pop("holder_serial", None)
    return redirect(url_for("resident.request_status", request_id=req.id))


@bp.post("/manage/renew")
@page(PUBLIC)
def renew() -> ResponseReturnValue:
    """Ask for renewal (inside the renewal window)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    return _file("renew")


@bp.post("/manage/report")
@page(PUBLIC)
def report() -> ResponseReturnValue:
    """Report the card lost, stolen (revoked at once) or damaged."""
    form = ReportForm()
    if not form.validate_on_submit():
        abort(400)
    return _file(form.kind.data or "")


@bp.post("/manage/change")
@page(PUBLIC)
def change() -> ResponseReturnValue:
    """Ask to change address, gender marker or preferred name."""
    form = ChangeForm()
    if not form.validate_on_submit():
        abort(400)
    changes: dict[str, object] = {}
    if form.address_line1.data:
        changes["address"] = {"line1": form.address_line1.data,
                              "postcode": form.address_postcode.data or ""}
    if form.gender.data:
        changes["gender"] = None if form.gender.data == "none" else form.gender.data
    if form.preferred_name.data:
        changes["preferred_name"] = form.preferred_name.data
    return _file("change", changes)


@bp.get("/requests/<request_id>")
@page(PUBLIC)
def request_status(request_id: str) -> ResponseReturnValue:
    """The status page of one request (its link is the only key to it)."""
    view = state.application().renewals.status(request_id)
    return render_template("resident/request.html", req=view,
                           serial=serials.format_serial(view.serial))


@api_bp.post("/renewals")
@api(PUBLIC)
@limiter.limit(PER_CLIENT)
@limiter.limit(PER_SERIAL, key_func=serial_key)
def renewals_api() -> ResponseReturnValue:
    """``{"serial", "date_of_birth", "renewal_code"[, "kind", "changes"]}`` → 202."""
    body = json_body()
    view = state.application().renewals.request(
        serial=str(body.get("serial", "")), date_of_birth=str(body.get("date_of_birth", "")),
        renewal_code=str(body.get("renewal_code", "")), kind=str(body.get("kind", "renew")),
        changes=body.get("changes"), locale=accepted_locale())
    return {"id": view.id, "status": view.status}, 202


@api_bp.get("/renewals/<request_id>")
@api(PUBLIC)
def renewal_status(request_id: str) -> ResponseReturnValue:
    """A request's status, by its unguessable id."""
    return state.application().renewals.status(request_id).as_json()


def init_app(app: Flask) -> None:
    """Register the resident pages and the renewals API."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
