"""The card is not its own key: the renewal code lives on a renewal slip, shown once.

Real app, real forms with CSRF tokens, real keys, real PDFs whose text is read back with
PDFium. The card (issued, reprinted, previewed, in a sheet) never carries the code; the
clerk sees it once, with its slip to print; what is printed on a card is not enough to
cancel it or ask for changes; the slip is; a new slip at the desk replaces the code.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pypdfium2 as pdfium
import pytest
from sqlalchemy import text

from cardservice import create_app, serials
from cardservice.application import RenewalCodeMismatchError, SlipLabels
from cardservice.models import Resident
from cardservice.services import cards as card_service
from cardservice.services import residents
from tests.conftest import Auth, copy_keys, csrf_token, make_settings
from tests.web.test_api_residents import ANA as ANA_API
from tests.web.test_clerk import ANA as ANA_FORM
from tests.web.test_clerk import issue as issue_by_form
from tests.web.test_clerk import registered

DESK = {"desk_address": "Praça do Município\n1100-365 Lisboa",
        "desk_hours": "Segunda a sexta, 9h–17h"}
# The database plays no part in what is printed: SQLite, and the new slip on PostgreSQL too.
SQLITE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CODE_ON_PAGE = re.compile(r'class="serial big secret">([0-9A-Z]{4}-[0-9A-Z]{4})<')


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_bounded() for page in doc)
    finally:
        doc.close()


def build(tmp_path, db, keys_template, **city):
    copy_keys(keys_template, tmp_path / "keys")
    settings = make_settings(tmp_path, database_url=db.url, city=city,
                             cards={"renewal_days_before": 4000})
    return create_app(settings, overrides={"TESTING": True, "RATELIMIT_ENABLED": False})


@pytest.fixture
def city(tmp_path, db, keys_template, staff):
    app = build(tmp_path, db, keys_template, **DESK)
    yield app
    app.extensions["cardservice"].db.dispose()


@pytest.fixture
def clerk(city, staff):
    client = city.test_client()
    Auth(client).login(staff["clerk"])
    return client


def issue_and_show(clerk, data=None):
    """Register and issue through the forms; the issued page's code (shown once)."""
    rid = registered(clerk, data=data or ANA_FORM)
    serial = issue_by_form(clerk, rid)
    page = clerk.get(f"/clerk/cards/{serial}/issued").get_data(as_text=True)
    found = CODE_ON_PAGE.search(page)
    assert found, "the renewal code is shown once on the issued page"
    return rid, serial, found.group(1), page


def codes_in(text_: str, code: str) -> bool:
    return code in text_ or code.replace("-", "") in text_


def audit_rows(db, action):
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT actor, target_id, details FROM audit_log "
                                 "WHERE action = :a"), {"a": action}).all()


def requests_count(db) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM renewal_requests")).scalar_one()


def verify_status(client, qr):
    return client.post("/api/v1/verify", json={"qr": qr}).get_json()["status"]


# ---- shown once, printed on the slip, never on the card ----------------------------------

@SQLITE
def test_code_shown_once_printed_on_the_slip_and_on_no_card(clerk, db):
    rid, serial, code, page = issue_and_show(clerk)
    assert "Print the renewal slip" in page and "Print the card" in page

    # The card PDF, printed from the issued page, has the serial and not the code.
    card = clerk.get(f"/clerk/cards/{serial}.pdf")
    assert card.status_code == 200
    card_text = pdf_text(card.data)
    assert serials.format_serial(serial) in card_text
    assert not codes_in(card_text, code) and "Renewal code" not in card_text

    # The slip, in French (chosen among the UI languages), has the serial, the code and
    # the desk lines from the city's configuration.
    slip = clerk.get(f"/clerk/cards/{serial}/slip.pdf?lang=fr")
    assert slip.status_code == 200 and slip.mimetype == "application/pdf"
    assert slip.headers["Cache-Control"] == "no-store"
    slip_text = pdf_text(slip.data).replace("\r\n", "\n")
    assert serials.format_serial(serial) in slip_text and code in slip_text
    assert "http://127.0.0.1:5000/card/" in slip_text
    assert "Praça do Município\n1100-365 Lisboa" in slip_text
    assert "Segunda a sexta, 9h–17h" in slip_text
    # Labels the catalog already translates (the new sentences are translated at merge).
    for french in ("Numéro de carte", "Code de renouvellement", "Guichet", "Adresse"):
        assert french in slip_text, french
    english = pdf_text(clerk.get(f"/clerk/cards/{serial}/slip.pdf?lang=en").data)
    assert "Keep this slip at home, apart from your card." in english.replace("\r\n", " ")
    assert "Card number" in english and "Numéro de carte" not in english
    assert code in english

    # Preview page and its pictures: no code (the pictures are the card PDF's pages).
    preview = clerk.get(f"/clerk/cards/{serial}/preview").get_data(as_text=True)
    assert not codes_in(preview, code)

    # Leaving the page forgets the code: the record, a reload, the slip are all without it.
    record = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert not codes_in(record, code)
    reload = clerk.get(f"/clerk/cards/{serial}/issued").get_data(as_text=True)
    assert not codes_in(reload, code) and "Print the renewal slip" not in reload
    gone = clerk.get(f"/clerk/cards/{serial}/slip.pdf?lang=en")
    assert gone.status_code == 404
    assert "issue a new renewal slip" in gone.get_data(as_text=True).lower()
    assert not codes_in(clerk.get(f"/clerk/cards/{serial}.pdf").get_data(as_text=False)
                        .decode("latin-1"), code)
    # Opening the slip changed nothing and recorded no personal data.
    assert audit_rows(db, "card.new_renewal_code") == []


@SQLITE
def test_slip_language_follows_the_resident_then_the_city(clerk):
    _, _, _, page = issue_and_show(clerk, {**ANA_FORM, "languages": [],
                                           "language_other": "Français"})
    assert re.search(r'<option value="fr" lang="fr" selected>', page)
    _, _, _, page = issue_and_show(clerk, {**ANA_FORM, "given_names": "Rosa",
                                           "date_of_birth": "1985-02-03"})
    # Português and English: the first language the resident speaks with a catalog.
    assert re.search(r'<option value="pt" lang="pt" selected>', page)


@SQLITE
def test_desk_lines_are_left_out_when_not_configured(tmp_path, db, keys_template, staff):
    app = build(tmp_path, db, keys_template)
    try:
        client = app.test_client()
        Auth(client).login(staff["clerk"])
        _, serial, code, _ = issue_and_show(client)
        slip = pdf_text(client.get(f"/clerk/cards/{serial}/slip.pdf?lang=en").data)
        assert code in slip and "Opening hours" not in slip and "Address" not in slip
    finally:
        app.extensions["cardservice"].db.dispose()


@SQLITE
def test_a_slip_is_refused_for_a_code_that_is_not_the_cards(city, clerk):
    _, serial, code, _ = issue_and_show(clerk)
    cards = city.extensions["cardservice"].cards
    labels = SlipLabels(*(["x"] * 13))
    with pytest.raises(RenewalCodeMismatchError):
        cards.renewal_slip_pdf(serial, code="ZZZZZZZZ", labels=labels, resident_url="http://x")
    assert cards.renewal_slip_pdf(serial, code=code, labels=labels,
                                  resident_url="http://x").startswith(b"%PDF")
    # A session that carries another code (crafted) prints nothing either.
    with clerk.session_transaction() as sess:
        sess["clerk_renewal_slip"] = {"serial": serial, "code": "ZZZZZZZZ"}
    refused = clerk.get(f"/clerk/cards/{serial}/slip.pdf")
    assert refused.status_code == 403 and refused.mimetype != "application/pdf"


@SQLITE
def test_api_pdf_reprint_and_sheet_carry_no_code(city, staff, db):
    client = city.test_client()
    api = {"Authorization": f"Bearer {staff['clerk'].token}"}
    rid = client.post("/api/v1/residents", json=ANA_API, headers=api).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=api).get_json()
    code = card["renewal_code"]  # SPEC §6: the API still returns it, once
    pdf = client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=api).data
    assert not codes_in(pdf_text(pdf), code)
    # The sealed print data no longer holds the code...
    ext = city.extensions["cardservice"]
    with db.engine.connect() as conn:
        sealed = conn.execute(text("SELECT print_data FROM cards WHERE serial = :s"),
                              {"s": card["serial"]}).scalar_one()
    with ext.db.session() as s:
        r = s.get(Resident, rid)
        key = residents.data_key(ext.keys, r)
        opened = json.loads(ext.keys.vault().decrypt(key, sealed, record_id=rid,
                                                     field=f"card:{card['serial']}"))
        assert set(opened) == {"qr"}
        # ...and a card sealed the old way (code inside) reprints without it.
        old = ext.keys.vault().encrypt(
            key, json.dumps({"qr": opened["qr"], "renewal_code": code}).encode(),
            record_id=rid, field=f"card:{card['serial']}")
        s.execute(text("UPDATE cards SET print_data = :p WHERE serial = :s"),
                  {"p": old, "s": card["serial"]})
        s.commit()
    reprint = client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=api).data
    assert not codes_in(pdf_text(reprint), code)
    assert serials.format_serial(card["serial"]) in pdf_text(reprint)
    sheet = ext.cards.sheet(start=card_day(card)[0], end=card_day(card)[1],
                            only_unprinted=False, actor="test")
    assert card["serial"] in sheet.serials and not codes_in(pdf_text(sheet.pdf), code)


def qr_of(city, serial):
    ext = city.extensions["cardservice"]
    with ext.db.session() as s:
        return card_service.card_face(s, ext.keys, serial, settings=ext.settings).qr_text


def card_day(card):
    issued = datetime.fromisoformat(card["issued_at"].replace("Z", "+00:00"))
    return issued - timedelta(days=1), issued + timedelta(days=1)


# ---- what a card shows is not enough; the slip is ----------------------------------------

@SQLITE
def test_a_cards_printed_data_alone_cannot_cancel_or_change_it(city, clerk, db):
    rid, serial, code, _ = issue_and_show(clerk)
    client = city.test_client()
    card_pdf = pdf_text(clerk.get(f"/clerk/cards/{serial}.pdf").data)
    qr = qr_of(city, serial)  # the QR text, as a scanner reads it from the back
    dob = ANA_FORM["date_of_birth"]
    shown = serials.format_serial(serial)
    # Everything on the card (each printed line and the QR) tried as the code.
    candidates = {"", serial, shown, dob, qr, "PTLIS", "Lisboa", ANA_FORM["given_names"],
                  *[line.strip() for line in card_pdf.splitlines() if line.strip()]}
    assert not any(codes_in(c, code) for c in candidates)
    for candidate in sorted(candidates):
        for kind in ("lost", "change", "renew"):
            body = {"serial": shown, "date_of_birth": dob, "renewal_code": candidate,
                    "kind": kind, **({"changes": {"preferred_name": "Mia"}}
                                     if kind == "change" else {})}
            resp = client.post("/api/v1/renewals", json=body)
            assert resp.status_code == 403, (candidate, kind, resp.get_json())
            assert resp.get_json()["error"] == "not_matched"
            assert "renewal slip" in resp.get_json()["message"]
    # The same through the resident's page.
    form = client.post("/card/", data={"serial": shown, "date_of_birth": dob,
                                       "renewal_code": serial,
                                       "csrf_token": csrf_token(client, "/card/")})
    assert form.status_code == 403 and "renewal code on your renewal slip" in \
        form.get_data(as_text=True)
    assert requests_count(db) == 0
    assert verify_status(client, qr) == "valid"
    assert audit_rows(db, "card.revoke") == []


@SQLITE
def test_a_lost_card_is_reported_with_the_slip_alone(city, clerk, db):
    _, serial, code, _ = issue_and_show(clerk)
    qr = qr_of(city, serial)
    resident = city.test_client()  # no card at hand: what is on the slip, and a birth date
    start = resident.get("/card/").get_data(as_text=True)
    assert "Renewal code (on your renewal slip)" in start
    resp = resident.post("/card/", data={"serial": serials.format_serial(serial),
                                         "date_of_birth": ANA_FORM["date_of_birth"],
                                         "renewal_code": code.lower(),
                                         "csrf_token": csrf_token(resident, "/card/")})
    assert resp.status_code == 302 and resp.headers["Location"] == "/card/manage"
    manage = resident.get("/card/manage").get_data(as_text=True)
    assert "you need your renewal slip" in manage
    assert "A clerk checks every change before it is made" in manage
    reported = resident.post("/card/manage/report", data={
        "kind": "lost", "csrf_token": csrf_token(resident, "/card/manage")})
    assert reported.status_code == 302
    assert verify_status(resident, qr) == "revoked"
    assert requests_count(db) == 1


@SQLITE
def test_a_change_asked_with_the_slip_waits_for_a_clerk(city, clerk, db):
    rid, serial, code, _ = issue_and_show(clerk)
    client = city.test_client()
    resp = client.post("/api/v1/renewals", json={
        "serial": serial, "date_of_birth": ANA_FORM["date_of_birth"], "renewal_code": code,
        "kind": "change", "changes": {"preferred_name": "Mia"}})
    assert resp.status_code == 202 and resp.get_json()["status"] == "pending"
    record = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "Known as Mia" not in record  # nothing applied before a clerk approves


# ---- a new slip at the desk ----------------------------------------------------------------

@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_new_slip_at_the_desk_replaces_the_code(city, clerk, db):
    rid, serial, old_code, _ = issue_and_show(clerk)
    record = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "Issue a new renewal slip" in record and "the old code stops working" in record
    # Without a valid form nothing changes.
    assert clerk.post(f"/clerk/cards/{serial}/new-slip").status_code in (302, 400)
    assert audit_rows(db, "card.new_renewal_code") == []

    token = csrf_token(clerk, f"/clerk/residents/{rid}")
    resp = clerk.post(f"/clerk/cards/{serial}/new-slip", data={"csrf_token": token})
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/clerk/cards/{serial}/issued"
    page = clerk.get(resp.headers["Location"]).get_data(as_text=True)
    assert "New renewal slip" in page
    new_code = CODE_ON_PAGE.search(page).group(1)
    assert new_code != old_code
    slip = pdf_text(clerk.get(f"/clerk/cards/{serial}/slip.pdf?lang=en").data)
    assert new_code in slip and old_code not in slip

    client = city.test_client()

    def ask(code):
        return client.post("/api/v1/renewals", json={
            "serial": serial, "date_of_birth": ANA_FORM["date_of_birth"],
            "renewal_code": code, "kind": "damaged"})

    assert ask(old_code).status_code == 403
    assert ask(new_code).status_code == 202
    rows = audit_rows(db, "card.new_renewal_code")
    assert len(rows) == 1
    actor, target, details = rows[0]
    assert actor == "clerk1" and target == serial
    assert details in (None, "null", {}, "{}")  # nothing personal, not the code
    # Not for a card out of force: the page says why and nothing changes.
    revoke = clerk.post(f"/clerk/cards/{serial}/revoke", data={
        "reason": "withdrawn", "csrf_token": csrf_token(clerk, f"/clerk/residents/{rid}")})
    assert revoke.status_code == 302
    refused = clerk.post(f"/clerk/cards/{serial}/new-slip", data={
        "csrf_token": csrf_token(clerk, f"/clerk/residents/{rid}")}, follow_redirects=True)
    assert "Only a card in force has a renewal slip." in refused.get_data(as_text=True)
    assert len(audit_rows(db, "card.new_renewal_code")) == 1
