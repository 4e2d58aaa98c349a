"""Languages spoken: BCP 47 codes in the record, names in the reader's language on screen
and in the card's label languages on the card; free text of older records is kept until
it can be mapped."""

from __future__ import annotations

import json
import re

import pypdfium2 as pdfium
import pytest

from cardservice.models import Resident
from cardservice.services.citykeys import CityKeys
from tests.conftest import Auth, copy_keys, make_settings
from tests.web.test_api_residents import ANA
from tests.web.test_clerk import ANA as ANA_FORM
from tests.web.test_clerk import post_form, registered

SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def clerk_token(staff):
    return {"Authorization": f"Bearer {staff['clerk'].token}"}


def register(client, headers, languages):
    return client.post("/api/v1/residents",
                       json={**ANA, "languages": languages, "confirm_new": True},
                       headers=headers)


def front_text(client, headers, rid) -> str:
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=headers).get_json()
    pdf = client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=headers).data
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[0].get_textpage().get_text_bounded()
    finally:
        doc.close()


@SQLITE
@pytest.mark.parametrize("sent, stored", [
    (["vi", "PT_br"], ["vi", "pt-BR"]),
    # Clients of the earlier free-text field: names the service knows become codes.
    (["Vietnamese", "français"], ["vi", "fr"]),
    (["Português", "pt"], ["pt"]),
    ([], []),
])
def test_the_api_stores_codes(client, clerk_token, sent, stored):
    resp = register(client, clerk_token, sent)
    assert resp.status_code == 201, resp.get_json()
    got = client.get(f"/api/v1/residents/{resp.get_json()['id']}", headers=clerk_token)
    assert got.get_json()["languages"] == stored


@SQLITE
@pytest.mark.parametrize("sent, words", [
    (["Elvish"], "“Elvish” is not a language we know"),
    (["pt-XX"], "“pt-XX” is not a language we know"),
    (["und"], "“und” is not a language we know"),
    (["vi", "fr", "en"], "two at most"),
    ("vi", "two at most"),
    ([7], "is not the name of a language"),
])
def test_what_is_not_a_language_is_refused_by_field(client, clerk_token, db, sent, words):
    resp = register(client, clerk_token, sent)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["field"] == "languages" and words in body["message"], body
    with db.session() as s:
        assert s.query(Resident).count() == 0


def test_the_record_names_the_languages_in_the_reader_s_language(client, clerk_token, staff):
    rid = register(client, clerk_token, ["vi", "pt-BR"]).get_json()["id"]
    Auth(client).login(staff["clerk"])
    page = client.get(f"/clerk/residents/{rid}", headers={"Accept-Language": "fr"})
    assert "<dd>vietnamien, portugais brésilien</dd>" in page.get_data(as_text=True)
    page = client.get(f"/clerk/residents/{rid}", headers={"Accept-Language": "en"})
    assert "<dd>Vietnamese, Brazilian Portuguese</dd>" in page.get_data(as_text=True)


@SQLITE
def test_the_form_offers_common_languages_and_any_other_by_name(client, auth, staff):
    auth.login(staff["clerk"])
    blank = client.get("/clerk/residents/new", headers={"Accept-Language": "fr"})
    html = blank.get_data(as_text=True)
    # A plain <select multiple> of common languages, named in the page's language...
    select = re.search(r'<select [^>]*name="languages"[^>]*>(.*?)</select>', html, re.S)
    assert select and "multiple" in select.group(0)
    assert '<option value="vi">vietnamien</option>' in select.group(1)
    assert 'value="tlh"' not in select.group(1)  # not a common language
    # ... and a text box suggesting every other language by name (no script needed).
    assert re.search(r'<input [^>]*list="language-names"[^>]*name="language_other"', html)
    assert '<datalist id="language-names">' in html and '<option value="klingon">' in html

    rid = registered(client, data={**ANA_FORM, "languages": ["vi"],
                                   "language_other": "tigrigna"})
    record = client.get(f"/clerk/residents/{rid}", headers={"Accept-Language": "en"})
    assert "<dd>Vietnamese, Tigrinya</dd>" in record.get_data(as_text=True)
    # Correcting: both are chosen in the list, the uncommon one offered there too.
    edit = client.get(f"/clerk/residents/{rid}/edit").get_data(as_text=True)
    assert re.search(r'<option selected value="ti">Tigrinya</option>', edit)
    assert re.search(r'<option selected value="vi">Vietnamese</option>', edit)

    bad = post_form(client, "/clerk/residents/new",
                    {**ANA_FORM, "languages": [], "language_other": "Elvish"})
    assert bad.status_code == 400
    assert "“Elvish” is not a language we know" in bad.get_data(as_text=True)


@SQLITE
def test_the_card_names_the_languages_in_its_label_languages(client, clerk_token):
    # This test city labels its cards in English and French.
    rid = register(client, clerk_token, ["vi"]).get_json()["id"]
    assert "Vietnamese / vietnamien" in front_text(client, clerk_token, rid)
    # When both would not fit on the line unless condensed, the first label language alone.
    rid = register(client, clerk_token, ["vi", "pt-BR"]).get_json()["id"]
    text = front_text(client, clerk_token, rid)
    assert "Vietnamese, Brazilian Portuguese" in text and "vietnamien" not in text


@SQLITE
def test_a_french_card_says_vietnamien(tmp_path, db, staff, keys_template):
    from cardservice import create_app

    copy_keys(keys_template, tmp_path / "keys")
    settings = make_settings(tmp_path, database_url=db.url, city={"languages": ["fr"]})
    app = create_app(settings, overrides={"TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        client = app.test_client()
        headers = {"Authorization": f"Bearer {staff['clerk'].token}"}
        rid = register(client, headers, ["vi", "en"]).get_json()["id"]
        text = front_text(client, headers, rid)
        assert "vietnamien, anglais" in text and "Vietnamese" not in text
    finally:
        app.extensions["cardservice"].db.dispose()


def _make_legacy(db, settings, rid: str, languages: list[str]) -> None:
    """Write the record as it was sealed before codes: the languages as typed."""
    vault = CityKeys(settings).vault()
    with db.session() as s:
        row = s.get(Resident, rid)
        key = vault.unwrap_data_key(row.wrapped_key, record_id=rid)
        record = json.loads(vault.decrypt(key, row.record, record_id=rid, field="record"))
        record["languages"] = languages
        del record["name_order"]
        row.record = vault.encrypt(key, json.dumps(record).encode(), record_id=rid,
                                   field="record")
        s.commit()


@SQLITE
def test_free_text_of_older_records_shows_as_typed_and_maps_on_the_next_edit(
        client, clerk_token, db, settings, staff):
    rid = register(client, clerk_token, []).get_json()["id"]
    _make_legacy(db, settings, rid, ["Vietnamese", "Crioulo de Cabo Verde"])
    got = client.get(f"/api/v1/residents/{rid}", headers=clerk_token).get_json()
    assert got["languages"] == ["Vietnamese", "Crioulo de Cabo Verde"]
    assert got["name_order"] == "given_first"
    Auth(client).login(staff["clerk"])
    page = client.get(f"/clerk/residents/{rid}", headers={"Accept-Language": "fr"})
    assert "<dd>Vietnamese, Crioulo de Cabo Verde</dd>" in page.get_data(as_text=True)
    # The printed card shows them as the record holds them, as before.
    assert "Vietnamese, Crioulo de Cabo Verde" in front_text(client, clerk_token, rid)

    # A correction of something else maps what it can and keeps the rest as typed.
    patched = client.patch(f"/api/v1/residents/{rid}", headers=clerk_token,
                           json={"preferred_name": "Lan"})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["languages"] == ["vi", "Crioulo de Cabo Verde"]
    # The form offers the mapped one chosen and the other in the "another language" box.
    edit = client.get(f"/clerk/residents/{rid}/edit").get_data(as_text=True)
    assert re.search(r'<option selected value="vi">', edit)
    assert 'value="Crioulo de Cabo Verde"' in edit
    # Sending the languages again asks for codes (or names the service knows).
    again = client.patch(f"/api/v1/residents/{rid}", headers=clerk_token,
                         json={"languages": ["vi", "Crioulo de Cabo Verde"]})
    assert again.status_code == 400 and again.get_json()["field"] == "languages"
    fixed = client.patch(f"/api/v1/residents/{rid}", headers=clerk_token,
                         json={"languages": ["vi", "kea"]})
    assert fixed.get_json()["languages"] == ["vi", "kea"]
