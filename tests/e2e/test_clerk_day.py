"""A clerk's and an administrator's day in a real browser, with axe-core on every page.

One live city (``cardservice serve`` in a subprocess) and Debian's Chromium: a clerk signs
in, registers a resident with a photo, meets the duplicate warning twice (the same person
typed differently: open their record; a different person with the same name and birth
date: register anyway), issues a card and prints the card and its renewal slip, works a
resident's renewal request from the queue, and finds the resident by scanning the card
and by name. An administrator then looks at the keys, the audit log, the staff and the
partner cities. Every staff page on the way is checked with axe-core (serious and
critical violations); the test asserts at the end that none was found anywhere, so one
run lists them all.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from cardservice import qr
from tests.e2e.axe import serious_violations
from tests.e2e.conftest import LiveCity

pytestmark = pytest.mark.browser

DOB = "1985-03-07"
GIVEN, FAMILY = "Maria José", "Conceição Gonçalves"
FULL_NAME = f"{GIVEN} {FAMILY}"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
CLERK_PASSWORD = "a long desk password"
ADMIN_PASSWORD = "a long admin password"


@pytest.fixture(scope="module")
def day_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    """A city whose renewal window is open for a card issued today; a clerk and the admin
    with their one-time passwords."""
    live = LiveCity(tmp_path_factory.mktemp("clerkday"))
    with live.config.open("a", encoding="utf-8") as fh:
        fh.write("\n[cards]\nrenewal_days_before = 4000\n")
    live.setup()
    live.desk_password = live.cli(  # type: ignore[attr-defined]
        "users", "add", "desk1", "--role", "clerk").strip().splitlines()[-1]
    live.admin_password = live.cli(  # type: ignore[attr-defined]
        "users", "reset-password", "boss").strip().splitlines()[-1]
    live.start()
    try:
        yield live
    finally:
        live.stop()


def portrait_jpeg() -> bytes:
    """A passport-like photo: a face-coloured oval on a pale background."""
    image = Image.new("RGB", (600, 800), (214, 226, 236))
    draw = ImageDraw.Draw(image)
    draw.ellipse((170, 160, 430, 500), fill=(205, 160, 125))
    draw.rectangle((120, 540, 480, 800), fill=(60, 80, 120))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def pdf_text(data: bytes) -> str:
    """All the text of a PDF (pypdfium2)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()


def letters(text: str) -> str:
    """Only letters and digits, upper case: a code or serial however it is grouped."""
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def sign_in(page: Any, city: LiveCity, username: str, one_time: str, chosen: str) -> None:
    """First sign-in: the one-time password, then the password the account chooses."""
    page.goto(city.url + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(one_time)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Current password").fill(one_time)
    page.get_by_label(re.compile("^New password \\(")).fill(chosen)
    page.get_by_label("New password again").fill(chosen)
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()
    assert "/login" not in page.url and "/password" not in page.url, page.url


# How wide the page is, and the innermost elements that stick out past the screen's edge.
WIDE_JS = """() => {
    const out = [...document.body.querySelectorAll("*")].filter(
        e => e.getBoundingClientRect().right > innerWidth + 1
             && ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth + 1));
    return {width: document.documentElement.scrollWidth, screen: innerWidth,
            culprits: out.slice(0, 5).map(e => e.tagName.toLowerCase()
                + (e.className ? "." + String(e.className).split(" ").join(".") : ""))};
}"""


class Day:
    """What the walk collects: axe results per page, and screenshots."""

    def __init__(self, shots: Path) -> None:
        self.found: dict[str, list[str]] = {}
        self.shots = shots

    def check(self, page: Any, name: str) -> None:
        """Run axe on the page as it is now."""
        assert name not in self.found, f"page name {name!r} used twice"
        page.wait_for_load_state()
        found = serious_violations(page)
        # A phone must not scroll sideways to read a page (WCAG 1.4.10, reflow): axe does
        # not check that, so it is measured here and reported with the page's violations.
        wide = page.evaluate(WIDE_JS)
        if wide["width"] > wide["screen"]:
            found.append(f"reflow: the page is {wide['width']} px wide on a {wide['screen']} px "
                         f"screen — {', '.join(wide['culprits'])}")
        self.found[name] = found

    def shoot(self, page: Any, name: str) -> None:
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)


def fill_resident(page: Any, given: str, family: str, *, street: str,
                  photo: bytes | None) -> None:
    """The registration form, with the documents that make the points."""
    page.get_by_label("Given names").fill(given)
    page.get_by_label("Family names").fill(family)
    page.get_by_label("Date of birth").fill(DOB)
    page.get_by_label("Street and number").fill(street)
    page.locator("select[name=languages]").select_option("pt")
    page.locator("input[name=documents][value=passport]").check()
    page.locator("input[name=documents][value=utility_bill]").check()
    if photo is not None:
        page.locator("input[name=photo]").set_input_files(
            files=[{"name": "face.jpg", "mimeType": "image/jpeg", "buffer": photo}])


def test_a_clerks_and_an_admins_day(day_city: LiveCity, browser: Any, tmp_path: Path) -> None:
    city = day_city
    day = Day(tmp_path)
    clerk_ctx = browser.new_context(locale="en-GB", viewport=DESKTOP)
    clerk = clerk_ctx.new_page()
    clerk.set_default_timeout(60_000)
    try:
        # 1. sign in (the first time: choose a password)
        sign_in(clerk, city, "desk1", city.desk_password,  # type: ignore[attr-defined]
                CLERK_PASSWORD)
        clerk.goto(city.url + "/clerk/")
        day.check(clerk, "desk")

        # 2. register a resident with a photo
        clerk.get_by_role("link", name="Register a new resident").click()
        day.check(clerk, "register form")
        fill_resident(clerk, GIVEN, FAMILY, street="Rua das Flores 12", photo=portrait_jpeg())
        clerk.get_by_role("button", name="Register", exact=True).click()
        assert "/clerk/residents/" in clerk.url and "/new" not in clerk.url
        record_url = clerk.url
        expect(clerk.get_by_role("heading", level=1)).to_have_text(FULL_NAME)
        expect(clerk.get_by_role("img", name=f"Photo of {FULL_NAME}")).to_be_visible()
        day.check(clerk, "resident record")

        # ... the same person again, typed differently: lower case, no accents, names swapped
        clerk.goto(city.url + "/clerk/residents/new")
        fill_resident(clerk, "maria jose", "goncalves conceicao", street="Rua das Flores 12",
                      photo=None)
        clerk.get_by_role("button", name="Register", exact=True).click()
        warning = clerk.locator("section.duplicate")
        expect(warning).to_be_visible()
        assert warning.locator(".candidate-name").inner_text().startswith(FULL_NAME)
        expect(warning.get_by_role("img", name=f"Photo of {FULL_NAME}")).to_be_visible()
        # before the form in reading order; beside it, on its left, on a wide screen
        assert warning.bounding_box()["x"] < clerk.locator("#resident-form").bounding_box()["x"]
        day.check(clerk, "duplicate warning")
        day.shoot(clerk, "duplicate-warning")
        warning.get_by_role("link", name=re.compile("^Open this record")).click()
        assert clerk.url == record_url  # nobody was registered twice

        # ... a different person with the same names and birth date: register anyway
        clerk.goto(city.url + "/clerk/residents/new")
        fill_resident(clerk, GIVEN, FAMILY, street="Avenida da Liberdade 200", photo=None)
        clerk.get_by_role("button", name="Register", exact=True).click()
        expect(clerk.locator("section.duplicate")).to_be_visible()
        clerk.get_by_role("button", name="This is a different person — register anyway").click()
        assert "Registered." in clerk.locator(".flashes").inner_text()
        assert clerk.url != record_url and "/new" not in clerk.url
        other_record_url = clerk.url

        # 3. issue a card: its number and, this once, the renewal code
        clerk.goto(record_url)
        clerk.get_by_role("button", name="Issue a card").click()
        assert "/issued" in clerk.url
        serial = letters(clerk.locator("dd.serial.big").first.inner_text())
        code = letters(clerk.locator("dd.serial.big.secret").inner_text())
        assert len(serial) == 11 and len(code) == 8
        day.check(clerk, "issued page")
        day.shoot(clerk, "issued")
        card_href = clerk.get_by_role("link", name="Print the card (PDF)").get_attribute("href")
        card_pdf = clerk_ctx.request.get(city.url + card_href)
        assert card_pdf.ok and card_pdf.body()[:5] == b"%PDF-"
        card_text = letters(pdf_text(card_pdf.body()))
        first_qr = qr.read_qr_from_file(card_pdf.body())
        assert code not in card_text  # the card is not its own key
        slip_form = clerk.locator("form.slip")
        slip_url = (city.url + slip_form.get_attribute("action") + "?lang="
                    + slip_form.locator("select[name=lang]").input_value())
        slip_pdf = clerk_ctx.request.get(slip_url)
        assert slip_pdf.ok and slip_pdf.body()[:5] == b"%PDF-"
        slip_text = letters(pdf_text(slip_pdf.body()))
        assert code in slip_text and serial in slip_text
        clerk.reload()
        assert clerk.locator(".secret").count() == 0
        assert code not in letters(clerk.locator("main").inner_text())
        # having left the page, the slip cannot be printed again
        assert clerk_ctx.request.get(slip_url).status == 404

        # 4. the resident asks for a renewal, without an account, on a phone
        resident_ctx = browser.new_context(locale="en-GB", viewport=PHONE)
        resident = resident_ctx.new_page()
        resident.set_default_timeout(60_000)
        resident.goto(city.url + "/card/")
        resident.get_by_label("Card number").fill(serial)
        resident.get_by_label("Date of birth").fill(DOB)
        resident.get_by_label(re.compile("Renewal code")).fill(code)
        resident.locator("form button[type=submit].primary").click()
        resident.get_by_role("button", name="Ask for a new card").click()
        assert "/card/requests/" in resident.url
        expect(resident.locator("[data-status=pending]")).to_be_visible()
        status_url = resident.url

        clerk.get_by_role("navigation").get_by_role("link", name="Requests", exact=True).click()
        assert "1 request is waiting." in clerk.locator("main").inner_text()
        row = clerk.locator("table.queue tbody tr").first
        expect(row.locator(".holder-name")).to_have_text(FULL_NAME)
        expect(row.get_by_role("img", name=f"Photo of {FULL_NAME}")).to_be_visible()
        day.check(clerk, "queue")
        day.shoot(clerk, "queue")
        clerk.set_viewport_size(PHONE)  # rows stack on a phone, each cell naming its column
        day.check(clerk, "queue (phone)")
        day.shoot(clerk, "queue-phone")
        clerk.set_viewport_size(DESKTOP)
        row.get_by_role("link", name=re.compile("^Decide")).click()
        expect(clerk.get_by_role("img", name=f"Photo of {FULL_NAME}")).to_be_visible()
        day.check(clerk, "queue item")
        clerk.locator("summary", has_text="Approve").click()
        clerk.get_by_role("button", name="Yes, approve and issue").click()
        assert "/issued" in clerk.url
        assert "Approved. New card" in clerk.locator(".flashes").inner_text()
        new_serial = letters(clerk.locator("dd.serial.big").first.inner_text())
        assert new_serial != serial
        assert len(letters(clerk.locator("dd.serial.big.secret").inner_text())) == 8
        day.check(clerk, "issued page after approval")
        new_card = clerk_ctx.request.get(
            city.url + clerk.get_by_role("link", name="Print the card (PDF)").get_attribute("href"))
        scanned = qr.read_qr_from_file(new_card.body())

        resident.goto(status_url)
        expect(resident.locator("[data-status=approved]")).to_be_visible()
        resident_ctx.close()

        # 5. a hand scanner types the card's QR text into the focused card field, then Enter
        clerk.get_by_role("navigation").get_by_role("link", name="Desk", exact=True).click()
        card_field = clerk.get_by_role("textbox", name="Card number or scan")
        expect(card_field).to_be_focused()  # the desk is ready for a scan as it opens
        record_link = f"a[href='{record_url.removeprefix(city.url)}']"
        for card_qr in (scanned, first_qr):  # the new card, then the one it replaced
            clerk.keyboard.type(card_qr)
            # Enter submits the search: wait for the answer page, not the page it replaces
            # (which, after the first scan, also shows "1 resident found").
            with clerk.expect_navigation():
                clerk.keyboard.press("Enter")
            results = clerk.locator("section.results")
            expect(results.get_by_role("heading")).to_have_text("1 resident found")
            expect(results.locator(record_link)).to_be_visible()
            # ... and the field is empty and focused again, for the next card
            expect(card_field).to_be_focused()
            expect(card_field).to_have_value("")
        day.check(clerk, "desk results (scan)")
        day.shoot(clerk, "desk-scan")

        # ... and by names without their accents, in another order, with the birth date
        by_name = clerk.locator("form", has=clerk.locator("#by-name"))
        by_name.get_by_label("Given names").fill("MARIA JOSE")
        by_name.get_by_label("Family names").fill("goncalves conceicao")
        by_name.get_by_label("Date of birth").fill(DOB)
        by_name.get_by_role("button", name="Find the resident").click()
        results = clerk.locator("section.results")
        expect(results.get_by_role("heading")).to_have_text("2 residents found")
        for url in (record_url, other_record_url):
            assert results.locator(f"a[href='{url.removeprefix(city.url)}']").count() == 1
        day.check(clerk, "desk results (name)")
        day.shoot(clerk, "desk-name")

        # the day's cards, to print on sheets
        clerk.get_by_role("navigation").get_by_role("link", name="Print cards").click()
        clerk.get_by_role("button", name="Show the cards").click()
        today = date.today().isoformat()
        assert f"start={today}" in clerk.url
        assert re.search(r"\d+ cards? to print", clerk.locator("main").inner_text())
        day.check(clerk, "print list")

        # the clerk's pages at a phone's width too
        clerk.set_viewport_size(PHONE)
        for name, path in (("desk", "/clerk/"), ("register form", "/clerk/residents/new"),
                           ("resident record", record_url.removeprefix(city.url)),
                           ("issued page", f"/clerk/cards/{new_serial}/issued")):
            clerk.goto(city.url + path)
            day.check(clerk, f"{name} (phone)")
            day.shoot(clerk, f"{name.replace(' ', '-')}-phone")
    finally:
        clerk_ctx.close()

    # 6. the administrator, on a phone
    admin_ctx = browser.new_context(locale="en-GB", viewport=PHONE)
    admin = admin_ctx.new_page()
    admin.set_default_timeout(60_000)
    try:
        sign_in(admin, city, "boss", city.admin_password,  # type: ignore[attr-defined]
                ADMIN_PASSWORD)
        admin.goto(city.url + "/admin/keys")
        assert admin.locator(".fingerprint code").inner_text().strip()
        day.check(admin, "keys")
        admin.get_by_role("link", name="Rotate the signing key…").click()
        assert admin.url.endswith("/admin/keys/rotate")  # only looked at: nothing is rotated
        day.check(admin, "keys rotate confirmation")

        admin.goto(city.url + "/admin/audit")
        admin.get_by_label("Action").select_option(label="Issued a card")
        admin.get_by_role("button", name="Filter").click()
        assert "action=card.issue" in admin.url
        rows = admin.locator("table.audit tbody tr")
        assert rows.count() == 2  # the first card, and the one the approval issued
        assert all("Issued a card" in t for t in rows.all_inner_texts())
        day.check(admin, "audit log (filtered)")
        day.shoot(admin, "audit")

        admin.get_by_role("navigation").get_by_role("link", name="Staff").click()
        assert "desk1" in admin.locator("main").inner_text()
        day.check(admin, "staff")
        day.shoot(admin, "staff")
        admin.get_by_role("navigation").get_by_role("link", name="Partner cities").click()
        day.check(admin, "partners")
        day.shoot(admin, "partners")
        # axe really runs under the staff pages' CSP: a picture without a text is reported
        admin.evaluate("() => document.querySelector('main').append(document.createElement('img'))")
        assert [v.split(" ")[0] for v in serious_violations(admin)] == ["image-alt"]
    finally:
        admin_ctx.close()

    print(f"screenshots in {tmp_path}")
    assert day.found == {name: [] for name in day.found}
