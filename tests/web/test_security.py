"""CSRF, API tokens, lock-out, security headers, error answers and languages."""

from __future__ import annotations

import re

from cardservice.application import UnitOfWork
from cardservice.clock import utcnow
from cardservice.services import users
from tests.conftest import csrf_token


def test_form_post_without_csrf_token_is_refused(client, staff):
    resp = client.post("/login", data={"username": "admin1", "password": staff["admin"].password})
    assert resp.status_code == 400
    assert b"form expired" in resp.data
    # nobody was signed in
    assert client.get("/admin/users").status_code == 302


def test_form_post_with_a_wrong_csrf_token_is_refused(client, staff, auth):
    auth.login(staff["admin"])
    resp = client.post("/admin/users", data={"username": "intruder-eve", "role": "admin",
                                             "csrf_token": "forged"})
    assert resp.status_code == 400
    assert b"intruder-eve" not in client.get("/admin/users").data


def test_api_without_token_gets_401_json(client):
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401
    body = resp.get_json()
    assert body["error"] == "unauthorized" and body["message"]


def test_api_with_revoked_token_gets_401(client, staff, db):
    headers = {"Authorization": f"Bearer {staff['clerk'].token}"}
    assert client.get("/api/v1/me", headers=headers).get_json() == {
        "username": "clerk1", "role": "clerk"}
    with UnitOfWork(db)() as s:
        user = users.get_user(s, "clerk1")
        for token in user.tokens:
            users.revoke_token(s, token_id=token.id, actor="test", now=utcnow())
    resp = client.get("/api/v1/me", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"


def test_api_with_token_of_disabled_user_gets_401(client, staff, db):
    with UnitOfWork(db)() as s:
        users.set_disabled(s, username="agent1", disabled=True, actor="admin1", now=utcnow())
    resp = client.get("/api/v1/me", headers={"Authorization": f"Bearer {staff['agent'].token}"})
    assert resp.status_code == 401


def _login(client, username, password, address="192.0.2.50"):
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token},
                       environ_overrides={"REMOTE_ADDR": address})


def test_repeated_failed_logins_make_that_client_wait(client, staff):
    for _ in range(5):
        resp = _login(client, "clerk1", "wrong password!")
        assert resp.status_code == 401
        assert b"Wrong username or password" in resp.data
    resp = _login(client, "clerk1", staff["clerk"].password)
    assert resp.status_code == 401
    assert b"too many attempts from here" in resp.data
    # the account itself is not locked: another client signs in
    assert _login(client, "clerk1", staff["clerk"].password, "192.0.2.51").status_code == 302


_VARYING = re.compile(rb'value="[^"]*"')  # CSRF tokens and the name typed


def test_unknown_wrong_and_waiting_answer_alike(client, staff):
    """Finding 6: a locked account answered differently (and 30 times faster)."""
    for _ in range(5):
        _login(client, "clerk1", "wrong password!", "192.0.2.66")
    answers = {
        "unknown": _login(client, "no-such-user", "wrong password!"),
        "wrong": _login(client, "clerk1", "wrong password!"),
        "waiting": _login(client, "clerk1", staff["clerk"].password, "192.0.2.66"),
    }
    seen = {(r.status_code, _VARYING.sub(b"", r.data)) for r in answers.values()}
    assert len(seen) == 1, {k: (r.status_code, len(r.data)) for k, r in answers.items()}
    assert next(iter(seen))[0] == 401


def test_security_headers(client):
    resp = client.get("/login")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"


def test_no_inline_script_in_pages(client, staff, auth):
    auth.login(staff["admin"])
    for path in ("/", "/admin/users", "/admin/audit", "/admin/keys", "/admin/keys/rotate",
                 "/password"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and "style=" not in html, path


def test_session_cookie_flags(app, client, staff, auth):
    auth.login(staff["admin"])
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_secure_cookie_settings_in_production(tmp_path, db):
    from cardservice import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, database_url=db.url,
                                   server={"secure_cookies": True}))
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"].startswith("__Host-")
    app.extensions["cardservice"].db.dispose()


def test_not_found_is_a_page_or_json(client):
    page = client.get("/nowhere")
    assert page.status_code == 404 and b"does not exist" in page.data
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 404 and api.get_json()["error"] == "not_found"


def test_server_error_reveals_no_stack_trace(settings):
    from cardservice import create_app

    app = create_app(settings)

    @app.get("/boom-test")
    def boom():  # pragma: no cover - the body raises
        raise RuntimeError("secret internals /etc/passwd")

    @app.get("/api/v1/boom-test")
    def api_boom():  # pragma: no cover - the body raises
        raise RuntimeError("secret internals")

    client = app.test_client()
    resp = client.get("/boom-test")
    assert resp.status_code == 500
    assert b"Traceback" not in resp.data and b"secret internals" not in resp.data
    resp = client.get("/api/v1/boom-test")
    assert resp.status_code == 500
    body = resp.get_json()
    assert set(body) == {"error", "message"} and body["error"] == "server_error"
    assert "secret" not in body["message"]
    app.extensions["cardservice"].db.dispose()


def test_accept_language_picks_french(client):
    resp = client.get("/login", headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
    assert 'lang="fr"' in resp.get_data(as_text=True)
    assert "Connexion du personnel" in resp.get_data(as_text=True)


def test_chosen_language_wins_over_accept_language(client):
    token = csrf_token(client)
    resp = client.post("/locale", data={"locale": "en", "next": "/login", "csrf_token": token},
                       headers={"Accept-Language": "fr"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")
    html = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert 'lang="en"' in html and "Staff sign-in" in html


def test_open_redirect_refused(client, staff):
    token = csrf_token(client)
    resp = client.post("/login", data={"username": "clerk1", "password": staff["clerk"].password,
                                       "next": "https://evil.example/", "csrf_token": token})
    assert resp.status_code == 302
    assert "evil.example" not in resp.headers["Location"]
