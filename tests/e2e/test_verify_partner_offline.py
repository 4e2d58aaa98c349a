"""A partner city's card checked offline on the verify page (issue 12).

Two real cities (tests/e2e/cities.py): Lyon (FRLYS) recognises Lisboa (PTLIS), pinned by
fingerprint and synced. An agent in Lyon opens /verify once online on a phone, goes
offline and reloads: the page, kept by its service worker, checks a Lisboa card with the
Lisboa documents it stored and names Lisboa as the issuer. Then the stored Lisboa data is
edited on the device: whatever the edit, a card forged in Lisboa's name is not valid.
Lyon only recognises here (no clerk, no cards of its own): each command a city setup runs
costs seconds on a loaded machine.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardservice import pki, trust
from tests.e2e.cities import EXE, City, start_cities, stop_cities
from tests.e2e.test_verify_browser import (
    VERDICT,
    Agent,
    make_card,
    signer_for,
    store_trust,
    stored_trust,
)
from tests.e2e.test_verify_pwa import PHONE, b64url, forger, scan

pytestmark = pytest.mark.browser

HOME, PARTNER = "FRLYS", "PTLIS"


@dataclasses.dataclass
class Pair:
    """Lyon, which recognises Lisboa, and a Lisboa card."""

    home: City
    partner: City
    partner_card: dict[str, Any]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    """Lyon and Lisboa serving; Lyon has pinned and synced Lisboa."""
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing: install the package (pip install -e .)")
    base: Path = tmp_path_factory.mktemp("partner-offline")
    home = City(base / "lyon", city_id=HOME, name="Lyon", languages=("en",), with_clerk=False)
    partner = City(base / "lisboa", city_id=PARTNER, name="Lisboa", languages=("en",))
    try:
        start_cities([home, partner])
        pinned = home.api("POST", "/api/v1/partners", token=home.admin_token,
                          json={"url": partner.url, "fingerprint": partner.fingerprint()})
        assert pinned.status == 201, (pinned.status, pinned.data[:500])
        yield Pair(home, partner, partner_card=partner.issue_card(
            "Ana Maria", "Conceição da Silva", "1990-04-12"))
    finally:
        stop_cities([home, partner])


@pytest.fixture
def agent(browser: Any, pair: Pair) -> Iterator[Agent]:
    """A phone in Lyon: /verify loaded once online, then offline and reloaded."""
    context = browser.new_context(locale="en-GB", viewport=PHONE, service_workers="allow")
    a = Agent(context.new_page(), pair.home)  # type: ignore[arg-type]  # a City serves too
    try:
        a.open()
        a.page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        stored = stored_trust(a.page)
        assert {d["id"] for d in stored["data"]["documents"]} == {HOME, PARTNER}
        a.allow_offline_errors = True
        context.set_offline(True)
        a.page.reload()
        a.page.wait_for_selector("#verify-app[data-decoder=ready]", state="attached")
        yield a
        assert a.errors == [], "\n".join(a.errors)
    finally:
        context.close()


def partner_document(agent: Agent) -> dict[str, Any]:
    stored = stored_trust(agent.page)
    document: dict[str, Any] = next(
        d for d in stored["data"]["documents"] if d["id"] == PARTNER)
    return document


def test_a_partner_card_checks_offline_and_names_the_partner(agent: Agent, pair: Pair) -> None:
    verdict = scan(agent, pair.partner_card["qr"])
    assert verdict.get_attribute("data-status") == "valid"
    assert verdict.get_attribute("data-offline") == "true"
    assert verdict.locator(".holder-name").inner_text() == "Ana Maria Conceição da Silva"
    assert verdict.locator(".issuer").inner_text() == "Lisboa (partner city)"
    assert verdict.get_attribute("data-outdated") is None


def test_edited_partner_data_cannot_make_a_forged_partner_card_valid(
        agent: Agent, pair: Pair) -> None:
    root_key, root, key, cert = forger()  # a root and key in Lisboa's name, not Lisboa's
    forged = make_card(signer_for(pair.partner), key=key, kid=pki.key_id(cert),
                       issuer=PARTNER, serial="E2EFAKE0002")
    genuine = partner_document(agent)
    raw = base64.urlsafe_b64decode(genuine["bundle"] + "=" * (-len(genuine["bundle"]) % 4))
    bundle = trust.decode_bundle_unverified(raw)
    resigned = trust.sign_bundle(
        dataclasses.replace(bundle, root=root, previous_root=None, signing_certificates=(cert,),
                            version=bundle.version + 1),
        root_keys=[root_key])
    flipped = bytearray(raw)
    flipped[-1] ^= 1  # Lisboa's root signature no longer matches
    forger_key = {"kid": pki.key_id(cert).hex(),
                  "public_key": b64url(key.public_key().public_bytes_raw()),
                  "not_before": "2000-01-01T00:00:00Z", "not_after": "2100-01-01T00:00:00Z"}
    cases = {
        "unchecked summary carries the forger's key": {"summary_keys": [forger_key]},
        "bundle re-signed by another root": {"bundle": b64url(resigned),
                                             "summary_keys": [forger_key]},
        "revocation list dropped": {"revocations": None, "summary_keys": [forger_key]},
        "one bit of the bundle flipped": {"bundle": b64url(bytes(flipped))},  # stays, below
    }
    for name, change in cases.items():
        edited = stored_trust(agent.page)
        document = {**genuine, **({"bundle": change["bundle"]} if "bundle" in change else {})}
        if "revocations" in change:
            del document["revocations"]
        edited["data"]["documents"] = [document if d["id"] == PARTNER else d
                                       for d in edited["data"]["documents"]]
        for issuer in edited["data"].get("issuers", []):
            if issuer["id"] == PARTNER and "summary_keys" in change:
                issuer["keys"] = change["summary_keys"]
        store_trust(agent.page, edited)
        verdict = scan(agent, forged)
        assert verdict.get_attribute("data-status") != "valid", name
        assert "verdict-valid" not in (verdict.get_attribute("class") or ""), name
        assert verdict.locator(".holder-name").count() == 0, name
    # The last edit broke Lisboa's bundle: its genuine cards are not trusted either, and
    # the verdict says the stored data failed its check.
    verdict = scan(agent, pair.partner_card["qr"])
    assert verdict.get_attribute("data-status") == "unknown_issuer"
    assert agent.page.locator(f"{VERDICT} [data-warning=tampered]").count() == 1
