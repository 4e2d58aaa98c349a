"""What partner cities fetch: the signed trust bundle and revocation list (SPEC §5, §6)."""

from __future__ import annotations

import json

from flask import Blueprint, Response, request
from flask.typing import ResponseReturnValue

from cardservice import trust
from cardservice.errors import N_, InvalidInputError
from cardservice.web import state
from cardservice.web.access import PUBLIC, api
from cardservice.web.extensions import csrf, limiter

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known/citycard")
COSE = "application/cose"


def _cose(data: bytes, max_age: int) -> Response:
    resp = Response(data, mimetype=COSE)
    resp.headers["Cache-Control"] = f"public, max-age={max_age}"
    return resp


@bp.get("/trust-bundle")
@api(PUBLIC)
def trust_bundle() -> ResponseReturnValue:
    """The signed trust bundle (COSE)."""
    return _cose(state.application().city.bundle().data, 300)


@bp.get("/trust-bundle.json")
@api(PUBLIC)
def trust_bundle_json() -> ResponseReturnValue:
    """The same bundle, readable (certificates in PEM)."""
    body = state.application().city.bundle_json()
    resp = Response(json.dumps(body, ensure_ascii=False, indent=2), mimetype="application/json")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.get("/revocations")
@api(PUBLIC)
def revocations() -> ResponseReturnValue:
    """The signed revocation list (COSE)."""
    return _cose(state.application().city.revocations().data, 60)


@bp.get("/alliances/<alliance_id>")
@api(PUBLIC)
def alliance_list(alliance_id: str) -> ResponseReturnValue:
    """The member list this city holds for an alliance (COSE_Sign, SPEC §5b)."""
    return _cose(state.application().alliances.held_document(alliance_id), 300)


@bp.get("/alliances/<alliance_id>/draft")
@api(PUBLIC)
def alliance_draft(alliance_id: str) -> ResponseReturnValue:
    """The draft of the next version circulating here, with the signatures gathered."""
    return _cose(state.application().alliances.circulated_draft(alliance_id), 0)


@bp.post("/recognition-requests")
@api(PUBLIC)
@limiter.limit("10 per hour")
def recognition_request() -> ResponseReturnValue:
    """Another city asks to be recognised by sending its signed bundle; an admin decides."""
    data = request.get_data(cache=False)
    if not data or len(data) > trust.MAX_BUNDLE_BYTES:
        raise InvalidInputError(N_("Send your signed trust bundle as application/cose."))
    city_id = state.application().partners.receive_request(data)
    return {"status": "received", "city_id": city_id,
            "message": "An administrator will check your fingerprint before accepting."}, 202


def init_app(app) -> None:  # noqa: ANN001
    """Register (no cookies here, so no CSRF)."""
    app.register_blueprint(bp)
    csrf.exempt(bp)
