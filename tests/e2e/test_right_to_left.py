"""Arabic pages read right to left in a real browser (issue 13).

On a phone-sized screen in Arabic the verify page's verdict starts at the right (its
symbol at the right end, the words to its left, the card's details flush right) and the
register form's labels end at the right edge of their fields; the same checks in English
find everything at the left. The bounding boxes are measured in Chromium; screenshots are
saved next to the test's temporary files for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.axe import serious_violations
from tests.e2e.conftest import LiveCity
from tests.e2e.test_clerk_day import sign_in
from tests.e2e.test_verify_kit import KitPage

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESK_PASSWORD = "a long desk password for the rtl test"
# Within this many CSS pixels, two edges are "at the same place".
NEAR = 2.0

# The verdict's symbol, its words and the first detail label, as boxes [left, right].
VERDICT_BOXES_JS = """() => {
  const word = document.querySelector("#verdict .verdict-word");
  const icon = word.querySelector("span[aria-hidden]");
  const words = document.createRange();
  words.setStartAfter(icon);
  words.setEnd(word, word.childNodes.length);
  const label = document.createRange();
  label.selectNodeContents(document.querySelector("#verdict .verdict-details dt"));
  const span = (r) => { const b = r.getBoundingClientRect(); return [b.left, b.right]; };
  const content = (el) => {
    const b = el.getBoundingClientRect(), s = getComputedStyle(el);
    return [b.left + parseFloat(s.paddingLeft) + parseFloat(s.borderLeftWidth),
            b.right - parseFloat(s.paddingRight) - parseFloat(s.borderRightWidth)];
  };
  return {icon: span(icon), words: span(words), line: content(word), label: span(label),
          details: content(document.querySelector("#verdict .verdict-details"))};
}"""

# A form field's label text and its input, as boxes [left, right].
FIELD_BOXES_JS = """(id) => {
  const range = document.createRange();
  range.selectNodeContents(document.querySelector(`label[for="${id}"]`));
  const text = range.getBoundingClientRect();
  const input = document.getElementById(id).getBoundingClientRect();
  return {label: [text.left, text.right], input: [input.left, input.right]};
}"""


@pytest.fixture(scope="module")
def rtl_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    """A running city with a clerk (one-time password) and a card to check."""
    live = LiveCity(tmp_path_factory.mktemp("rtl"))
    live.setup()
    live.desk_password = live.cli(  # type: ignore[attr-defined]
        "users", "add", "desk2", "--role", "clerk").strip().splitlines()[-1]
    live.start()
    try:
        live.card = live.issue_card("Layla", "Haddad", "1996-06-05")  # type: ignore[attr-defined]
        yield live
    finally:
        live.stop()


def open_verify(page: Any, city: LiveCity) -> None:
    page.goto(city.url + "/verify")
    page.wait_for_selector("#verify-app[data-trust-refresh=stored]", state="attached")
    page.wait_for_selector("#verify-app[data-decoder=ready]", state="attached")


def assert_verdict_mirrored(boxes: dict[str, list[float]]) -> None:
    """The verdict's symbol at the right end, its words to the left, "Name" flush right."""
    icon, words, line = boxes["icon"], boxes["words"], boxes["line"]
    label, details = boxes["label"], boxes["details"]
    assert abs(icon[1] - line[1]) < NEAR, boxes
    assert words[1] <= icon[0] + NEAR, boxes
    assert abs(label[1] - details[1]) < NEAR, boxes
    assert label[0] > details[0] + 20, boxes


@pytest.mark.parametrize(("locale", "direction"), [("ar", "rtl"), ("en-GB", "ltr")])
def test_the_verdict_starts_at_the_reading_side(rtl_city: LiveCity, browser: Any,
                                                tmp_path: Path, locale: str,
                                                direction: str) -> None:
    context = browser.new_context(locale=locale, viewport=PHONE)
    page = context.new_page()
    try:
        open_verify(page, rtl_city)
        html = page.locator("html")
        assert (html.get_attribute("lang"), html.get_attribute("dir")) == (
            locale[:2], direction)
        page.fill("#qr", rtl_city.card["qr"])  # type: ignore[attr-defined]
        page.click("#verify-form button[type=submit]")
        page.wait_for_selector("#verdict .verdict[data-status=valid]")
        page.screenshot(path=str(tmp_path / f"verify-{locale}.png"), full_page=True)
        boxes = page.evaluate(VERDICT_BOXES_JS)
        if direction == "rtl":
            assert_verdict_mirrored(boxes)
        else:
            icon, words, line = boxes["icon"], boxes["words"], boxes["line"]
            label, details = boxes["label"], boxes["details"]
            assert abs(icon[0] - line[0]) < NEAR, boxes
            assert words[0] >= icon[1] - NEAR, boxes
            assert abs(label[0] - details[0]) < NEAR, boxes
        assert serious_violations(page) == []
    finally:
        context.close()


def test_the_register_form_and_the_header_mirror_in_arabic(rtl_city: LiveCity, browser: Any,
                                                           tmp_path: Path) -> None:
    context = browser.new_context(locale="en-GB", viewport=PHONE)
    page = context.new_page()
    try:
        sign_in(page, rtl_city, "desk2", rtl_city.desk_password,  # type: ignore[attr-defined]
                DESK_PASSWORD)
        # The switch names Arabic in Arabic; choosing it turns the pages round.
        assert page.locator('#lang-select option[value="ar"]').inner_text() == "العربية"
        page.select_option("#lang-select", "ar")
        page.click(".lang button[type=submit]")
        page.wait_for_load_state()
        page.goto(rtl_city.url + "/clerk/residents/new")
        assert page.locator("html").get_attribute("dir") == "rtl"
        page.screenshot(path=str(tmp_path / "register-ar.png"), full_page=True)
        for field_id in ("given_names", "family_names", "date_of_birth"):
            boxes = page.evaluate(FIELD_BOXES_JS, field_id)
            label, field = boxes["label"], boxes["input"]
            assert abs(label[1] - field[1]) < NEAR, (field_id, boxes)  # ends at the right
            assert label[0] > field[0] + 20, (field_id, boxes)
        # The city's name (first in the header) starts at the right edge, not the left.
        brand = page.locator("header.top .brand").bounding_box()
        assert brand["x"] + brand["width"] > PHONE["width"] - 25 and brand["x"] > 40, brand
        assert serious_violations(page) == []
    finally:
        context.close()


def test_the_offline_kit_in_arabic_is_mirrored(rtl_city: LiveCity, browser: Any,
                                               tmp_path: Path) -> None:
    path = tmp_path / "kit-ar.html"
    rtl_city.cli("trust", "kit", str(path), "--locale", "ar")
    kit = KitPage(browser, path)
    try:
        html = kit.page.locator("html")
        assert (html.get_attribute("lang"), html.get_attribute("dir")) == ("ar", "rtl")
        verdict = kit.check(rtl_city.card["qr"])  # type: ignore[attr-defined]
        assert verdict.get_attribute("data-status") == "valid"
        kit.page.screenshot(path=str(tmp_path / "kit-ar.png"), full_page=True)
        assert_verdict_mirrored(kit.page.evaluate(VERDICT_BOXES_JS))
        assert serious_violations(kit.page) == []
        assert kit.errors == []
    finally:
        kit.close()
