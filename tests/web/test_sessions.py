"""Staff sessions live on the server: a saved cookie stops working when the session ends.

Finding 10 of issue 11: before, the cookie carried the user id and a slice of the
password hash, so a copy saved before signing out worked for the whole 8 hours.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from cardservice.application import UnitOfWork
from cardservice.clock import utcnow
from cardservice.services import users
from tests.conftest import Auth, csrf_token

ADMIN_PAGE = "/admin/users"


def saved_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str) -> FlaskClient:
    """A new browser holding a copy of someone's session cookie."""
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief


def _sign_out(client, app, staff, db):
    Auth(client).logout()


def _change_password(client, app, staff, db):
    token = csrf_token(client, "/password")
    resp = client.post("/password", data={"current_password": staff["admin"].password,
                                          "new_password": "a brand new passphrase",
                                          "confirm": "a brand new passphrase",
                                          "csrf_token": token})
    assert resp.status_code == 302
    # the browser that changed it stays signed in, on a new session
    assert client.get(ADMIN_PAGE).status_code == 200


def _reset_by_another_admin(client, app, staff, db):
    with UnitOfWork(db)() as s:
        users.create_user(s, username="admin2", role="admin", actor="test", now=utcnow(),
                          password="second admin password")
    app.extensions["cardservice"].staff.reset_password("admin1", actor="admin2")


def _disable_by_another_admin(client, app, staff, db):
    with UnitOfWork(db)() as s:
        users.create_user(s, username="admin2", role="admin", actor="test", now=utcnow(),
                          password="second admin password")
    app.extensions["cardservice"].staff.set_disabled("admin1", disabled=True, actor="admin2")


ENDINGS: dict[str, Callable[..., None]] = {
    "signed out": _sign_out,
    "password changed": _change_password,
    "password reset by an admin": _reset_by_another_admin,
    "account disabled": _disable_by_another_admin,
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_a_saved_cookie_gets_the_login_page_after_the_session_ended(app, client, staff, db,
                                                                   ending):
    Auth(client).login(staff["admin"])
    cookie = saved_cookie(client)
    assert replay(app, cookie).get(ADMIN_PAGE).status_code == 200  # the copy works…
    ENDINGS[ending](client, app, staff, db)
    resp = replay(app, cookie).get(ADMIN_PAGE)                      # …and then it does not
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_signing_out_ends_only_that_browser(app, staff):
    laptop, phone = app.test_client(), app.test_client()
    Auth(laptop).login(staff["clerk"])
    Auth(phone).login(staff["clerk"])
    Auth(laptop).logout()
    assert phone.get("/").status_code == 200
    assert "/login" in laptop.get("/clerk/residents/new").headers.get("Location", "")


def test_a_session_ends_after_session_hours(app, client, staff, db, monkeypatch):
    from datetime import timedelta

    from cardservice.application import staff as staff_module

    Auth(client).login(staff["admin"])
    later = utcnow() + timedelta(hours=8, minutes=1)
    monkeypatch.setattr(staff_module, "utcnow", lambda: later)  # the clock, moved on
    resp = client.get(ADMIN_PAGE)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
