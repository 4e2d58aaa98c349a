"""Agents verify cards: the scanning page, its no-script fallback, the JSON API and the
trust data the page keeps for offline use.

Nothing about a scanned card is logged; only counts per status are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import cache, wraps
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from cardservice.application import VerificationResult
from cardservice.clock import utcnow
from cardservice.errors import N_, AuthenticationError, InvalidInputError, PermissionDeniedError
from cardservice.locales import text_direction
from cardservice.web import state
from cardservice.web.access import PUBLIC, api, api_user, current_user, page
from cardservice.web.api import json_body
from cardservice.web.extensions import csrf, limiter
from cardservice.web.i18n import select_locale
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


def run_verification(qr_text: str) -> VerificationResult:
    """Verify and count (by status only)."""
    return state.application().verifier.verify(qr_text, now=utcnow())


@api_bp.post("/verify")
@api(PUBLIC)
def verify_api() -> ResponseReturnValue:
    """``{"qr": "LC1:..."}`` → the verdict; 400 only for a body that is not JSON or has no qr."""
    _require_verifier_api()
    body = json_body()
    if not isinstance(body.get("qr"), str):
        raise InvalidInputError(N_("Send a JSON object with the card's text in 'qr'."), field="qr")
    return jsonify(run_verification(body["qr"][:MAX_QR_TEXT]).as_json())


@bp.get("/verify")
@page(PUBLIC)
@_require_verifier_page
def verify_page() -> ResponseReturnValue:
    """The scanning page."""
    return render_template("verify/index.html", result=None)


def _page_context() -> dict[str, Any]:
    """What verify.js needs besides its words: the pinned roots and the freshness limit."""
    return {
        "trust_pins": state.application().verifier.offline_pins(now=utcnow()),
        "max_age_hours": state.settings().verify.revocations_max_age_hours,
    }


@bp.context_processor
def _verify_context() -> dict[str, Any]:
    if request.endpoint in ("verify.verify_page", "verify.verify_form"):
        return _page_context()
    return {}


@bp.post("/verify")
@page(PUBLIC)
@_require_verifier_page
@limiter.limit(_rate_limit)
def verify_form() -> ResponseReturnValue:
    """The page without scripts: pasted text or an uploaded photo of the card."""
    text = (request.form.get("qr") or "").strip()
    error = None
    status = 400
    upload = request.files.get("image")
    if not text and upload is not None and upload.filename:
        # Decoded in a limited child process, a few at a time (busy: 503, page of its own).
        try:
            text = state.application().verifier.read_upload(upload.read())
        except InvalidInputError as exc:  # no code, unreadable, too large (413)
            error, status = exc.translated(_), exc.http_status
    if not text and error is None:
        error = _l("Scan a card, upload a photo of it, or paste its text.")
    result = run_verification(text[:MAX_QR_TEXT]) if error is None else None
    status = 200 if error is None else status
    return render_template("verify/index.html", result=result, error=error), status


@bp.get("/verify/trust-data.json")
@page(PUBLIC)
@_require_verifier_page
def trust_data() -> ResponseReturnValue:
    """Public keys and revoked serials of every recognised city, for offline checks.

    Only certificates that chain to a trusted root are included, so the page can trust
    what it caches; holds no personal data.
    """
    resp = jsonify(state.application().verifier.offline_trust_data(now=utcnow()))
    resp.headers["Cache-Control"] = "no-cache"
    return resp


# ---- the installable verifier: web app manifest and service worker -------------------------

#: What the service worker keeps for the page to load and check cards with no network
#: (static paths; the page itself, the city's look and its emblem are added by the view).
OFFLINE_STATIC = (
    "css/app.css",
    "favicon.svg",
    "js/verify.js",
    "js/card-offline.js",
    "js/trust-documents.js",
    "js/qr-reader.js",
    "js/verdict-view.js",
    "js/trust-store.js",
    "vendor/cborg/lib/0uint.js",
    "vendor/cborg/lib/1negint.js",
    "vendor/cborg/lib/2bytes.js",
    "vendor/cborg/lib/3string.js",
    "vendor/cborg/lib/4array.js",
    "vendor/cborg/lib/5map.js",
    "vendor/cborg/lib/6tag.js",
    "vendor/cborg/lib/7float.js",
    "vendor/cborg/lib/byte-utils.js",
    "vendor/cborg/lib/common.js",
    "vendor/cborg/lib/decode.js",
    "vendor/cborg/lib/jump.js",
    "vendor/cborg/lib/token.js",
    "vendor/zxing-wasm/es/reader/index.js",
    "vendor/zxing-wasm/es/share.js",
    "vendor/zxing-wasm/reader/zxing_reader.wasm",
)


@cache
def _static_digest(static_folder: str) -> str:
    """A hash of the offline files' contents: a new release gets a new cache."""
    h = hashlib.sha256()
    for name in OFFLINE_STATIC:
        h.update(name.encode() + b"\0" + (Path(static_folder) / name).read_bytes())
    return h.hexdigest()[:16]


@bp.get("/verify-sw.js")
@page(PUBLIC)
def service_worker() -> ResponseReturnValue:
    """The verify page's service worker (scope /verify): the page works with no network."""
    app = current_app
    assets = [url_for("verify.verify_page"), url_for("main.branding_css"),
              *(url_for("static", filename=name) for name in OFFLINE_STATIC)]
    optional = [url_for("main.emblem")] if state.application().branding.emblem else []
    # The city's look and the page's words are part of the version too: a new emblem or
    # a new release of the templates replaces the cached copies.
    version = hashlib.sha256(json.dumps([
        _static_digest(str(app.static_folder)), assets, optional,
        state.application().branding.colour,
        hashlib.sha256(state.application().branding.emblem or b"").hexdigest(),
        _template_digest(),
    ]).encode()).hexdigest()[:16]
    body = render_template("verify/sw.js", version=version, assets=assets, optional=optional,
                           page=url_for("verify.verify_page"))
    resp = Response(body, mimetype="text/javascript")
    # The browser checks for a new worker on each visit; never a stale copy from a cache.
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["Service-Worker-Allowed"] = url_for("verify.verify_page")
    return resp


@cache
def _template_digest() -> str:
    h = hashlib.sha256()
    for name in ("base.html", "verify/index.html", "verify/_verdict.html"):
        source, _filename, _uptodate = current_app.jinja_env.loader.get_source(  # type: ignore[union-attr]
            current_app.jinja_env, name)
        h.update(source.encode())
    return h.hexdigest()


@bp.get("/verify/manifest.webmanifest")
@page(PUBLIC)
def manifest() -> ResponseReturnValue:
    """The web app manifest: the verify page installs as an app of its own."""
    city = state.settings().city.name
    icons = [{"src": url_for("static", filename="favicon.svg"), "sizes": "any",
              "type": "image/svg+xml", "purpose": "any"}]
    branding = state.application().branding
    if branding.emblem and branding.emblem_type:
        icons.insert(0, {"src": url_for("main.emblem"), "sizes": "any",
                         "type": branding.emblem_type, "purpose": "any"})
    body = {
        "name": _("%(city)s · Check a card", city=city),
        "short_name": _("Check a card"),
        "description": _("Scan a card to see whether it is genuine and in force, "
                         "with or without a network."),
        "lang": select_locale(),
        "dir": text_direction(select_locale()),
        "start_url": url_for("verify.verify_page"),
        "scope": url_for("verify.verify_page"),
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": branding.colour,
        "icons": icons,
    }
    resp = Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")
    resp.headers["Cache-Control"] = "no-cache"
    return resp


def init_app(app: Flask) -> None:
    """Register both blueprints; the JSON verify is CSRF-exempt like the rest of the API."""
    from cardservice.web import verify_text

    verify_text.init_app(app)
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)
    csrf.exempt(verify_form)  # a public form with no session to protect; rate-limited
