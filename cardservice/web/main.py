"""Home page, language choice and the health check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue

from cardservice.web import state
from cardservice.web.access import PUBLIC, current_user, page
from cardservice.web.extensions import csrf
from cardservice.web.forms import LocaleForm

bp = Blueprint("main", __name__)

# (roles, endpoint, title, text) of the home page tiles; titles are lazy_gettext strings.
HOME_LINKS: list[tuple[tuple[str, ...], str, object, object]] = []


def add_home_link(roles: tuple[str, ...], endpoint: str, title: object, text: object) -> None:
    """Show a tile on the home page to these roles ("public" for everyone)."""
    HOME_LINKS.append((roles, endpoint, title, text))


def safe_next(target: str | None, default: str) -> str:
    """Only follow same-site relative redirects."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") \
                and not target.startswith("//"):
            return target
    return default


@bp.get("/")
@page(PUBLIC)
def index() -> ResponseReturnValue:
    """The landing page: what this is, and where each role goes."""
    user = current_user()
    role = user.role if user is not None else None
    links = [
        {"url": url_for(endpoint), "title": str(title), "text": str(text)}
        for roles, endpoint, title, text in HOME_LINKS
        if PUBLIC in roles or role in roles
    ]
    return render_template("main/index.html", city=state.settings().city, home_links=links)


@bp.post("/locale")
@page(PUBLIC)
def set_locale() -> ResponseReturnValue:
    """Remember the chosen language in the session (and the profile when signed in)."""
    form = LocaleForm()
    if form.validate_on_submit():
        session["locale"] = form.locale.data
        user = current_user()
        if user is not None and form.locale.data:
            state.application().staff.set_locale(user.id, form.locale.data)
    return redirect(safe_next(form.next.data or request.referrer and urlsplit(
        request.referrer).path, url_for("main.index")))


# The city's colours and emblem change only with the configuration (a restart): an hour of
# caching spares every page view a request, and a restart shows the new look within it.
_BRANDING_MAX_AGE = 3600


@bp.get("/branding.css")
@page(PUBLIC)
def branding_css() -> ResponseReturnValue:
    """The city's colour as CSS variables (the CSP forbids inline styles)."""
    b = state.application().branding
    css = f":root {{ --brand: {b.colour}; --brand-ink: {b.ink}; }}\n"
    resp = Response(css, mimetype="text/css")
    resp.cache_control.public = True
    resp.cache_control.max_age = _BRANDING_MAX_AGE
    return resp


@bp.get("/branding/emblem")
@page(PUBLIC)
def emblem() -> ResponseReturnValue:
    """The city's emblem as configured (checked PNG or JPEG), or 404 when there is none."""
    b = state.application().branding
    if b.emblem is None or b.emblem_type is None:
        abort(404)
    resp = Response(b.emblem, mimetype=b.emblem_type)
    resp.cache_control.public = True
    resp.cache_control.max_age = _BRANDING_MAX_AGE
    return resp


@bp.get("/healthz")
@page(PUBLIC)
@csrf.exempt
def healthz() -> ResponseReturnValue:
    """200 when the app and its database answer."""
    if not state.application().healthy():
        return jsonify(status="unavailable", database="down"), 503
    return jsonify(status="ok", database="up")
