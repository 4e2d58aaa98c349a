"""The JSON API, ``/api/v1``: bearer tokens, JSON errors, described by OpenAPI.

Each view parses input, calls one service and returns JSON; domain errors become
``{"error", "message"}`` answers in ``web.errors``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from cardservice import safejson
from cardservice.application import LikelyDuplicateError, ResidentView, iso
from cardservice.errors import N_, InvalidInputError
from cardservice.privacy import refuse_not_collected
from cardservice.web import state
from cardservice.web.access import PUBLIC, actor, api
from cardservice.web.openapi import openapi_document

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def json_body(*, max_bytes: int = safejson.MAX_BYTES) -> dict[str, Any]:
    """The request's JSON object, or a 4xx that says what is wrong.

    Every JSON endpoint reads its body here: one parser with a size, depth and number
    budget (``safejson``), then the never-collected check (SPEC §2) over the whole body.
    """
    if not request.is_json:
        raise InvalidInputError(_NOT_AN_OBJECT)
    if request.content_length is not None and request.content_length > max_bytes:
        raise safejson.JsonTooLargeError(N_("The JSON body is larger than %(max)d bytes."),
                                         params={"max": max_bytes})
    body = safejson.loads(request.get_data(cache=True), max_bytes=max_bytes)
    if not isinstance(body, dict):
        raise InvalidInputError(_NOT_AN_OBJECT)
    refuse_not_collected(body)
    return body


_NOT_AN_OBJECT = N_("The body must be a JSON object (Content-Type: application/json).")


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, decoding through ``safejson`` so that no ``get_json`` anywhere (a form
    library's, a rate-limit key's) can be crashed by a deep or hostile body."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Decode within the request size limit and the depth budget."""
        limit = self._app.config.get("MAX_CONTENT_LENGTH") or safejson.MAX_BYTES
        return safejson.loads(s, max_bytes=limit)


def refuse_not_collected_in_forms() -> None:
    """SPEC §2 for every form post too: a never-collected field name is refused, not ignored."""
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        refuse_not_collected(dict.fromkeys([*request.form.keys(), *request.files.keys()]))


def init_bodies(app: Flask) -> None:
    """Every request body through one door: ``SafeJSONProvider`` for JSON, the
    never-collected check for forms."""
    app.json = SafeJSONProvider(app)
    app.before_request(refuse_not_collected_in_forms)


def _resident_body_limit() -> int:
    """A resident's record may carry a photo: base64 of the largest accepted, plus the rest."""
    return state.settings().registration.photo_max_bytes * 4 // 3 + safejson.MAX_BYTES


def _photo(body: dict[str, Any]) -> bytes | None:
    raw = body.get("photo")
    if raw in (None, ""):
        return None
    if not isinstance(raw, str):
        raise InvalidInputError(N_("'photo' is a base64-encoded JPEG, PNG or WebP image."),
                                field="photo")
    try:
        return base64.b64decode(raw.split(",", 1)[-1], validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInputError(N_("'photo' is not valid base64."), field="photo") from None


def _resident_json(view: ResidentView) -> dict[str, Any]:
    return {
        "id": view.id, **view.data.public_dict(), "has_photo": view.has_photo,
        "cards": [{"serial": c.serial, "issued_at": iso(c.issued_at),
                   "expires_at": iso(c.expires_at), "status": c.status,
                   "revocation_reason": c.revocation_reason} for c in view.cards],
    }


@bp.get("/openapi.json")
@api(PUBLIC)
def openapi() -> ResponseReturnValue:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(state.settings().registration))


@bp.get("/me")
@api("admin", "clerk", "agent")
def me() -> ResponseReturnValue:
    """Who this token belongs to."""
    return jsonify(username=g.user.username, role=g.user.role)


@bp.post("/residents")
@api("clerk")
def register_resident() -> ResponseReturnValue:
    """Register a resident: 201 {"id"}; 409 on a likely duplicate unless confirmed."""
    body = json_body(max_bytes=_resident_body_limit())
    confirm = body.get("confirm_new", False)
    if not isinstance(confirm, bool):
        raise InvalidInputError(N_("'confirm_new' must be true or false."), field="confirm_new")
    try:
        rid = state.application().residents.register(body, photo=_photo(body),
                                                     confirm_new=confirm, actor=actor())
    except LikelyDuplicateError as exc:
        resp = jsonify(error=exc.code, message=exc.translated(_), matches=exc.matches)
        resp.status_code = 409
        return resp
    return jsonify(id=rid), 201


@bp.get("/residents/<resident_id>")
@api("clerk")
def get_resident(resident_id: str) -> ResponseReturnValue:
    """A resident's record and cards."""
    return jsonify(_resident_json(state.application().residents.get(resident_id)))


@bp.patch("/residents/<resident_id>")
@api("clerk")
def patch_resident(resident_id: str) -> ResponseReturnValue:
    """Correct a resident's record; only the fields sent change."""
    body = json_body(max_bytes=_resident_body_limit())
    view = state.application().residents.correct(
        resident_id, {k: v for k, v in body.items() if k != "photo"}, photo=_photo(body),
        actor=actor())
    return jsonify(_resident_json(view))


@bp.post("/residents/<resident_id>/cards")
@api("clerk")
def issue_card(resident_id: str) -> ResponseReturnValue:
    """Issue a card; supersedes the resident's earlier cards."""
    issued = state.application().cards.issue(resident_id, actor=actor())
    return jsonify(serial=issued.serial, qr=issued.qr, issued_at=iso(issued.issued_at),
                   expires_at=iso(issued.expires_at),
                   renewal_code=issued.renewal_code), 201


@bp.get("/cards/<serial>")
@api("clerk")
def get_card(serial: str) -> ResponseReturnValue:
    """A card's status."""
    return jsonify(state.application().cards.get(serial).as_json())


@bp.get("/cards/<serial>/pdf")
@api("clerk")
def card_pdf(serial: str) -> ResponseReturnValue:
    """The printable card; reading it changes nothing (``POST …/printed`` records a print)."""
    pdf = state.application().cards.pdf(serial)
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="card-{serial}.pdf"'})


@bp.post("/cards/<serial>/printed")
@api("clerk")
def card_printed(serial: str) -> ResponseReturnValue:
    """Record that the card was printed and came out right."""
    return jsonify(state.application().cards.mark_printed(serial, actor=actor()).as_json())


@bp.post("/cards/<serial>/revoke")
@api("clerk")
def revoke_card(serial: str) -> ResponseReturnValue:
    """Revoke a card: lost, stolen, damaged or withdrawn."""
    body = json_body()
    info = state.application().cards.revoke(serial, reason=str(body.get("reason", "")),
                                            actor=actor())
    return jsonify(info.as_json())
