"""Trust documents on the wire: CBOR payloads, COSE signatures, reading, JSON output.

Payloads are canonical CBOR maps (checked by re-encoding); envelopes are COSE_Sign1, or a
two-signer COSE_Sign for a root rotation, written and read by :mod:`cardservice.cose`.
:func:`read_bundle` and :func:`read_revocations` are the steps of accepting a document
that need no held state (format, signatures, content); :func:`link` and
:func:`check_fresh` are the steps that do, for :class:`~cardservice.trust.state.TrustedState`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import cose, pki
from cardservice.trust.model import (
    BUNDLE_CONTENT_TYPE,
    MAX_BUNDLE_BYTES,
    MAX_REVOCATION_LIST_BYTES,
    MAX_SIGNING_CERTIFICATES,
    REVOCATIONS_CONTENT_TYPE,
    CityMismatchError,
    ExpiredTrustDataError,
    RevocationList,
    RevokedCard,
    RootRotationError,
    SigningKeyInfo,
    SigningKeyMismatchError,
    TrustBundle,
    TrustFormatError,
    TrustSignatureError,
    UntrustedRootError,
    _der,
    _ed25519,
    _from_seconds,
    _is_int,
    _iso,
    _load_der,
    _pem,
    _seconds,
    check_bundle_content,
)

# --------------------------------------------------------------------------- payloads


_BUNDLE_KEYS = frozenset(
    {
        "city_id",
        "city_name",
        "names",
        "base_url",
        "version",
        "issued_at",
        "expires_at",
        "root",
        "previous_root",
        "signing_certificates",
        "revocations_url",
    }
)
_SIGNING_KEYS = frozenset({"kid", "certificate", "not_before", "not_after"})
_REVOCATION_KEYS = frozenset({"city_id", "sequence", "issued_at", "next_update", "revoked"})


def bundle_payload(bundle: TrustBundle) -> bytes:
    """The canonical CBOR payload of ``bundle`` (what its signatures cover)."""
    return cbor2.dumps(
        {
            "city_id": bundle.city_id,
            "city_name": bundle.city_name,
            "names": dict(bundle.names),
            "base_url": bundle.base_url,
            "version": bundle.version,
            "issued_at": _seconds(bundle.issued_at),
            "expires_at": _seconds(bundle.expires_at),
            "root": _der(bundle.root),
            "previous_root": None if bundle.previous_root is None else _der(bundle.previous_root),
            "signing_certificates": [
                {
                    "kid": info.kid,
                    "certificate": _der(info.certificate),
                    "not_before": _seconds(info.not_before),
                    "not_after": _seconds(info.not_after),
                }
                for info in bundle.signing_keys
            ],
            "revocations_url": bundle.revocations_url,
        },
        canonical=True,
    )


def revocations_payload(rl: RevocationList) -> bytes:
    """The canonical CBOR payload of a revocation list (what its signature covers)."""
    return cbor2.dumps(
        {
            "city_id": rl.city_id,
            "sequence": rl.sequence,
            "issued_at": _seconds(rl.issued_at),
            "next_update": _seconds(rl.next_update),
            "revoked": [[r.serial, _seconds(r.expires_at), r.reason] for r in rl.revoked],
        },
        canonical=True,
    )


def _load_canonical_map(payload: bytes, keys: frozenset[str], what: str) -> dict[str, Any]:
    try:
        raw = cbor2.loads(payload)
    except Exception as exc:
        raise TrustFormatError(f"the {what} payload is not CBOR") from exc
    if type(raw) is not dict or raw.keys() != keys:
        raise TrustFormatError(f"the {what} payload does not hold exactly the expected keys")
    return raw


def _require_canonical(raw: Any, payload: bytes, what: str) -> None:
    # Checked after the type checks, so only plain CBOR values are re-encoded. One
    # encoding per content is what makes "same version, same content" a byte comparison.
    try:
        same = cbor2.dumps(raw, canonical=True) == payload
    except Exception as exc:
        raise TrustFormatError(f"the {what} payload is not plain CBOR") from exc
    if not same:
        raise TrustFormatError(f"the {what} payload is not in canonical CBOR form")


def _bundle_from_payload(payload: bytes) -> TrustBundle:
    raw = _load_canonical_map(payload, _BUNDLE_KEYS, "bundle")
    names = raw["names"]
    if type(names) is not dict or not all(
        type(k) is str and type(v) is str for k, v in names.items()
    ):
        raise TrustFormatError("names must map language tags to text")
    listed = raw["signing_certificates"]
    if type(listed) is not list or len(listed) > MAX_SIGNING_CERTIFICATES:
        raise TrustFormatError("signing_certificates must be a short list")
    infos = []
    for item in listed:
        if type(item) is not dict or item.keys() != _SIGNING_KEYS:
            raise TrustFormatError("a signing certificate entry has the wrong keys")
        cert = _load_der(item["certificate"], "a signing certificate")
        info = SigningKeyInfo(
            cert,
            _from_seconds(item["not_before"], "not_before"),
            _from_seconds(item["not_after"], "not_after"),
        )
        if type(item["kid"]) is not bytes or item["kid"] != info.kid:
            raise TrustFormatError("a signing certificate's kid does not match it")
        if (info.not_before, info.not_after) != (
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
        ):
            raise TrustFormatError("a signing certificate's listed validity is not its own")
        infos.append(info)
    previous = raw["previous_root"]
    for key in ("version", "issued_at", "expires_at"):
        if not _is_int(raw[key]):
            raise TrustFormatError(f"{key} must be an integer")
    bundle = TrustBundle(
        city_id=raw["city_id"],
        city_name=raw["city_name"],
        names=names,
        base_url=raw["base_url"],
        version=raw["version"],
        issued_at=_from_seconds(raw["issued_at"], "issued_at"),
        expires_at=_from_seconds(raw["expires_at"], "expires_at"),
        root=_load_der(raw["root"], "root"),
        previous_root=None if previous is None else _load_der(previous, "previous_root"),
        signing_certificates=tuple(i.certificate for i in infos),
        revocations_url=raw["revocations_url"],
    )
    _require_canonical(raw, payload, "bundle")
    return bundle


def _revocations_from_payload(payload: bytes) -> RevocationList:
    raw = _load_canonical_map(payload, _REVOCATION_KEYS, "revocation list")
    entries = raw["revoked"]
    if type(entries) is not list:
        raise TrustFormatError("revoked must be a list")
    revoked = []
    for entry in entries:
        if type(entry) is not list or len(entry) != 3:
            raise TrustFormatError("a revocation entry is [serial, expires_at, reason]")
        serial, expires_at, reason = entry
        revoked.append(
            RevokedCard(
                serial=serial, expires_at=_from_seconds(expires_at, "expires_at"), reason=reason
            )
        )
    if [r.serial for r in revoked] != sorted(r.serial for r in revoked):
        raise TrustFormatError("revoked serials are not in order")
    for key in ("sequence", "issued_at", "next_update"):
        if not _is_int(raw[key]):
            raise TrustFormatError(f"{key} must be an integer")
    rl = RevocationList(
        city_id=raw["city_id"],
        sequence=raw["sequence"],
        issued_at=_from_seconds(raw["issued_at"], "issued_at"),
        next_update=_from_seconds(raw["next_update"], "next_update"),
        revoked=tuple(revoked),
    )
    _require_canonical(raw, payload, "revocation list")
    return rl

# --------------------------------------------------------------------------- COSE


def _decode_envelope(
    data: Any, *, content_type: str, max_bytes: int, allow_multi: bool
) -> cose.Envelope:
    """(1): format — decode a COSE_Sign1 (or, if allowed, COSE_Sign) strictly."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TrustFormatError("a signed document is bytes")
    data = bytes(data)
    if not data or len(data) > max_bytes:
        raise TrustFormatError(f"a signed document is 1 to {max_bytes} bytes")
    try:
        return cose.decode(data, content_type=content_type, allow_multi=allow_multi)
    except cose.CoseFormatError as exc:
        raise TrustFormatError(str(exc)) from exc


def _verify(signature: cose.Signature, signer: x509.Certificate, what: str) -> None:
    if signature.kid != pki.key_id(signer):
        raise TrustSignatureError(f"the {what} signature is not by the root it should be")
    try:
        _ed25519(signer).verify(signature.signature, signature.to_be_signed)
    except InvalidSignature as exc:
        raise TrustSignatureError(f"the {what} signature does not verify") from exc


# --------------------------------------------------------------------------- signing


def sign_bundle(bundle: TrustBundle, *, root_keys: Sequence[Ed25519PrivateKey]) -> bytes:
    """Sign ``bundle``: COSE_Sign1 with one root key, COSE_Sign with two for a rotation.

    For a rotation pass the keys of ``bundle.root`` and ``bundle.previous_root`` (in any
    order). Refuses content a partner would refuse (the same errors it would get).
    """
    if not isinstance(bundle, TrustBundle):
        raise TypeError("bundle must be a TrustBundle")
    check_bundle_content(bundle)
    keys = list(root_keys)
    payload = bundle_payload(bundle)
    if len(keys) == 1:
        if not pki.key_matches(keys[0], bundle.root):
            raise SigningKeyMismatchError("the key is not the key of the bundle's root")
        return cose.sign1(
            payload,
            content_type=BUNDLE_CONTENT_TYPE,
            key=keys[0],
            kid=pki.key_id(bundle.root),
        )
    if len(keys) == 2:
        previous = bundle.previous_root
        if previous is None:
            raise SigningKeyMismatchError("two root keys sign only a rotation (previous_root)")
        new = next((k for k in keys if pki.key_matches(k, bundle.root)), None)
        old = next((k for k in keys if pki.key_matches(k, previous)), None)
        if new is None or old is None:
            raise SigningKeyMismatchError("the keys are not those of the root and previous root")
        return cose.sign_multi(
            payload,
            content_type=BUNDLE_CONTENT_TYPE,
            signers=[(new, pki.key_id(bundle.root)), (old, pki.key_id(previous))],
        )
    raise SigningKeyMismatchError("a bundle is signed by one root key, or two for a rotation")


def sign_revocations(
    rl: RevocationList, *, root_key: Ed25519PrivateKey, root: x509.Certificate
) -> bytes:
    """Sign a revocation list with the city's current root (COSE_Sign1)."""
    if not isinstance(rl, RevocationList):
        raise TypeError("rl must be a RevocationList")
    if not pki.key_matches(root_key, root):
        raise SigningKeyMismatchError("the key is not the key of the root certificate")
    try:
        root_city = pki.city_id_of(root)
    except pki.PKIError as exc:
        raise TrustFormatError("the root names no city") from exc
    if root_city != rl.city_id:
        raise CityMismatchError(f"the root is {root_city}'s, the list is {rl.city_id}'s")
    return cose.sign1(
        revocations_payload(rl),
        content_type=REVOCATIONS_CONTENT_TYPE,
        key=root_key,
        kid=pki.key_id(root),
    )


# --------------------------------------------------------------------------- decoding


def decode_bundle_unverified(data: bytes) -> TrustBundle:
    """Read a signed bundle WITHOUT checking any signature: for display only.

    Nothing read this way may be trusted; use :class:`TrustedState` for that.
    """
    env = _decode_envelope(
        data, content_type=BUNDLE_CONTENT_TYPE, max_bytes=MAX_BUNDLE_BYTES, allow_multi=True
    )
    return _bundle_from_payload(env.payload)


def decode_revocations_unverified(data: bytes) -> RevocationList:
    """Read a signed revocation list WITHOUT checking its signature: for display only."""
    env = _decode_envelope(
        data,
        content_type=REVOCATIONS_CONTENT_TYPE,
        max_bytes=MAX_REVOCATION_LIST_BYTES,
        allow_multi=False,
    )
    return _revocations_from_payload(env.payload)


def bundle_to_json(bundle: TrustBundle) -> dict[str, Any]:
    """A readable form of ``bundle`` (certificates in PEM, times ISO 8601 UTC)."""
    return {
        "type": "citycard-trust-bundle",
        "city_id": bundle.city_id,
        "city_name": bundle.city_name,
        "names": dict(bundle.names),
        "base_url": bundle.base_url,
        "version": bundle.version,
        "issued_at": _iso(bundle.issued_at),
        "expires_at": _iso(bundle.expires_at),
        "fingerprint": bundle.fingerprint,
        "root": _pem(bundle.root),
        "previous_root": None if bundle.previous_root is None else _pem(bundle.previous_root),
        "previous_root_fingerprint": (
            None if bundle.previous_root is None else pki.fingerprint(bundle.previous_root)
        ),
        "signing_certificates": [
            {
                "kid": info.kid.hex(),
                "not_before": _iso(info.not_before),
                "not_after": _iso(info.not_after),
                "certificate": _pem(info.certificate),
            }
            for info in bundle.signing_keys
        ],
        "revocations_url": bundle.revocations_url,
    }


def revocations_to_json(rl: RevocationList) -> dict[str, Any]:
    """A readable form of a revocation list (times ISO 8601 UTC)."""
    return {
        "type": "citycard-revocations",
        "city_id": rl.city_id,
        "sequence": rl.sequence,
        "issued_at": _iso(rl.issued_at),
        "next_update": _iso(rl.next_update),
        "revoked": [
            {"serial": r.serial, "expires_at": _iso(r.expires_at), "reason": r.reason}
            for r in rl.revoked
        ],
    }


@dataclass(frozen=True)
class VerifiedBundle:
    """A bundle whose every signature verified and whose content checked out."""

    envelope: cose.Envelope
    bundle: TrustBundle
    signed_by: tuple[x509.Certificate, ...]


def read_bundle(data: Any) -> VerifiedBundle:
    """(1)-(4) of a bundle: format, every signature, content. Trust is decided by the caller."""
    # (1): format
    env = _decode_envelope(
        data, content_type=BUNDLE_CONTENT_TYPE, max_bytes=MAX_BUNDLE_BYTES, allow_multi=True
    )
    bundle = _bundle_from_payload(env.payload)
    # (2): signatures — the bundle's own root always signs; a two-signature bundle is a
    # rotation, signed by the previous root as well. Every signature present must verify.
    if len(env.signatures) == 1:
        signers: tuple[x509.Certificate, ...] = (bundle.root,)
    elif bundle.previous_root is None:
        raise TrustFormatError("a two-signature bundle names no previous root")
    else:
        signers = (bundle.root, bundle.previous_root)
    for signature, signer, what in zip(
        env.signatures, signers, ("root", "previous root")[: len(signers)], strict=True
    ):
        _verify(signature, signer, what)
    # (3): content
    check_bundle_content(bundle)
    return VerifiedBundle(env, bundle, signers)


def link(verified: VerifiedBundle, anchor: x509.Certificate) -> None:
    """(5): trust — the bundle's root is ``anchor``, or a rotation signed by ``anchor``."""
    bundle = verified.bundle
    if bundle.root == anchor:
        return
    if bundle.previous_root is not None and bundle.previous_root == anchor:
        if anchor not in verified.signed_by:
            raise RootRotationError(
                "the bundle rotates to a new root without the signature of the root held"
            )
        return
    raise UntrustedRootError("the bundle's root is not the root held, nor signed by it")


def check_fresh(bundle: TrustBundle, now: dt.datetime) -> None:
    """(7): expiry — of the bundle and of its root."""
    if now >= bundle.expires_at:
        raise ExpiredTrustDataError(f"the bundle expired at {_iso(bundle.expires_at)}")
    if now >= bundle.root.not_valid_after_utc:
        raise ExpiredTrustDataError(f"the root expired at {_iso(bundle.root.not_valid_after_utc)}")


@dataclass(frozen=True)
class VerifiedRevocations:
    envelope: cose.Envelope
    revocations: RevocationList
    signer: x509.Certificate


def read_revocations(
    data: Any, *, city_id: str, roots: Sequence[x509.Certificate]
) -> VerifiedRevocations:
    """Envelope, signature by one of ``roots`` (chosen by kid), then payload and city.

    The signature is checked over the raw bytes before the payload is decoded: a list of
    up to :data:`MAX_REVOCATION_LIST_BYTES` that nobody we trust signed costs one
    Ed25519 verification to refuse, never a decoding of its entries.
    """
    # (1): format of the envelope only (the payload stays bytes)
    env = _decode_envelope(
        data,
        content_type=REVOCATIONS_CONTENT_TYPE,
        max_bytes=MAX_REVOCATION_LIST_BYTES,
        allow_multi=False,
    )
    # (2): signed by a root held
    (signature,) = env.signatures
    signer = next((r for r in roots if pki.key_id(r) == signature.kid), None)
    if signer is None:
        raise UntrustedRootError("the revocation list is not signed by the root held")
    _verify(signature, signer, "revocation list")
    # (3): format of the signed payload
    rl = _revocations_from_payload(env.payload)
    # (4): city
    if rl.city_id != city_id:
        raise CityMismatchError(f"the revocation list is {rl.city_id}'s, not {city_id}'s")
    return VerifiedRevocations(env, rl, signer)
