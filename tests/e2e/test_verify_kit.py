"""The offline verification kit (issue 12): one HTML file, opened from disk with no network.

``cardservice trust kit OUT.html`` writes the file; Chromium opens it as a file:// URL in
an offline context and checks cards by their pasted text. The trust data inside is the
signed documents, checked in the page against the pinned roots, so editing the file
(one Base64 character of the bundle) makes the city's genuine cards unknown, never valid.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import LiveCity
from tests.e2e.test_verify_pwa import PHONE, forged_card, forger

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def kit(city: LiveCity, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A valid and a revoked card (revoked before the export), and the kit file."""
    valid = city.issue_card("Olga", "Semrede", "1981-05-05")
    revoked = city.issue_card("Rui", "Cancelado", "1979-09-09")
    city.api("POST", f"/api/v1/cards/{revoked['serial']}/revoke", {"reason": "stolen"})
    path = tmp_path_factory.mktemp("kit") / "kit.html"
    out = city.cli("trust", "kit", str(path))
    assert "PTLIS" in out
    return {"path": path, "valid": valid, "revoked": revoked}


def kit_data(html: str) -> dict[str, Any]:
    found = re.search(r'<script type="application/json" id="kit-data">(.*?)</script>', html, re.S)
    assert found
    data: dict[str, Any] = json.loads(found[1])
    return data


class KitPage:
    """The kit opened from disk in an offline phone-sized tab."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.context = browser.new_context(locale="en-GB", viewport=PHONE)
        self.context.set_offline(True)
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.page = self.context.new_page()
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("#kit-app[data-ready=true]", state="attached")

    def check(self, qr: str) -> Any:
        """Type the code and press Enter, as a hardware scanner does; the verdict."""
        self.page.evaluate("() => document.getElementById('verdict').replaceChildren()")
        self.page.fill("#qr", "")
        self.page.focus("#qr")
        self.page.keyboard.type(qr)
        self.page.keyboard.press("Enter")
        return self.page.wait_for_selector("#verdict .verdict[data-status]")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser: Any, kit: dict[str, Any]) -> Iterator[KitPage]:
    page = KitPage(browser, kit["path"])
    try:
        yield page
        assert page.errors == [], "\n".join(page.errors)
        # Nothing but the file itself and the data: URLs of its own modules.
        loads = [u for u in page.requests if not u.startswith(("file:", "data:"))]
        assert loads == []
    finally:
        page.close()


def test_the_file_loads_nothing_from_elsewhere_and_carries_the_signed_documents(
        kit: dict[str, Any], city: LiveCity) -> None:
    html = kit["path"].read_text(encoding="utf-8")
    assert re.findall(r"""(?:src|href)\s*=\s*["']?https?:""", html, re.I) == []
    assert re.findall(r"""(?:import|from)\s*\(?\s*["']https?:""", html) == []
    data = kit_data(html)
    published = json.loads(urlopen_text(city.url + "/verify/trust-data.json"))["documents"]
    assert [d["id"] for d in data["documents"]] == ["PTLIS"]
    # The same signed bundle the city publishes (the revocation list may be re-signed).
    assert data["documents"][0]["bundle"] == published[0]["bundle"]
    assert [(p["id"], p["own"]) for p in data["pins"]] == [("PTLIS", True)]
    assert re.fullmatch(r"[0-9a-f]{64}", data["pins"][0]["root_sha256"])
    assert 'id="kit-wasm"' in html  # photos can be read


def urlopen_text(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as resp:
        return str(resp.read().decode("utf-8"))


def test_offline_from_disk_it_checks_valid_revoked_and_forged_cards(
        opened: KitPage, kit: dict[str, Any], city: LiveCity) -> None:
    assert serious_violations(opened.page) == []
    verdict = opened.check(kit["valid"]["qr"])
    assert verdict.get_attribute("data-status") == "valid"
    assert verdict.query_selector(".holder-name").inner_text() == "Olga Semrede"
    assert verdict.get_attribute("data-outdated") is None
    assert serious_violations(opened.page) == []

    verdict = opened.check(kit["revoked"]["qr"])
    assert verdict.get_attribute("data-status") == "revoked"

    _root_key, _root, key, cert = forger()
    verdict = opened.check(forged_card(city, key, cert))
    assert verdict.get_attribute("data-status") in {"unknown_key", "bad_signature"}
    assert "verdict-invalid" in (verdict.get_attribute("class") or "")
    assert serious_violations(opened.page) == []

    opened.page.click("#next-card")
    assert opened.page.locator("#verdict .verdict").count() == 0
    assert opened.page.evaluate("() => document.activeElement.id") == "qr"


def test_a_tampered_bundle_makes_genuine_cards_not_valid(
        browser: Any, kit: dict[str, Any], tmp_path: Path) -> None:
    html = kit["path"].read_text(encoding="utf-8")
    data = kit_data(html)
    bundle = data["documents"][0]["bundle"]
    at = len(bundle) // 2
    flipped = bundle[:at] + ("A" if bundle[at] != "A" else "B") + bundle[at + 1:]
    tampered = tmp_path / "tampered.html"
    tampered.write_text(html.replace(bundle, flipped), encoding="utf-8")
    page = KitPage(browser, tampered)
    try:
        verdict = page.check(kit["valid"]["qr"])
        assert verdict.get_attribute("data-status") == "unknown_issuer"
        assert page.page.locator("#kit-warnings [data-warning=tampered]").count() == 1
        assert page.errors == []
    finally:
        page.close()


def test_a_kit_older_than_the_city_allows_says_so(browser: Any, kit: dict[str, Any],
                                                  tmp_path: Path) -> None:
    html = kit["path"].read_text(encoding="utf-8")
    data = kit_data(html)
    old = tmp_path / "old.html"
    # The export time is not signed (it is when the file was made): it only makes the
    # file look older, which can only add the warning.
    old.write_text(html.replace(f'"generated_at": "{data["generated_at"]}"',
                                '"generated_at": "2020-01-01T00:00:00Z"'), encoding="utf-8")
    page = KitPage(browser, old)
    try:
        verdict = page.check(kit["valid"]["qr"])
        assert verdict.get_attribute("data-outdated") == "true"
        assert page.page.locator("#kit-warnings [data-warning=outdated]").count() == 1
    finally:
        page.close()


def test_a_photo_of_the_card_is_read_with_the_decoder_inside_the_file(
        opened: KitPage, kit: dict[str, Any], city: LiveCity, tmp_path: Path) -> None:
    """The verify page's reader (qr-reader.js), handed the WebAssembly from the file."""
    opened.page.wait_for_selector("#kit-app[data-decoder=ready]", state="attached")
    picture = city.card_png(kit["valid"]["serial"], tmp_path / "card.png")
    opened.page.set_input_files("#image", str(picture))
    verdict = opened.page.wait_for_selector("#verdict .verdict[data-status]")
    assert verdict.get_attribute("data-status") == "valid"
    assert verdict.query_selector(".holder-name").inner_text() == "Olga Semrede"
