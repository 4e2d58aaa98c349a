"""Alliances through the application layer, as files (the offline exchange of SPEC §5b).

This city (PTLIS, with its real keys) drafts, co-signs, publishes and follows a member
list with other member cities made of real keys here (their signatures are made with
the pure core, as their own servers would make them). Cards of a member then verify as
alliance cards; a list one member signed alone changes nothing. The same flows over HTTP
between real city processes are in tests/e2e/test_alliance_cities.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from cardservice import credential, pki, trust
from cardservice.application import AllianceRefusedError, Application
from cardservice.clock import utcnow
from cardservice.errors import ConflictError
from cardservice.trust import alliance as al

DAY = timedelta(days=1)


class Member:
    """Another member city: real root and signing keys, documents signed now."""

    def __init__(self, city_id: str, name: str) -> None:
        self.city_id, self.name = city_id, name
        self.now = utcnow().replace(microsecond=0)
        start = self.now - 100 * DAY
        self.root_key, self.root = pki.generate_root(city_id=city_id, city_name=name, now=start)
        self.key, self.cert = pki.issue_signing_certificate(
            root_key=self.root_key, root_cert=self.root, now=start,
            not_after=start + 2000 * DAY)
        self.sequence = 0

    @property
    def fingerprint(self) -> str:
        return pki.fingerprint(self.root)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:9/{self.city_id.lower()}"  # nothing listens: offline

    def bundle(self) -> bytes:
        content = trust.make_bundle(
            city_id=self.city_id, city_name=self.name, base_url=self.url, version=1,
            now=self.now - DAY, valid_for=30 * DAY, root=self.root,
            signing_certificates=[self.cert],
            revocations_url=f"{self.url}/.well-known/citycard/revocations")
        return trust.sign_bundle(content, root_keys=[self.root_key])

    def revocations(self, *serials: str) -> bytes:
        self.sequence += 1
        rl = trust.RevocationList(
            city_id=self.city_id, sequence=self.sequence, issued_at=self.now - DAY,
            next_update=self.now + DAY,
            revoked=tuple(trust.RevokedCard(s, self.now + 300 * DAY, "lost") for s in serials))
        return trust.sign_revocations(rl, root_key=self.root_key, root=self.root)

    def card(self, serial: str) -> str:
        claims = credential.CardClaims(
            issuer=self.city_id, serial=serial, issued_at=self.now - 10 * DAY,
            expires_at=self.now + 300 * DAY,
            holder=credential.Holder("Lea Martin", date(1991, 2, 3)))
        return credential.encode_card(claims, signer_key=self.key, signer_cert=self.cert)

    def cosign(self, data: bytes) -> bytes:
        return al.add_signature(data, root_key=self.root_key, root=self.root)


@pytest.fixture
def city(settings: Any) -> Iterator[Application]:
    app = Application(settings)
    yield app
    app.db.dispose()


@pytest.fixture(scope="module")
def others() -> dict[str, Member]:
    return {cid: Member(cid, name) for cid, name in
            (("FRLYS", "Lyon"), ("ESMAD", "Madrid"), ("ITROM", "Roma"))}


ACTOR = "admin"


def _found(city: Application, others: dict[str, Member]) -> None:
    """PTLIS, FRLYS and ESMAD form 'migration' with k = 2 (FRLYS co-signs)."""
    lyon, madrid = others["FRLYS"], others["ESMAD"]
    draft = city.alliances.create(
        alliance_id="migration", name="Migration Alliance", threshold=2,
        member_bundles=[(lyon.bundle(), lyon.fingerprint), (madrid.bundle(), madrid.fingerprint)],
        actor=ACTOR)
    assert draft.signed_by == ("PTLIS",) and draft.signed_here and not draft.ready
    assert [c.city_id for c in draft.changes] == ["ESMAD", "FRLYS", "PTLIS"]
    signed = lyon.cosign(city.alliances.draft_document(draft.id))
    view = city.alliances.import_document(signed, actor=ACTOR)
    assert view.id == draft.id and view.signed_by == ("FRLYS", "PTLIS") and view.ready
    held = city.alliances.publish(draft.id, confirm=[lyon.fingerprint], actor=ACTOR)
    assert (held.version, held.threshold) == (1, 2)
    assert [m.city_id for m in held.members] == ["ESMAD", "FRLYS", "PTLIS"]
    assert city.alliances.drafts() == []  # published


def _verify(city: Application, qr: str) -> dict[str, Any]:
    return city.verifier.verify(qr, now=utcnow()).as_json()


def test_members_cards_verify_as_alliance_cards(city: Application,
                                                others: dict[str, Member]) -> None:
    _found(city, others)
    lyon = others["FRLYS"]
    assert _verify(city, lyon.card("ABCDEFGHJK1"))["status"] == "unknown_issuer"
    city.alliances.import_member_documents("migration", "FRLYS", bundle=lyon.bundle(),
                                           revocations=lyon.revocations("ABCDEFGHJK2"),
                                           actor=ACTOR)
    body = _verify(city, lyon.card("ABCDEFGHJK1"))
    assert body["status"] == "valid"
    assert body["issuer"] == {"id": "FRLYS", "name": "Lyon", "own": False,
                              "alliance": "migration"}
    assert _verify(city, lyon.card("ABCDEFGHJK2"))["status"] == "revoked"
    city.alliances.set_member_suspended("migration", "FRLYS", suspended=True, actor=ACTOR)
    assert _verify(city, lyon.card("ABCDEFGHJK1"))["status"] == "partner_suspended"
    city.alliances.set_member_suspended("migration", "FRLYS", suspended=False, actor=ACTOR)
    assert _verify(city, lyon.card("ABCDEFGHJK1"))["status"] == "valid"
    # The offline verifier carries the member's trust data, naming the alliance.
    pins = city.verifier.offline_pins(now=utcnow())
    assert {"FRLYS"} <= {p["id"] for p in pins if p.get("alliance") == "migration"}
    kit = city.verifier.offline_kit(now=utcnow())
    lyon_docs = next(d for d in kit.documents if d["id"] == "FRLYS")
    assert lyon_docs["bundle"] and lyon_docs["revocations"]
    # A member list past its expiry stops vouching for members (no freeze).
    later = city.verifier.verify(lyon.card("ABCDEFGHJK1"), now=utcnow() + 91 * DAY)
    assert later.status == "trust_expired"


def test_member_bundle_under_another_root_is_refused(city: Application,
                                                     others: dict[str, Member]) -> None:
    _found(city, others)
    impostor = Member("FRLYS", "Lyon")
    with pytest.raises(AllianceRefusedError) as info:
        city.alliances.import_member_documents("migration", "FRLYS", bundle=impostor.bundle(),
                                               revocations=None, actor=ACTOR)
    assert info.value.trust_code == "fingerprint_mismatch"
    member = next(m for m in city.alliances.get("migration").members if m.city_id == "FRLYS")
    assert member.fingerprint is None and member.last_sync_result is not None
    assert _verify(city, impostor.card("ABCDEFGHJK1"))["status"] == "unknown_issuer"


def test_list_signed_by_one_member_changes_nothing(city: Application,
                                                   others: dict[str, Member]) -> None:
    _found(city, others)
    lyon, rome = others["FRLYS"], others["ITROM"]
    held = city.alliances.get("migration")
    rogue = trust.MemberList(
        alliance_id="migration", name="Migration Alliance", version=2,
        issued_at=utcnow() - DAY, expires_at=utcnow() + 30 * DAY, threshold=2,
        members=(*(al.AllianceMember(m.city_id, m.name, m.base_url,
                                     al.fingerprint_bytes(m.listed_fingerprint))
                   for m in held.members),
                 al.AllianceMember("ITROM", "Roma", rome.url, al.fingerprint_bytes(
                     rome.fingerprint))))
    data = al.sign_member_list(rogue, root_key=lyon.root_key, root=lyon.root)
    data = rome.cosign(data)  # the city being added signs for itself: counts for nothing
    with pytest.raises(AllianceRefusedError) as info:
        city.alliances.apply(data, actor=ACTOR)
    assert info.value.trust_code == "too_few_signatures"
    after = city.alliances.get("migration")
    assert after.version == 1 and [m.city_id for m in after.members] == [
        "ESMAD", "FRLYS", "PTLIS"]
    assert "too_few" not in (after.last_sync_result or "")  # a sentence, not a code
    assert after.last_sync_result and after.last_sync_result.startswith("file:")


def test_adding_a_member_with_the_threshold(city: Application,
                                            others: dict[str, Member]) -> None:
    _found(city, others)
    rome, madrid = others["ITROM"], others["ESMAD"]
    draft = city.alliances.propose("migration", add_bundles=[(rome.bundle(), rome.fingerprint)],
                                   actor=ACTOR)
    assert [(c.kind, c.city_id) for c in draft.changes] == [("added", "ITROM")]
    assert draft.held_version == 1 and draft.version == 2 and not draft.ready
    # Madrid's root is known only once its bundle matched a fingerprint.
    city.alliances.import_member_documents("migration", "ESMAD", bundle=madrid.bundle(),
                                           revocations=None, actor=ACTOR)
    city.alliances.import_document(madrid.cosign(city.alliances.draft_document(draft.id)),
                                   actor=ACTOR)
    assert city.alliances.draft(draft.id).ready
    held = city.alliances.publish(draft.id, actor=ACTOR)
    assert held.version == 2 and "ITROM" in [m.city_id for m in held.members]
    assert set(held.signers) == {"PTLIS", "ESMAD"}


def test_a_list_naming_our_city_with_another_root_is_refused(
        city: Application, others: dict[str, Member]) -> None:
    lyon, madrid = others["FRLYS"], others["ESMAD"]
    fake_us = Member("PTLIS", "Lisboa")  # someone else's root under our city id
    ml = al.make_member_list(
        alliance_id="other", name="Other", version=1, threshold=2, now=utcnow(),
        valid_for=30 * DAY, members=[
            al.AllianceMember(m.city_id, m.name, m.url, al.fingerprint_bytes(m.fingerprint))
            for m in (lyon, madrid, fake_us)])
    data = madrid.cosign(al.sign_member_list(ml, root_key=lyon.root_key, root=lyon.root))
    city.alliances.import_document(data, actor=ACTOR)  # learns nothing: no network here
    draft = city.alliances.drafts("other")[0]
    assert draft.unverifiable == ("ESMAD", "FRLYS")  # no roots known for them yet
    for m in (lyon, madrid):
        city.partners.import_documents(bundle=m.bundle(), revocations=None,
                                       fingerprint=m.fingerprint, actor=ACTOR)
    with pytest.raises(ConflictError):
        city.alliances.join("other", data=data, confirm=[lyon.fingerprint, madrid.fingerprint],
                            actor=ACTOR)
    assert city.alliances.all() == []

