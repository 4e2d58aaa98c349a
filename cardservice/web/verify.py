"""Agents verify cards: the scanning page, its no-script fallback, the JSON API and the
trust data the page keeps for offline use.

Nothing about a scanned card is logged; only counts per status are kept.
"""

from __future__ import annotations

import base64
import logging
import time
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import SQLAlchemyError

from cardservice import pki
from cardservice import qr as qr_mod
from cardservice.clock import utcnow
from cardservice.errors import N_, AuthenticationError, InvalidInputError, PermissionDeniedError
from cardservice.services import cards, verification
from cardservice.web import state
from cardservice.web.access import PUBLIC, api, api_user, current_user, page
from cardservice.web.extensions import csrf, limiter
from cardservice.web.main import add_home_link

log = logging.getLogger("cardservice.verify")
bp = Blueprint("verify", __name__)
api_bp = Blueprint("verify_api", __name__, url_prefix="/api/v1")
VERIFIERS = ("agent", "clerk", "admin")
MAX_QR_TEXT = 4096

add_home_link((PUBLIC,), "verify.verify_page", _l("Check a card"),
              _l("Scan or type a card's code to see whether it is genuine and in force."))


def _rate_limit() -> str:
    return state.settings().verify.rate_limit


# A blueprint-wide limit (the blueprint holds only /api/v1/verify) is checked once, in
# Flask-Limiter's before-request pass; a route decorator would be evaluated twice.
limiter.limit(_rate_limit)(api_bp)


def _require_verifier_page(view: Any) -> Any:
    """With ``verify.require_login``, only signed-in staff reach the page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if state.settings().verify.require_login:
            return page(*VERIFIERS)(view)(*args, **kwargs)
        return view(*args, **kwargs)

    return wrapper


def _require_verifier_api() -> None:
    if not state.settings().verify.require_login:
        return
    user = current_user() if request.authorization is None else api_user()
    if user is None:
        raise AuthenticationError(N_("Only signed-in agents may verify cards here."))
    if user.role not in VERIFIERS:
        raise PermissionDeniedError(N_("Only agents may verify cards here."))


def _trust() -> verification.CityTrust:
    ext = state.state()
    own = ext.extras.setdefault("own_certs", verification.OwnCertificates(ext.keys))
    settings = ext.settings
    from cardservice.services import partners as partner_service

    return verification.CityTrust(
        own_id=settings.city.id, own_name=settings.city.name, own=own,
        partners=partner_service.cached_partner_trust(state.session, ext.extras,
                                                      monotonic=time.monotonic()))


def _counter() -> verification.VerificationCounter:
    return state.state().extras.setdefault("verify_counter", verification.VerificationCounter())


def run_verification(qr_text: str) -> verification.VerificationResult:
    """Verify and count (by status only)."""
    now = utcnow()
    engine = state.state().db.engine

    def own_is_revoked(serial: str) -> bool:
        with engine.connect() as conn:  # no ORM session on the hot path
            return cards.is_revoked(conn, serial)

    result = verification.verify_qr(qr_text.strip(), trust=_trust(), now=now,
                                    own_is_revoked=own_is_revoked)
    counter = _counter()
    counter.add(result.status, now=now)
    mono = time.monotonic()
    if counter.due(monotonic=mono):
        try:
            counter.flush(state.session(), monotonic=mono)
        except SQLAlchemyError as exc:
            # Statistics must never cost an agent their answer; the counts are kept.
            log.warning("verification counts not saved yet: %s", type(exc).__name__)
    return result


@api_bp.post("/verify")
@api(PUBLIC)
def verify_api() -> ResponseReturnValue:
    """``{"qr": "LC1:..."}`` → the verdict; 400 only for a body that is not JSON or has no qr."""
    _require_verifier_api()
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("qr"), str):
        raise InvalidInputError(N_("Send a JSON object with the card's text in 'qr'."), field="qr")
    return jsonify(run_verification(body["qr"][:MAX_QR_TEXT]).as_json())


@bp.get("/verify")
@page(PUBLIC)
@_require_verifier_page
def verify_page() -> ResponseReturnValue:
    """The scanning page."""
    return render_template("verify/index.html", result=None)


@bp.post("/verify")
@page(PUBLIC)
@_require_verifier_page
@limiter.limit(_rate_limit)
def verify_form() -> ResponseReturnValue:
    """The page without scripts: pasted text or an uploaded photo of the card."""
    text = (request.form.get("qr") or "").strip()
    error = None
    upload = request.files.get("image")
    if not text and upload is not None and upload.filename:
        try:
            text = qr_mod.read_qr_from_file(upload.read())
        except qr_mod.QrNotFoundError:
            error = _l("No card code was found in this picture. Try a sharper, closer photo.")
        except qr_mod.UnreadableFileError:
            error = _l("This file is not a picture or a PDF we can read.")
    if not text and error is None:
        error = _l("Scan a card, upload a photo of it, or paste its text.")
    result = run_verification(text[:MAX_QR_TEXT]) if error is None else None
    status = 200 if error is None else 400
    return render_template("verify/index.html", result=result, error=error), status


@bp.get("/verify/trust-data.json")
@page(PUBLIC)
@_require_verifier_page
def trust_data() -> ResponseReturnValue:
    """Public keys and revoked serials of every recognised city, for offline checks.

    Only certificates that chain to a trusted root are included, so the page can trust
    what it caches; holds no personal data.
    """
    now = utcnow()
    trust = _trust()
    roots, signing = trust.own_certificates()
    own_revoked = [c.serial for c in cards.revoked_cards(state.session(), now=now)]
    issuers = [_issuer_json(trust.own_id, trust.own_name, True, False, roots, signing,
                            own_revoked, 0)]
    for p in trust.partners.values():
        age = p.state.trust_data_age_seconds(now) if p.state is not None else None
        issuers.append(_issuer_json(p.info.id, p.info.name, False, p.info.suspended, p.roots,
                                    p.signing_certificates, sorted(p.revoked), age))
    resp = jsonify(generated_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"), issuers=issuers)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def _issuer_json(cid: str, name: str, own: bool, suspended: bool, roots: Any, signing: Any,
                 revoked: list[str], age: int | None) -> dict[str, Any]:
    keys = []
    for cert in signing:
        if not pki.chains_to(cert, roots):
            continue
        raw = cert.public_key().public_bytes_raw()
        keys.append({
            "kid": pki.key_id(cert).hex(),
            "public_key": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        })
    return {"id": cid, "name": name, "own": own, "suspended": suspended,
            "fingerprint": pki.fingerprint(roots[0]), "keys": keys, "revoked": revoked,
            "trust_data_age_seconds": age}


def init_app(app: Flask) -> None:
    """Register both blueprints; the JSON verify is CSRF-exempt like the rest of the API."""
    from cardservice.web import verify_text

    verify_text.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    csrf.exempt(verify_form)  # a public form with no session to protect; rate-limited
