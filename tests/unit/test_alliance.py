"""Tests for cardservice.trust.alliance: member lists signed by a threshold of member roots.

As in tests/unit/test_trust.py, the rules are a table of named cases: each refused case
checks the exact error *and* that the state held before is unchanged. Keys, certificates
and signatures are real (cardservice.pki, Ed25519).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import cose, pki, trust
from cardservice.trust import (
    AllianceMember,
    AllianceMismatchError,
    AllianceState,
    ExpiredTrustDataError,
    FingerprintMismatchError,
    InsufficientSignaturesError,
    MemberList,
    RollbackError,
    TrustError,
    TrustFormatError,
    UnconfirmedFingerprintsError,
)
from cardservice.trust import alliance as al
from tests.unit.test_trust import DAY, NOW, City

# --------------------------------------------------------------------------- cities


class Members:
    """Five cities with real roots; the alliance 'migration' is made of some of them."""

    def __init__(self) -> None:
        self.cities = {
            cid: City(cid, name)
            for cid, name in (
                ("PTLIS", "Lisboa"),
                ("FRLYS", "Lyon"),
                ("ESMAD", "Madrid"),
                ("ITROM", "Roma"),
                ("DEBER", "Berlin"),
            )
        }

    def __getitem__(self, city_id: str) -> City:
        return self.cities[city_id]

    def member(self, city_id: str, **changes: Any) -> AllianceMember:
        city = self.cities[city_id]
        fields = {
            "city_id": city_id,
            "city_name": city.city_name,
            "base_url": f"https://{city_id.lower()}.example",
            "root_fingerprint": hashlib.sha256(
                city.root.cert.public_bytes(serialization.Encoding.DER)
            ).digest(),
        }
        fields.update(changes)
        return AllianceMember(**fields)

    def content(self, version: int, cities: tuple[str, ...], threshold: int,
                **changes: Any) -> MemberList:
        fields: dict[str, Any] = {
            "alliance_id": "migration",
            "name": "Migration Alliance",
            "version": version,
            "issued_at": NOW - DAY,
            "expires_at": NOW + 90 * DAY,
            "threshold": threshold,
            "members": tuple(self.member(c) for c in cities),
        }
        fields.update(changes)
        return MemberList(**fields)

    def sign(self, ml: MemberList, signers: tuple[str, ...]) -> bytes:
        first, *rest = signers
        data = al.sign_member_list(ml, root_key=self[first].root.key, root=self[first].root.cert)
        for cid in rest:
            data = al.add_signature(data, root_key=self[cid].root.key, root=self[cid].root.cert)
        return data

    def doc(self, version: int, cities: tuple[str, ...], threshold: int,
            signers: tuple[str, ...], **changes: Any) -> bytes:
        return self.sign(self.content(version, cities, threshold, **changes), signers)

    def roots(self) -> list[Any]:
        return [c.root.cert for c in self.cities.values()]

    def fingerprints(self, *cities: str) -> list[str]:
        return [self[c].fingerprint for c in cities]


HELD = ("ESMAD", "FRLYS", "ITROM", "PTLIS")


class World:
    """A city holding version 2 of 'migration': four members, threshold 3."""

    def __init__(self) -> None:
        self.m = Members()
        first = self.m.doc(1, HELD, 3, ("PTLIS", "FRLYS", "ESMAD"))
        state = AllianceState.join(
            first, roots=self.m.roots(), confirmed=self.m.fingerprints("PTLIS", "FRLYS", "ESMAD"),
            now=NOW,
        )
        self.state = state.update(self.m.doc(2, HELD, 3, HELD), roots=self.m.roots(), now=NOW)

    def offer(self, data: bytes) -> Callable[[], object]:
        return lambda: self.state.update(data, roots=self.m.roots(), now=NOW)

    def join(self, data: bytes, confirmed: tuple[str, ...], **kw: Any) -> Callable[[], object]:
        roots = kw.pop("roots", self.m.roots())
        return lambda: AllianceState.join(
            data, roots=roots, confirmed=self.m.fingerprints(*confirmed), now=NOW, **kw
        )


@pytest.fixture
def w() -> World:
    return World()


def snapshot(state: AllianceState) -> tuple[Any, ...]:
    return (state.to_bytes(), state.version, state.signers, state.member_list, state.raw)


WITH_D = (*HELD, "DEBER")

# --------------------------------------------------------------------------- hand-made documents


def _with_signatures(data: bytes, extra: list[tuple[bytes, bytes]]) -> bytes:
    """``data`` with more (kid, signature) entries, sorted by kid but NOT de-duplicated."""
    doc = al.read_member_list(data)
    sigs = [(s.kid, s.signature) for s in doc.envelope.signatures] + extra
    return cose.assemble_multi(
        doc.envelope.payload, content_type=al.ALLIANCE_CONTENT_TYPE, signatures=sorted(sigs)
    )


# A second, different, valid Ed25519 signature by the same key: RFC 8032 signing with a
# random nonce instead of the deterministic one. Verifiers cannot tell the two apart,
# which is why signatures are counted by member and not by signature bytes.
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_BY = 4 * pow(5, _P - 2, _P) % _P
_BX_SQ = (_BY * _BY - 1) * pow(_D * _BY * _BY + 1, _P - 2, _P) % _P
_BX = pow(_BX_SQ, (_P + 3) // 8, _P)
if (_BX * _BX - _BX_SQ) % _P:
    _BX = _BX * pow(2, (_P - 1) // 4, _P) % _P
if _BX % 2:
    _BX = _P - _BX
_B = (_BX, _BY, 1, _BX * _BY % _P)


def _add(p: tuple[int, ...], q: tuple[int, ...]) -> tuple[int, ...]:
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(s: int, p: tuple[int, ...]) -> tuple[int, ...]:
    q: tuple[int, ...] = (0, 1, 1, 0)
    while s:
        if s & 1:
            q = _add(q, p)
        p, s = _add(p, p), s >> 1
    return q


def _encode(p: tuple[int, ...]) -> bytes:
    zinv = pow(p[2], _P - 2, _P)
    x, y = p[0] * zinv % _P, p[1] * zinv % _P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def randomised_signature(key: Ed25519PrivateKey, message: bytes) -> bytes:
    seed = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    public = _encode(_mul(a, _B))
    r = secrets.randbelow(_L - 1) + 1
    big_r = _encode(_mul(r, _B))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _L
    return big_r + int.to_bytes((r + k * a) % _L, 32, "little")


def _member_signing_twice(w: World) -> Callable[[], object]:
    data = w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS"))
    doc = al.read_member_list(data)
    lisboa = next(s for s in doc.envelope.signatures if s.kid == w.m["PTLIS"].root.kid)
    again = randomised_signature(w.m["PTLIS"].root.key, lisboa.to_be_signed)
    assert again != lisboa.signature
    w.m["PTLIS"].root.cert.public_key().verify(again, lisboa.to_be_signed)  # genuinely valid
    return w.offer(_with_signatures(data, [(w.m["PTLIS"].root.kid, again)]))


def _signature_repeated(w: World) -> Callable[[], object]:
    data = w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS"))
    doc = al.read_member_list(data)
    first = doc.envelope.signatures[0]
    return w.offer(_with_signatures(data, [(first.kid, first.signature)]))


def _tampered_third_signature(w: World) -> Callable[[], object]:
    data = w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS"))
    bad = bytes(64)
    return w.offer(_with_signatures(data, [(w.m["ESMAD"].root.kid, bad)]))


def _stranger_under_member_kid(w: World) -> Callable[[], object]:
    ml = w.m.content(3, WITH_D, 3)
    data = w.m.sign(ml, ("PTLIS", "FRLYS"))
    doc = al.read_member_list(data)
    impostor = Ed25519PrivateKey.generate().sign(doc.envelope.signatures[0].to_be_signed)
    return w.offer(_with_signatures(data, [(w.m["ESMAD"].root.kid, impostor)]))


def _impostor_bundle(w: World) -> Callable[[], object]:
    impostor = City("FRLYS", "Lyon")  # same city id, another root
    return lambda: w.state.pin_member("FRLYS", impostor.bundle(1), now=NOW)


def _signatures_out_of_order(w: World) -> Callable[[], object]:
    data = w.m.doc(3, WITH_D, 3, HELD)
    message = cbor2.loads(data)
    message.value[3] = list(reversed(message.value[3]))
    return w.offer(cbor2.dumps(message))


def _members_out_of_order(w: World) -> Callable[[], object]:
    ml = w.m.content(3, WITH_D, 3)
    raw = cbor2.loads(al.member_list_payload(ml))
    raw["members"] = list(reversed(raw["members"]))
    payload = cbor2.dumps(raw, canonical=True)
    body = cose.protected_header(kid=None, content_type=al.ALLIANCE_CONTENT_TYPE)
    signers = [(w.m[c].root.key, w.m[c].root.kid) for c in HELD]
    sigs = []
    for key, kid in signers:
        protected = cose.protected_header(kid=kid, content_type=None)
        sigs.append((kid, key.sign(cose.sig_input(body, protected, payload))))
    return w.offer(cose.assemble_multi(payload, content_type=al.ALLIANCE_CONTENT_TYPE,
                                       signatures=sorted(sigs)))


#: name -> (setup(world) returning the action to refuse, the exact error expected)
REFUSED: dict[str, tuple[Callable[[World], Callable[[], object]], type[TrustError]]] = {
    # -- threshold (held: 4 members, k = 3)
    "too few signatures": (
        lambda w: w.offer(w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS"))),
        InsufficientSignaturesError,
    ),
    "signatures from non-members (the city being added signs for itself)": (
        lambda w: w.offer(w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS", "DEBER"))),
        InsufficientSignaturesError,
    ),
    "a signature repeated": (_signature_repeated, InsufficientSignaturesError),
    "a member signing twice (two different valid signatures)": (
        _member_signing_twice,
        InsufficientSignaturesError,
    ),
    "a signature that does not verify": (_tampered_third_signature, InsufficientSignaturesError),
    "another key's signature under a member's kid": (
        _stranger_under_member_kid,
        InsufficientSignaturesError,
    ),
    "threshold lowered without the held threshold": (
        lambda w: w.offer(w.m.doc(3, HELD, 2, ("PTLIS", "FRLYS"))),
        InsufficientSignaturesError,
    ),
    "members removed by fewer than the held threshold": (
        lambda w: w.offer(w.m.doc(3, ("FRLYS", "PTLIS"), 2, ("PTLIS", "FRLYS"))),
        InsufficientSignaturesError,
    ),
    "new list short of its own threshold": (
        lambda w: w.offer(w.m.doc(3, WITH_D, 5, HELD)),
        InsufficientSignaturesError,
    ),
    # -- order and expiry
    "rollback to an older version": (
        lambda w: w.offer(w.m.doc(1, HELD, 3, HELD)),
        RollbackError,
    ),
    "same version with other content": (
        lambda w: w.offer(w.m.doc(2, HELD, 3, HELD, name="Another Name")),
        RollbackError,
    ),
    "newer list already expired": (
        lambda w: w.offer(
            w.m.doc(3, HELD, 3, HELD, issued_at=NOW - 10 * DAY, expires_at=NOW - DAY)
        ),
        ExpiredTrustDataError,
    ),
    "newer list expiring this very second": (
        lambda w: w.offer(w.m.doc(3, HELD, 3, HELD, expires_at=NOW)),
        ExpiredTrustDataError,
    ),
    # -- mix and match
    "a list for another alliance": (
        lambda w: w.offer(w.m.doc(3, HELD, 3, HELD, alliance_id="another")),
        AllianceMismatchError,
    ),
    "a member whose bundle does not match its listed fingerprint": (
        _impostor_bundle,
        FingerprintMismatchError,
    ),
    "a bundle from a city that is not a member": (
        lambda w: lambda: w.state.pin_member("DEBER", w.m["DEBER"].bundle(1), now=NOW),
        trust.CityMismatchError,
    ),
    "a member's bundle offered for another member": (
        lambda w: lambda: w.state.pin_member("FRLYS", w.m["PTLIS"].bundle(1), now=NOW),
        FingerprintMismatchError,
    ),
    # -- format
    "random bytes": (lambda w: w.offer(bytes(range(200))), TrustFormatError),
    "empty bytes": (lambda w: w.offer(b""), TrustFormatError),
    "a trust bundle instead of a list": (
        lambda w: w.offer(w.m["PTLIS"].bundle(1)),
        TrustFormatError,
    ),
    "list followed by extra bytes": (
        lambda w: w.offer(w.m.doc(3, HELD, 3, HELD) + b"\x00"),
        TrustFormatError,
    ),
    "signatures out of order": (_signatures_out_of_order, TrustFormatError),
    "members out of order (signed)": (_members_out_of_order, TrustFormatError),
    # -- joining (the held state must not move either)
    "join: too few signatures": (
        lambda w: w.join(w.m.doc(1, HELD, 3, ("PTLIS", "FRLYS")), ("PTLIS", "FRLYS", "ESMAD")),
        InsufficientSignaturesError,
    ),
    "join: too few fingerprints confirmed": (
        lambda w: w.join(w.m.doc(1, HELD, 3, HELD), ("PTLIS", "FRLYS")),
        UnconfirmedFingerprintsError,
    ),
    "join: confirmed members who did not sign": (
        lambda w: w.join(w.m.doc(1, HELD, 3, ("PTLIS", "FRLYS", "ESMAD")),
                         ("PTLIS", "FRLYS", "ITROM")),
        UnconfirmedFingerprintsError,
    ),
    "join: a confirmed fingerprint that is not in the list": (
        lambda w: w.join(w.m.doc(1, HELD, 3, HELD), ("PTLIS", "FRLYS", "DEBER")),
        FingerprintMismatchError,
    ),
    "join: rogue list of strangers naming the confirmed members' keys nowhere": (
        lambda w: w.join(
            w.m.doc(1, ("DEBER", "ITROM"), 2, ("DEBER", "ITROM")), ("PTLIS", "FRLYS")
        ),
        FingerprintMismatchError,
    ),
    "join: no root certificates to check signatures with": (
        lambda w: w.join(w.m.doc(1, HELD, 3, HELD), HELD[:3], roots=[]),
        InsufficientSignaturesError,
    ),
    "join: expired list": (
        lambda w: w.join(
            w.m.doc(1, HELD, 3, HELD, issued_at=NOW - 10 * DAY, expires_at=NOW - DAY), HELD
        ),
        ExpiredTrustDataError,
    ),
    "join: a list for another alliance than asked": (
        lambda w: w.join(w.m.doc(1, HELD, 3, HELD), HELD, alliance_id="another"),
        AllianceMismatchError,
    ),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused(w: World, name: str) -> None:
    setup, error = REFUSED[name]
    action = setup(w)
    held = w.state
    before = snapshot(held)
    with pytest.raises(error) as info:
        action()
    # The exact class, not a parent: each case is refused for the reason it names.
    assert type(info.value) is error, info.value
    assert snapshot(held) == before
    assert AllianceState.from_bytes(held.to_bytes(), alliance_id="migration").raw == held.raw


# --------------------------------------------------------------------------- accepted


def test_member_added_with_the_held_threshold(w: World) -> None:
    data = w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS", "ESMAD"))
    new = w.state.update(data, roots=w.m.roots(), now=NOW)
    assert new.version == 3
    assert new.member_list.city_ids == ("DEBER", "ESMAD", "FRLYS", "ITROM", "PTLIS")
    assert new.signers == {"PTLIS", "FRLYS", "ESMAD"}
    assert w.state.version == 2  # the old state did not move


def test_non_member_and_bad_signatures_are_ignored_when_enough_remain(w: World) -> None:
    data = w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS", "ESMAD", "DEBER"))
    data = _with_signatures(data, [(bytes(8), bytes(64))])  # a stranger's junk signature
    new = w.state.update(data, roots=w.m.roots(), now=NOW)
    count = al.count_signatures(al.read_member_list(data), members=w.state.member_list.members,
                                roots=w.m.roots())
    assert count.verified == {"PTLIS", "FRLYS", "ESMAD"}
    assert count.others == 2  # DEBER (not yet a member) and the stranger
    assert new.version == 3


def test_same_version_same_content_is_a_no_op(w: World) -> None:
    assert w.state.update(w.state.raw, roots=(), now=NOW) is w.state


def test_update_uses_the_roots_stored_with_the_held_list(w: World) -> None:
    data = w.m.doc(3, WITH_D, 3, ("PTLIS", "FRLYS", "ESMAD"))
    # No roots given: the roots that vouched for version 2 are enough for its signers.
    assert w.state.update(data, roots=(), now=NOW).version == 3


def test_threshold_lowered_with_the_held_threshold(w: World) -> None:
    data = w.m.doc(3, HELD, 2, ("PTLIS", "FRLYS", "ESMAD"))
    assert w.state.update(data, roots=w.m.roots(), now=NOW).member_list.threshold == 2


def test_join_and_reload() -> None:
    m = Members()
    data = m.doc(1, ("FRLYS", "PTLIS", "ESMAD"), 2, ("PTLIS", "FRLYS"))
    state = AllianceState.join(data, roots=m.roots(), confirmed=m.fingerprints("PTLIS", "FRLYS"),
                               now=NOW, alliance_id="migration")
    loaded = AllianceState.from_bytes(state.to_bytes(), alliance_id="migration")
    assert loaded.raw == data and loaded.signers == {"PTLIS", "FRLYS"}
    assert len(loaded.roots) == 2
    with pytest.raises(AllianceMismatchError):
        AllianceState.from_bytes(state.to_bytes(), alliance_id="another")


def test_cosigning_drafts_as_files() -> None:
    m = Members()
    ml = m.content(1, ("FRLYS", "PTLIS", "ESMAD"), 2)
    draft = m.sign(ml, ("PTLIS",))
    copy_b = al.add_signature(draft, root_key=m["FRLYS"].root.key, root=m["FRLYS"].root.cert)
    copy_c = al.add_signature(draft, root_key=m["ESMAD"].root.key, root=m["ESMAD"].root.cert)
    merged = al.merge_signatures(copy_b, copy_c)
    assert set(al.read_member_list(merged).signer_kids) == {
        m[c].root.kid for c in ("PTLIS", "FRLYS", "ESMAD")}
    # Merging in any order, or signing again, gives the same bytes.
    assert al.merge_signatures(copy_c, copy_b) == merged
    assert al.add_signature(merged, root_key=m["PTLIS"].root.key,
                            root=m["PTLIS"].root.cert) == merged
    with pytest.raises(RollbackError):
        al.merge_signatures(merged, m.doc(2, ("FRLYS", "PTLIS"), 2, ("PTLIS",)))
    with pytest.raises(trust.SigningKeyMismatchError):
        al.add_signature(draft, root_key=m["FRLYS"].root.key, root=m["PTLIS"].root.cert)


def test_member_pinned_from_the_list_follows_its_rotation(w: World) -> None:
    lyon = w.m["FRLYS"]
    member = w.state.pin_member("FRLYS", lyon.bundle(1), now=NOW)
    assert member.fingerprint == lyon.fingerprint and w.state.vouches_for(member)
    lyon.rotate()
    rotated = member.update_bundle(lyon.bundle(2, dual=True), now=NOW)
    assert w.state.vouches_for(rotated)  # its previous root is the listed one


def test_diff_shows_exactly_what_changes(w: World) -> None:
    new = w.m.content(3, ("DEBER", "ESMAD", "FRLYS", "PTLIS"), 2)
    changes = al.diff_member_lists(w.state.member_list, new)
    assert [m.city_id for m in changes.added] == ["DEBER"]
    assert [m.city_id for m in changes.removed] == ["ITROM"]
    assert changes.threshold == (3, 2) and changes.version == (2, 3)
    assert not changes.changed and not changes.empty


def test_member_list_rules() -> None:
    m = Members()
    with pytest.raises(TrustFormatError):
        m.content(1, ("PTLIS",), 2)  # one member
    with pytest.raises(TrustFormatError):
        m.content(1, ("PTLIS", "FRLYS"), 3)  # k above the member count
    with pytest.raises(TrustFormatError):
        m.content(1, ("PTLIS", "FRLYS"), 1)  # k = 1: one member alone could change it
    with pytest.raises(TrustFormatError):
        m.content(1, ("PTLIS", "FRLYS"), 2, alliance_id="Bad Id")
    with pytest.raises(TrustFormatError):
        MemberList(**{**m.content(1, ("PTLIS", "FRLYS"), 2).__dict__,
                      "members": (m.member("PTLIS"), m.member("PTLIS"))})
    with pytest.raises(TrustFormatError):
        MemberList(**{**m.content(1, ("PTLIS", "FRLYS"), 2).__dict__,
                      "members": (m.member("PTLIS"),
                                  m.member("FRLYS", root_fingerprint=m.member("PTLIS")
                                           .root_fingerprint))})


def test_encoding_matches_the_contract(w: World) -> None:
    message = cbor2.loads(w.state.raw)
    assert message.tag == 98
    body, unprotected, payload, signatures = message.value
    assert cbor2.loads(body) == {3: "application/citycard-alliance+cbor"}
    assert unprotected == {}
    for protected, unprotected_sig, signature in signatures:
        header = cbor2.loads(protected)
        assert header.keys() == {1, 4} and header[1] == -8 and len(header[4]) == 8
        assert unprotected_sig == {} and len(signature) == 64
    content = cbor2.loads(payload)
    assert set(content) == {"alliance_id", "name", "version", "issued_at", "expires_at",
                            "threshold", "members"}
    assert [x["city_id"] for x in content["members"]] == sorted(HELD)
    assert all(len(x["root_fingerprint"]) == 32 for x in content["members"])
    assert pki.key_id(w.m["PTLIS"].root.cert) in [cbor2.loads(p)[4] for p, _u, _s in signatures]


def test_expired_list_is_reported(w: World) -> None:
    assert not w.state.expired(NOW)
    assert w.state.expired(NOW + 91 * DAY)
    assert dt.timedelta(0) < w.state.member_list.expires_at - NOW
