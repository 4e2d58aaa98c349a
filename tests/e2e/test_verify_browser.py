"""The verify page in a real browser against a real running city (issue 5).

An agent opens the page and gives it an issued card — the printed card's picture, a
photo of it, its PDF, its text, or the camera — and sees the verdict; after a
revocation the same card reads "Revoked"; with the server stopped, a page loaded
before still checks cards offline and says how old its trust data is. The offline
checks are held to the server's answers card by card, in a table of named cases.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFilter

from cardservice import credential, namecodec, viscii
from tests.e2e.conftest import LiveCity, launch_with_camera

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
# The page keeps its trust data in IndexedDB (static/js/trust-store.js): the tests read
# and edit it through that module, as the page does.
STORE_JS = "/static/js/trust-store.js"
READ_STORED_JS = f"async (name) => (await import({STORE_JS!r})).readStored(name)"
WRITE_STORED_JS = (
    f"async ([name, value]) => {{ await (await import({STORE_JS!r})).writeStored(name, value); }}")
FORGET_STORED_JS = f"async (name) => {{ await (await import({STORE_JS!r})).forgetStored(name); }}"
VERDICT = "#verdict .verdict"
# What the browser reports that is not the page's fault.
EXPECTED_CONSOLE = (
    re.compile(r"favicon\.ico"),  # no icon is served; not this page's doing
)
# While the server is stopped (or the browser offline) on purpose, failed requests are
# logged too.
OFFLINE_CONSOLE = re.compile(r"ERR_CONNECTION_REFUSED|ERR_INTERNET_DISCONNECTED")
OFFLINE_JS = """async ([qr, nowIso, store]) => {
  const m = await import("/static/js/card-offline.js");
  const cached = await (await import(store)).readStored("data");
  return m.verifyOffline(qr, {trust: cached.data, fetchedAt: new Date(cached.fetchedAt),
                              now: nowIso ? new Date(nowIso) : new Date()});
}"""


def stored_trust(page: Any, name: str = "data") -> Any:
    """The page's stored trust record ``name`` ("data" or "floor"), or None."""
    return page.evaluate(READ_STORED_JS, name)


def store_trust(page: Any, value: Any, name: str = "data") -> None:
    """Replace the page's stored trust record ``name`` (as someone holding the device could)."""
    page.evaluate(WRITE_STORED_JS, [name, value])


def edit_trust(page: Any, *, issuer: dict[str, Any] | None = None,
               fetched_earlier_ms: int = 0) -> None:
    """Edit the stored trust data: the first issuer's summary, and when it was fetched."""
    cached = stored_trust(page)
    cached["data"]["issuers"][0].update(issuer or {})
    cached["fetchedAt"] -= fetched_earlier_ms
    store_trust(page, cached)


# --------------------------------------------------------------------------- fixtures


class Agent:
    """A browser tab on the verify page, collecting console errors and CSP violations."""

    def __init__(self, page: Any, city: LiveCity) -> None:
        self.page = page
        self.city = city
        self.errors: list[str] = []
        self.allow_offline_errors = False
        page.add_init_script(
            "document.addEventListener('securitypolicyviolation', (e) => console.error("
            "'CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, msg: Any) -> None:
        if msg.type not in ("error", "warning"):
            return
        text = f"{msg.text} {msg.location.get('url', '')}"
        if any(p.search(text) for p in EXPECTED_CONSOLE):
            return
        if self.allow_offline_errors and OFFLINE_CONSOLE.search(text):
            return
        self.errors.append(f"console {msg.type}: {text}")

    def open(self) -> None:
        """Load the page; wait until its trust data is cached and its QR decoder loaded."""
        self.page.goto(self.city.url + "/verify")
        # A function, not an expression: Playwright would eval() an expression, which
        # the page's CSP rightly refuses.
        self.page.wait_for_selector("#verify-app[data-trust-refresh=stored]", state="attached")
        self.page.wait_for_selector("#verify-app[data-decoder=ready]", state="attached")

    def fresh_verdict(self) -> None:
        """Forget the verdict on screen, so the next wait sees a new one."""
        self.page.evaluate("document.getElementById('verdict').replaceChildren()")

    def paste(self, qr: str) -> Any:
        """Paste a card's text, press Check; the verdict element."""
        self.fresh_verdict()
        self.page.fill("#qr", qr)
        self.page.click("#verify-form button[type=submit]")
        return self.verdict()

    def upload(self, path: Path) -> Any:
        """Choose a file (checked at once when no text is typed); the verdict element."""
        self.fresh_verdict()
        self.page.fill("#qr", "")
        self.page.set_input_files("#image", str(path))
        return self.verdict()

    def verdict(self) -> Any:
        """The verdict (or error) box once it is shown."""
        self.page.wait_for_selector(VERDICT, timeout=20000)
        return self.page.locator(VERDICT)

    def offline(self, qr: str, now: datetime | None = None) -> dict[str, Any]:
        """The offline check of ``qr`` with the cached trust data, run in the page."""
        result: dict[str, Any] = self.page.evaluate(
            OFFLINE_JS, [qr, now.strftime("%Y-%m-%dT%H:%M:%SZ") if now else None, STORE_JS])
        return result


@pytest.fixture
def agent(browser: Any, city: LiveCity) -> Iterator[Agent]:
    """An agent's fresh browser (empty storage), English, phone-sized."""
    context = browser.new_context(locale="en-GB", viewport={"width": 390, "height": 844})
    a = Agent(context.new_page(), city)
    try:
        yield a
        assert a.errors == [], "\n".join(a.errors)
    finally:
        context.close()


@pytest.fixture(scope="module")
def ana(city: LiveCity) -> dict[str, Any]:
    """An issued card."""
    return city.issue_card("Ana Maria", "Conceição da Silva", "1990-04-12")


@pytest.fixture(scope="module")
def ana_png(city: LiveCity, ana: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The printed card's QR side, as the PDF renders it."""
    return city.card_png(ana["serial"], tmp_path_factory.mktemp("png") / "ana.png")


def photo_of(card_png: Path, target: Path) -> Path:
    """A phone-photo-like picture of the card: on a desk, tilted, soft, JPEG-compressed."""
    card = Image.open(card_png).convert("RGB")
    card = card.resize((card.width * 3 // 4, card.height * 3 // 4))
    tilted = card.rotate(9, expand=True, fillcolor=(96, 84, 70), resample=Image.BICUBIC)
    desk = Image.new("RGB", (tilted.width + 400, tilted.height + 300), (96, 84, 70))
    draw = ImageDraw.Draw(desk)
    for x in range(0, desk.width, 37):  # wood grain, so the background is not blank
        draw.line([(x, 0), (x + 120, desk.height)], fill=(104, 90, 76), width=9)
    desk.paste(tilted, (230, 120))
    shaded = Image.blend(desk, Image.new("RGB", desk.size, (200, 190, 170)), 0.12)
    soft = shaded.filter(ImageFilter.GaussianBlur(1.2))
    soft.save(target, "JPEG", quality=70)
    return target


def signer_for(city: LiveCity) -> Any:
    """The city's current signing key and certificate, read from its keys/ as the CLI does."""
    from cardservice.config import load_settings
    from cardservice.services.citykeys import CityKeys

    return CityKeys(load_settings(city.config, environ=city.env)).signer(now=datetime.now(UTC))


def make_card(signer: Any, *, name: str = "Test Person", issuer: str = "PTLIS",
              iat: datetime | None = None, exp: datetime | None = None,
              kid: bytes | None = None, key: Any = None, serial: str = "E2ETEST0001") -> str:
    """A card signed with any key, kid and claims (credential.unsafe_encode_card)."""
    # A minute ago, but not before the signing certificate (made when the city began).
    iat = iat or max(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
                     signer.certificate.not_valid_before_utc)
    exp = exp or iat + timedelta(days=365)
    claims = credential.CardClaims(
        issuer=issuer, serial=serial, issued_at=iat, expires_at=exp,
        holder=credential.Holder(name=name, date_of_birth=date(1984, 2, 29), gender="X"))
    return credential.unsafe_encode_card(
        claims, signer_key=key or signer.key,
        kid=kid if kid is not None else credential.pki.key_id(signer.certificate))


def card_with_name_bytes(signer: Any, name: bytes) -> str:
    """A card signed by ``signer`` whose holder name on the wire is exactly ``name``
    (an encoding id byte, then the bytes): cards the encoder would not write itself."""
    import cbor2

    iat = max(datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1),
              signer.certificate.not_valid_before_utc)
    claims = credential.CardClaims(
        issuer="PTLIS", serial="E2ETEST0002", issued_at=iat, expires_at=iat + timedelta(days=365),
        holder=credential.Holder(name="Placeholder", date_of_birth=date(1984, 2, 29), gender="F"))
    raw = credential._claims_map(claims)  # noqa: SLF001 - the test builds altered cards
    raw[credential.HOLDER_CLAIM_KEY][0] = name
    cose = credential._cose_context().encode_and_sign(  # noqa: SLF001
        cbor2.dumps(raw, canonical=True), credential._cose_key(signer.key),  # noqa: SLF001
        protected={1: -8, 4: credential.pki.key_id(signer.certificate)}, unprotected={})
    return credential.PREFIX + b45(cose)


def in_encoding(name: str, encoding_id: int) -> str:
    """``name``, after checking that the encoder writes it with that encoding id."""
    form = namecodec.encode_name(name)
    assert isinstance(form, bytes) and form[0] == encoding_id, (name, form)
    return name


def b45(data: bytes) -> str:
    return credential._b45encode(data)  # noqa: SLF001 - the test builds altered cards


def unb45(qr: str) -> bytes:
    return credential._b45decode(qr[len(credential.PREFIX):])  # noqa: SLF001


def server_verdict(city: LiveCity, qr: str) -> dict[str, Any]:
    result: dict[str, Any] = city.api("POST", "/api/v1/verify", {"qr": qr})
    return result


# --------------------------------------------------------------------------- the issue's cases


def test_pasted_text_of_an_issued_card_reads_valid(agent: Agent, ana: dict[str, Any]) -> None:
    agent.open()
    verdict = agent.paste(ana["qr"])
    assert verdict.get_attribute("data-status") == "valid"
    assert "verdict-valid" in (verdict.get_attribute("class") or "")
    assert verdict.locator(".verdict-word").inner_text() == "✔ Valid card"
    assert verdict.locator(".verdict-reason").inner_text() == "This card is genuine and in force."
    assert verdict.locator(".holder-name").inner_text() == "Ana Maria Conceição da Silva"
    assert "April 12, 1990" in verdict.inner_text()  # the page's language: English
    assert agent.page.locator("#offline-note").is_hidden()
    # The verdict takes the focus, so a screen reader reads it out.
    assert agent.page.evaluate("document.activeElement.id") == "verdict"


def test_uploaded_card_image_is_read_in_the_browser(agent: Agent, ana: dict[str, Any],
                                                    ana_png: Path) -> None:
    agent.open()
    posts: list[tuple[str, Any]] = []
    agent.page.on("request", lambda r: posts.append((r.url, json.loads(r.post_data or "null")))
                  if r.method == "POST" else None)
    verdict = agent.upload(ana_png)
    assert verdict.get_attribute("data-status") == "valid"
    assert verdict.locator(".holder-name").inner_text() == "Ana Maria Conceição da Silva"
    # Decoded here: only the card's text went to the server, never the picture.
    assert posts == [(agent.city.url + "/api/v1/verify", {"qr": ana["qr"]})]
    # ... and the picture is not kept in the form once read.
    assert agent.page.evaluate("document.getElementById('image').files.length") == 0


def test_a_phone_photo_of_the_card_reads(agent: Agent, ana_png: Path, tmp_path: Path) -> None:
    agent.open()
    verdict = agent.upload(photo_of(ana_png, tmp_path / "photo.jpg"))
    assert verdict.get_attribute("data-status") == "valid"


def test_a_pdf_upload_is_read_by_the_server_and_the_page_stays(
        agent: Agent, city: LiveCity, ana: dict[str, Any], tmp_path: Path) -> None:
    agent.open()
    pdf = city.card_pdf(ana["serial"], tmp_path / "card.pdf")
    navigations: list[str] = []
    agent.page.on("framenavigated", lambda frame: navigations.append(frame.url))
    verdict = agent.upload(pdf)
    assert verdict.get_attribute("data-status") == "valid"
    assert verdict.locator(".verdict-word").inner_text() == "✔ Valid card"
    assert verdict.locator(".holder-name").inner_text() == "Ana Maria Conceição da Silva"
    assert navigations == []  # the loaded page (and its offline check) is still there
    # The network gone (faster than stopping the server, which the test below does).
    agent.allow_offline_errors = True
    agent.page.context.set_offline(True)
    message = agent.upload(pdf)
    assert "A PDF can only be read by the server" in message.inner_text()


def test_the_same_card_after_revocation_reads_revoked(agent: Agent, city: LiveCity) -> None:
    card = city.issue_card("Bruno", "Revogado", "1975-07-01")
    agent.open()
    assert agent.paste(card["qr"]).get_attribute("data-status") == "valid"
    city.api("POST", f"/api/v1/cards/{card['serial']}/revoke", {"reason": "stolen"})
    verdict = agent.paste(card["qr"])
    assert verdict.get_attribute("data-status") == "revoked"
    assert "verdict-invalid" in (verdict.get_attribute("class") or "")
    assert verdict.locator(".verdict-word").inner_text() == "✘ Revoked"
    assert "Do not accept it" in verdict.locator(".verdict-reason").inner_text()
    # The signature was good, so the agent may still compare the holder.
    assert verdict.locator(".holder-name").inner_text() == "Bruno Revogado"


def test_with_the_server_stopped_a_loaded_page_checks_offline(
        agent: Agent, city: LiveCity, ana: dict[str, Any], ana_png: Path) -> None:
    revoked = city.issue_card("Carla", "Cancelada", "1988-03-03")
    city.api("POST", f"/api/v1/cards/{revoked['serial']}/revoke", {"reason": "lost"})
    agent.open()
    agent.allow_offline_errors = True
    city.stop()
    try:
        verdict = agent.paste(ana["qr"])
        assert verdict.get_attribute("data-status") == "valid"
        assert verdict.get_attribute("data-offline") == "true"
        assert verdict.locator(".verdict-word").inner_text() == "✔ Valid card"
        assert verdict.locator(".holder-name").inner_text() == "Ana Maria Conceição da Silva"
        note = agent.page.locator("#offline-note")
        assert note.is_visible()
        assert re.fullmatch(
            r"Checked offline: the server could not be reached\. The trust data on this "
            r"device is \d+ seconds? old; a card cancelled since then still shows as it was\.",
            note.inner_text()), note.inner_text()

        assert agent.upload(ana_png).get_attribute("data-status") == "valid"

        verdict = agent.paste(revoked["qr"])
        assert verdict.get_attribute("data-status") == "revoked"
        assert verdict.locator(".verdict-word").inner_text() == "✘ Revoked"

        verdict = agent.paste("LC1:NOT A CARD")
        assert verdict.get_attribute("data-status") == "malformed"
    finally:
        city.start()
    # Back online: the answer comes from the server again and the note goes away.
    verdict = agent.paste(ana["qr"])
    assert verdict.get_attribute("data-offline") is None
    assert agent.page.locator("#offline-note").is_hidden()


def test_offline_without_trust_data_says_the_card_cannot_be_checked(
        agent: Agent, ana: dict[str, Any]) -> None:
    agent.open()
    agent.page.evaluate(FORGET_STORED_JS, "data")
    agent.allow_offline_errors = True
    agent.page.context.set_offline(True)
    verdict = agent.paste(ana["qr"])
    assert "verdict-error" in (verdict.get_attribute("class") or "")
    assert "has no trust data yet" in verdict.inner_text()


# --------------------------------------------------------------------------- language and markup


@pytest.mark.parametrize("locale, birthday", [("en-US", "April 12, 1990"),
                                              ("fr-FR", "12 avril 1990")])
def test_scripted_verdict_reads_like_the_server_rendered_one(
        browser: Any, city: LiveCity, ana: dict[str, Any], locale: str, birthday: str) -> None:
    """The same words, in the agent's language, as the page renders without scripts."""
    plain = browser.new_context(locale=locale, java_script_enabled=False)
    scripted = browser.new_context(locale=locale)
    try:
        page = plain.new_page()
        page.goto(city.url + "/verify")
        page.fill("#qr", ana["qr"])
        with page.expect_navigation():
            page.click("#verify-form button[type=submit]")
        server = page.locator(VERDICT)

        agent = Agent(scripted.new_page(), city)
        agent.open()
        assert agent.page.get_attribute("html", "lang") == locale[:2]
        ours = agent.paste(ana["qr"])

        assert ours.inner_text() == server.inner_text()
        assert ours.get_attribute("class") == server.get_attribute("class")
        assert ours.get_attribute("data-status") == server.get_attribute("data-status") == "valid"
        assert birthday in ours.inner_text()
        assert agent.errors == []
    finally:
        plain.close()
        scripted.close()


def test_french_words_come_from_the_page(browser: Any, city: LiveCity, ana: dict[str, Any]) -> None:
    """Every word the script shows is the server's translation, in the page's data block."""
    context = browser.new_context(locale="fr-FR")
    try:
        agent = Agent(context.new_page(), city)
        agent.open()
        strings = json.loads(agent.page.inner_text("#verify-strings"))
        assert set(strings["titles"]) == set(credential.STATUSES)
        assert set(strings["reasons"]) == set(credential.STATUSES)
        verdict = agent.paste(ana["qr"])
        assert verdict.locator(".verdict-word").inner_text() == "✔ " + strings["titles"]["valid"]
        assert verdict.locator("dt").all_inner_texts()[:2] == [
            strings["labels"]["name"], strings["labels"]["date_of_birth"]]
        assert "12 avril 1990" in verdict.inner_text()
        assert agent.errors == []
    finally:
        context.close()


def test_empty_form_and_a_picture_without_a_code_are_explained(agent: Agent,
                                                               tmp_path: Path) -> None:
    agent.open()
    agent.fresh_verdict()
    agent.page.click("#verify-form button[type=submit]")
    assert agent.verdict().inner_text() == (
        "? Scan a card, upload a photo of it, or paste its text.")
    blank = tmp_path / "blank.png"
    Image.new("RGB", (400, 300), (230, 230, 230)).save(blank)
    assert agent.upload(blank).inner_text() == (
        "? Could not read a code. Try again, or photograph the back of the card, closer "
        "and sharper.")
    garbage = tmp_path / "notes.png"
    garbage.write_bytes(b"this is not a picture at all")
    assert agent.upload(garbage).inner_text() == (
        "? This file is not a picture or a PDF we can read.")


def test_trust_data_is_cached_without_personal_data(agent: Agent, ana: dict[str, Any]) -> None:
    agent.open()
    cached = stored_trust(agent.page)
    assert isinstance(cached["fetchedAt"], int)
    (own,) = cached["data"]["issuers"]
    assert own["id"] == "PTLIS" and own["own"] is True and own["keys"]
    agent.paste(ana["qr"])
    storage = json.dumps([agent.page.evaluate("JSON.stringify(localStorage)"),
                          stored_trust(agent.page), stored_trust(agent.page, "floor")])
    assert "Ana" not in storage and ana["qr"] not in storage and ana["serial"] not in storage


def test_trust_data_an_older_page_left_in_local_storage_moves_to_indexeddb(
        agent: Agent) -> None:
    agent.open()
    cached = stored_trust(agent.page)
    agent.page.evaluate(FORGET_STORED_JS, "data")
    legacy = "cardservice.verify.trust-data"
    agent.page.evaluate("([k, v]) => localStorage.setItem(k, v)", [legacy, json.dumps(cached)])
    assert stored_trust(agent.page) == cached
    assert agent.page.evaluate("(k) => localStorage.getItem(k)", legacy) is None
    assert stored_trust(agent.page) == cached  # from IndexedDB now


# --------------------------------------------------------------------------- offline = server


def _offline_cases(city: LiveCity) -> dict[str, tuple[str, str]]:
    """Named cards and the status both checks must give them."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    s = signer_for(city)
    cert_from = s.certificate.not_valid_before_utc
    cert_until = s.certificate.not_valid_after_utc
    now = datetime.now(UTC).replace(microsecond=0)
    good = make_card(s)
    raw = unb45(good)
    flipped = raw[:-1] + bytes([raw[-1] ^ 1])
    return {
        "issued card": (good, "valid"),
        "long repetitive name (zlib-compressed card)": (
            make_card(s, name="Maria " * 15 + "da Silva"), "valid"),
        "Western European name in windows-1252": (make_card(s, name="Zoë Ñúñez-Øster"), "valid"),
        "Cyrillic name in windows-1251": (make_card(s, name="Ольга Петрова"), "valid"),
        # Letters windows-1258 has precomposed: a tie with VISCII, so id 9 keeps it.
        "Vietnamese name in windows-1258": (
            make_card(s, name=in_encoding("Đoàn Văn Hùng", 9)), "valid"),
        # Combining tones in windows-1258, as cards issued before VISCII hold them.
        "Vietnamese name in windows-1258 with combining tones (an earlier card)": (
            card_with_name_bytes(s, b"\x09Nguy\xea\xden Thi\xf2 Minh Khai"), "valid"),
        "Vietnamese name in VISCII": (
            make_card(s, name=in_encoding("Nguyễn Thị Minh Khai", 13)), "valid"),
        "Vietnamese name of 40 characters, a tone on every syllable, in VISCII": (
            make_card(s, name=in_encoding("Tạ Mỹ Lệ Phạm Ngọc Thảo Trịnh Hữu Lộc Vũ", 13)),
            "valid"),
        # All 134 letters VISCII adds to ASCII (six of them in the C0 range), in two cards.
        "every VISCII letter, first half": (
            make_card(s, name=in_encoding(viscii.LETTERS[:67], 13)), "valid"),
        "every VISCII letter, second half": (
            make_card(s, name=in_encoding(viscii.LETTERS[67:], 13)), "valid"),
        "VISCII name with a C0 control byte": (
            card_with_name_bytes(s, b"\x0dAna\x01Silva"), "malformed"),
        "VISCII name with DEL": (card_with_name_bytes(s, b"\x0dAna\x7fSilva"), "malformed"),
        "name encoding id 14 (none yet)": (
            card_with_name_bytes(s, b"\x0eAna Silva"), "malformed"),
        "Romanian name in iso-8859-16": (make_card(s, name="Ștefan Țurcanu"), "valid"),
        "Arabic name in windows-1256": (make_card(s, name="فاطمة الزهراء"), "valid"),
        "Greek name in windows-1253": (make_card(s, name="Ελένη Παπαδοπούλου"), "valid"),
        "Chinese name in UTF-16BE": (make_card(s, name="王小明"), "valid"),
        "Persian name with ZWNJ as UTF-8 text": (make_card(s, name="محمدرضا حسینی‌نژاد"), "valid"),
        "expired": (make_card(s, iat=cert_from, exp=cert_from + timedelta(seconds=1)), "expired"),
        "not yet valid": (make_card(s, iat=now + timedelta(days=2)), "not_yet_valid"),
        "unknown issuer": (make_card(s, issuer="FRLYS"), "unknown_issuer"),
        "unknown kid": (make_card(s, kid=b"\0" * 8), "unknown_key"),
        "signed by another key under the city's kid": (
            make_card(s, key=Ed25519PrivateKey.generate()), "bad_signature"),
        "signature bit flipped": (credential.PREFIX + b45(flipped), "bad_signature"),
        "lifetime beyond the signing key's validity": (
            make_card(s, exp=cert_until + timedelta(days=1)), "bad_signature"),
        "not a card": ("hello", "malformed"),
        "another format's prefix": ("LC2:" + good[4:], "malformed"),
        "truncated": (good[:-3], "malformed"),
        "not Base45": (good[:20] + "a" + good[21:], "malformed"),
        "data after the signature": (credential.PREFIX + b45(raw + b"\0"), "malformed"),
        # The unprotected header is not signed: a card has exactly one (empty) form of it.
        "unprotected header {} made h''": (
            credential.PREFIX + b45(raw[:16] + b"\x40" + raw[17:]), "malformed"),
    }


def test_offline_checks_give_the_servers_answers(agent: Agent, city: LiveCity) -> None:
    agent.open()
    cases = _offline_cases(city)
    for name, (qr, status) in cases.items():
        online = server_verdict(city, qr)
        offline = agent.offline(qr)
        assert online["status"] == status, name
        assert offline["status"] == status, (name, offline)
        assert offline["valid"] is online["valid"], name
        for part in ("issuer", "card", "holder"):
            assert offline.get(part) == online.get(part), (name, part)


def test_offline_check_of_a_revoked_card(agent: Agent, city: LiveCity) -> None:
    card = city.issue_card("Dora", "Perdida", "1970-01-01")
    city.api("POST", f"/api/v1/cards/{card['serial']}/revoke", {"reason": "lost"})
    agent.open()
    offline = agent.offline(card["qr"])
    online = server_verdict(city, card["qr"])
    assert offline["status"] == online["status"] == "revoked"
    assert offline["holder"] == online["holder"]


VECTORS = sorted((ROOT / "docs" / "vectors").glob("*.json"))


@pytest.mark.parametrize("vector", VECTORS, ids=[v.stem for v in VECTORS])
def test_offline_check_reads_the_published_test_vectors(agent: Agent, vector: Path) -> None:
    """docs/vectors/: each card checks out offline, with the holder as the vector says."""
    from cryptography import x509

    v = json.loads(vector.read_text(encoding="utf-8"))
    cert = x509.load_pem_x509_certificate(v["signing_certificate"].encode())
    raw_key = base64.b64decode(v["signing_public_key_b64"])
    trust = {"issuers": [{
        "id": "PTLIS", "name": "Lisboa", "own": True, "suspended": False,
        "fingerprint": v["root_fingerprint"], "revoked": [], "trust_data_age_seconds": 0,
        "keys": [{"kid": v["kid_hex"],
                  "public_key": base64.urlsafe_b64encode(raw_key).decode().rstrip("="),
                  "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")}],
    }]}
    agent.open()
    result = agent.page.evaluate("""async ([qr, trust, at]) => {
      const m = await import("/static/js/card-offline.js");
      return m.verifyOffline(qr, {trust, fetchedAt: new Date(at), now: new Date(at)});
    }""", [v["qr"], trust, v["valid_at"]])
    card = v["expected"]["card"]
    assert result["status"] == "valid", result
    # Like the verify API, the result has no gender key when the card has no marker.
    assert result["holder"] == {k: x for k, x in card["holder"].items() if x is not None}
    assert result["card"] == {"serial": card["serial"], "issued_at": card["issued_at"],
                              "expires_at": card["expires_at"]}
    assert result["issuer"] == {"id": card["issuer"], "name": "Lisboa", "own": True}


def test_offline_partner_cards_use_the_partners_data_and_age(agent: Agent,
                                                             city: LiveCity) -> None:
    """A partner's keys come with its own data age; a suspended partner is refused."""
    agent.open()
    qr = make_card(signer_for(city))
    edit_trust(agent.page, issuer={"own": False, "trust_data_age_seconds": 7200},
               fetched_earlier_ms=60_000)
    result = agent.offline(qr)
    assert result["status"] == "valid" and result["issuer"]["own"] is False
    assert 7260 <= result["trust_data_age_seconds"] < 7300
    # Issue 11, finding 7: past the partner's bundle expiry its cards are not valid.
    edit_trust(agent.page, issuer={"trust_data_expires_at": "2001-01-01T00:00:00Z"})
    result = agent.offline(qr)
    assert result["status"] == "trust_expired" and "holder" not in result
    edit_trust(agent.page, issuer={"suspended": True})
    result = agent.offline(qr)
    assert result["status"] == "partner_suspended" and "holder" not in result


# --------------------------------------------------------------------------- camera


def y4m_of(picture: Path, target: Path, *, width: int = 1280, height: int = 720) -> Path:
    """A short Y4M video (what Chromium's fake camera plays) filming ``picture``."""
    frame = Image.new("RGB", (width, height), (70, 70, 70))
    card = Image.open(picture).convert("RGB")
    card.thumbnail((width - 80, height - 40))
    frame.paste(card, ((width - card.width) // 2, (height - card.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    body = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with open(target, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(3):
            fh.write(b"FRAME\n" + body)
    return target


@pytest.fixture(scope="module")
def camera_browser(playwright_instance: Any, chromium_path: str, ana_png: Path,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Chromium whose camera films Ana's card."""
    video = y4m_of(ana_png, tmp_path_factory.mktemp("video") / "card.y4m")
    browser = launch_with_camera(playwright_instance, chromium_path, video)
    yield browser
    browser.close()


def test_camera_scans_a_card_and_stays_open_for_the_next(camera_browser: Any,
                                                        city: LiveCity) -> None:
    """Allowed before, the camera opens at once; "Next card" reads again, same stream."""
    context = camera_browser.new_context(locale="en-GB", permissions=["camera"])
    try:
        agent = Agent(context.new_page(), city)
        agent.open()  # no click: the camera was allowed, so it starts by itself
        verdict = agent.verdict()
        assert verdict.get_attribute("data-status") == "valid"
        assert verdict.locator(".holder-name").inner_text() == "Ana Maria Conceição da Silva"
        # Reading paused, the camera kept: the next card needs no new getUserMedia.
        assert agent.page.get_attribute("#verify-app", "data-scanner") == "paused"
        agent.page.evaluate(
            "() => { window.__stream = document.getElementById('camera').srcObject; }")
        assert agent.page.evaluate("() => window.__stream.active") is True
        assert agent.page.locator("#camera-stop").is_visible()
        # The next person: the verdict goes, the scanner reads the card again (at once:
        # the card is still in view), and "Next card" has the focus again.
        assert agent.page.evaluate("document.activeElement.id") == "next-card"
        agent.fresh_verdict()
        agent.page.click("#next-card")
        verdict = agent.verdict()
        assert verdict.get_attribute("data-status") == "valid"
        agent.page.wait_for_function("() => document.activeElement.id === 'next-card'")
        assert agent.page.evaluate(
            "() => document.getElementById('camera').srcObject === window.__stream") is True
        # Stopping releases it.
        agent.page.click("#camera-stop")
        assert agent.page.get_attribute("#verify-app", "data-scanner") == "off"
        assert agent.page.evaluate("() => window.__stream.active") is False
        assert agent.page.locator("#camera").is_hidden()
        assert agent.errors == []
    finally:
        context.close()


def test_camera_stop_button_releases_the_camera(camera_browser: Any, city: LiveCity) -> None:
    context = camera_browser.new_context(locale="en-GB", permissions=["camera"])
    try:
        agent = Agent(context.new_page(), city)
        # Blind the scanner so that the agent can stop it before it reads the card (from
        # the start: the camera, allowed, opens as the page loads).
        agent.page.add_init_script("""(() => {
          const real = CanvasRenderingContext2D.prototype.getImageData;
          CanvasRenderingContext2D.prototype.getImageData = function (...args) {
            const data = real.apply(this, args);
            data.data.fill(255);
            return data;
          };
        })()""")
        agent.open()
        agent.page.wait_for_selector("#camera:not([hidden])")
        agent.page.wait_for_function(
            "() => document.getElementById('camera').srcObject !== null")
        agent.page.click("#camera-stop")
        assert agent.page.locator("#camera").is_hidden()
        assert agent.page.evaluate("document.getElementById('camera').srcObject") is None
        assert agent.page.locator(VERDICT).count() == 0
        assert agent.errors == []
    finally:
        context.close()


def test_camera_refused_is_explained(camera_browser: Any, city: LiveCity) -> None:
    context = camera_browser.new_context(locale="en-GB")  # no camera permission given
    try:
        agent = Agent(context.new_page(), city)
        agent.open()
        agent.page.click("#camera-start")
        message = agent.verdict()
        assert "verdict-error" in (message.get_attribute("class") or "")
        assert "permission was refused" in message.inner_text()
        assert agent.page.locator("#camera").is_hidden()
        assert agent.errors == []
    finally:
        context.close()


def test_no_camera_is_explained(agent: Agent) -> None:
    agent.open()  # the default test browser has no camera at all
    agent.page.click("#camera-start")
    message = agent.verdict()
    assert message.inner_text() == (
        "No camera was found on this device. Upload a photo of the card or paste its text "
        "instead.")


# --------------------------------------------------------------------------- vendored files


def test_vendored_libraries_match_package_json() -> None:
    """The committed copies are the versions package.json pins (run scripts/vendor-js.sh)."""
    package = json.loads((ROOT / "package.json").read_text())
    vendored = json.loads((ROOT / "cardservice/static/vendor/VERSIONS.json").read_text())
    assert vendored == package["dependencies"]
    vendor = ROOT / "cardservice/static/vendor"
    for lib in vendored:
        assert (vendor / lib / "LICENSE").is_file(), lib
    # Every relative import of a vendored module resolves to a vendored file.
    for module in vendor.rglob("*.js"):
        for target in re.findall(r"""from\s*["'](\.{1,2}/[^"']+)["']""", module.read_text()):
            assert (module.parent / target).resolve().is_file(), (module, target)
    wasm = (vendor / "zxing-wasm/reader/zxing_reader.wasm").read_bytes()
    assert wasm[:4] == b"\0asm"
    # Test-only libraries (axe-core) are copied under tests/, never served.
    test_vendor = ROOT / "tests/e2e/vendor"
    assert json.loads((test_vendor / "VERSIONS.json").read_text()) == package["devDependencies"]
    for lib in package["devDependencies"]:
        assert (test_vendor / lib / "LICENSE").is_file(), lib

