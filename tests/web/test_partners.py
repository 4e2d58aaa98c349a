"""Partner cities through the admin pages and the well-known endpoints (in one process).

The real HTTP exchange between running cities is tests/e2e/test_partner_cities.py.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from cardservice import pki, trust
from tests.conftest import Auth, csrf_token
from tests.htmlcheck import assert_ids_unique


def other_city_bundle(city_id="FRLYS", name="Lyon"):
    now = datetime.now(UTC).replace(microsecond=0)
    root_key, root = pki.generate_root(city_id=city_id, city_name=name, now=now)
    _k, signing = pki.issue_signing_certificate(root_key=root_key, root_cert=root, now=now,
                                                not_after=now + timedelta(days=2000))
    bundle = trust.make_bundle(
        city_id=city_id, city_name=name, base_url="https://cards.lyon.example", version=1,
        now=now, valid_for=timedelta(days=30), root=root, signing_certificates=[signing],
        revocations_url="https://cards.lyon.example/.well-known/citycard/revocations")
    return trust.sign_bundle(bundle, root_keys=[root_key]), pki.fingerprint(root)


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    Auth(client).login(staff["admin"])
    return client


def partners_of(client, staff):
    return client.get("/api/v1/partners",
                      headers={"Authorization": f"Bearer {staff['admin'].token}"}).get_json()[
        "partners"]


def test_published_documents(client):
    bundle = client.get("/.well-known/citycard/trust-bundle")
    assert bundle.status_code == 200 and bundle.mimetype == "application/cose"
    readable = client.get("/.well-known/citycard/trust-bundle.json").get_json()
    assert readable["city_id"] == "PTLIS" and "BEGIN CERTIFICATE" in readable["root"]
    state = trust.TrustedState.from_pinned_bundle(
        bundle.data, fingerprint=readable["fingerprint"], now=datetime.now(UTC))
    rl = client.get("/.well-known/citycard/revocations")
    assert rl.mimetype == "application/cose"
    assert state.update_revocations(rl.data, now=datetime.now(UTC)).revocations.sequence >= 1
    # served again: same bytes (no new version without a change)
    assert client.get("/.well-known/citycard/trust-bundle").data == bundle.data


def test_recognition_request_accepted_only_with_the_right_fingerprint(client, admin, staff):
    data, fingerprint = other_city_bundle()
    resp = client.post("/.well-known/citycard/recognition-requests", data=data,
                       content_type="application/cose")
    assert resp.status_code == 202 and resp.get_json()["city_id"] == "FRLYS"
    page = admin.get("/admin/partners/").get_data(as_text=True)
    assert "Recognition requests" in page and "Lyon" in page
    # The request's id, from its form (ids come from a sequence other tests use too).
    request_id = re.search(r"/admin/partners/requests/(\d+)/accept", page).group(1)
    token = csrf_token(admin, "/admin/partners/")
    wrong = admin.post(f"/admin/partners/requests/{request_id}/accept",
                       data={"fingerprint": "AB" * 32, "csrf_token": token},
                       follow_redirects=True)
    assert "does not match" in wrong.get_data(as_text=True)
    assert partners_of(admin, staff) == []
    ok = admin.post(f"/admin/partners/requests/{request_id}/accept",
                    data={"fingerprint": fingerprint.lower(), "csrf_token": token},
                    follow_redirects=True)
    assert ok.status_code == 200
    (partner,) = partners_of(admin, staff)
    assert partner["city_id"] == "FRLYS" and partner["fingerprint"] == fingerprint


def test_recognition_request_that_is_not_a_bundle(client):
    resp = client.post("/.well-known/citycard/recognition-requests", data=b"\xd2garbage",
                       content_type="application/cose")
    assert resp.status_code == 422


def test_import_with_wrong_fingerprint_stores_nothing(admin, staff):
    data, fingerprint = other_city_bundle("BRREC", "Recife")
    token = csrf_token(admin, "/admin/partners/")
    resp = admin.post("/admin/partners/import", data={
        "bundle": (io.BytesIO(data), "recife.cose"), "fingerprint": "00" * 32,
        "csrf_token": token}, content_type="multipart/form-data", follow_redirects=True)
    assert "does not match" in resp.get_data(as_text=True)
    assert partners_of(admin, staff) == []
    resp = admin.post("/admin/partners/import", data={
        "bundle": (io.BytesIO(data), "recife.cose"), "fingerprint": fingerprint,
        "csrf_token": token}, content_type="multipart/form-data", follow_redirects=True)
    assert [p["city_id"] for p in partners_of(admin, staff)] == ["BRREC"]


def fingerprint_spellings(fingerprint):
    """Every way a fingerprint could be written out: grouped or not, either case."""
    compact = fingerprint.replace(" ", "")
    return [fingerprint, fingerprint.lower(), compact, compact.lower(),
            compact[:16], compact[:16].lower()]


def test_wrong_fingerprint_is_not_answered_with_the_right_one(client, admin, staff):
    """The phone check is worthless if a wrong fingerprint is answered with the right one."""
    data, fingerprint = other_city_bundle("BRREC", "Recife")
    token = csrf_token(admin, "/admin/partners/")
    imported = admin.post("/admin/partners/import", data={
        "bundle": (io.BytesIO(data), "recife.cose"), "fingerprint": "AB" * 32,
        "csrf_token": token}, content_type="multipart/form-data", follow_redirects=True)
    client.post("/.well-known/citycard/recognition-requests", data=data,
                content_type="application/cose")
    page = admin.get("/admin/partners/").get_data(as_text=True)
    request_id = re.search(r"/admin/partners/requests/(\d+)/accept", page).group(1)
    accepted = admin.post(f"/admin/partners/requests/{request_id}/accept",
                          data={"fingerprint": "AB" * 32, "csrf_token": token},
                          follow_redirects=True)
    for resp in (imported, accepted):
        html = resp.get_data(as_text=True)
        assert "does not match" in html
        for spelling in fingerprint_spellings(fingerprint):
            assert spelling not in html
    assert partners_of(admin, staff) == []


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://x", "fingerprint": "00" * 32}, "url"),
    ({"url": "https://cards.example", "fingerprint": "not hex"}, "fingerprint"),
])
def test_api_add_refuses_bad_input_before_any_network_call(client, staff, body, field):
    resp = client.post("/api/v1/partners", json=body,
                       headers={"Authorization": f"Bearer {staff['admin'].token}"})
    assert resp.status_code == 400 and resp.get_json()["field"] == field


def test_unreachable_partner_is_502_and_nothing_stored(client, staff):
    resp = client.post("/api/v1/partners", json={"url": "http://127.0.0.1:9",
                                                  "fingerprint": "00" * 32},
                       headers={"Authorization": f"Bearer {staff['admin'].token}"})
    assert resp.status_code == 502 and resp.get_json()["error"] == "partner_unreachable"
    assert partners_of(client, staff) == []


def _ask(client, data):
    return client.post("/.well-known/citycard/recognition-requests", data=data,
                       content_type="application/cose")


def test_an_anonymous_request_does_not_replace_a_genuine_one(client, admin, staff):
    """Finding 12 of issue 11: both wait; the fingerprint picks the genuine one."""
    genuine, fingerprint = other_city_bundle()
    impostor, _other = other_city_bundle()  # same city id, the impostor's own root
    assert _ask(client, genuine).status_code == 202
    assert _ask(client, impostor).status_code == 202
    assert _ask(client, impostor).status_code == 202  # the same document again: one request
    page = admin.get("/admin/partners/").get_data(as_text=True)
    actions = re.findall(r'action="(/admin/partners/requests/\d+/accept)"', page)
    assert len(actions) == 2
    token = csrf_token(admin, "/admin/partners/")
    for action in actions:  # whichever is listed first, only the genuine one matches
        admin.post(action, data={"fingerprint": fingerprint, "csrf_token": token})
    assert [p["fingerprint"] for p in partners_of(admin, staff)] == [fingerprint]
    # Accepted: the request left naming the same city is closed with it.
    assert "/accept" not in admin.get("/admin/partners/").get_data(as_text=True)


def test_pending_requests_per_city_are_bounded(client, admin):
    for _ in range(3):
        assert _ask(client, other_city_bundle()[0]).status_code == 202
    refused = _ask(client, other_city_bundle()[0])
    assert refused.status_code == 429 and refused.get_json()["error"] == "too_many_requests"
    assert _ask(client, other_city_bundle("BRREC", "Recife")[0]).status_code == 202
    assert admin.get("/admin/partners/").get_data(as_text=True).count("/accept") == 4


def test_stale_revocations_show_as_a_warning_on_the_verdict(app, client):
    """Finding 7 of issue 11: the JSON answer and the page both say it."""
    from cardservice.web import state
    from tests.application.test_partner_freshness import NOW, Lyon

    lyon = Lyon(NOW)
    with app.app_context():
        state.application().partners.import_documents(
            bundle=lyon.bundle(), fingerprint=pki.fingerprint(lyon.root), actor="admin1",
            revocations=lyon.revocations(issued=NOW - timedelta(days=3),
                                         next_update=NOW + timedelta(days=1)))
    qr = lyon.card("ok")
    body = client.post("/api/v1/verify", json={"qr": qr}).get_json()
    assert (body["status"], body["warnings"]) == ("valid", ["revocations_stale"])
    page = client.post("/verify", data={"qr": qr}).get_data(as_text=True)
    assert 'data-warning="revocations_stale"' in page
    assert "list of cancelled cards has not been updated" in page


def test_partner_page_ids_are_unique(client, admin, staff):
    """Two partners and two requests repeat every per-row form: ids must stay unique."""
    token = csrf_token(admin, "/admin/partners/")
    for city_id, name in (("BRREC", "Recife"), ("BEGLG", "Liège")):
        data, fingerprint = other_city_bundle(city_id, name)
        admin.post("/admin/partners/import", data={
            "bundle": (io.BytesIO(data), f"{city_id}.cose"), "fingerprint": fingerprint,
            "csrf_token": token}, content_type="multipart/form-data")
    for city_id, name in (("FRLYS", "Lyon"), ("MLGAQ", "Gao")):
        data, _fp = other_city_bundle(city_id, name)
        client.post("/.well-known/citycard/recognition-requests", data=data,
                    content_type="application/cose")
    html = admin.get("/admin/partners/").get_data(as_text=True)
    assert html.count("/accept") == 2 and len(partners_of(admin, staff)) == 2
    assert_ids_unique(html)
    # Each request's fingerprint field keeps its own label.
    assert html.count('for="request-') == 2
