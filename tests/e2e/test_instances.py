"""Two instances of one city on one PostgreSQL and one Redis, each a real server process.

A and B share the configuration, the keys directory, the database and the rate limiter's
storage, as N app servers behind a load balancer do (docs/deployment.md). Every test
names its client in X-Forwarded-For, so the limits one test exhausts are its own.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from cardservice import cose, credential, trust
from tests.conftest import postgres_schema
from tests.e2e.cities import EXE, City, stop_cities
from tests.e2e.instances import (
    Browser,
    Instance,
    api,
    redis_prefix_cleanup,
    unique_city_id,
)

# Own certificates are re-read when keys/keys.json changes, looked at once a second
# (services.verification.OwnCertificates.RECHECK_SECONDS); allow for a busy machine.
ROTATION_BOUND_SECONDS = 5.0


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance]]:
    """Instances A and B of one city, started."""
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing: install the package (pip install -e .)")
    base = tmp_path_factory.mktemp("instances")
    city_id = unique_city_id()
    with postgres_schema() as url, redis_prefix_cleanup(city_id):
        keys = base / "keys"
        a = Instance(base / "a", city_id=city_id, database_url=url, keys_dir=keys)
        b = Instance(base / "b", city_id=city_id, database_url=url, keys_dir=keys,
                     public_url=a.url)
        try:
            a.setup()
            b.share_tokens(a)
            with ThreadPoolExecutor(2) as pool:
                for future in [pool.submit(a.start), pool.submit(b.start)]:
                    future.result()
            yield a, b
        finally:
            stop_cities([a, b])


def kid_of(qr: str) -> bytes:
    """The signing key id in a card's QR text."""
    assert qr.startswith(credential.PREFIX)
    return cose.parse_sign1_eddsa(credential._b45decode(qr[len(credential.PREFIX):])).kid


def verify(city: City, qr: str, *, client: str) -> dict:
    answer = api(city, "POST", "/api/v1/verify", client=client, json={"qr": qr})
    assert answer.status == 200, answer
    return answer.json


def test_card_issued_on_a_verifies_on_b_at_once(pair):
    a, b = pair
    card = a.issue_card("Ana", "Lima", "1990-04-01")
    body = verify(b, card["qr"], client="10.1.0.1")
    assert body["status"] == "valid" and body["valid"] is True, body
    assert body["card"]["serial"] == card["serial"]


def test_revocation_on_a_is_in_the_list_b_publishes(pair):
    a, b = pair
    card = a.issue_card("Bea", "Costa", "1985-02-03")
    before = trust.decode_revocations_unverified(
        b.api("GET", "/.well-known/citycard/revocations").data)
    a.revoke(card["serial"])
    # B keeps no copy of the list: it is read (and re-signed if it changed) per request.
    answer = b.api("GET", "/.well-known/citycard/revocations")
    assert answer.status == 200 and answer.content_type == "application/cose"
    after = trust.decode_revocations_unverified(answer.data)
    assert card["serial"] in {entry.serial for entry in after.revoked}, after
    assert after.sequence > before.sequence
    assert verify(b, card["qr"], client="10.1.0.2")["status"] == "revoked"


def test_rate_limits_are_counted_once_for_both(pair):
    """The renewal limit per card is 5 an hour: across A and B together, not 5 each."""
    a, b = pair
    body = {"serial": "ZZZ-0000-0000", "date_of_birth": "1990-01-01",
            "renewal_code": "AAAA-BBBB-CCCC"}
    statuses = [api(a if n % 2 == 0 else b, "POST", "/api/v1/renewals", client="10.1.0.3",
                    json=body).status for n in range(7)]
    assert 429 not in statuses[:5], statuses
    assert statuses[5:] == [429, 429], statuses


def test_sign_in_lock_out_is_shared(pair):
    a, b = pair
    password = a.one_time_password("lockme", "agent")
    browser = Browser("10.1.0.4")
    for n in range(5):
        answer = browser.sign_in(a if n % 2 == 0 else b, "lockme", "wrong password!")
        assert answer.status == 401, answer.status
    # The right password now waits, on either instance.
    for city in (b, a):
        refused = browser.sign_in(city, "lockme", password)
        assert refused.status == 401, refused.status
    # From another place the account still signs in (the wait is per account and source).
    assert Browser("10.1.0.5").sign_in(b, "lockme", password).status == 302


def test_concurrent_partner_syncs_store_one_result(pair, tmp_path):
    a, b = pair
    partner = City(tmp_path / "partner", city_id="FRLYS", name="Lyon")
    try:
        partner.setup()
        partner.start()
        a.cli("partners", "add", partner.url, "--fingerprint", partner.fingerprint())
        theirs = partner.issue_card("Chloé", "Martin", "1979-11-30")
        partner.revoke(theirs["serial"])
        runs = [subprocess.Popen([str(EXE), "partners", "sync"], env=city.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 stdin=subprocess.DEVNULL) for city in (a, b)]
        outcomes = [(run.wait(timeout=120), *run.communicate()) for run in runs]
        assert [code for code, _, _ in outcomes] == [0, 0], outcomes
        stored = a.partners()["FRLYS"]
        assert stored["last_sync_result"] in (None, "ok"), stored
        published = trust.decode_revocations_unverified(
            partner.api("GET", "/.well-known/citycard/revocations").data)
        assert stored["revocations_sequence"] == published.sequence, stored
        assert b.partners()["FRLYS"] == stored
        time.sleep(1.2)  # partner data is re-read by each process within a second
        assert verify(b, theirs["qr"], client="10.1.0.6")["status"] == "revoked"
    finally:
        partner.stop()


def test_key_rotation_on_a_is_used_by_b_within_the_bound(pair):
    a, b = pair
    old = kid_of(a.issue_card("Dora", "Reis", "1970-07-07")["qr"])
    a.cli("keys", "rotate")
    rotated = time.monotonic()
    # B signs with the new key at once: it re-reads keys.json before each signature.
    on_b = b.issue_card("Eva", "Reis", "1971-08-08")
    assert kid_of(on_b["qr"]) != old
    # A's new cards verify on B once B has re-read its certificates.
    on_a = a.issue_card("Fia", "Reis", "1972-09-09")
    assert kid_of(on_a["qr"]) == kid_of(on_b["qr"])
    while True:
        body = verify(b, on_a["qr"], client="10.1.0.7")
        if body["status"] == "valid":
            break
        assert time.monotonic() - rotated < ROTATION_BOUND_SECONDS, body
        time.sleep(0.1)
    assert verify(a, on_b["qr"], client="10.1.0.7")["status"] == "valid"


def test_concurrent_approvals_of_one_renewal_make_one_card(pair):
    a, b = pair
    card = a.issue_card("Gil", "Sousa", "1995-05-05")
    request = api(a, "POST", "/api/v1/renewals", client="10.1.0.8", json={
        "serial": card["serial"], "date_of_birth": "1995-05-05",
        "renewal_code": card["renewal_code"], "kind": "damaged"})
    assert request.status == 202, request
    request_id = request.json["id"]
    password = a.one_time_password("desk", "clerk")
    clerk = Browser("10.1.0.9")
    assert clerk.sign_in(a, "desk", password).status == 302
    token = clerk.csrf(a, "/password")
    changed = clerk.request(b, "POST", "/password", {
        "csrf_token": token, "current_password": password,
        "new_password": "a long new password 1", "confirm": "a long new password 1"})
    assert changed.status == 302, changed.data[:500]
    token = clerk.csrf(b, f"/clerk/requests/{request_id}")

    def approve(city: Instance) -> int:
        return clerk.request(city, "POST", f"/clerk/requests/{request_id}/approve",
                             {"csrf_token": token}).status

    with ThreadPoolExecutor(2) as pool:
        statuses = list(pool.map(approve, (a, b, a, b)))
    assert all(s < 500 for s in statuses), statuses
    status = api(b, "GET", f"/api/v1/renewals/{request_id}", client="10.1.0.8")
    assert status.status == 200 and status.json["status"] == "approved", status
    holder = a.api("GET", f"/api/v1/residents/{_resident_id(a, card)}", token=a.clerk_token)
    cards = holder.json["cards"]
    assert len(cards) == 2, cards  # the old card and exactly one new one
    assert sum(c["status"] == "active" for c in cards) == 1, cards


def _resident_id(city: Instance, card: dict) -> str:
    answer = city.api("GET", "/api/v1/cards/" + card["serial"], token=city.clerk_token)
    return str(answer.json["resident_id"])
