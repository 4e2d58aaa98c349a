"""Administrators: alliances (SPEC §5b) — lists held, members, drafts, co-signing."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Flask, Response, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from cardservice import trust
from cardservice.clock import utcnow
from cardservice.errors import DomainError
from cardservice.web import state
from cardservice.web.access import actor, page
from cardservice.web.audit_text import ACTIONS
from cardservice.web.main import add_home_link

bp = Blueprint("alliances", __name__, url_prefix="/admin/alliances")

add_home_link(("admin",), "alliances.index", _l("Alliances"),
              _l("Recognise every member of an alliance: drafts, co-signing, members, syncs."))


class ConfirmForm(FlaskForm):
    """CSRF only."""


class PublishForm(FlaskForm):
    """Publish a draft; version 1 needs signing members' fingerprints read by phone."""

    confirm = TextAreaField(_l("Fingerprints confirmed with signing members' officials "
                               "(one a line; for a new alliance only)"),
                            validators=[Length(max=5000)])


class JoinForm(FlaskForm):
    """Join an alliance from a member's address."""

    alliance_id = StringField(_l("Alliance id"), validators=[DataRequired(), Length(max=64)])
    url = StringField(_l("A member's base URL"), validators=[DataRequired(), Length(max=2000)])
    confirm = TextAreaField(_l("Fingerprints confirmed with signing members' officials "
                               "(one a line; as many as the threshold)"),
                            validators=[DataRequired(), Length(max=5000)])


class FetchForm(FlaskForm):
    """Fetch the draft a member circulates."""

    alliance_id = StringField(_l("Alliance id"), validators=[DataRequired(), Length(max=64)])
    url = StringField(_l("The member's base URL"), validators=[DataRequired(), Length(max=2000)])


class ImportForm(FlaskForm):
    """A draft received as a file."""

    document = FileField(_l("Draft or member list file (.cose)"))


class CreateForm(FlaskForm):
    """Draft a new alliance with this city as a member."""

    alliance_id = StringField(_l("Alliance id"), validators=[DataRequired(), Length(max=64)],
                              render_kw={"placeholder": "migration-alliance"})
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])
    threshold = IntegerField(_l("Signatures needed to change the list (at least 2)"),
                             validators=[DataRequired(), NumberRange(min=2, max=500)])
    members = TextAreaField(_l("Other members: one a line, base URL then the fingerprint "
                               "their officials gave"),
                            validators=[DataRequired(), Length(max=20000)])


class ProposeForm(FlaskForm):
    """Draft the next version of a list held."""

    alliance_id = StringField(_l("Alliance id"), validators=[DataRequired(), Length(max=64)])
    add = TextAreaField(_l("Cities to add: one a line, base URL then fingerprint"),
                        validators=[Length(max=20000)])
    remove = StringField(_l("Members to remove (city ids, separated by spaces)"),
                         validators=[Length(max=2000)])
    threshold = IntegerField(_l("New threshold (empty: unchanged)"),
                             validators=[Optional(), NumberRange(min=2, max=500)])


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _url_fingerprint_lines(text: str | None) -> list[tuple[str, str]]:
    """``URL FINGERPRINT`` lines (the fingerprint may hold spaces) as pairs."""
    pairs = []
    for line in _lines(text):
        url, _sep, fingerprint = line.partition(" ")
        pairs.append((url, fingerprint.strip()))
    return pairs


@bp.get("/")
@page("admin")
def index() -> ResponseReturnValue:
    """Alliances held, their members and syncs; pending drafts with their exact changes."""
    app = state.application()
    return render_template(
        "alliances/index.html", alliances=app.alliances.all(), drafts=app.alliances.drafts(),
        own_city=app.settings.city.id, own_fingerprint=app.city.fingerprint(),
        history=app.alliances.history(), actions=ACTIONS,
        confirm=ConfirmForm(), publish=PublishForm(), join=JoinForm(), fetch=FetchForm(),
        create=CreateForm(), propose=ProposeForm(),
        imp=ImportForm(), now=utcnow())


def _back() -> ResponseReturnValue:
    return redirect(url_for("alliances.index"))


def _run(fn: Callable[[], object], success: str) -> ResponseReturnValue:
    try:
        fn()
    except DomainError as exc:
        flash(exc.translated(_), "error")
    else:
        flash(success, "success")
    return _back()


@bp.post("/create")
@page("admin")
def create() -> ResponseReturnValue:
    """Draft version 1 of a new alliance, signed by this city."""
    form = CreateForm()
    if not form.validate_on_submit():
        flash(_("Give the alliance's id, name, threshold and other members."), "error")
        return _back()
    return _run(lambda: state.application().alliances.create(
        alliance_id=form.alliance_id.data or "", name=form.name.data or "",
        threshold=form.threshold.data or 0, members=_url_fingerprint_lines(form.members.data),
        actor=actor()),
        _("Drafted and signed. Other members fetch it from our well-known address to "
          "co-sign it."))


@bp.post("/propose")
@page("admin")
def propose() -> ResponseReturnValue:
    """Draft the next version of a list held, signed by this city."""
    form = ProposeForm()
    if not form.validate_on_submit():
        flash(_("Give the alliance's id and what the new version changes."), "error")
        return _back()
    return _run(lambda: state.application().alliances.propose(
        form.alliance_id.data or "", add=_url_fingerprint_lines(form.add.data),
        remove=(form.remove.data or "").split(), threshold=form.threshold.data,
        actor=actor()),
        _("Drafted and signed. Other members fetch it from our well-known address to "
          "co-sign it."))


@bp.post("/drafts/<int:draft_id>/cosign")
@page("admin")
def cosign(draft_id: int) -> ResponseReturnValue:
    """Sign a draft with this city's root, after the admin confirmed its changes."""
    if not ConfirmForm().validate_on_submit():
        return _back()
    return _run(lambda: state.application().alliances.cosign(draft_id, actor=actor()),
                _("Signed. Other members can fetch the draft from our well-known address."))


@bp.post("/drafts/<int:draft_id>/publish")
@page("admin")
def publish(draft_id: int) -> ResponseReturnValue:
    """Hold a draft that gathered its signatures (refused, and nothing changes, otherwise)."""
    form = PublishForm()
    if not form.validate_on_submit():
        return _back()
    return _run(lambda: state.application().alliances.publish(
        draft_id, confirm=_lines(form.confirm.data), actor=actor()),
        _("Published: this version is now held and served to the other members."))


@bp.get("/drafts/<int:draft_id>.cose")
@page("admin")
def download(draft_id: int) -> ResponseReturnValue:
    """A draft as a file, with every signature gathered here (for an offline exchange)."""
    data = state.application().alliances.draft_document(draft_id)
    return Response(data, mimetype="application/cose", headers={
        "Content-Disposition": f'attachment; filename="alliance-draft-{draft_id}.cose"'})


@bp.post("/drafts/import")
@page("admin")
def import_draft() -> ResponseReturnValue:
    """Keep a draft received as a file."""
    form = ImportForm()
    if not form.validate_on_submit() or not form.document.data:
        flash(_("Choose the draft's file."), "error")
        return _back()
    data = form.document.data.read(trust.MAX_ALLIANCE_BYTES + 1)
    return _run(lambda: state.application().alliances.import_document(data, actor=actor()),
                _("The draft is kept below with the signatures it carries."))


@bp.post("/drafts/fetch")
@page("admin")
def fetch_draft() -> ResponseReturnValue:
    """Fetch the draft a member circulates at its well-known address."""
    form = FetchForm()
    if not form.validate_on_submit():
        flash(_("Give the alliance id and the member's address."), "error")
        return _back()
    return _run(lambda: state.application().alliances.fetch_draft(
        form.url.data or "", form.alliance_id.data or "", actor=actor()),
        _("The draft is kept below with the signatures it carries."))


@bp.post("/join")
@page("admin")
def join() -> ResponseReturnValue:
    """Hold an alliance's list for the first time, with confirmed fingerprints."""
    form = JoinForm()
    if not form.validate_on_submit():
        flash(_("Give the alliance id, a member's address and the fingerprints you "
                "confirmed."), "error")
        return _back()
    return _run(lambda: state.application().alliances.join(
        form.alliance_id.data or "", url=form.url.data or "", confirm=_lines(form.confirm.data),
        actor=actor()), _("Joined: the members' cards now verify here."))


@bp.post("/<alliance_id>/sync")
@page("admin")
def sync(alliance_id: str) -> ResponseReturnValue:
    """Fetch members' lists and trust documents now."""
    if not ConfirmForm().validate_on_submit():
        return _back()
    try:
        results = state.application().alliances.sync(alliance_id, actor=actor())
    except DomainError as exc:
        flash(exc.translated(_), "error")
        return _back()
    failed = [r for r in results if not r.ok]
    for r in failed:
        flash(f"{r.city_id}: {r.message}", "error")
    if not failed:
        flash(_("Synchronised."), "success")
    return _back()


def _member(alliance_id: str, city_id: str, *, suspended: bool) -> ResponseReturnValue:
    if not ConfirmForm().validate_on_submit():
        return _back()
    return _run(lambda: state.application().alliances.set_member_suspended(
        alliance_id, city_id, suspended=suspended, actor=actor()),
        _("Suspended here: this member's cards read 'partner suspended'.") if suspended
        else _("Recognised again."))


@bp.post("/<alliance_id>/members/<city_id>/suspend")
@page("admin")
def suspend(alliance_id: str, city_id: str) -> ResponseReturnValue:
    """Suspend one member locally."""
    return _member(alliance_id, city_id, suspended=True)


@bp.post("/<alliance_id>/members/<city_id>/resume")
@page("admin")
def resume(alliance_id: str, city_id: str) -> ResponseReturnValue:
    """Recognise a suspended member again."""
    return _member(alliance_id, city_id, suspended=False)


def init_app(app: Flask) -> None:
    """Register the pages."""
    app.register_blueprint(bp)
