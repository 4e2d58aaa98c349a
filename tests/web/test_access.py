"""Every route × every role (and anonymous): allowed, 403, 401 or a redirect to the login page.

The table below must name every route of the app: a new route without a row fails
``test_every_route_is_in_the_table``, so nobody adds a page without deciding who sees it.
"""

from __future__ import annotations

import pytest

from tests.conftest import Auth

# Expected outcome per route: for "page" routes anonymous users are redirected to /login,
# for "api" routes they get 401. ROLES lists who is allowed; everyone else gets 403.
ALL = ("anonymous", "admin", "clerk", "agent")
STAFF = ("admin", "clerk", "agent")

ROUTES: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("GET", "/"): ("page", ALL),
    ("GET", "/healthz"): ("page", ALL),
    # For a scraper holding the metrics token, not for staff: 404 here ([metrics] is off by
    # default); tests/web/test_metrics.py checks 401 and 200 with the feature on.
    ("GET", "/metrics"): ("api", ALL),
    ("GET", "/branding.css"): ("page", ALL),
    ("GET", "/branding/emblem"): ("page", ALL),
    ("POST", "/locale"): ("page", ALL),
    ("GET", "/login"): ("page", ALL),
    ("POST", "/login"): ("page", ALL),
    ("POST", "/logout"): ("page", ALL),
    ("GET", "/password"): ("page", STAFF),
    ("POST", "/password"): ("page", STAFF),
    ("GET", "/admin/users"): ("page", ("admin",)),
    ("POST", "/admin/users"): ("page", ("admin",)),
    ("POST", "/admin/users/<username>/disable"): ("page", ("admin",)),
    ("POST", "/admin/users/<username>/enable"): ("page", ("admin",)),
    ("POST", "/admin/users/<username>/reset"): ("page", ("admin",)),
    ("POST", "/admin/users/<username>/token"): ("page", ("admin",)),
    ("GET", "/admin/audit"): ("page", ("admin",)),
    ("GET", "/admin/keys"): ("page", ("admin",)),
    ("GET", "/admin/keys/rotate"): ("page", ("admin",)),
    ("POST", "/admin/keys/rotate"): ("page", ("admin",)),
    ("GET", "/admin/keys/rotate-root"): ("page", ("admin",)),
    ("POST", "/admin/keys/rotate-root"): ("page", ("admin",)),
    ("GET", "/clerk/"): ("page", ("clerk",)),
    ("POST", "/clerk/"): ("page", ("clerk",)),
    ("GET", "/clerk/residents/new"): ("page", ("clerk",)),
    ("POST", "/clerk/residents/new"): ("page", ("clerk",)),
    ("GET", "/clerk/residents/<resident_id>"): ("page", ("clerk",)),
    ("GET", "/clerk/residents/<resident_id>/photo"): ("page", ("clerk",)),
    ("GET", "/clerk/residents/<resident_id>/edit"): ("page", ("clerk",)),
    ("POST", "/clerk/residents/<resident_id>/edit"): ("page", ("clerk",)),
    ("POST", "/clerk/residents/<resident_id>/cards"): ("page", ("clerk",)),
    ("GET", "/clerk/cards/<serial>/issued"): ("page", ("clerk",)),
    ("GET", "/clerk/cards/<serial>.pdf"): ("page", ("clerk",)),
    ("GET", "/clerk/cards/<serial>/slip.pdf"): ("page", ("clerk",)),
    ("POST", "/clerk/cards/<serial>/new-slip"): ("page", ("clerk",)),
    ("GET", "/clerk/cards/<serial>/preview"): ("page", ("clerk",)),
    ("GET", "/clerk/cards/<serial>/preview.png"): ("page", ("clerk",)),
    ("POST", "/clerk/cards/<serial>/printed"): ("page", ("clerk",)),
    ("POST", "/clerk/cards/<serial>/revoke"): ("page", ("clerk",)),
    ("GET", "/clerk/print"): ("page", ("clerk",)),
    ("POST", "/clerk/print"): ("page", ("clerk",)),
    ("GET", "/api/v1/openapi.json"): ("api", ALL),
    ("GET", "/api/v1/me"): ("api", STAFF),
    ("POST", "/api/v1/residents"): ("api", ("clerk",)),
    ("GET", "/api/v1/residents/<resident_id>"): ("api", ("clerk",)),
    ("PATCH", "/api/v1/residents/<resident_id>"): ("api", ("clerk",)),
    ("POST", "/api/v1/residents/<resident_id>/cards"): ("api", ("clerk",)),
    ("GET", "/api/v1/cards/<serial>"): ("api", ("clerk",)),
    ("GET", "/api/v1/cards/<serial>/pdf"): ("api", ("clerk",)),
    ("POST", "/api/v1/cards/<serial>/printed"): ("api", ("clerk",)),
    ("POST", "/api/v1/cards/<serial>/revoke"): ("api", ("clerk",)),
    ("POST", "/api/v1/verify"): ("api", ALL),
    ("GET", "/verify"): ("page", ALL),
    ("POST", "/verify"): ("page", ALL),
    ("GET", "/verify/trust-data.json"): ("page", ALL),
    ("GET", "/verify-sw.js"): ("page", ALL),
    ("GET", "/verify/manifest.webmanifest"): ("page", ALL),
    ("GET", "/card/"): ("page", ALL),
    ("POST", "/card/"): ("page", ALL),
    ("GET", "/card/manage"): ("page", ALL),
    ("POST", "/card/manage/renew"): ("page", ALL),
    ("POST", "/card/manage/report"): ("page", ALL),
    ("POST", "/card/manage/change"): ("page", ALL),
    ("GET", "/card/requests/<request_id>"): ("page", ALL),
    ("POST", "/api/v1/renewals"): ("api", ALL),
    ("GET", "/api/v1/renewals/<request_id>"): ("api", ALL),
    ("GET", "/clerk/requests/"): ("page", ("clerk",)),
    ("GET", "/clerk/requests/<request_id>"): ("page", ("clerk",)),
    ("POST", "/clerk/requests/<request_id>/approve"): ("page", ("clerk",)),
    ("POST", "/clerk/requests/<request_id>/reject"): ("page", ("clerk",)),
    ("GET", "/.well-known/citycard/trust-bundle"): ("api", ALL),
    ("GET", "/.well-known/citycard/trust-bundle.json"): ("api", ALL),
    ("GET", "/.well-known/citycard/revocations"): ("api", ALL),
    ("POST", "/.well-known/citycard/recognition-requests"): ("api", ALL),
    ("GET", "/.well-known/citycard/alliances/<alliance_id>"): ("api", ALL),
    ("GET", "/.well-known/citycard/alliances/<alliance_id>/draft"): ("api", ALL),
    ("GET", "/admin/partners/"): ("page", ("admin",)),
    ("POST", "/admin/partners/add"): ("page", ("admin",)),
    ("POST", "/admin/partners/import"): ("page", ("admin",)),
    ("POST", "/admin/partners/<partner_id>/sync"): ("page", ("admin",)),
    ("POST", "/admin/partners/<partner_id>/suspend"): ("page", ("admin",)),
    ("POST", "/admin/partners/<partner_id>/resume"): ("page", ("admin",)),
    ("POST", "/admin/partners/<partner_id>/remove"): ("page", ("admin",)),
    ("POST", "/admin/partners/send-request"): ("page", ("admin",)),
    ("POST", "/admin/partners/requests/<int:request_id>/<decision>"): ("page", ("admin",)),
    ("GET", "/admin/alliances/"): ("page", ("admin",)),
    ("POST", "/admin/alliances/create"): ("page", ("admin",)),
    ("POST", "/admin/alliances/propose"): ("page", ("admin",)),
    ("POST", "/admin/alliances/drafts/<int:draft_id>/cosign"): ("page", ("admin",)),
    ("POST", "/admin/alliances/drafts/<int:draft_id>/publish"): ("page", ("admin",)),
    ("GET", "/admin/alliances/drafts/<int:draft_id>.cose"): ("page", ("admin",)),
    ("POST", "/admin/alliances/drafts/import"): ("page", ("admin",)),
    ("POST", "/admin/alliances/drafts/fetch"): ("page", ("admin",)),
    ("POST", "/admin/alliances/join"): ("page", ("admin",)),
    ("POST", "/admin/alliances/<alliance_id>/sync"): ("page", ("admin",)),
    ("POST", "/admin/alliances/<alliance_id>/members/<city_id>/suspend"): ("page", ("admin",)),
    ("POST", "/admin/alliances/<alliance_id>/members/<city_id>/resume"): ("page", ("admin",)),
    ("POST", "/api/v1/partners"): ("api", ("admin",)),
    ("GET", "/api/v1/partners"): ("api", ("admin",)),
    ("POST", "/api/v1/partners/<partner_id>/sync"): ("api", ("admin",)),
}

SAMPLE_ARGS = {"username": "nobody-here", "serial": "X", "id": "1", "request_id": "1",
               "resident_id": "0" * 24, "partner_id": "FRLYS", "int:request_id": "1",
               "decision": "reject", "alliance_id": "migration", "int:draft_id": "1",
               "city_id": "FRLYS"}


def app_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, rule


def test_every_route_is_in_the_table(app):
    found = {(m, r.rule) for m, r in app_routes(app)}
    assert found - set(ROUTES) == set(), "routes without a row in the access table"
    assert set(ROUTES) - found == set(), "rows for routes that no longer exist"


def test_every_view_declares_its_audience(app):
    for _method, rule in app_routes(app):
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, "access"), f"{rule.rule} has no @page/@api declaration"


@pytest.mark.parametrize("who", ALL)
def test_route_role_table(app, staff, who):
    headers = {}
    session_cookie = None

    def signed_in_cookie() -> str:
        first = app.test_client()
        Auth(first).login(staff[who])
        return first.get_cookie("session").value

    if who != "anonymous":
        headers["Authorization"] = f"Bearer {staff[who].token}"
        # Sign in once through the real form; each route then gets a fresh browser holding
        # that session. Logout ends its session on the server, so it gets one of its own.
        session_cookie = signed_in_cookie()
    failures = []
    for (method, rule), (kind, allowed) in ROUTES.items():
        client = app.test_client()
        if session_cookie is not None:
            client.set_cookie("session", signed_in_cookie() if rule == "/logout"
                              else session_cookie)
        # Posts go without CSRF tokens here: access is decided before the form is read.
        app.config["WTF_CSRF_ENABLED"] = False
        path = rule
        for name, value in SAMPLE_ARGS.items():
            path = path.replace(f"<{name}>", value)
        resp = client.open(path, method=method, headers=headers if kind == "api" else {})
        status = resp.status_code
        if who in allowed:
            ok = status not in (401, 403) and not (
                status == 302 and "/login" in resp.headers.get("Location", "")
                and rule not in ("/logout", "/login"))
        elif who == "anonymous":
            ok = (status == 302 and "/login" in resp.headers["Location"]) if kind == "page" \
                else status == 401
        else:
            ok = status == 403
        if not ok:
            failures.append(f"{method} {rule} as {who}: {status}")
        app.config["WTF_CSRF_ENABLED"] = True
    assert failures == []
