"""Registering residents and issuing cards through the JSON API (SPEC §2, §6)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

ANA = {
    "given_names": "Ana Maria", "family_names": "Conceição da Silva",
    "date_of_birth": "1990-04-12", "gender": "F",
    "address": {"line1": "Rua das Flores 12", "postcode": "1200-195"},
    "languages": ["Português", "English"],
    "documents": ["passport", "utility_bill"],
}


def jpeg_bytes(w: int = 600, h: int = 800) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 160, 200)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def clerk(staff):
    return {"Authorization": f"Bearer {staff['clerk'].token}"}


def register(client, headers, body=None, **extra):
    return client.post("/api/v1/residents", json={**(body or ANA), **extra}, headers=headers)


def test_register_read_issue_status(client, clerk):
    resp = register(client, clerk, photo=base64.b64encode(jpeg_bytes()).decode())
    assert resp.status_code == 201, resp.get_json()
    rid = resp.get_json()["id"]
    got = client.get(f"/api/v1/residents/{rid}", headers=clerk).get_json()
    assert got["family_names"] == "Conceição da Silva" and got["has_photo"] is True
    assert got["documents"] == [{"category": "passport", "points": 2},
                                {"category": "utility_bill", "points": 1}]
    issued = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk)
    assert issued.status_code == 201
    card = issued.get_json()
    assert set(card) == {"serial", "qr", "issued_at", "expires_at", "renewal_code"}
    assert card["qr"].startswith("LC1:") and len(card["serial"]) == 11
    assert card["expires_at"][:4] == str(int(card["issued_at"][:4]) + 5)
    status = client.get(f"/api/v1/cards/{card['serial']}", headers=clerk).get_json()
    assert status["status"] == "active" and status["resident_id"] == rid


@pytest.mark.parametrize("field", [
    "nationality", "immigration_status", "placeOfBirth", "country-of-birth", "ssn",
    "passport_number", "document_copy", "residence_permit",
])
def test_never_collected_fields_are_refused_and_nothing_stored(client, clerk, db, field):
    resp = register(client, clerk, **{field: "anything"})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["error"] == "not_collected" and field in body["message"]
    assert "does not collect" in body["message"]
    from sqlalchemy import text
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM residents")).scalar() == 0


def test_nested_never_collected_field_is_refused(client, clerk):
    body = {**ANA, "address": {**ANA["address"], "country_of_birth": "X"}}
    resp = register(client, clerk, body)
    assert resp.status_code == 400
    assert "address.country_of_birth" in resp.get_json()["message"]


@pytest.mark.parametrize("change, field, words", [
    ({"date_of_birth": "1990-13-01"}, "date_of_birth", "Date of birth"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth", "Date of birth"),
    ({"gender": "female"}, "gender", "Gender marker"),
    ({"given_names": "", "family_names": ""}, "given_names", "a given name or a family name"),
    ({"documents": ["utility_bill"]}, "documents", "Documents seen"),
    ({"documents": ["scan_of_passport_page"]}, "documents", "scan_of_passport_page"),
    ({"languages": ["a", "b", "c"]}, "languages", "Languages"),
    ({"favourite_colour": "blue"}, "favourite_colour", "favourite_colour"),
    ({"address": {}}, "address.line1", "street and number"),
    ({"contact": {"email": "not-an-address"}}, "contact.email", "E-mail"),
    ({"address": {"line1": "x" * 121}}, "address.line1", "Street and number"),
])
def test_bad_input_names_the_field(client, clerk, change, field, words):
    # The code and the field are for programs (stable); the message is for people and
    # names the field in words, as the clerk's form labels it.
    resp = register(client, clerk, {**ANA, **change})
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    assert body["error"] == "invalid" and body["field"] == field
    assert words in body["message"]
    if field != "favourite_colour":
        assert f"'{field}'" not in body["message"]


def test_document_shortfall_says_what_is_missing(client, clerk):
    resp = register(client, clerk, {**ANA, "documents": ["utility_bill", "bank_statement"]})
    assert resp.status_code == 400
    assert "not enough points (2 of 3)" in resp.get_json()["message"]


def test_single_name_and_no_fixed_address(client, clerk):
    body = {"given_names": "Sokhna", "date_of_birth": "2001-02-03",
            "address": {"no_fixed_address": True, "care_of": "Abrigo São Bento"},
            "documents": ["ngo_attestation", "shelter_attestation", "school_record"]}
    assert register(client, clerk, body).status_code == 201


def test_not_json_is_400(client, clerk):
    resp = client.post("/api/v1/residents", data="hello", headers=clerk)
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid"


def test_likely_duplicate_is_409_unless_confirmed(client, clerk):
    assert register(client, clerk).status_code == 201
    variant = {**ANA, "given_names": "ana  maria", "family_names": "Conceicao da Silva"}
    dup = register(client, clerk, variant)
    assert dup.status_code == 409 and dup.get_json()["error"] == "likely_duplicate"
    assert len(dup.get_json()["matches"]) == 1
    assert register(client, clerk, variant, confirm_new=True).status_code == 201


def test_not_an_image_is_refused(client, clerk, db):
    resp = register(client, clerk, photo=base64.b64encode(b"%PDF-1.4 not a photo").decode())
    assert resp.status_code == 400 and "photo" in resp.get_json()["message"].lower()


def test_new_card_supersedes_and_revoke(client, clerk):
    rid = register(client, clerk).get_json()["id"]
    first = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    second = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    old = client.get(f"/api/v1/cards/{first['serial']}", headers=clerk).get_json()
    assert old["status"] == "superseded" and old["superseded_by"] == second["serial"]
    bad = client.post(f"/api/v1/cards/{second['serial']}/revoke", json={"reason": "eaten"},
                      headers=clerk)
    assert bad.status_code == 400
    ok = client.post(f"/api/v1/cards/{second['serial']}/revoke", json={"reason": "stolen"},
                     headers=clerk)
    assert ok.status_code == 200 and ok.get_json()["status"] == "revoked"
    again = client.post(f"/api/v1/cards/{second['serial']}/revoke", json={"reason": "lost"},
                        headers=clerk)
    assert again.status_code == 409


def test_minor_gets_a_shorter_card(client, clerk):
    body = {**ANA, "date_of_birth": "2015-06-01"}
    rid = register(client, clerk, body).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    assert int(card["expires_at"][:4]) - int(card["issued_at"][:4]) == 2


def test_patch_corrects_and_refuses_forbidden(client, clerk):
    rid = register(client, clerk).get_json()["id"]
    resp = client.patch(f"/api/v1/residents/{rid}", json={"preferred_name": "Nia"},
                        headers=clerk)
    assert resp.status_code == 200 and resp.get_json()["preferred_name"] == "Nia"
    assert resp.get_json()["given_names"] == "Ana Maria"
    bad = client.patch(f"/api/v1/residents/{rid}", json={"nationality": "x"}, headers=clerk)
    assert bad.status_code == 400 and bad.get_json()["error"] == "not_collected"


def test_pdf(client, clerk):
    rid = register(client, clerk, photo=base64.b64encode(jpeg_bytes()).decode()).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    pdf = client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=clerk)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")


def test_agent_cannot_register(client, staff):
    resp = register(client, {"Authorization": f"Bearer {staff['agent'].token}"})
    assert resp.status_code == 403


def test_name_of_punctuation_only_is_refused(client, clerk):
    resp = register(client, clerk, {**ANA, "given_names": "-- ..", "family_names": "'"})
    assert resp.status_code == 400 and resp.get_json()["field"] == "given_names"


@pytest.mark.parametrize("change, field", [
    ({"family_names": "Ana\u202eSilva"}, "family_names"),   # a bidi override
    ({"given_names": "A" * 60, "family_names": "B" * 60}, "family_names"),  # too long
    ({"given_names": "A" * 49, "family_names": "B" * 50}, "family_names"),  # cannot fit
])
def test_names_no_card_can_carry_are_refused_at_registration(client, clerk, change, field):
    """Before, registration accepted these and issuing the card answered 500."""
    resp = register(client, clerk, {**ANA, **change})
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["field"] == field


def test_a_record_made_before_the_name_rules_gets_a_clear_refusal_at_issue(app, client, clerk):
    """A record stored before registration checked names (written here below the
    application layer) cannot be put on a card: issuing says so, never a 500."""
    from cardservice.application import ResidentData, UnitOfWork
    from cardservice.clock import utcnow
    from cardservice.services import residents
    from cardservice.services.residents import Address

    city = app.extensions["cardservice"]
    data = ResidentData(given_names="Ana", family_names="Ana\u202eSilva",
                        date_of_birth=__import__("datetime").date(1990, 4, 12),
                        address=Address(line1="Rua das Flores 12"))
    with UnitOfWork(city.db)() as s:
        rid = residents.register(s, city.keys, data=data, photo=None, confirm_new=True,
                                 actor="test", now=utcnow(), settings=city.settings)
    resp = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["error"] == "invalid"
    assert client.get(f"/api/v1/residents/{rid}", headers=clerk).get_json()["cards"] == []
