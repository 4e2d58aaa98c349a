"""Name order: a name written family name first is printed, carried and shown so everywhere.

A Vietnamese resident registered "family name first" gets a card reading "Nguyễn Thị Minh
Khai" (not "Thị Minh Khai Nguyễn"): in the QR, on the printed front, on the clerk's record,
in search results, in the request queue and on the verify page. Records sealed and cards
signed before the choice existed keep reading given names first.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pypdfium2 as pdfium
import pytest

from cardservice import credential
from cardservice.application import FamilyQuery, NameQuery
from cardservice.services.citykeys import CityKeys
from cardservice.services.residents import ResidentData
from tests.conftest import Auth
from tests.web.test_api_residents import ANA
from tests.web.test_clerk import ANA as ANA_FORM
from tests.web.test_clerk import post_form, registered

KHAI = {**ANA, "given_names": "Thị Minh Khai", "family_names": "Nguyễn",
        "date_of_birth": "1988-11-20", "name_order": "family_first"}
FAMILY_FIRST = "Nguyễn Thị Minh Khai"
GIVEN_FIRST = "Thị Minh Khai Nguyễn"


@pytest.fixture
def clerk_token(staff):
    return {"Authorization": f"Bearer {staff['clerk'].token}"}


def front_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[0].get_textpage().get_text_bounded()
    finally:
        doc.close()


def test_a_family_first_name_is_printed_carried_and_shown_family_first(
        client, clerk_token, staff, app):
    resp = client.post("/api/v1/residents", json=KHAI, headers=clerk_token)
    assert resp.status_code == 201, resp.get_json()
    rid = resp.get_json()["id"]
    record = client.get(f"/api/v1/residents/{rid}", headers=clerk_token).get_json()
    assert record["name_order"] == "family_first"
    assert (record["given_names"], record["family_names"]) == ("Thị Minh Khai", "Nguyễn")

    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk_token).get_json()
    # The card's QR carries the name as printed, in its order: no new claim is needed.
    verdict = client.post("/api/v1/verify", json={"qr": card["qr"]}).get_json()
    assert verdict["status"] == "valid" and verdict["holder"]["name"] == FAMILY_FIRST
    pdf = client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=clerk_token).data
    text = front_text(pdf)
    assert FAMILY_FIRST in text and GIVEN_FIRST not in text

    page = client.post("/verify", data={"qr": card["qr"]}).get_data(as_text=True)
    assert f'<dd class="holder-name">{FAMILY_FIRST}</dd>' in page

    Auth(client).login(staff["clerk"])
    record_page = client.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert f"<h1>{FAMILY_FIRST}</h1>" in record_page and GIVEN_FIRST not in record_page

    # Search by names finds her whichever box and order the clerk typed; results show
    # her name family first, like the family name and year search.
    for given, family in (("Nguyen", "Thi Minh Khai"), ("thị minh khai", "NGUYỄN")):
        found = post_form(client, "/clerk/", {"given_names": given, "family_names": family,
                                              "date_of_birth": "1988-11-20"})
        html = found.get_data(as_text=True)
        assert f"<strong>{FAMILY_FIRST}</strong>" in html, (given, family)
    residents = app.extensions["cardservice"].residents
    hit = residents.find(NameQuery("Khai Minh Thi", "Nguyen", date(1988, 11, 20)), actor="t")
    assert [m.full_name for m in hit.matches] == [FAMILY_FIRST]
    by_family = residents.find(FamilyQuery("nguyen", 1988), actor="t")
    assert [m.full_name for m in by_family.matches] == [FAMILY_FIRST]

    # The request queue shows the holder the same way.
    asked = client.post("/api/v1/renewals", json={
        "serial": card["serial"], "date_of_birth": KHAI["date_of_birth"],
        "renewal_code": card["renewal_code"], "kind": "lost"})
    assert asked.status_code == 202, asked.get_json()
    queue = client.get("/clerk/requests/").get_data(as_text=True)
    assert FAMILY_FIRST in queue and GIVEN_FIRST not in queue


def test_the_clerk_form_sets_and_keeps_the_name_order(client, auth, staff):
    auth.login(staff["clerk"])
    blank = client.get("/clerk/residents/new").get_data(as_text=True)
    # Given names first is chosen until the clerk says otherwise.
    assert re.search(r'<input checked [^>]*value="given_first"', blank)
    assert 'value="family_first"' in blank and "Family name first" in blank

    rid = registered(client, data={**ANA_FORM, "given_names": "Thị Minh Khai",
                                   "family_names": "Nguyễn", "name_order": "family_first"})
    assert f"<h1>{FAMILY_FIRST}</h1>" in client.get(f"/clerk/residents/{rid}").get_data(
        as_text=True)
    edit = client.get(f"/clerk/residents/{rid}/edit").get_data(as_text=True)
    assert re.search(r'<input checked [^>]*value="family_first"', edit)
    assert f"Back to the record of {FAMILY_FIRST}" in edit

    # Back to given names first: the same parts, the other order.
    back = post_form(client, f"/clerk/residents/{rid}/edit",
                     {**ANA_FORM, "given_names": "Thị Minh Khai", "family_names": "Nguyễn",
                      "name_order": "given_first"})
    assert back.status_code == 302
    assert f"<h1>{GIVEN_FIRST}</h1>" in client.get(f"/clerk/residents/{rid}").get_data(
        as_text=True)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("value", ["family", "FAMILY_FIRST", 1, True, ["family_first"]])
def test_an_unknown_name_order_is_refused_by_field(client, clerk_token, value):
    resp = client.post("/api/v1/residents", json={**KHAI, "name_order": value},
                       headers=clerk_token)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["field"] == "name_order" and "family_first" in body["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_patch_changes_only_the_order_and_null_means_given_first(client, clerk_token):
    rid = client.post("/api/v1/residents", json={**KHAI, "name_order": None},
                      headers=clerk_token).get_json()["id"]
    got = client.get(f"/api/v1/residents/{rid}", headers=clerk_token).get_json()
    assert got["name_order"] == "given_first"
    patched = client.patch(f"/api/v1/residents/{rid}", json={"name_order": "family_first"},
                           headers=clerk_token).get_json()
    assert patched["name_order"] == "family_first" and patched["family_names"] == "Nguyễn"


def test_a_record_sealed_before_the_name_order_reads_given_first():
    # What ResidentData.to_json wrote before this field existed: no "name_order" key.
    old = json.dumps({"given_names": "Thị Minh Khai", "family_names": "Nguyễn",
                      "date_of_birth": "1988-11-20", "languages": ["Vietnamese"]}).encode()
    data = ResidentData.from_json(old)
    assert data.name_order == "given_first" and data.full_name == GIVEN_FIRST
    again = ResidentData.from_json(data.to_json())
    assert again == data and json.loads(data.to_json())["name_order"] == "given_first"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_card_signed_given_first_still_shows_given_first(client, settings):
    # A card issued before the name order existed holds the name as it was printed then:
    # verifiers show the signed text as it is, so it reads exactly as before.
    now = datetime.now(UTC).replace(microsecond=0)
    signer = CityKeys(settings).signer(now=now)
    claims = credential.CardClaims(
        issuer=settings.city.id, serial="7K2M9XD4P3J", issued_at=now,
        expires_at=now + timedelta(days=365),
        holder=credential.Holder(name=GIVEN_FIRST, date_of_birth=date(1988, 11, 20)))
    qr = credential.encode_card(claims, signer_key=signer.key, signer_cert=signer.certificate)
    verdict = client.post("/api/v1/verify", json={"qr": qr}).get_json()
    assert verdict["holder"]["name"] == GIVEN_FIRST
    page = client.post("/verify", data={"qr": qr}).get_data(as_text=True)
    assert f'<dd class="holder-name">{GIVEN_FIRST}</dd>' in page
