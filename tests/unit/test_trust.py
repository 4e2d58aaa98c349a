"""Tests for cardservice.trust: trust bundles, revocation lists, the trusted state.

The trust rules are a table of named cases (as in python-tuf's tests): each refused case
checks the error *and* that the state held before is unchanged; each accepted case checks
what the new state holds. Keys and certificates are real (cardservice.pki); pycose, an
independent COSE implementation, checks the encoding.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice import cose, credential, pki, trust
from cardservice.trust import (
    MAX_ROOT_CHAIN,
    CityMismatchError,
    ExpiredTrustDataError,
    FingerprintMismatchError,
    PartnerTrustAnchors,
    RevocationList,
    RevokedCard,
    RollbackError,
    RootRotationError,
    SigningKeyMismatchError,
    TrustBundle,
    TrustedState,
    TrustError,
    TrustFormatError,
    TrustSignatureError,
    UntrustedRootError,
    UntrustedSigningCertificateError,
)
from cardservice.trust import documents as trust_documents

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


# --------------------------------------------------------------------------- a city


@dataclass
class Root:
    key: Ed25519PrivateKey
    cert: x509.Certificate

    @property
    def kid(self) -> bytes:
        return pki.key_id(self.cert)


class City:
    """A publishing city with real keys: roots, signing certificates, documents."""

    def __init__(self, city_id: str = "PTLIS", city_name: str = "Lisboa") -> None:
        self.city_id, self.city_name = city_id, city_name
        self.root = self._new_root(NOW - 400 * DAY)
        self.previous: Root | None = None
        self.signing: list[tuple[Root, x509.Certificate, Ed25519PrivateKey]] = []
        self._issue(NOW - 400 * DAY)

    def _new_root(self, at: dt.datetime) -> Root:
        key, cert = pki.generate_root(city_id=self.city_id, city_name=self.city_name, now=at)
        return Root(key, cert)

    def _issue(self, at: dt.datetime) -> None:
        key, cert = pki.issue_signing_certificate(
            root_key=self.root.key, root_cert=self.root.cert, now=at, not_after=at + 2000 * DAY
        )
        self.signing.append((self.root, cert, key))

    def rotate(self, at: dt.datetime = NOW - 10 * DAY) -> None:
        """A new root (and a signing certificate under it); the old root becomes previous."""
        self.previous = self.root
        self.root = self._new_root(at)
        self._issue(at)

    @property
    def old(self) -> Root:
        """The previous root (after a rotation)."""
        assert self.previous is not None
        return self.previous

    @property
    def fingerprint(self) -> str:
        return pki.fingerprint(self.root.cert)

    def content(self, version: int, **changes: Any) -> TrustBundle:
        fields: dict[str, Any] = {
            "city_id": self.city_id,
            "city_name": self.city_name,
            "names": {"en": self.city_name + " (en)"},
            "base_url": f"https://{self.city_id.lower()}.example",
            "version": version,
            "issued_at": NOW - DAY,
            "expires_at": NOW + 6 * DAY,
            "root": self.root.cert,
            "previous_root": None if self.previous is None else self.previous.cert,
            "revocations_url": f"https://{self.city_id.lower()}.example/revocations",
        }
        fields.update(changes)
        if "signing_certificates" not in fields:
            # A bundle lists the certificates under its root or its previous root.
            roots = {fields["root"], fields["previous_root"]}
            fields["signing_certificates"] = tuple(
                c for r, c, _k in self.signing if r.cert in roots
            )
        return TrustBundle(**fields)

    def bundle(self, version: int, *, dual: bool = False, **changes: Any) -> bytes:
        keys = [self.root.key] + ([self.previous.key] if dual and self.previous else [])
        return trust.sign_bundle(self.content(version, **changes), root_keys=keys)

    def revocation_list(self, sequence: int, serials: tuple[str, ...] = ()) -> RevocationList:
        return RevocationList(
            city_id=self.city_id,
            sequence=sequence,
            issued_at=NOW - HOUR,
            next_update=NOW + DAY,
            revoked=tuple(RevokedCard(s, NOW + 300 * DAY, "lost") for s in serials),
        )

    def revocations(self, sequence: int, serials: tuple[str, ...] = (), **changes: Any) -> bytes:
        rl = self.revocation_list(sequence, serials)
        if changes:
            rl = RevocationList(**{**rl.__dict__, **changes})
        return trust.sign_revocations(rl, root_key=self.root.key, root=self.root.cert)


def unsafe_sign(
    bundle: TrustBundle,
    signers: list[tuple[Ed25519PrivateKey, bytes]],
    *,
    content_type: str = trust.BUNDLE_CONTENT_TYPE,
    payload: bytes | None = None,
) -> bytes:
    """Sign whatever we like, skipping every check sign_bundle makes: tampered inputs."""
    payload = trust_documents.bundle_payload(bundle) if payload is None else payload
    if len(signers) == 1:
        key, kid = signers[0]
        return cose.sign1(payload, content_type=content_type, key=key, kid=kid)
    return cose.sign_multi(payload, content_type=content_type, signers=signers)


def rotations(city: City, count: int, *, first_version: int) -> list[bytes]:
    """``count`` root rotations in a row, each published as a dual-signed bundle."""
    out = []
    for i in range(count):
        city.rotate(at=NOW - (100 - i) * DAY)
        out.append(city.bundle(first_version + i, dual=True))
    return out


class World:
    """Lisboa publishing; a partner holding Lisboa's bundle v5 and revocation list 10."""

    def __init__(self) -> None:
        self.city = City()
        state = TrustedState.from_pinned_bundle(
            self.city.bundle(5), fingerprint=self.city.fingerprint, now=NOW
        )
        self.state = state.update_revocations(self.city.revocations(10, ("PT-AAA",)), now=NOW)

    def rotate_and_follow(self) -> None:
        """Lisboa rotates its root; the partner follows (bundle v6, dual-signed)."""
        self.city.rotate()
        self.state = self.state.update_bundle(self.city.bundle(6, dual=True), now=NOW)


@pytest.fixture
def w() -> World:
    return World()


def snapshot(state: TrustedState) -> tuple[Any, ...]:
    return (
        state.to_bytes(),
        state.version,
        state.fingerprint,
        state.root,
        state.revocations,
        state.is_revoked("PT-AAA"),
    )


def flip(data: bytes, index: int) -> bytes:
    index %= len(data)
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


# --------------------------------------------------------------------------- refused


def _forged_rotation(w: World) -> Callable[[], object]:
    w.city.rotate()
    impostor = Ed25519PrivateKey.generate()
    data = unsafe_sign(
        w.city.content(6),
        [(w.city.root.key, w.city.root.kid), (impostor, w.city.old.kid)],
    )
    return lambda: w.state.update_bundle(data, now=NOW)


def _chain(w: World, count: int, pick: Callable[[list[bytes]], tuple[list[bytes], bytes]]):
    docs = rotations(w.city, count, first_version=6)
    intermediates, final = pick(docs)
    return lambda: w.state.update_bundle(final, now=NOW, intermediates=intermediates)


def _foreign_signing_cert(w: World) -> Callable[[], object]:
    impostor = City("PTLIS", "Lisboa")  # same city id, another root
    certs = (w.city.signing[0][1], impostor.signing[0][1])
    data = unsafe_sign(
        w.city.content(6, signing_certificates=certs), [(w.city.root.key, w.city.root.kid)]
    )
    return lambda: w.state.update_bundle(data, now=NOW)


def _root_of_other_city(w: World) -> Callable[[], object]:
    lyon = City("FRLYS", "Lyon")
    content = w.city.content(
        1, root=lyon.root.cert, signing_certificates=(lyon.signing[0][1],)
    )  # says PTLIS, carries Lyon's root
    data = unsafe_sign(content, [(lyon.root.key, lyon.root.kid)])
    return lambda: TrustedState.from_pinned_bundle(data, fingerprint=lyon.fingerprint, now=NOW)


def _non_canonical_payload(w: World) -> Callable[[], object]:
    payload = trust_documents.bundle_payload(w.city.content(6))
    shuffled = dict(reversed(list(cbor2.loads(payload).items())))
    data = unsafe_sign(
        w.city.content(6),
        [(w.city.root.key, w.city.root.kid)],
        payload=cbor2.dumps(shuffled),  # signed correctly, but not canonical
    )
    return lambda: w.state.update_bundle(data, now=NOW)


def _with_unprotected_header(w: World) -> Callable[[], object]:
    message = cbor2.loads(w.city.bundle(6))
    message.value[1] = {4: w.city.root.kid}
    data = cbor2.dumps(message)
    return lambda: w.state.update_bundle(data, now=NOW)


def _sign_with_one_signature(w: World) -> Callable[[], object]:
    w.city.rotate()
    message = cbor2.loads(w.city.bundle(6, dual=True))
    message.value[3] = message.value[3][:1]
    data = cbor2.dumps(message)
    return lambda: w.state.update_bundle(data, now=NOW)


def _rl_signed_by_previous_root(w: World) -> Callable[[], object]:
    w.rotate_and_follow()
    rl = w.city.revocation_list(11)
    data = trust.sign_revocations(rl, root_key=w.city.old.key, root=w.city.old.cert)
    return lambda: w.state.update_revocations(data, now=NOW)


def _rl_forged(w: World) -> Callable[[], object]:
    payload = trust_documents.revocations_payload(w.city.revocation_list(11))
    data = cose.sign1(
        payload,
        content_type=trust.REVOCATIONS_CONTENT_TYPE,
        key=Ed25519PrivateKey.generate(),
        kid=w.city.root.kid,
    )
    return lambda: w.state.update_revocations(data, now=NOW)


def _rl_for_another_city(w: World) -> Callable[[], object]:
    payload = trust_documents.revocations_payload(
        RevocationList(**{**w.city.revocation_list(11).__dict__, "city_id": "FRLYS"})
    )
    data = cose.sign1(
        payload, content_type=trust.REVOCATIONS_CONTENT_TYPE, key=w.city.root.key,
        kid=w.city.root.kid,
    )
    return lambda: w.state.update_revocations(data, now=NOW)


def _unsigned_rl(kid: bytes, payload: bytes) -> bytes:
    """A COSE_Sign1 revocation list of ``payload`` with an all-zero signature."""
    protected = cose.protected_header(kid=kid, content_type=trust.REVOCATIONS_CONTENT_TYPE)
    return cbor2.dumps(cbor2.CBORTag(cose.SIGN1_TAG, [protected, {}, payload, bytes(64)]))


def _rl_junk_zero_signature(w: World) -> Callable[[], object]:
    # Not even CBOR: refused for its signature, which shows the payload was never decoded.
    data = _unsigned_rl(w.city.root.kid, b"\xff" * 1000)
    return lambda: w.state.update_revocations(data, now=NOW)


def _rl_huge_zero_signature(w: World) -> Callable[[], object]:
    # Finding 8 of issue 11: 16 MB of entries cost seconds and hundreds of MB when they
    # were decoded before the signature was checked (bench/bench_trust_documents.py).
    entry = cbor2.dumps(["PT-000000000", 2000000000, "lost"])
    count = 16 * 1024 * 1024 // len(entry)
    data = _unsigned_rl(w.city.root.kid, b"\x9a" + count.to_bytes(4, "big") + entry * count)
    return lambda: w.state.update_revocations(data, now=NOW)


def _rl_over_cap(w: World) -> Callable[[], object]:
    data = _unsigned_rl(w.city.root.kid, bytes(trust.MAX_REVOCATION_LIST_BYTES))
    return lambda: w.state.update_revocations(data, now=NOW)


def _rl_labelled_as_bundle(w: World) -> Callable[[], object]:
    payload = trust_documents.revocations_payload(w.city.revocation_list(11))
    data = cose.sign1(
        payload, content_type=trust.BUNDLE_CONTENT_TYPE, key=w.city.root.key, kid=w.city.root.kid
    )
    return lambda: w.state.update_bundle(data, now=NOW)


def _bundle_labelled_as_rl(w: World) -> Callable[[], object]:
    data = unsafe_sign(
        w.city.content(6),
        [(w.city.root.key, w.city.root.kid)],
        content_type=trust.REVOCATIONS_CONTENT_TYPE,
    )
    return lambda: w.state.update_revocations(data, now=NOW)


def _pin_previous_new_root_only(w: World) -> Callable[[], object]:
    w.city.rotate()
    data, old = w.city.bundle(6), pki.fingerprint(w.city.old.cert)
    return lambda: TrustedState.from_pinned_bundle(data, fingerprint=old, now=NOW)


def _new_root_only(w: World) -> Callable[[], object]:
    w.city.rotate()
    data = w.city.bundle(6)  # names the held root as previous_root, but only the new one signs
    return lambda: w.state.update_bundle(data, now=NOW)


def _new_root_naming_no_previous(w: World) -> Callable[[], object]:
    w.city.rotate()
    data = w.city.bundle(6, previous_root=None)
    return lambda: w.state.update_bundle(data, now=NOW)


def _old_root_only(w: World) -> Callable[[], object]:
    w.city.rotate()
    data = unsafe_sign(w.city.content(6), [(w.city.old.key, w.city.old.kid)])
    return lambda: w.state.update_bundle(data, now=NOW)


#: name -> (setup(world) returning the action to refuse, the exact error expected)
REFUSED: dict[str, tuple[Callable[[World], Callable[[], object]], type[TrustError]]] = {
    # -- onboarding
    "wrong fingerprint": (
        lambda w: (
            lambda: TrustedState.from_pinned_bundle(
                w.city.bundle(6), fingerprint=City("FRLYS", "Lyon").fingerprint, now=NOW
            )
        ),
        FingerprintMismatchError,
    ),
    "pin by previous root's fingerprint, signed by new root only": (
        _pin_previous_new_root_only,
        RootRotationError,
    ),
    "bundle expired": (
        lambda w: (
            lambda: TrustedState.from_pinned_bundle(
                w.city.bundle(6, issued_at=NOW - 8 * DAY, expires_at=NOW - DAY),
                fingerprint=w.city.fingerprint,
                now=NOW,
            )
        ),
        ExpiredTrustDataError,
    ),
    "root of another city inside the bundle": (_root_of_other_city, CityMismatchError),
    # -- order and expiry
    "replayed older bundle": (
        lambda w: lambda: w.state.update_bundle(w.city.bundle(4), now=NOW),
        RollbackError,
    ),
    "same version different content": (
        lambda w: (
            lambda: w.state.update_bundle(
                w.city.bundle(5, base_url="https://elsewhere.example"), now=NOW
            )
        ),
        RollbackError,
    ),
    "newer bundle already expired": (
        lambda w: (
            lambda: w.state.update_bundle(
                w.city.bundle(6, issued_at=NOW - 8 * DAY, expires_at=NOW - DAY), now=NOW
            )
        ),
        ExpiredTrustDataError,
    ),
    "newer bundle expiring this very second": (
        lambda w: lambda: w.state.update_bundle(w.city.bundle(6, expires_at=NOW), now=NOW),
        ExpiredTrustDataError,
    ),
    # -- root rotation
    "bundle signed by new root only": (_new_root_only, RootRotationError),
    "new root naming no previous root": (_new_root_naming_no_previous, UntrustedRootError),
    "rotation signed by old root only": (_old_root_only, TrustSignatureError),
    "rotation with a forged old-root signature": (_forged_rotation, TrustSignatureError),
    "rotation from a root never held": (
        lambda w: _chain(w, 2, lambda d: ([], d[-1])),
        UntrustedRootError,
    ),
    "chain longer than the cap": (
        lambda w: _chain(w, MAX_ROOT_CHAIN + 1, lambda d: (d[:-1], d[-1])),
        RootRotationError,
    ),
    "intermediate that skips a root": (
        lambda w: _chain(w, 3, lambda d: ([d[1]], d[2])),
        RootRotationError,
    ),
    "intermediates out of order": (
        lambda w: _chain(w, 3, lambda d: ([d[1], d[0]], d[2])),
        RootRotationError,
    ),
    "intermediate older than the bundle held": (
        lambda w: (
            lambda docs: lambda: w.state.update_bundle(docs[1], now=NOW, intermediates=[docs[0]])
        )(rotations(w.city, 2, first_version=3)),
        RollbackError,
    ),
    # -- content
    "signing cert not chaining to root": (_foreign_signing_cert, UntrustedSigningCertificateError),
    "bundle of another city": (
        lambda w: lambda: w.state.update_bundle(City("FRLYS", "Lyon").bundle(6), now=NOW),
        CityMismatchError,
    ),
    "tampered signature": (
        lambda w: lambda: w.state.update_bundle(flip(w.city.bundle(6), -1), now=NOW),
        TrustSignatureError,
    ),
    "signature by another key under the root's kid": (
        lambda w: (
            lambda: w.state.update_bundle(
                unsafe_sign(w.city.content(6), [(Ed25519PrivateKey.generate(), w.city.root.kid)]),
                now=NOW,
            )
        ),
        TrustSignatureError,
    ),
    # -- revocation lists
    "revocation list signed by other root": (
        lambda w: (
            lambda: w.state.update_revocations(City("PTLIS", "Lisboa").revocations(11), now=NOW)
        ),
        UntrustedRootError,
    ),
    "revocation list with a forged signature": (_rl_forged, TrustSignatureError),
    "revocation list signed by previous root after rotation": (
        _rl_signed_by_previous_root,
        UntrustedRootError,
    ),
    "older revocation list": (
        lambda w: lambda: w.state.update_revocations(w.city.revocations(9), now=NOW),
        RollbackError,
    ),
    "same sequence different revocations": (
        lambda w: lambda: w.state.update_revocations(w.city.revocations(10, ("PT-BBB",)), now=NOW),
        RollbackError,
    ),
    # The signature is checked before the payload is read: another city's list is
    # refused for its signer, without decoding what it says.
    "revocation list of another city": (
        lambda w: (
            lambda: w.state.update_revocations(City("FRLYS", "Lyon").revocations(11), now=NOW)
        ),
        UntrustedRootError,
    ),
    "revocation list for another city signed by the root held": (
        _rl_for_another_city,
        CityMismatchError,
    ),
    "revocation list of junk with a zeroed signature": (
        _rl_junk_zero_signature,
        TrustSignatureError,
    ),
    "revocation list of 16 MB with a zeroed signature": (
        _rl_huge_zero_signature,
        TrustSignatureError,
    ),
    "revocation list one byte over the size cap": (_rl_over_cap, TrustFormatError),
    # -- type confusion
    "revocation list as bundle": (
        lambda w: lambda: w.state.update_bundle(w.city.revocations(11), now=NOW),
        TrustFormatError,
    ),
    "bundle as revocation list": (
        lambda w: lambda: w.state.update_revocations(w.city.bundle(6), now=NOW),
        TrustFormatError,
    ),
    "revocation list as bundle at pinning": (
        lambda w: (
            lambda: TrustedState.from_pinned_bundle(
                w.city.revocations(11), fingerprint=w.city.fingerprint, now=NOW
            )
        ),
        TrustFormatError,
    ),
    "revocation payload labelled as bundle": (_rl_labelled_as_bundle, TrustFormatError),
    "bundle payload labelled as revocation list": (_bundle_labelled_as_rl, TrustFormatError),
    # -- malformed
    "truncated bundle": (
        lambda w: lambda: w.state.update_bundle(w.city.bundle(6)[:-10], now=NOW),
        TrustFormatError,
    ),
    "random bytes": (
        lambda w: lambda: w.state.update_bundle(bytes(range(256)), now=NOW),
        TrustFormatError,
    ),
    "empty bytes": (lambda w: lambda: w.state.update_bundle(b"", now=NOW), TrustFormatError),
    "text instead of bytes": (
        lambda w: lambda: w.state.update_bundle("hello", now=NOW),  # type: ignore[arg-type]
        TrustFormatError,
    ),
    "bundle followed by extra bytes": (
        lambda w: lambda: w.state.update_bundle(w.city.bundle(6) + b"\x00", now=NOW),
        TrustFormatError,
    ),
    "unprotected header not empty": (_with_unprotected_header, TrustFormatError),
    "COSE_Sign with one signature": (_sign_with_one_signature, TrustFormatError),
    "signed but non-canonical payload": (_non_canonical_payload, TrustFormatError),
    "truncated revocation list": (
        lambda w: lambda: w.state.update_revocations(w.city.revocations(11)[:40], now=NOW),
        TrustFormatError,
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
    assert isinstance(info.value, TrustError)
    assert snapshot(held) == before
    assert held.is_revoked("PT-AAA")


# --------------------------------------------------------------------------- accepted


def _pin_lowercase(w: World) -> TrustedState:
    typed = w.city.fingerprint.lower().replace(" ", ":")
    return TrustedState.from_pinned_bundle(w.city.bundle(6), fingerprint=typed, now=NOW)


def _pin_previous(w: World) -> TrustedState:
    w.city.rotate()
    return TrustedState.from_pinned_bundle(
        w.city.bundle(6, dual=True), fingerprint=pki.fingerprint(w.city.old.cert), now=NOW
    )


def _rotation(w: World) -> TrustedState:
    w.rotate_and_follow()
    return w.state


def _after_rotation_new_root_alone(w: World) -> TrustedState:
    w.rotate_and_follow()
    return w.state.update_bundle(w.city.bundle(7), now=NOW)


def _two_rotations(w: World) -> TrustedState:
    docs = rotations(w.city, 2, first_version=6)
    return w.state.update_bundle(docs[1], now=NOW, intermediates=[docs[0]])


def _chain_at_cap(w: World) -> TrustedState:
    docs = rotations(w.city, MAX_ROOT_CHAIN, first_version=6)
    return w.state.update_bundle(docs[-1], now=NOW, intermediates=docs[:-1])


def _stale_rl(w: World) -> TrustedState:
    data = w.city.revocations(11, ("PT-CCC",), issued_at=NOW - 3 * DAY, next_update=NOW - DAY)
    return w.state.update_revocations(data, now=NOW)


ACCEPTED: dict[str, tuple[Callable[[World], TrustedState], dict[str, Any]]] = {
    "initial pin with right fingerprint": (
        lambda w: TrustedState.from_pinned_bundle(
            w.city.bundle(1), fingerprint=w.city.fingerprint, now=NOW
        ),
        {"version": 1, "revoked": set()},
    ),
    "fingerprint typed in lower case with colons": (_pin_lowercase, {"version": 6}),
    "pin by previous root's fingerprint during a rotation": (
        _pin_previous,
        {"version": 6, "root": "new", "revoked": set()},
    ),
    "newer bundle same root": (
        lambda w: w.state.update_bundle(w.city.bundle(9), now=NOW),
        {"version": 9, "root": "same", "revoked": {"PT-AAA"}},
    ),
    "same bundle again is a no-op": (
        lambda w: w.state.update_bundle(w.city.bundle(5), now=NOW),
        {"version": 5, "identical": True},
    ),
    "rotation signed by old and new root": (
        _rotation,
        # The list signed by the old root stays: the new bundle names that root.
        {"version": 6, "root": "new", "revoked": {"PT-AAA"}},
    ),
    "bundle after rotation signed by new root alone": (
        _after_rotation_new_root_alone,
        {"version": 7, "root": "new", "revoked": {"PT-AAA"}},
    ),
    "rotation chain of two rotations via intermediates": (
        _two_rotations,
        # The old list's root is no longer named; the list is dropped (see module docs).
        {"version": 7, "root": "new", "revoked": set()},
    ),
    "chain at the cap": (_chain_at_cap, {"version": 5 + MAX_ROOT_CHAIN, "root": "new"}),
    "newer revocation list": (
        lambda w: w.state.update_revocations(w.city.revocations(11, ("PT-BBB",)), now=NOW),
        {"version": 5, "revoked": {"PT-BBB"}, "stale": False},
    ),
    "stale revocation list newer than held": (
        _stale_rl,
        {"revoked": {"PT-CCC"}, "stale": True},
    ),
    "same revocation list again is a no-op": (
        lambda w: w.state.update_revocations(w.city.revocations(10, ("PT-AAA",)), now=NOW),
        {"identical": True, "revoked": {"PT-AAA"}},
    ),
    "first revocation list": (
        lambda w: TrustedState.from_pinned_bundle(
            w.city.bundle(5), fingerprint=w.city.fingerprint, now=NOW
        ).update_revocations(w.city.revocations(0, ("PT-X",)), now=NOW),
        {"revoked": {"PT-X"}},
    ),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_accepted(w: World, name: str) -> None:
    setup, expect = ACCEPTED[name]
    held = w.state
    before = snapshot(held)
    old_root = held.root
    new = setup(w)
    assert isinstance(new, TrustedState)
    assert snapshot(held) == before  # the old state is never modified
    if "version" in expect:
        assert new.version == expect["version"]
    if expect.get("root") == "same":
        assert new.root == old_root
    if expect.get("root") == "new":
        assert new.root == w.city.root.cert != old_root
        assert new.fingerprint == w.city.fingerprint
    if "revoked" in expect:
        revoked = set() if new.revocations is None else {r.serial for r in new.revocations.revoked}
        assert revoked == expect["revoked"]
        assert all(new.is_revoked(s) for s in revoked)
    if "stale" in expect:
        assert new.revocations_stale(NOW) is expect["stale"]
    if expect.get("identical"):
        assert new is held
    # Whatever was accepted survives storage, re-verified.
    again = TrustedState.from_bytes(new.to_bytes(), fingerprint=new.fingerprint)
    assert snapshot(again) == snapshot(new)


def test_rotation_keeps_cards_of_the_old_root_valid(w: World) -> None:
    """A card signed under the old root verifies after the partner follows a rotation."""
    _root, old_cert, old_key = w.city.signing[0]
    claims = credential.CardClaims(
        issuer="PTLIS",
        serial="01DCARD000H",
        issued_at=NOW - 30 * DAY,
        expires_at=NOW + 300 * DAY,
        holder=credential.Holder("Ana Silva", dt.date(1990, 4, 1)),
    )
    qr = credential.encode_card(claims, signer_key=old_key, signer_cert=old_cert)
    w.rotate_and_follow()
    anchors = PartnerTrustAnchors([w.state])
    assert anchors.roots_for("PTLIS") == (w.city.root.cert, w.city.old.cert)
    assert w.state.signing_certificates_for(pki.key_id(old_cert)) == [old_cert]
    card = credential.verify_card(qr, trust=anchors, now=NOW, is_revoked=anchors.is_revoked)
    assert card.claims.serial == "01DCARD000H"
    assert anchors.roots_for("FRLYS") == ()
    assert anchors.is_revoked("PTLIS", "PT-AAA") and not anchors.is_revoked("FRLYS", "PT-AAA")


def test_signing_certificates_for_unknown_kid(w: World) -> None:
    assert w.state.signing_certificates_for(b"\x00" * 8) == []


# --------------------------------------------------------------------------- state object


def test_state_cannot_be_built_or_changed_directly(w: World) -> None:
    with pytest.raises(TypeError):
        TrustedState(w.state._bundle, None)  # type: ignore[call-arg]
    with pytest.raises(AttributeError):
        w.state._revoked = frozenset()  # type: ignore[misc]
    assert "PTLIS" in repr(w.state) and "version=5" in repr(w.state)


def test_naive_now_is_a_programming_error(w: World) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        w.state.update_bundle(w.city.bundle(6), now=NOW.replace(tzinfo=None))


def test_bad_fingerprint_text_is_refused_before_anything_is_read(w: World) -> None:
    with pytest.raises(pki.FingerprintFormatError):
        TrustedState.from_pinned_bundle(w.city.bundle(6), fingerprint="12 34", now=NOW)


# --------------------------------------------------------------------------- storage


def test_stored_state_loads_expired_and_reports_its_age(w: World) -> None:
    later = NOW + 30 * DAY
    loaded = TrustedState.from_bytes(w.state.to_bytes(), fingerprint=w.state.fingerprint)
    assert snapshot(loaded) == snapshot(w.state)
    assert not loaded.bundle_expired(NOW) and loaded.bundle_expired(later)
    assert not loaded.revocations_stale(NOW) and loaded.revocations_stale(later)
    # The bundle (issued a day before NOW) is older than the list (an hour before).
    assert loaded.trust_data_age_seconds(NOW) == 86400
    assert loaded.trust_data_age_seconds(later) == 31 * 86400
    assert loaded.trust_data_age_seconds(NOW - 2 * DAY) == 0


def test_stored_state_after_rotation_keeps_the_old_roots_list(w: World) -> None:
    w.rotate_and_follow()
    loaded = TrustedState.from_bytes(w.state.to_bytes(), fingerprint=w.city.fingerprint)
    assert loaded.is_revoked("PT-AAA")
    assert loaded.root == w.city.root.cert


def _stored(state: TrustedState, **changes: Any) -> bytes:
    raw = cbor2.loads(state.to_bytes())
    raw.update(changes)
    return cbor2.dumps(raw)


STORAGE_REFUSED: dict[str, tuple[Callable[[World], tuple[bytes, str]], type[TrustError]]] = {
    "stored with another fingerprint": (
        lambda w: (w.state.to_bytes(), City().fingerprint),
        FingerprintMismatchError,
    ),
    "stored bundle tampered": (
        lambda w: (_stored(w.state, bundle=flip(w.state.raw_bundle, -1)), w.state.fingerprint),
        TrustSignatureError,
    ),
    "stored revocation list tampered": (
        lambda w: (
            _stored(w.state, revocations=flip(w.state.raw_revocations or b"", -1)),
            w.state.fingerprint,
        ),
        TrustSignatureError,
    ),
    "stored revocation list of another root": (
        lambda w: (
            _stored(w.state, revocations=City().revocations(99)),
            w.state.fingerprint,
        ),
        UntrustedRootError,
    ),
    # The held list is Lisboa's: refused for its signer before its city is read.
    "stored bundle of another city under its fingerprint": (
        lambda w: (lambda lyon: (_stored(w.state, bundle=lyon.bundle(9)), lyon.fingerprint))(
            City("FRLYS", "Lyon")
        ),
        UntrustedRootError,
    ),
    "stored state of unknown format": (
        lambda w: (_stored(w.state, format=2), w.state.fingerprint),
        TrustFormatError,
    ),
    "stored state with an extra field": (
        lambda w: (_stored(w.state, note="trust me"), w.state.fingerprint),
        TrustFormatError,
    ),
    "stored state not CBOR": (lambda w: (b"\xff\xff", w.state.fingerprint), TrustFormatError),
}


@pytest.mark.parametrize("name", list(STORAGE_REFUSED))
def test_stored_state_refused(w: World, name: str) -> None:
    setup, error = STORAGE_REFUSED[name]
    data, fingerprint = setup(w)
    with pytest.raises(error):
        TrustedState.from_bytes(data, fingerprint=fingerprint)


# --------------------------------------------------------------------------- builders


def test_sign_bundle_refuses_what_partners_refuse(w: World) -> None:
    city = w.city
    other = Ed25519PrivateKey.generate()
    with pytest.raises(SigningKeyMismatchError):
        trust.sign_bundle(city.content(6), root_keys=[other])
    with pytest.raises(SigningKeyMismatchError):
        trust.sign_bundle(city.content(6), root_keys=[city.root.key, other])  # no previous root
    with pytest.raises(SigningKeyMismatchError):
        trust.sign_bundle(city.content(6), root_keys=[])
    impostor = City()
    with pytest.raises(UntrustedSigningCertificateError):
        trust.sign_bundle(
            city.content(6, signing_certificates=(impostor.signing[0][1],)),
            root_keys=[city.root.key],
        )
    with pytest.raises(CityMismatchError):
        trust.sign_revocations(
            City("FRLYS", "Lyon").revocation_list(1), root_key=city.root.key, root=city.root.cert
        )
    with pytest.raises(SigningKeyMismatchError):
        trust.sign_revocations(city.revocation_list(1), root_key=other, root=city.root.cert)


def test_rotation_keys_in_either_order_give_the_same_document(w: World) -> None:
    w.city.rotate()
    content = w.city.content(6)
    keys = [w.city.root.key, w.city.old.key]
    assert trust.sign_bundle(content, root_keys=keys) == trust.sign_bundle(
        content, root_keys=keys[::-1]
    )


def test_make_revocation_list_keeps_only_unexpired_cards() -> None:
    cards = [
        RevokedCard("PT-C", NOW + DAY, "stolen"),
        RevokedCard("PT-A", NOW + DAY, "lost"),
        RevokedCard("PT-OLD", NOW, "lost"),  # expires exactly now: no longer listed
        RevokedCard("PT-GONE", NOW - DAY, "damaged"),
    ]
    rl = trust.make_revocation_list(
        city_id="PTLIS", sequence=3, revoked=cards, now=NOW, next_update=NOW + HOUR
    )
    assert [r.serial for r in rl.revoked] == ["PT-A", "PT-C"]
    assert rl.issued_at == NOW
    with pytest.raises(TrustFormatError, match="twice"):
        trust.make_revocation_list(
            city_id="PTLIS", sequence=3, revoked=cards[:2] * 2, now=NOW, next_update=NOW + HOUR
        )


def test_make_bundle_leaves_out_expired_signing_certificates(w: World) -> None:
    city = w.city
    key, expired = pki.issue_signing_certificate(
        root_key=city.root.key, root_cert=city.root.cert, now=NOW - 50 * DAY, not_after=NOW
    )
    bundle = trust.make_bundle(
        city_id="PTLIS",
        city_name="Lisboa",
        base_url="https://ptlis.example",
        version=7,
        now=NOW + dt.timedelta(microseconds=5),
        valid_for=7 * DAY,
        root=city.root.cert,
        signing_certificates=[city.signing[0][1], expired],
        revocations_url="https://ptlis.example/r",
    )
    assert bundle.signing_certificates == (city.signing[0][1],)
    assert bundle.issued_at == NOW  # kept to the second
    assert bundle.expires_at == NOW + 7 * DAY


def _bundle_fields(w: World) -> dict[str, Any]:
    c = w.city.content(1)
    return {k: getattr(c, k) for k in c.__dataclass_fields__}


INVALID_CONTENT: dict[str, dict[str, Any]] = {
    "naive issued_at": {"issued_at": NOW.replace(tzinfo=None)},
    "expires before issued": {"expires_at": NOW - 2 * DAY},
    "version zero": {"version": 0},
    "version a bool": {"version": True},
    "ftp base url": {"base_url": "ftp://ptlis.example"},
    "url with credentials": {"base_url": "https://user:pw@ptlis.example"},
    "url with a space": {"revocations_url": "https://ptlis.example/a b"},
    "city id with a space": {"city_id": "PT LIS"},
    "name with a bidi override": {"city_name": "Lis\u202eboa"},
    "name too long": {"city_name": "L" * 65},
    "bad language tag": {"names": {"English": "Lisbon"}},
    "signing certificates not a sequence": {"signing_certificates": "abc"},
    "root not a certificate": {"root": b"DER"},
}


@pytest.mark.parametrize("name", list(INVALID_CONTENT))
def test_bundle_content_checked_on_construction(w: World, name: str) -> None:
    fields = {**_bundle_fields(w), **INVALID_CONTENT[name]}
    with pytest.raises(TrustFormatError):
        TrustBundle(**fields)


@pytest.mark.parametrize(
    "changes",
    [
        {"serial": ""},
        {"serial": "PT AAA"},
        {"serial": "x" * 33},
        {"reason": "Lost, in the river near her home"},  # codes only, never free text
        {"expires_at": NOW.replace(tzinfo=None)},
    ],
)
def test_revoked_card_checked(changes: dict[str, Any]) -> None:
    fields = {"serial": "PT-1", "expires_at": NOW, "reason": "lost", **changes}
    with pytest.raises(TrustFormatError):
        RevokedCard(**fields)


# --------------------------------------------------------------------------- readable forms


def test_bundle_to_json_is_readable(w: World) -> None:
    w.city.rotate()
    bundle = trust.decode_bundle_unverified(w.city.bundle(6, dual=True))
    doc = trust.bundle_to_json(bundle)
    json.dumps(doc)  # plain JSON types only
    assert doc["city_id"] == "PTLIS" and doc["version"] == 6
    assert doc["issued_at"] == "2026-11-19T12:00:00Z"
    assert doc["fingerprint"] == w.city.fingerprint
    assert doc["previous_root_fingerprint"] == pki.fingerprint(w.city.old.cert)
    assert doc["root"].startswith("-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(doc["root"].encode()) == w.city.root.cert
    kids = [c["kid"] for c in doc["signing_certificates"]]
    assert kids == [pki.key_id(c).hex() for _r, c, _k in w.city.signing]
    assert doc["names"] == {"en": "Lisboa (en)"}


def test_revocations_to_json(w: World) -> None:
    doc = trust.revocations_to_json(
        trust.decode_revocations_unverified(w.city.revocations(3, ("B", "A")))
    )
    assert json.loads(json.dumps(doc))["revoked"][0] == {
        "serial": "A",
        "expires_at": "2027-09-16T12:00:00Z",
        "reason": "lost",
    }


def test_unverified_decoding_is_for_display_only(w: World) -> None:
    """It reads a bundle whose signature is broken: that is why it is named so."""
    broken = flip(w.city.bundle(6), -1)
    assert trust.decode_bundle_unverified(broken) == w.city.content(6)
    with pytest.raises(TrustSignatureError):
        w.state.update_bundle(broken, now=NOW)


# --------------------------------------------------------------------------- interop


def _okp(key: Ed25519PrivateKey) -> Any:
    from pycose.keys import OKPKey

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return OKPKey(crv="Ed25519", x=raw)


def test_pycose_verifies_bundles_and_revocation_lists(w: World) -> None:
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.messages import CoseMessage, Sign1Message, SignMessage

    message = CoseMessage.decode(w.city.bundle(6))
    assert isinstance(message, Sign1Message)
    message.key = _okp(w.city.root.key)
    assert message.verify_signature()
    assert message.phdr[ContentType] == trust.BUNDLE_CONTENT_TYPE
    assert message.phdr[KID] == pki.key_id(w.city.root.cert)
    assert message.phdr[Algorithm].identifier == -8

    rl = Sign1Message.decode(w.city.revocations(12))
    rl.key = _okp(w.city.root.key)
    assert rl.verify_signature() and rl.phdr[ContentType] == trust.REVOCATIONS_CONTENT_TYPE

    w.city.rotate()
    rotation = CoseMessage.decode(w.city.bundle(6, dual=True))
    assert isinstance(rotation, SignMessage)
    assert rotation.phdr[ContentType] == trust.BUNDLE_CONTENT_TYPE
    new, old = rotation.signers
    new.key, old.key = _okp(w.city.root.key), _okp(w.city.old.key)
    assert new.verify_signature() and old.verify_signature()
    assert new.phdr[KID] == w.city.root.kid and old.phdr[KID] == w.city.old.kid
    assert cbor2.loads(rotation.payload or b"")["previous_root"] == w.city.old.cert.public_bytes(
        serialization.Encoding.DER
    )


# --------------------------------------------------------------------------- fuzzing


@pytest.fixture(scope="module")
def docs() -> dict[str, Any]:
    """Documents and a state built once for the fuzz tests (hypothesis reuses them)."""
    world = World()
    revocations = world.city.revocations(11, ("PT-BBB",))
    world.city.rotate()
    return {
        "state": world.state,
        "bundle": world.city.bundle(6, dual=True),
        "revocations": revocations,
        "stored": world.state.to_bytes(),
    }


def _decoders(docs: dict[str, Any]) -> list[Callable[[bytes], object]]:
    state: TrustedState = docs["state"]
    return [
        trust.decode_bundle_unverified,
        trust.decode_revocations_unverified,
        lambda d: TrustedState.from_pinned_bundle(d, fingerprint=state.fingerprint, now=NOW),
        lambda d: state.update_bundle(d, now=NOW),
        lambda d: state.update_bundle(docs["bundle"], now=NOW, intermediates=[d]),
        lambda d: state.update_revocations(d, now=NOW),
        lambda d: TrustedState.from_bytes(d, fingerprint=state.fingerprint),
    ]


FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _only_trust_errors(docs: dict[str, Any], data: bytes) -> None:
    for decode in _decoders(docs):
        # Refusals are expected; any other exception type fails the test.
        with contextlib.suppress(TrustError):
            decode(data)


@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes_raise_only_trust_errors(docs: dict[str, Any], data: bytes) -> None:
    _only_trust_errors(docs, data)


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_in_a_cose_tag_raise_only_trust_errors(
    docs: dict[str, Any], data: bytes
) -> None:
    for head in (b"\xd2\x84", b"\xd8\x62\x84"):  # tag 18 / tag 98, array of 4
        _only_trust_errors(docs, head + data)


_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.binary(max_size=20)
    | st.text(max_size=20)
    | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.integers(-5, 5) | st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)


@FUZZ
@given(
    tag=st.sampled_from([18, 98, 0, 1]),
    protected=_cbor_values,
    unprotected=_cbor_values,
    payload=_cbor_values,
    last=_cbor_values,
)
def test_structured_garbage_raises_only_trust_errors(
    docs: dict[str, Any], tag: int, protected: Any, unprotected: Any, payload: Any, last: Any
) -> None:
    wrap = [cbor2.dumps(protected), unprotected, cbor2.dumps(payload), last]
    _only_trust_errors(docs, cbor2.dumps(cbor2.CBORTag(tag, wrap)))


@FUZZ
@given(data=st.data())
def test_mutated_documents_are_refused_or_unchanged(docs: dict[str, Any], data: Any) -> None:
    name = data.draw(st.sampled_from(["bundle", "revocations", "stored"]))
    original: bytes = docs[name]
    index = data.draw(st.integers(0, len(original) - 1))
    mutation = data.draw(st.sampled_from(["flip", "truncate", "delete", "insert"]))
    if mutation == "flip":
        bit = data.draw(st.integers(0, 7))
        mutated = original[:index] + bytes([original[index] ^ (1 << bit)]) + original[index + 1 :]
    elif mutation == "truncate":
        mutated = original[:index]
    elif mutation == "delete":
        mutated = original[:index] + original[index + 1 :]
    else:
        mutated = original[:index] + bytes([data.draw(st.integers(0, 255))]) + original[index:]
    state: TrustedState = docs["state"]
    for apply in (
        lambda d: state.update_bundle(d, now=NOW),
        lambda d: state.update_revocations(d, now=NOW),
        lambda d: TrustedState.from_bytes(d, fingerprint=state.fingerprint),
    ):
        try:
            apply(mutated)
        except TrustError:
            continue
        # Nothing but the untouched document itself may be accepted.
        assert mutated == original


def test_fuzz_fixture_documents_are_accepted(docs: dict[str, Any]) -> None:
    state: TrustedState = docs["state"]
    assert state.update_bundle(docs["bundle"], now=NOW).version == 6
    assert TrustedState.from_bytes(docs["stored"], fingerprint=state.fingerprint).version == 5
    assert state.update_revocations(docs["revocations"], now=NOW).is_revoked("PT-BBB")


def fingerprint_spellings(fingerprint: str) -> list[str]:
    """Every way a fingerprint could be written out: grouped or not, either case."""
    compact = fingerprint.replace(" ", "")
    return [fingerprint, fingerprint.lower(), compact, compact.lower(),
            compact[:16], compact[:16].lower()]


def test_fingerprint_mismatch_does_not_reveal_the_right_fingerprint(w: World) -> None:
    # An admin who reads a wrong fingerprint over the phone must not be told the right one.
    typed = City("FRLYS", "Lyon").fingerprint
    with pytest.raises(FingerprintMismatchError) as caught:
        TrustedState.from_pinned_bundle(w.city.bundle(6), fingerprint=typed, now=NOW)
    message = str(caught.value)
    assert "does not have the fingerprint given" in message
    assert caught.value.code == "fingerprint_mismatch"
    for spelling in fingerprint_spellings(w.city.fingerprint):
        assert spelling not in message
