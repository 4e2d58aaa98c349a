"""Alliances through the admin page and the well-known addresses (in one process).

Other members are real keys made here (tests/application/test_alliances.py); the real
HTTP exchange between running cities is tests/e2e/test_alliance_cities.py.
"""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from cardservice.trust import alliance as al
from tests.application.test_alliances import Member
from tests.conftest import Auth, csrf_token
from tests.htmlcheck import assert_ids_unique

PAGE = "/admin/alliances/"


@pytest.fixture
def admin(app: Any, staff: Any) -> Any:
    client = app.test_client()
    Auth(client).login(staff["admin"])
    return client


def test_draft_cosign_publish_and_serve(app: Any, admin: Any, client: Any) -> None:
    lyon, madrid = Member("FRLYS", "Lyon"), Member("ESMAD", "Madrid")
    empty = admin.get(PAGE)
    assert empty.status_code == 200 and "No draft is waiting" in empty.get_data(as_text=True)
    assert client.get("/.well-known/citycard/alliances/migration").status_code == 404
    # Lyon drafted version 1 and signed it; we import its file and read the changes.
    ml = al.make_member_list(
        alliance_id="migration", name="Migration Alliance", version=1, threshold=2,
        now=lyon.now, valid_for=timedelta(days=30),
        members=[al.AllianceMember(m.city_id, m.name, m.url, al.fingerprint_bytes(
            m.fingerprint)) for m in (lyon, madrid)] + [own_member(app)])
    data = al.sign_member_list(ml, root_key=lyon.root_key, root=lyon.root)
    token = csrf_token(admin, PAGE)
    page = admin.post(PAGE + "drafts/import", data={
        "document": (io.BytesIO(data), "draft.cose"), "csrf_token": token},
        content_type="multipart/form-data", follow_redirects=True)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert_ids_unique(html)
    assert lyon.fingerprint in html and madrid.fingerprint in html
    assert "Co-sign" in html and "Publish" not in html  # one signature (not checked yet)
    draft_id = app.extensions["cardservice"].alliances.drafts()[0].id
    page = admin.post(f"{PAGE}drafts/{draft_id}/cosign", data={"csrf_token": token},
                      follow_redirects=True)
    assert "We have signed this draft" in page.get_data(as_text=True)
    served = client.get("/.well-known/citycard/alliances/migration/draft")
    assert served.status_code == 200 and served.mimetype == "application/cose"
    assert len(al.read_member_list(served.data).signer_kids) == 2
    # Lyon's root is learnt from its bundle (as a sync would); then publishing needs
    # Lyon's fingerprint confirmed.
    app.extensions["cardservice"].partners.import_documents(
        bundle=lyon.bundle(), revocations=None, fingerprint=lyon.fingerprint, actor="t")
    page = admin.post(f"{PAGE}drafts/{draft_id}/publish",
                      data={"csrf_token": token, "confirm": ""}, follow_redirects=True)
    assert "confirmed" in page.get_data(as_text=True)
    assert client.get("/.well-known/citycard/alliances/migration").status_code == 404
    page = admin.post(f"{PAGE}drafts/{draft_id}/publish",
                      data={"csrf_token": token, "confirm": lyon.fingerprint + "\n"},
                      follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "Published" in html and "Members of Migration Alliance" in html
    assert "Refused an alliance's member list" in html  # the first attempt, and why
    assert "unconfirmed_fingerprints" in html
    assert "Joined an alliance" in html
    assert_ids_unique(html)
    listed = client.get("/.well-known/citycard/alliances/migration")
    assert listed.status_code == 200 and listed.mimetype == "application/cose"
    assert al.read_member_list(listed.data).member_list.city_ids == ("ESMAD", "FRLYS",
                                                                      "PTLIS")
    # Madrid's card, on the verify page: named as a member of the alliance (Lyon, pinned
    # bilaterally above, stays a partner city: a phone call's pin comes first).
    app.extensions["cardservice"].alliances.import_member_documents(
        "migration", "ESMAD", bundle=madrid.bundle(), revocations=madrid.revocations(),
        actor="t")
    verdict = client.post("/verify", data={"qr": madrid.card("ABCDEFGHJK1"),
                                           "csrf_token": csrf_token(client, "/verify")})
    assert "member of the alliance migration" in verdict.get_data(as_text=True)
    page = admin.post(f"{PAGE}migration/members/ESMAD/suspend", data={"csrf_token": token},
                      follow_redirects=True)
    assert "Suspended here" in page.get_data(as_text=True)
    # The next version, drafted on the page: exactly one change, signed by us, not ready.
    page = admin.post(PAGE + "propose", data={"csrf_token": token, "alliance_id": "migration",
                                              "remove": "ESMAD"}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert_ids_unique(html)
    (draft,) = app.extensions["cardservice"].alliances.drafts()
    assert [(c.kind, c.city_id) for c in draft.changes] == [("removed", "ESMAD")]
    assert draft.signed_by == ("PTLIS",) and not draft.ready and draft.held_version == 1
    assert "we hold version 1" in html and "Removed" in html


def own_member(app: Any) -> al.AllianceMember:
    application = app.extensions["cardservice"]
    der = application.keys.store.root_certificate().public_bytes(serialization.Encoding.DER)
    return al.AllianceMember("PTLIS", "Lisboa", "http://127.0.0.1:5000",
                             hashlib.sha256(der).digest())


def test_drafting_from_the_page(app: Any, admin: Any) -> None:
    token = csrf_token(admin, PAGE)
    # A threshold of 1 would let one city change the list: refused before anything.
    page = admin.post(PAGE + "create", data={
        "csrf_token": token, "alliance_id": "migration", "name": "Migration Alliance",
        "threshold": "1", "members": "http://127.0.0.1:9 " + "AB" * 32}, follow_redirects=True)
    assert "Give the alliance" in page.get_data(as_text=True)
    # An unreachable member: nothing drafted, one sentence about the server.
    page = admin.post(PAGE + "create", data={
        "csrf_token": token, "alliance_id": "migration", "name": "Migration Alliance",
        "threshold": "2", "members": "http://127.0.0.1:9 " + "AB" * 32}, follow_redirects=True)
    html = page.get_data(as_text=True)
    assert "did not answer with its trust bundle" in html and "No draft is waiting" in html
    page = admin.post(PAGE + "propose", data={
        "csrf_token": token, "alliance_id": "migration", "remove": "ESMAD"},
        follow_redirects=True)
    assert "holds no member list of alliance migration" in page.get_data(as_text=True)
    assert app.extensions["cardservice"].alliances.drafts() == []


def _cbor_nest(depth: int) -> bytes:
    return b"\x81" * depth + b"\x00"  # [[[…[0]…]]]


# Files a stranger could hand an admin as "a draft": each is refused with a message on the
# page, never a 500, and nothing is stored.
HOSTILE_DRAFTS = {
    "empty": b"",
    "text": b"not a draft at all\n",
    "random bytes": bytes(range(256)) * 40,
    "deep CBOR": _cbor_nest(100_000),
    "COSE_Sign1 tag, not COSE_Sign": b"\xd2\x84\x40\xa0\x40\x40",
    "COSE_Sign with no signature": b"\xd8\x62\x84\x40\xa0\x40\x80",
    "over the size limit": b"\xd8\x62" + b"\x00" * (1024 * 1024),
}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name", list(HOSTILE_DRAFTS))
def test_a_hostile_draft_file_is_refused_with_a_message_and_stores_nothing(
        app: Any, admin: Any, name: str) -> None:
    token = csrf_token(admin, PAGE)
    page = admin.post(PAGE + "drafts/import", data={
        "document": (io.BytesIO(HOSTILE_DRAFTS[name]), "draft.cose"), "csrf_token": token},
        content_type="multipart/form-data", follow_redirects=True)
    assert page.status_code == 200, name
    html = page.get_data(as_text=True)
    assert 'class="flash flash-error"' in html, name
    assert app.extensions["cardservice"].alliances.drafts() == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("path", "form"), [
    ("join", {"alliance_id": "migration", "url": "http://127.0.0.1:9/", "confirm": "zz"}),
    ("join", {"alliance_id": "Not An Id!", "url": "file:///etc/passwd", "confirm": ""}),
    ("propose", {"alliance_id": "nobody", "threshold": "1"}),
    ("create", {"alliance_id": "x" * 500, "name": "", "threshold": "-3", "members": "\x00"}),
    ("migration/sync", {}),
    ("migration/members/FRLYS/suspend", {}),
    ("drafts/999/cosign", {}),
    ("drafts/999/publish", {"confirm": "AA"}),
])
def test_hostile_admin_actions_are_refused_with_a_message(app: Any, admin: Any, path: str,
                                                          form: dict[str, str]) -> None:
    token = csrf_token(admin, PAGE)
    page = admin.post(PAGE + path, data={**form, "csrf_token": token}, follow_redirects=True)
    assert page.status_code in (200, 404), (path, page.status_code)
    assert app.extensions["cardservice"].alliances.all() == []
