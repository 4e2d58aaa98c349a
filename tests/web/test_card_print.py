"""The printed card carries the issued QR: render the PDF at 150 and 300 dpi and read it back."""

from __future__ import annotations

import base64
import unicodedata

import pypdfium2 as pdfium
import pytest

from cardservice import create_app
from cardservice import qr as qr_mod
from tests.conftest import copy_keys, csrf_token, make_settings
from tests.web.test_api_residents import ANA, jpeg_bytes

NAMES = [
    ("Łukasz Żółć-Grüßmann", None),
    ("Nguyễn Thị Minh Khai", None),
    ("Αικατερίνη Παπαδοπούλου", "Aikaterini Papadopoulou"),
    ("محمد عبد الله", "Muhammad Abd Allah"),
    ("Олександра Шевченко", "Oleksandra Shevchenko"),
    ("王小明", "Wang Xiaoming"),
    ("राम कृष्ण", "Ram Krishna"),
]


# Every script on SQLite; the database plays no part in rendering, so PostgreSQL runs
# through the same path once (test_pdf_on_postgres).
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("name, latin", NAMES)
def test_pdf_qr_reads_back_at_150_and_300_dpi(client, staff, name, latin):
    issue_and_read(client, staff, name, latin)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_pdf_on_postgres(client, staff):
    issue_and_read(client, staff, *NAMES[0])


def issue_and_read(client, staff, name, latin):
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    given, _, family = name.partition(" ")
    body = {**ANA, "given_names": given, "family_names": family,
            "photo": base64.b64encode(jpeg_bytes()).decode()}
    if latin:
        body["name_latin"] = latin
    rid = client.post("/api/v1/residents", json=body, headers=clerk).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    pdf = client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=clerk).data
    doc = pdfium.PdfDocument(pdf)
    try:
        back = doc[1]
        for dpi in (150, 300):
            image = back.render(scale=dpi / 72).to_pil()
            assert qr_mod.read_qr(image) == card["qr"], dpi
    finally:
        doc.close()
    # and the QR holds the name in its own script, even when the card prints the Latin form
    verdict = client.post("/api/v1/verify", json={"qr": card["qr"]}).get_json()
    assert verdict["holder"]["name"] == name


def test_a_name_in_another_script_gets_a_latin_line_proposed(client, staff):
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    body = {**ANA, "given_names": "Юлия", "family_names": "Щукина"}
    # Registration asks for the Latin line at once, with a proposal (ICAO 9303 for Cyrillic).
    resp = client.post("/api/v1/residents", json=body, headers=clerk)
    assert resp.status_code == 400
    answer = resp.get_json()
    assert answer["error"] == "name_latin_proposed" and answer["field"] == "name_latin"
    assert answer["proposal"] == "Iuliia Shchukina"
    assert "Iuliia Shchukina" in answer["message"]
    # The resident's passport spells it otherwise: the clerk sends the correction.
    body["name_latin"] = "Yulia Shchukina"
    rid = client.post("/api/v1/residents", json=body, headers=clerk).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk)
    assert card.status_code == 201
    pdf = client.get(f"/api/v1/cards/{card.get_json()['serial']}/pdf", headers=clerk).data
    doc = pdfium.PdfDocument(pdf)
    try:
        front = doc[0].get_textpage().get_text_range()
    finally:
        doc.close()
    assert "Юлия Щукина" in front and "Yulia Shchukina" in front  # the card prints both


def _print_state(db, serial):
    from sqlalchemy import text
    with db.engine.connect() as conn:
        printed = conn.execute(text("SELECT printed_at FROM cards WHERE serial = :s"),
                               {"s": serial}).scalar()
        entries = conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'card.print'"
                                    )).scalar()
    return printed, entries


def test_no_get_changes_state_a_confirmed_print_is_recorded(client, staff, auth, db):
    # Issue 11, finding 14: opening the PDF used to mark the card printed and audit it.
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    rid = client.post("/api/v1/residents", json=ANA, headers=clerk).get_json()["id"]
    serial = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()["serial"]
    assert client.get(f"/api/v1/cards/{serial}/pdf", headers=clerk).status_code == 200
    auth.login(staff["clerk"])
    assert client.get(f"/clerk/cards/{serial}.pdf").status_code == 200
    assert _print_state(db, serial) == (None, 0)
    assert client.get(f"/api/v1/cards/{serial}", headers=clerk).get_json()["printed_at"] is None

    # the clerk confirms from the preview page (a POST with its CSRF token)
    preview = client.get(f"/clerk/cards/{serial}/preview").get_data(as_text=True)
    assert f"/clerk/cards/{serial}/printed" in preview and "Printed correctly" in preview
    token = csrf_token(client, f"/clerk/cards/{serial}/preview")
    assert client.post(f"/clerk/cards/{serial}/printed", data={}).status_code == 400  # CSRF
    assert _print_state(db, serial) == (None, 0)  # no token, nothing recorded
    done = client.post(f"/clerk/cards/{serial}/printed", data={"csrf_token": token})
    assert done.status_code == 302 and f"/clerk/residents/{rid}" in done.headers["Location"]
    printed, entries = _print_state(db, serial)
    assert printed is not None and entries == 1

    # and through the API
    again = client.post(f"/api/v1/cards/{serial}/printed", headers=clerk)
    assert again.status_code == 200 and again.get_json()["printed_at"]
    assert _print_state(db, serial)[1] == 2


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_revoked_card_cannot_be_marked_printed(client, staff):
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    rid = client.post("/api/v1/residents", json=ANA, headers=clerk).get_json()["id"]
    serial = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()["serial"]
    client.post(f"/api/v1/cards/{serial}/revoke", json={"reason": "lost"}, headers=clerk)
    resp = client.post(f"/api/v1/cards/{serial}/printed", headers=clerk)
    assert resp.status_code == 409 and resp.get_json()["error"] == "conflict"


# ---- the city's card languages: any one or two of the five ----------------------------

TITLES = {"en": "Local citizenship card", "fr": "Carte de citoyenneté locale",
          "pt": "Cartão de cidadania local", "es": "Tarjeta de ciudadanía local",
          "ar": "بطاقة المواطنة المحلية"}


def printed_text(pdf: bytes) -> str:
    """The card's text; PDFium gives Arabic back in logical order, in presentation forms."""
    doc = pdfium.PdfDocument(pdf)
    try:
        return unicodedata.normalize(
            "NFKC", "\n".join(page.get_textpage().get_text_bounded() for page in doc))
    finally:
        doc.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("languages", [["pt", "en"], ["es", "fr"], ["ar"], ["ar", "en"]])
def test_a_city_prints_its_cards_in_its_languages(tmp_path, db, keys_template, staff,
                                                 languages):
    copy_keys(keys_template, tmp_path / "keys")
    settings = make_settings(tmp_path, database_url=db.url, city={"languages": languages})
    app = create_app(settings, overrides={"TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
        client = app.test_client()
        body = {**ANA, "photo": base64.b64encode(jpeg_bytes()).decode()}
        rid = client.post("/api/v1/residents", json=body, headers=clerk).get_json()["id"]
        card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
        text = printed_text(client.get(f"/api/v1/cards/{card['serial']}/pdf",
                                       headers=clerk).data)
    finally:
        app.extensions["cardservice"].db.dispose()
    words = set(text.split())
    for code, title in TITLES.items():
        # Word by word: beside a left-to-right label, PDFium gives an Arabic line's words
        # in the order they are drawn (the card reads right to left: Arabic, then English).
        assert set(title.split()) <= words if code in languages \
            else title not in text, (code, languages)
