"""The trust freshness policy (issue 11, finding 7), through the application's verifier.

A partner whose bundle has expired here no longer gives ``valid`` cards: its cards read
``trust_expired`` until it is synced. A valid card of a partner whose revocation
list is stale carries the warning ``revocations_stale``. Real keys, a real partner
imported through the use case, real cards; time is the ``now`` passed to the verifier.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cardservice import credential, pki, trust
from cardservice.application import Application
from cardservice.clock import utcnow

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SERIALS = {"ok": "ABCDEFGHJK0", "revoked": "ABCDEFGHJM0"}


@dataclass
class Lyon:
    """A partner city publishing a bundle valid 30 days and lists we choose."""

    now: datetime

    def __post_init__(self) -> None:
        start = self.now - 100 * DAY
        self.root_key, self.root = pki.generate_root(city_id="FRLYS", city_name="Lyon", now=start)
        self.key, self.cert = pki.issue_signing_certificate(
            root_key=self.root_key, root_cert=self.root, now=start, not_after=start + 2000 * DAY)

    def bundle(self) -> bytes:
        content = trust.make_bundle(
            city_id="FRLYS", city_name="Lyon", base_url="https://cards.lyon.example", version=1,
            now=self.now - DAY, valid_for=30 * DAY, root=self.root,
            signing_certificates=[self.cert],
            revocations_url="https://cards.lyon.example/.well-known/citycard/revocations")
        return trust.sign_bundle(content, root_keys=[self.root_key])

    def revocations(self, *, issued: datetime, next_update: datetime) -> bytes:
        rl = trust.RevocationList(
            city_id="FRLYS", sequence=1, issued_at=issued, next_update=next_update,
            revoked=(trust.RevokedCard(SERIALS["revoked"], self.now + 300 * DAY, "lost"),))
        return trust.sign_revocations(rl, root_key=self.root_key, root=self.root)

    def card(self, which: str) -> str:
        claims = credential.CardClaims(
            issuer="FRLYS", serial=SERIALS[which], issued_at=self.now - 10 * DAY,
            expires_at=self.now + 300 * DAY,
            holder=credential.Holder("Lea Martin", date(1991, 2, 3)))
        return credential.encode_card(claims, signer_key=self.key, signer_cert=self.cert)


@pytest.fixture
def city(settings: Any, staff: Any) -> Iterator[Application]:
    app = Application(settings)
    yield app
    app.db.dispose()


NOW = utcnow().replace(microsecond=0)
FRESH = {"issued": NOW - HOUR, "next_update": NOW + DAY}

#: name -> (revocation list held (None: none), suspended, card, at, status, warnings)
CASES: dict[str, tuple[dict[str, datetime] | None, bool, str, datetime, str, list[str]]] = {
    "fresh bundle and list": (FRESH, False, "ok", NOW, "valid", []),
    "bundle expired a day ago": (FRESH, False, "ok", NOW + 30 * DAY, "trust_expired", []),
    "bundle expired 400 days ago": (FRESH, False, "ok", NOW + 400 * DAY,
                                    "trust_expired", []),
    "revoked card of an expired bundle": (FRESH, False, "revoked", NOW + 30 * DAY,
                                          "trust_expired", []),
    "suspension wins over expiry": (FRESH, True, "ok", NOW + 30 * DAY, "partner_suspended", []),
    "list issued 3 days ago (limit 48 h)": (
        {"issued": NOW - 3 * DAY, "next_update": NOW + DAY}, False, "ok", NOW, "valid",
        ["revocations_stale"]),
    "list past its next_update": (
        {"issued": NOW - 30 * HOUR, "next_update": NOW - HOUR}, False, "ok", NOW, "valid",
        ["revocations_stale"]),
    "no list held": (None, False, "ok", NOW, "valid", ["revocations_stale"]),
    "list just within the limit": (
        {"issued": NOW - 47 * HOUR, "next_update": NOW + HOUR}, False, "ok", NOW, "valid", []),
    "revoked card in a stale list": (
        {"issued": NOW - 3 * DAY, "next_update": NOW + DAY}, False, "revoked", NOW, "revoked", []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_freshness(city: Application, name: str) -> None:
    held, suspended, which, at, status, warnings = CASES[name]
    lyon = Lyon(NOW)
    revocations = None if held is None else lyon.revocations(**held)
    city.partners.import_documents(bundle=lyon.bundle(), revocations=revocations,
                                   fingerprint=pki.fingerprint(lyon.root), actor="admin1")
    if suspended:
        city.partners.set_suspended("FRLYS", suspended=True, actor="admin1")
    result = city.verifier.verify(lyon.card(which), now=at)
    body = result.as_json()
    assert (body["status"], body.get("warnings", [])) == (status, warnings)
    assert body["valid"] is (status == "valid")
    if status in ("trust_expired", "partner_suspended"):
        assert "holder" not in body  # its keys vouch for nothing: no name shown


def test_own_cards_carry_no_warning(city: Application) -> None:
    from tests.application.test_units_of_work import ANA

    rid = city.residents.register({**ANA}, photo=None, confirm_new=False, actor="clerk1")
    card = city.cards.issue(rid, actor="clerk1")
    body = city.verifier.verify(card.qr, now=utcnow()).as_json()
    assert body["status"] == "valid" and "warnings" not in body


def test_offline_trust_data_says_when_partner_data_expires(city: Application) -> None:
    lyon = Lyon(NOW)
    city.partners.import_documents(bundle=lyon.bundle(), revocations=None,
                                   fingerprint=pki.fingerprint(lyon.root), actor="admin1")
    issuers = {i["id"]: i for i in city.verifier.offline_trust_data(now=NOW)["issuers"]}
    expires = datetime.strptime(issuers["FRLYS"]["trust_data_expires_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert expires.replace(tzinfo=UTC) == NOW - DAY + 30 * DAY
    assert issuers[city.settings.city.id]["trust_data_expires_at"] is None


