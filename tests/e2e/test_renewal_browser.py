"""Issue 6 in a real browser: a resident renews and reports a card without an account, and a
clerk works the request queue (Playwright driving Debian's Chromium against a real server)."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import LiveCity

pytestmark = pytest.mark.browser

DOB = "1990-04-12"


@pytest.fixture(scope="module")
def renewal_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveCity]:
    """A city whose renewal window is open for cards issued today, with a clerk who can sign in."""
    live = LiveCity(tmp_path_factory.mktemp("renewals"))
    with live.config.open("a", encoding="utf-8") as fh:
        fh.write("\n[cards]\nrenewal_days_before = 4000\n")
    live.setup()
    out = live.cli("users", "add", "desk1", "--role", "clerk")
    live.desk_password = out.strip().splitlines()[-1]  # type: ignore[attr-defined]
    live.start()
    try:
        yield live
    finally:
        live.stop()


def verify_status(city: LiveCity, qr: str) -> str:
    req = urllib.request.Request(city.url + "/api/v1/verify", method="POST",
                                 data=json.dumps({"qr": qr}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return str(json.loads(resp.read())["status"])


def prove_holder(page: Any, city: LiveCity, card: dict[str, Any]) -> None:
    page.goto(city.url + "/card/")
    page.get_by_label(re.compile("Card number|Numéro de carte")).fill(card["serial"].lower())
    page.get_by_label(re.compile("Date of birth|Date de naissance")).fill(DOB)
    page.get_by_label(re.compile("Renewal code|Code de renouvellement")).fill(
        card["renewal_code"])
    page.locator("form button[type=submit].primary").click()


def test_resident_renews_and_clerk_approves(renewal_city, browser):
    city = renewal_city
    card = city.issue_card("Ana Maria", "Conceição da Silva", DOB)
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    # a wrong code gets the vague answer, and changes nothing
    page.goto(city.url + "/card/")
    page.get_by_label("Card number").fill(card["serial"])
    page.get_by_label("Date of birth").fill(DOB)
    page.get_by_label(re.compile("Renewal code")).fill("WRONGWRONG")
    page.locator("form button[type=submit].primary").click()
    assert page.get_by_role("alert").inner_text().startswith("We could not find a card")
    errors.clear()  # that page's own 403 status is reported as a console error

    prove_holder(page, city, card)
    page.get_by_role("button", name="Ask for a new card").click()
    assert "/card/requests/" in page.url
    assert page.locator("[data-status=pending]").is_visible()
    status_url = page.url

    # the clerk signs in (first sign-in: choose a password), opens the queue, approves
    clerk = context.new_page()
    clerk.goto(city.url + "/login")
    clerk.get_by_label("Username").fill("desk1")
    clerk.get_by_label("Password").fill(city.desk_password)
    clerk.get_by_role("button", name="Sign in").click()
    clerk.get_by_label("Current password").fill(city.desk_password)
    clerk.get_by_label(re.compile("^New password \\(")).fill("a long desk password")
    clerk.get_by_label("New password again").fill("a long desk password")
    clerk.get_by_role("button", name="Save").click()
    clerk.get_by_role("navigation").get_by_role("link", name="Requests", exact=True).click()
    assert "1 request is waiting." in clerk.content()
    clerk.get_by_role("link", name="Decide").first.click()
    clerk.locator("summary", has_text="Approve").click()
    clerk.get_by_role("button", name="Yes, approve and issue").click()
    # approval goes straight to the new card, to print it (the code shown there, once)
    assert "Approved. New card" in clerk.content() and "/issued" in clerk.url
    assert clerk.locator(".serial.big.secret").is_visible()

    page.goto(status_url)
    assert page.locator("[data-status=approved]").is_visible()
    assert verify_status(city, card["qr"]) == "revoked"
    assert not [e for e in errors if "favicon" not in e]
    context.close()


def test_lost_card_is_revoked_at_once_and_clerk_can_reject(renewal_city, browser):
    city = renewal_city
    card = city.issue_card("Kofi", "Mensah", DOB)
    context = browser.new_context(locale="fr-FR")
    page = context.new_page()
    prove_holder(page, city, card)
    assert page.locator("html").get_attribute("lang") == "fr"
    page.locator("input[name=kind][value=lost]").check()
    page.locator("summary", has_text=re.compile("Signaler")).click()
    page.locator("form[action$='/manage/report'] button.danger").click()
    assert "/card/requests/" in page.url
    assert verify_status(city, card["qr"]) == "revoked"  # at once, before any clerk
    status_url = page.url

    clerk = browser.new_context(locale="en-GB").new_page()
    clerk.goto(city.url + "/login")
    clerk.get_by_label("Username").fill("desk1")
    clerk.get_by_label("Password").fill("a long desk password")
    clerk.get_by_role("button", name="Sign in").click()
    clerk.goto(city.url + "/clerk/requests/")
    clerk.get_by_role("link", name="Decide").first.click()
    clerk.locator("summary", has_text="Reject").click()
    clerk.get_by_label("Reason the resident will read").fill(
        "Please come to the desk with a photo.")
    clerk.locator("form[action$='/reject'] button.danger").click()
    assert "Rejected." in clerk.content()

    page.goto(status_url)
    assert page.locator("[data-status=rejected]").is_visible()
    assert "Please come to the desk with a photo." in page.content()
    context.close()
