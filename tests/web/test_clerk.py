"""The clerk's pages: register through the form, issue, preview, print, revoke, search.

Everything goes through the real app, real forms with CSRF tokens, real keys, a real
database (SQLite and PostgreSQL) and real PDFs whose QR code is read back.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import text

from cardservice import serials
from tests.conftest import csrf_token, make_settings

ANA = {
    "given_names": "Ana Maria", "family_names": "Conceição da Silva",
    "date_of_birth": "1990-04-12", "gender": "F",
    "address_line1": "Rua das Flores 12", "address_postcode": "1200-195",
    "languages": ["pt", "en"],
    "documents": ["passport", "utility_bill"], "fee_waiver": "",
}


def jpeg_bytes(w: int = 600, h: int = 800) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (120, 160, 200)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def clerk(client, auth, staff):
    """The test client, signed in as a clerk."""
    auth.login(staff["clerk"])
    return client


def post_form(client, path, data, *, photo: bytes | None = None, token_from: str | None = None):
    body = {**data, "csrf_token": csrf_token(client, token_from or path)}
    if photo is not None:
        body["photo"] = (io.BytesIO(photo), "face.jpg", "image/jpeg")
    return client.post(path, data=body, content_type="multipart/form-data")


def register(client, data=None, **kw):
    return post_form(client, "/clerk/residents/new", data or ANA, **kw)


def registered(client, **kw) -> str:
    resp = register(client, **kw)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    m = re.fullmatch(r"/clerk/residents/([0-9a-f]+)", resp.headers["Location"])
    assert m, resp.headers["Location"]
    return m.group(1)


def issue(client, rid) -> str:
    resp = client.post(f"/clerk/residents/{rid}/cards",
                       data={"csrf_token": csrf_token(client, f"/clerk/residents/{rid}")})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:1000]
    m = re.fullmatch(r"/clerk/cards/([0-9A-Z]{11})/issued", resp.headers["Location"])
    assert m, resp.headers["Location"]
    return m.group(1)


def count(db, table: str) -> int:
    with db.engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_register_issue_preview_print_revoke(clerk, db):
    form = clerk.get("/clerk/residents/new")
    assert form.status_code == 200
    html = form.get_data(as_text=True)
    assert "Never ask about immigration status, nationality or place of birth." in html
    assert 'accept="image/*"' in html and 'capture="user"' in html
    assert "3 points are needed" in html
    for forbidden in ("nationality", "birth_place", "place_of_birth", "status", "passport_number"):
        assert f'name="{forbidden}"' not in html

    rid = registered(clerk, photo=jpeg_bytes(1200, 1600))
    page = clerk.get(f"/clerk/residents/{rid}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Ana Maria Conceição da Silva" in html and "Registered." in html
    assert "Passport" in html and "Utility bill" in html and "Rua das Flores 12" in html
    assert "No card has been issued yet." in html

    photo = clerk.get(f"/clerk/residents/{rid}/photo")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert photo.headers["Cache-Control"] == "no-store"
    assert Image.open(io.BytesIO(photo.data)).size == (600, 800)

    serial = issue(clerk, rid)
    shown = clerk.get(f"/clerk/cards/{serial}/issued").get_data(as_text=True)
    assert serials.format_serial(serial) in shown and "not kept in clear" in shown
    code = re.search(r'class="serial big secret">([0-9A-Z]{4}-[0-9A-Z]{4})<', shown)
    assert code, "the renewal code is shown once"
    again = clerk.get(f"/clerk/cards/{serial}/issued").get_data(as_text=True)
    assert code.group(1) not in again, "the renewal code is shown only once"

    preview = clerk.get(f"/clerk/cards/{serial}/preview")
    assert preview.status_code == 200
    assert f"/clerk/cards/{serial}/preview.png?side=back" in preview.get_data(as_text=True)
    front = clerk.get(f"/clerk/cards/{serial}/preview.png?side=front")
    back = clerk.get(f"/clerk/cards/{serial}/preview.png?side=back")
    assert front.mimetype == back.mimetype == "image/png"
    assert front.headers["Cache-Control"] == "no-store"
    width, height = Image.open(io.BytesIO(front.data)).size
    assert 660 <= width <= 690 and 420 <= height <= 440  # ID-1 at 200 dpi
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(back.data)))
    assert any(c.text.startswith("LC1:") for c in codes), "the QR on the back reads back"
    assert clerk.get(f"/clerk/cards/{serial}/preview.png?side=inside").status_code == 404

    pdf = clerk.get(f"/clerk/cards/{serial.lower()}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.headers["Content-Disposition"] == f'inline; filename="card-{serial}.pdf"'
    assert pdf.data.startswith(b"%PDF") and len(pdfium.PdfDocument(pdf.data)) == 2

    page = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "Yes, revoke this card" in page and "This supersedes card" in page
    token = csrf_token(clerk, f"/clerk/residents/{rid}")
    no_reason = clerk.post(f"/clerk/cards/{serial}/revoke", data={"csrf_token": token})
    assert no_reason.status_code == 302
    page = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "Choose why the card is revoked." in page and "status-active" in page

    resp = clerk.post(f"/clerk/cards/{serial}/revoke",
                      data={"csrf_token": token, "reason": "lost"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/clerk/residents/{rid}"
    page = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "is revoked (lost)" in page and "status-revoked" in page
    assert "Yes, revoke this card" not in page and "This supersedes card" not in page
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT status, revocation_reason FROM cards")).one()
    assert tuple(row) == ("revoked", "lost")


def test_issuing_again_asks_to_confirm_and_supersedes(clerk):
    rid = registered(clerk)
    first = issue(clerk, rid)
    page = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert f"This supersedes card {serials.format_serial(first)}" in page
    assert '<details class="confirm">' in page and "Yes, issue a new card" in page
    second = issue(clerk, rid)
    assert second != first
    page = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "Replaced by a newer card" in page
    assert "(Replaced)" not in page  # the status says why; no reason repeats it
    assert f"This supersedes card {serials.format_serial(second)}" in page


# Searching at the desk (by card, scan, names, family name and year): tests/web/test_search.py.


def test_likely_duplicate_needs_confirmation_and_keeps_the_photo(clerk, db):
    first = registered(clerk)
    again = register(clerk, photo=jpeg_bytes())
    html = again.get_data(as_text=True)
    assert again.status_code == 409
    assert "This person may already be registered" in html
    assert f'href="/clerk/residents/{first}"' in html
    assert 'name="confirm_new"' in html
    # The candidate is shown by name, birth date and photo, with the decision, before the
    # form's fields (beside them on a wide screen).
    panel = html.index('class="duplicate"')
    assert panel < html.index('name="given_names"')
    name = html.index("Ana Maria Conceição da Silva", panel)
    assert name < html.index("Open this record") < html.index('name="given_names"')
    assert html.index("This is a different person — register anyway") < html.index(
        'name="given_names"')
    assert re.search(r'<button type="submit" form="resident-form" name="confirm_new" value="y"',
                     html)
    assert 'id="resident-form"' in html
    assert "Born April 12, 1990" in html
    assert f'href="/clerk/residents/{first}" target="_blank" rel="noopener"' in html
    assert "No card issued yet." in html
    assert 'value="Ana Maria"' in html  # the form keeps what was typed
    kept = re.search(r'name="photo_data" type="hidden" value="(data:image/jpeg;base64,[^"]+)"',
                     html)
    assert kept, "the photo sent is carried into the re-shown form"
    assert count(db, "residents") == 1

    # Resubmitting without ticking the box changes nothing.
    assert register(clerk, {**ANA, "photo_data": kept.group(1)}).status_code == 409
    second = registered(clerk, data={**ANA, "photo_data": kept.group(1), "confirm_new": "y"})
    assert second != first and count(db, "residents") == 2
    assert clerk.get(f"/clerk/residents/{second}/photo").status_code == 200
    assert clerk.get(f"/clerk/residents/{first}/photo").status_code == 404

    # Two candidates now, one with a photo and a card: each shown with them.
    serial = issue(clerk, second)
    third = register(clerk).get_data(as_text=True)
    assert f'src="/clerk/residents/{second}/photo"' in third
    assert 'alt="Photo of Ana Maria Conceição da Silva"' in third
    assert serials.format_serial(serial) in third and "Active" in third
    assert "2 residents with the same names and date of birth exist." in third


def test_document_shortfall_shows_what_is_missing(clerk, db):
    resp = register(clerk, {**ANA, "documents": ["utility_bill"]})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "Documents seen: not enough points (1 of 3)." in html
    # The running total, worked out by the server for what was ticked (points.js keeps it
    # up to date as boxes are ticked; one sentence per possible total, plurals included).
    assert 'id="points-total" role="status" aria-live="polite"' in html
    assert "Documents ticked: 1 point of the 3 needed." in html
    assert 'data-msg-2="Documents ticked: 2 points of the 3 needed."' in html
    assert 'data-msg-3="Documents ticked: 3 points. Enough."' in html
    assert re.search(r'<input checked data-points="1" id="documents-\d+" name="documents" '
                     r'type="checkbox" value="utility_bill">', html)
    assert 'aria-describedby="documents-help documents-error"' in html
    assert 'href="#documents"' in html  # the error summary links to the checkboxes
    # What the clerk typed is still there.
    assert 'value="Ana Maria"' in html
    assert count(db, "residents") == 0


def test_document_points_are_counted_in_words(clerk):
    html = clerk.get("/clerk/residents/new").get_data(as_text=True)
    assert "Passport — 2 points" in html and "Utility bill — 1 point<" in html
    assert "point(s)" not in html
    assert '<script src="/static/js/points.js" type="module"></script>' in html
    # Before anything is sent, only the script shows the total (it would not follow the
    # boxes without it).
    assert re.search(r'id="points-total"[^>]*hidden>', html)


def _error_texts(html: str) -> str:
    """The text of the error summary and of every error next to a field."""
    parts = re.findall(r'<div class="error-summary".*?</div>', html, re.S)
    parts += re.findall(r'<p class="error"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", " ", " ".join(parts))  # what is read, not the markup


@pytest.mark.parametrize("change, words", [
    ({"given_names": "", "family_names": ""}, "Give a given name or a family name"),
    ({"address_line1": "", "no_fixed_address": ""}, "Give a street and number"),
    ({"contact_email": "nope"}, "E-mail: this is not an e-mail address."),
    ({"contact_phone": "call me"}, "Phone: this is not a phone number."),
    ({"address_line1": "x" * 150}, "Street and number: too long. Maximum length: 120."),
    ({"date_of_birth": "2999-01-01"}, "Date of birth: this date is not possible"),
])
def test_errors_name_fields_by_their_labels(clerk, change, words):
    resp = register(clerk, {**ANA, **change})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    errors = _error_texts(html)
    assert words in errors
    for internal in ("given_names", "family_names", "line1", "contact.", "date_of_birth",
                     "no fixed address'", "_"):
        assert internal not in errors, (internal, errors)


def test_never_collected_fields_are_refused_and_nothing_stored(clerk, db):
    rid = registered(clerk)
    for field in ("nationality", "place_of_birth", "immigration_status", "passport_number"):
        for path in ("/clerk/residents/new", f"/clerk/residents/{rid}/edit"):
            resp = post_form(clerk, path, {**ANA, "given_names": "Other", field: "x"},
                             photo=jpeg_bytes())
            html = resp.get_data(as_text=True)
            assert resp.status_code == 400, (field, path)
            assert f"The field &#39;{field}&#39; is refused" in html and "does not collect" in html
    # A scan of a document, sent as a file, is refused the same way.
    body = {**ANA, "csrf_token": csrf_token(clerk, "/clerk/residents/new"),
            "passport_scan": (io.BytesIO(jpeg_bytes()), "scan.jpg", "image/jpeg")}
    resp = clerk.post("/clerk/residents/new", data=body, content_type="multipart/form-data")
    assert resp.status_code == 400 and "passport_scan" in resp.get_data(as_text=True)
    assert count(db, "residents") == 1
    assert count(db, "audit_log WHERE action LIKE 'resident.%'") == 1  # the first register
    assert "Other" not in clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)


def test_a_file_that_is_not_a_photo_is_refused_at_the_photo_field(clerk, db):
    body = {**ANA, "csrf_token": csrf_token(clerk, "/clerk/residents/new"),
            "photo": (io.BytesIO(b"%PDF-1.4 not a photo"), "x.jpg", "image/jpeg")}
    resp = clerk.post("/clerk/residents/new", data=body, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "Photo refused" in html
    assert 'id="photo-error"' in html and "base64," not in html
    for bad in ("data:text/html;base64,PGI+", "data:image/jpeg;base64,***"):
        resp = register(clerk, {**ANA, "photo_data": bad})
        assert resp.status_code == 400 and 'id="photo-error"' in resp.get_data(as_text=True)
    assert count(db, "residents") == 0


def test_correct_the_record(clerk):
    rid = registered(clerk)
    edit = clerk.get(f"/clerk/residents/{rid}/edit").get_data(as_text=True)
    assert 'value="Ana Maria"' in edit and 'value="1990-04-12"' in edit
    assert re.search(r'<input checked [^>]*value="passport">', edit)
    assert "Save the correction" in edit
    changed = {**ANA, "preferred_name": "Aninhas", "confidential_address": "y"}
    resp = post_form(clerk, f"/clerk/residents/{rid}/edit", changed)
    assert resp.status_code == 302 and resp.headers["Location"] == f"/clerk/residents/{rid}"
    page = clerk.get(f"/clerk/residents/{rid}").get_data(as_text=True)
    assert "Known as Aninhas" in page and "The record is corrected." in page
    assert "Confidential address — show it" in page

    bad = post_form(clerk, f"/clerk/residents/{rid}/edit", {**ANA, "contact_email": "nope"})
    assert bad.status_code == 400
    assert 'id="contact_email-error"' in bad.get_data(as_text=True)


def _printed(db) -> dict[str, bool]:
    with db.engine.connect() as conn:
        return {serial: printed is not None for serial, printed in conn.execute(
            text("SELECT serial, printed_at FROM cards"))}


def test_batch_printing(clerk, monkeypatch, db):
    from cardservice.web import clerk as clerk_views

    made = []
    for given in ("Ana", "Bea", "Carla"):
        rid = registered(clerk, data={**ANA, "given_names": given},
                         photo=jpeg_bytes() if given == "Bea" else None)
        made.append((rid, issue(clerk, rid)))
    today = datetime.now(UTC).date().isoformat()
    args = {"start": today, "end": today, "only_unprinted": "y"}

    start = clerk.get("/clerk/print").get_data(as_text=True)
    assert f'value="{today}"' in start
    assert re.search(r'<input checked [^>]*name="only_unprinted" type="checkbox"', start)

    monkeypatch.setattr(clerk_views, "MAX_BATCH", 2)
    monkeypatch.setattr(clerk_views, "PRINT_LIST_PAGE", 2)
    listing = clerk.get("/clerk/print", query_string=args).get_data(as_text=True)
    assert "3 cards to print" in listing and "A batch holds at most 2 cards" in listing
    assert "Print 2 cards (PDF)" in listing and "Next page" in listing
    assert "The sheet holds 2 cards. Making it records them all as printed." in listing
    assert "Yes, make the PDF" not in listing  # a small sheet needs no second step
    second = clerk.get("/clerk/print", query_string={**args, "page": 2}).get_data(as_text=True)
    assert "Page 2" in second
    # The list's order: issue time, then serial (cards issued within the same second).
    with db.engine.connect() as conn:
        order = [serial for (serial,) in conn.execute(
            text("SELECT serial FROM cards ORDER BY issued_at, serial"))]
    pages = {serial: (listing if i < 2 else second) for i, serial in enumerate(order)}
    # Each card with its holder's name (a link to the record) and photo, beside the serial.
    (ana, ana_card), (bea, bea_card), (carla, carla_card) = made
    for rid, card, given in ((ana, ana_card, "Ana"), (bea, bea_card, "Bea"),
                             (carla, carla_card, "Carla")):
        shown, other = pages[card], second if pages[card] is listing else listing
        assert serials.format_serial(card) in shown and serials.format_serial(card) not in other
        assert f'<a href="/clerk/residents/{rid}">{given} Conceição da Silva</a>' in shown
    assert (f'src="/clerk/residents/{bea}/photo" alt="Photo of Bea Conceição da Silva"'
            in pages[bea_card])
    assert f"/clerk/residents/{ana}/photo" not in listing + second
    # Looking at the list or at a card's PDF records nothing.
    assert clerk.get(f"/clerk/cards/{ana_card}.pdf").status_code == 200
    assert not any(_printed(db).values())

    token = csrf_token(clerk, "/clerk/print?" + "&".join(f"{k}={v}" for k, v in args.items()))
    sheet = clerk.post("/clerk/print", data={"csrf_token": token, "start": today, "end": today,
                                             "only_unprinted": "1"})
    assert sheet.status_code == 200 and sheet.mimetype == "application/pdf"
    assert sheet.headers["Content-Disposition"].startswith("attachment;")
    assert len(pdfium.PdfDocument(sheet.data)) == 2  # fronts, then backs
    # Making the sheet records its cards (the first two of the list) as printed, only them.
    assert _printed(db) == {order[0]: True, order[1]: True, order[2]: False}

    rest = clerk.get("/clerk/print", query_string=args).get_data(as_text=True)
    assert "1 card to print" in rest
    everything = clerk.get("/clerk/print", query_string={"start": today, "end": today})
    assert "3 cards to print" in everything.get_data(as_text=True)

    monkeypatch.setattr(clerk_views, "LARGE_SHEET", 2)
    large = clerk.get("/clerk/print", query_string={"start": today, "end": today,
                                                    "page": 9}).get_data(as_text=True)
    assert '<details class="confirm">' in large and "Yes, make the PDF of 2 cards" in large
    assert "Page 2" in large  # a page past the end shows the last one

    backwards = clerk.get("/clerk/print", query_string={"start": today, "end": "2000-01-01"})
    assert backwards.status_code == 400
    assert "The last day comes before the first." in backwards.get_data(as_text=True)


def test_agents_and_admins_may_not_use_the_clerk_pages(client, auth, staff):
    for role in ("agent", "admin"):
        auth.login(staff[role])
        for path in ("/clerk/", "/clerk/residents/new", "/clerk/print"):
            assert client.get(path).status_code == 403, (role, path)
        auth.logout()


def test_page_language_and_home_tiles(clerk):
    html = clerk.get("/clerk/residents/new", headers={"Accept-Language": "fr"}).get_data(
        as_text=True)
    assert '<html lang="fr" dir="ltr">' in html
    html = clerk.get("/").get_data(as_text=True)
    assert 'href="/clerk/"' in html and 'href="/clerk/residents/new"' in html
    assert 'href="/clerk/print"' in html


def test_gender_marker_is_kept_but_not_printed_when_the_city_says_so(tmp_path, db, staff,
                                                                     keys_template):
    from cardservice import create_app
    from tests.conftest import Auth, copy_keys

    copy_keys(keys_template, tmp_path / "keys")
    settings = make_settings(tmp_path, database_url=db.url, cards={"print_gender": False})
    app = create_app(settings, overrides={"TESTING": True, "RATELIMIT_ENABLED": False})
    try:
        client = app.test_client()
        Auth(client).login(staff["clerk"])
        form = client.get("/clerk/residents/new").get_data(as_text=True)
        assert "This city does not print a gender marker on the card" in form
        rid = registered(client)
        page = client.get(f"/clerk/residents/{rid}").get_data(as_text=True)
        assert "F — female" in page and "(not printed on cards in this city)" in page
    finally:
        app.extensions["cardservice"].db.dispose()


class _InlineFinder(HTMLParser):
    """Collects what a strict CSP (no 'unsafe-inline') would block."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = {k for k, _v in attrs}
        if tag == "script" and "src" not in names:
            self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        if "style" in names:
            self.problems.append(f"style attribute on <{tag}>")
        self.problems += [f"{k} handler on <{tag}>" for k in names if k.startswith("on")]
        self.problems += [f"javascript: URL on <{tag}>" for k, v in attrs
                          if k in ("href", "src", "action") and v and v.startswith("javascript:")]


def test_no_inline_scripts_or_styles_on_any_clerk_page(clerk):
    rid = registered(clerk, photo=jpeg_bytes())
    serial = issue(clerk, rid)
    today = datetime.now(UTC).date().isoformat()
    pages = {
        "desk": clerk.get("/clerk/"),
        "serial search": clerk.get("/clerk/", query_string={"serial": serial}),
        "name search": post_form(clerk, "/clerk/", {"given_names": "Ana Maria",
                                                    "family_names": "Conceição da Silva",
                                                    "date_of_birth": "1990-04-12"}),
        "register": clerk.get("/clerk/residents/new"),
        "register, errors": register(clerk, {**ANA, "documents": []}),
        "register, duplicate": register(clerk, photo=jpeg_bytes()),
        "resident": clerk.get(f"/clerk/residents/{rid}"),
        "edit": clerk.get(f"/clerk/residents/{rid}/edit"),
        "issued": clerk.get(f"/clerk/cards/{serial}/issued"),
        "preview": clerk.get(f"/clerk/cards/{serial}/preview"),
        "print": clerk.get("/clerk/print", query_string={"start": today, "end": today}),
    }
    for name, resp in pages.items():
        assert resp.mimetype == "text/html", name
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store", name
        finder = _InlineFinder()
        finder.feed(resp.get_data(as_text=True))
        assert finder.problems == [], name
