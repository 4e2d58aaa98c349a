"""Residents renew and replace cards without an account; clerks approve exactly once."""

from __future__ import annotations

import base64
import re
import threading

import pytest
from sqlalchemy import text

from cardservice import create_app, serials
from cardservice.errors import ConflictError
from cardservice.services import renewals
from tests.conftest import Auth, copy_keys, csrf_token, make_settings
from tests.web.test_api_residents import ANA, jpeg_bytes


def build_app(tmp_path, db, keys_template, *, ratelimit=False, **cards):
    copy_keys(keys_template, tmp_path / "keys")
    settings = make_settings(tmp_path, database_url=db.url, cards=cards or {})
    return create_app(settings, overrides={"RATELIMIT_ENABLED": ratelimit})


@pytest.fixture
def city(tmp_path, db, keys_template, staff):
    """A city whose renewal window is open for a card issued today."""
    app = build_app(tmp_path, db, keys_template, renewal_days_before=4000)
    yield app
    app.extensions["cardservice"].db.dispose()


def issue(client, staff, **fields):
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    rid = client.post("/api/v1/residents", json={**ANA, **fields},
                      headers=clerk).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    return {**card, "resident_id": rid}


def ask(client, card, **extra):
    body = {"serial": card["serial"], "date_of_birth": ANA["date_of_birth"],
            "renewal_code": card["renewal_code"], **extra}
    return client.post("/api/v1/renewals", json=body)


def verify_status(client, qr):
    return client.post("/api/v1/verify", json={"qr": qr}).get_json()["status"]


def test_whole_life_issue_request_approve(city, staff):
    client = city.test_client()
    card = issue(client, staff)
    resp = ask(client, card)
    assert resp.status_code == 202
    req = resp.get_json()
    assert req["status"] == "pending"
    # the clerk approves in the queue
    auth = Auth(client)
    auth.login(staff["clerk"])
    queue = client.get("/clerk/requests/").get_data(as_text=True)
    assert req["id"] in queue
    token = csrf_token(client, f"/clerk/requests/{req['id']}")
    approved = client.post(f"/clerk/requests/{req['id']}/approve", data={"csrf_token": token})
    assert approved.status_code == 302
    status = client.get(f"/api/v1/renewals/{req['id']}").get_json()
    assert status["status"] == "approved"
    decided = client.get(f"/clerk/requests/{req['id']}").get_data(as_text=True)
    assert "New card" in decided and "Open the new card to print it" in decided
    # the old card verifies as revoked, the new one as valid
    assert verify_status(client, card["qr"]) == "revoked"
    ext = city.extensions["cardservice"]
    with ext.db.session() as s:
        view = renewals.get_request(s, req["id"])
        from cardservice.services import cards
        assert cards.get_card(s, view.new_serial).status == "active"
        face = cards.card_face(s, ext.keys, view.new_serial, settings=ext.settings)
    assert verify_status(client, face.qr_text) == "valid"


@pytest.mark.parametrize("wrong", ["serial", "date_of_birth", "renewal_code"])
def test_wrong_part_gets_the_same_answer_and_changes_nothing(city, staff, db, wrong):
    client = city.test_client()
    card = issue(client, staff)
    body = {"serial": card["serial"], "date_of_birth": ANA["date_of_birth"],
            "renewal_code": card["renewal_code"]}
    body[wrong] = {"serial": "0000000000" + "0", "date_of_birth": "1990-04-13",
                   "renewal_code": "ZZZZZZZZ"}[wrong]
    resp = client.post("/api/v1/renewals", json=body)
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "not_matched"
    assert "Check the card number, your date of birth and the renewal code" in \
        resp.get_json()["message"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM renewal_requests")).scalar() == 0
    assert verify_status(client, card["qr"]) == "valid"


def test_outside_window(tmp_path, db, keys_template, staff):
    app = build_app(tmp_path, db, keys_template)  # default: opens 60 days before expiry
    client = app.test_client()
    card = issue(client, staff)
    resp = ask(client, card)
    assert resp.status_code == 409 and resp.get_json()["error"] == "outside_window"
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM renewal_requests")).scalar() == 0
    app.extensions["cardservice"].db.dispose()


def test_lost_card_is_revoked_at_once(city, staff):
    client = city.test_client()
    card = issue(client, staff)
    resp = ask(client, card, kind="lost")
    assert resp.status_code == 202
    assert verify_status(client, card["qr"]) == "revoked"
    again = ask(client, card, kind="stolen")
    assert again.status_code == 409  # one pending request per card


def test_change_request_applies_on_approval(city, staff):
    client = city.test_client()
    card = issue(client, staff)
    resp = ask(client, card, kind="change", changes={"gender": "X", "preferred_name": "Kim"})
    assert resp.status_code == 202
    bad = ask(client, card, kind="change", changes={"nationality": "x"})
    assert bad.status_code == 400 and bad.get_json()["error"] == "not_collected"
    ext = city.extensions["cardservice"]
    issued = ext.renewals.approve(resp.get_json()["id"], actor="clerk1")
    body = client.post("/api/v1/verify", json={"qr": issued.qr}).get_json()
    assert body["status"] == "valid" and body["holder"]["gender"] == "X"


def test_repeated_guessing_is_limited_per_serial(tmp_path, db, keys_template, staff):
    app = build_app(tmp_path, db, keys_template, ratelimit=True, renewal_days_before=4000)
    client = app.test_client()
    card = issue(client, staff)
    codes = []
    for i in range(6):
        codes.append(client.post("/api/v1/renewals", json={
            "serial": card["serial"], "date_of_birth": "1990-04-12",
            "renewal_code": f"WRONG{i:03d}"},
            environ_overrides={"REMOTE_ADDR": f"10.0.0.{i + 1}"}).status_code)
    assert codes == [403] * 5 + [429]
    # even the right code is refused now: the serial is locked for a while
    assert ask(client, card).status_code == 429
    app.extensions["cardservice"].db.dispose()


def test_resident_pages(city, staff):
    client = city.test_client()
    card = issue(client, staff)
    token = csrf_token(client, "/card/")
    wrong = client.post("/card/", data={"serial": card["serial"], "date_of_birth": "1990-04-12",
                                        "renewal_code": "AAAAAAAA", "csrf_token": token})
    assert wrong.status_code == 403 and "could not find a card" in wrong.get_data(as_text=True)
    resp = client.post("/card/", data={"serial": card["serial"].lower(),
                                       "date_of_birth": "1990-04-12",
                                       "renewal_code": card["renewal_code"],
                                       "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/card/manage")
    manage = client.get("/card/manage")
    assert manage.status_code == 200 and "Ask for a new card" in manage.get_data(as_text=True)
    token = csrf_token(client, "/card/manage")
    done = client.post("/card/manage/renew", data={"csrf_token": token})
    assert done.status_code == 302 and "/card/requests/" in done.headers["Location"]
    page = client.get(done.headers["Location"])
    assert 'data-status="pending"' in page.get_data(as_text=True)


def test_two_concurrent_approvals_make_one_card(city, staff, db):
    client = city.test_client()
    card = issue(client, staff)
    request_id = ask(client, card).get_json()["id"]
    ext = city.extensions["cardservice"]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def approve(name):
        barrier.wait()
        try:
            ext.renewals.approve(request_id, actor=name)
            outcomes.append("approved")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=approve, args=(f"clerk{i}",)) for i in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["approved", "conflict"]
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cards")).scalar() == 2
        assert conn.execute(text(
            "SELECT count(*) FROM cards WHERE status = 'active'")).scalar() == 1


def test_queue_shows_who_asks_and_what_for(city, staff):
    client = city.test_client()
    with_photo = issue(client, staff, photo=base64.b64encode(jpeg_bytes()).decode())
    without = issue(client, staff, given_names="Bea", family_names="Okafor",
                    date_of_birth="1985-01-02")
    first = ask(client, with_photo, kind="change",
                changes={"preferred_name": "Aninhas", "gender": "X"}).get_json()["id"]
    second = ask(client, without, kind="lost", date_of_birth="1985-01-02").get_json()["id"]
    Auth(client).login(staff["clerk"])
    html = client.get("/clerk/requests/").get_data(as_text=True)
    assert "2 requests are waiting." in html
    # Oldest first, each with the holder's name linking to the record.
    assert html.index("Ana Maria Conceição da Silva") < html.index("Bea Okafor")
    assert f'href="/clerk/residents/{with_photo["resident_id"]}"' in html
    assert f'href="/clerk/residents/{without["resident_id"]}"' in html
    # A thumbnail from the existing photo route, with alt text; no photo, no broken image.
    assert re.search(rf'<img class="thumb" src="/clerk/residents/{with_photo["resident_id"]}'
                     r'/photo"\s+alt="Photo of Ana Maria Conceição da Silva"', html)
    assert f'/clerk/residents/{without["resident_id"]}/photo' not in html
    # The card concerned, the kind and the changes in words (not raw keys).
    assert serials.format_serial(with_photo["serial"]) in html
    assert "Replacement of a lost card" in html and "Revoked" in html
    assert "New preferred name: Aninhas" in html and "New gender marker: X" in html
    assert "preferred_name" not in html
    assert f"/clerk/requests/{first}" in html and f"/clerk/requests/{second}" in html
    detail = client.get(f"/clerk/requests/{first}").get_data(as_text=True)
    assert "Ana Maria Conceição da Silva" in detail and "New preferred name: Aninhas" in detail
    assert "Yes, reject with this reason" in detail


def test_approval_goes_to_the_new_card_and_flashes_no_code(city, staff, db):
    client = city.test_client()
    card = issue(client, staff)
    request_id = ask(client, card).get_json()["id"]
    Auth(client).login(staff["clerk"])
    token = csrf_token(client, f"/clerk/requests/{request_id}")
    approved = client.post(f"/clerk/requests/{request_id}/approve",
                           data={"csrf_token": token})
    with db.engine.connect() as conn:
        new = conn.execute(text("SELECT new_serial FROM renewal_requests WHERE id = :i"),
                           {"i": request_id}).scalar_one()
    assert approved.status_code == 302
    assert approved.headers["Location"] == f"/clerk/cards/{new}/issued"
    page = client.get(approved.headers["Location"]).get_data(as_text=True)
    code = re.search(r'class="serial big secret">([0-9A-Z]{4}-[0-9A-Z]{4})<', page)
    assert code, "the issued page shows the renewal code, this once"
    assert page.count(code.group(1)) == 1, "the code is not flashed as well"
    assert page.count(code.group(1).replace("-", "")) == 0
    # Shown once: the next visit has no code.
    again = client.get(approved.headers["Location"]).get_data(as_text=True)
    assert code.group(1) not in again


def test_reject_needs_a_reason(city, staff):
    client = city.test_client()
    card = issue(client, staff)
    request_id = ask(client, card).get_json()["id"]
    Auth(client).login(staff["clerk"])
    token = csrf_token(client, f"/clerk/requests/{request_id}")
    empty = client.post(f"/clerk/requests/{request_id}/reject",
                        data={"csrf_token": token, "reason": "  "})
    assert empty.status_code == 302
    assert client.get(f"/api/v1/renewals/{request_id}").get_json()["status"] == "pending"
    done = client.post(f"/clerk/requests/{request_id}/reject",
                       data={"csrf_token": token, "reason": "Please come to the desk."})
    assert done.status_code == 302 and done.headers["Location"] == "/clerk/requests/"
    assert client.get(f"/api/v1/renewals/{request_id}").get_json()["status"] == "rejected"
