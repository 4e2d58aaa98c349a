"""Alliances: a member list signed by a threshold of member roots (SPEC §5b).

Rules this module enforces:

- A **member list** names an alliance (``alliance_id``: lower-case letters, digits and
  ``-``), its ``name``, a ``version`` that only grows, ``issued_at`` / ``expires_at``, a
  ``threshold`` k (2 <= k <= number of members) and its members, sorted by ``city_id``,
  each with its city name, base URL and root fingerprint (SHA-256 of the root DER, 32
  bytes). A city id and a fingerprint appear at most once.
- The list is a COSE_Sign (tag 98) with one signature per signing member, each by that
  member's city root (protected header ``{1: -8, 4: kid(root)}``; the body's protected
  header holds the content type :data:`ALLIANCE_CONTENT_TYPE`). Signatures are kept
  sorted by kid, one per kid, so the same signers give the same bytes.
- A signature **counts** for a member only when it verifies under a root certificate
  whose fingerprint is the member's listed one (and which is a root of that city).
  Signatures are counted **by member**: a signature repeated, or a member signing twice,
  counts once. Signatures by anyone else (non-members, members of a later version)
  count for nothing; a signature that does not verify counts for nothing. Root
  certificates come from the caller (members' trust bundles): the list holds only
  fingerprints.
- **Joining** (:meth:`AllianceState.join`, nothing held yet): at least k members of the
  list itself signed it, *and* at least k of those signers' fingerprints were confirmed
  by the admin through another channel. A confirmed fingerprint that the list does not
  hold is refused (a typo, or another alliance's list).
- **Updating** (:meth:`AllianceState.update`): same ``alliance_id``; a higher version
  (a lower one is a rollback; the same version is accepted only as the very same
  content, a no-op); not expired; signed by at least the *held* threshold of *held*
  members (so no member, nor any coalition smaller than the held k, changes the list —
  lowering the threshold included); and valid on its own terms too (its own threshold
  of its own members), so that every list a member accepts is one a joining city
  could accept.
- :class:`AllianceState` is immutable: an update returns a new state or raises a
  :class:`~cardservice.trust.model.TrustError`; a refused list leaves the state held
  as it was. Stored state (:meth:`AllianceState.to_bytes`) is the signed list and the
  roots that vouched for it; loading checks the threshold of signatures again.
- A member's own documents (trust bundle, revocation list) are checked with the rules
  of §5 from the fingerprint in the list (:meth:`AllianceState.pin_member`): a bundle
  whose root is not the listed one is refused.
- Time is passed in as ``now``; nothing here reads the clock.

Encoding (canonical CBOR; times are integer seconds since the epoch)::

    member list   COSE_Sign, tag 98:
                  [ << {3: "application/citycard-alliance+cbor"} >>, {}, payload,
                    [ [ << {1: -8, 4: kid(root)} >>, {}, signature ], ... (by kid) ] ]
    payload       {"alliance_id": tstr, "name": tstr, "version": uint,
                   "issued_at": uint, "expires_at": uint, "threshold": uint,
                   "members": [{"city_id": tstr, "city_name": tstr, "base_url": tstr,
                                "root_fingerprint": bstr .size 32}, ...] (by city_id)}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import cose, pki
from cardservice.trust.model import (
    CityMismatchError,
    ExpiredTrustDataError,
    FingerprintMismatchError,
    RollbackError,
    SigningKeyMismatchError,
    TrustError,
    TrustFormatError,
    _check_city_id,
    _check_counter,
    _check_text,
    _check_url,
    _der,
    _ed25519,
    _from_seconds,
    _is_int,
    _iso,
    _load_der,
    _now,
    _seconds,
    _utc_seconds,
    check_root,
)
from cardservice.trust.state import TrustedState

__all__ = [
    "ALLIANCE_CONTENT_TYPE",
    "MAX_ALLIANCE_BYTES",
    "MAX_MEMBERS",
    "AllianceMember",
    "AllianceMismatchError",
    "AllianceState",
    "InsufficientSignaturesError",
    "MemberList",
    "MemberListChanges",
    "MemberListDocument",
    "SignatureCount",
    "UnconfirmedFingerprintsError",
    "add_signature",
    "count_signatures",
    "diff_member_lists",
    "fingerprint_bytes",
    "make_member_list",
    "member_list_payload",
    "member_list_to_json",
    "merge_signatures",
    "read_member_list",
    "sign_member_list",
]

ALLIANCE_CONTENT_TYPE = "application/citycard-alliance+cbor"
#: Most members of one alliance (the Migration Alliance has 41).
MAX_MEMBERS = 500
#: Largest signed member list accepted: about 200 bytes a member and 80 a signature.
MAX_ALLIANCE_BYTES = 256 * 1024
_ALLIANCE_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_KEYS = frozenset(
    {"alliance_id", "name", "version", "issued_at", "expires_at", "threshold", "members"}
)
_MEMBER_KEYS = frozenset({"city_id", "city_name", "base_url", "root_fingerprint"})
_STATE_FORMAT = 1
_CONSTRUCT = object()


# --------------------------------------------------------------------------- errors


class InsufficientSignaturesError(TrustError):
    """Fewer members signed than the threshold that applies (held, or the list's own)."""

    code = "too_few_signatures"


class UnconfirmedFingerprintsError(TrustError):
    """Joining: fewer signers' fingerprints were confirmed by another channel than k."""

    code = "unconfirmed_fingerprints"


class AllianceMismatchError(TrustError):
    """The list is another alliance's than the one held or asked for."""

    code = "alliance_mismatch"


# --------------------------------------------------------------------------- data


def fingerprint_bytes(text: str) -> bytes:
    """The 32 bytes of a fingerprint written as :func:`pki.fingerprint` writes it."""
    return bytes.fromhex(pki.normalise_fingerprint(text).replace(" ", ""))


def _fingerprint_text(raw: bytes) -> str:
    digest = raw.hex().upper()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


def _root_sha256(cert: x509.Certificate) -> bytes:
    return hashlib.sha256(_der(cert)).digest()


def check_alliance_id(value: Any) -> str:
    """An alliance id: 1 to 64 lower-case letters, digits and ``-``, not starting with ``-``."""
    if type(value) is not str or not _ALLIANCE_ID.fullmatch(value):
        raise TrustFormatError("an alliance id is lower-case letters, digits and '-'")
    return value


@dataclass(frozen=True)
class AllianceMember:
    """A member city as the list names it."""

    city_id: str
    city_name: str
    base_url: str
    root_fingerprint: bytes

    def __post_init__(self) -> None:
        _check_city_id(self.city_id)
        _check_text(self.city_name, "city_name")
        _check_url(self.base_url, "base_url")
        if type(self.root_fingerprint) is not bytes or len(self.root_fingerprint) != 32:
            raise TrustFormatError("a member's root fingerprint is 32 bytes")

    @property
    def fingerprint(self) -> str:
        """The fingerprint as officials read it (16 groups of 4 hex digits)."""
        return _fingerprint_text(self.root_fingerprint)

    @property
    def kid(self) -> bytes:
        """The kid of the member's root: the first 8 bytes of its fingerprint."""
        return self.root_fingerprint[: cose.KID_LENGTH]


@dataclass(frozen=True, kw_only=True)
class MemberList:
    """The content of an alliance's member list (SPEC §5b). Fields are checked here."""

    alliance_id: str
    name: str
    version: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    threshold: int
    members: tuple[AllianceMember, ...]

    def __post_init__(self) -> None:
        check_alliance_id(self.alliance_id)
        _check_text(self.name, "name")
        _check_counter(self.version, "version", minimum=1)
        object.__setattr__(self, "issued_at", _utc_seconds(self.issued_at, "issued_at"))
        object.__setattr__(self, "expires_at", _utc_seconds(self.expires_at, "expires_at"))
        if self.expires_at <= self.issued_at:
            raise TrustFormatError("expires_at must be later than issued_at")
        if not isinstance(self.members, tuple | list):
            raise TrustFormatError("members must be a sequence of AllianceMember")
        members = tuple(sorted(self.members, key=lambda m: m.city_id))
        if not all(isinstance(m, AllianceMember) for m in members):
            raise TrustFormatError("members must be a sequence of AllianceMember")
        if not 2 <= len(members) <= MAX_MEMBERS:
            raise TrustFormatError(f"an alliance has 2 to {MAX_MEMBERS} members")
        if len({m.city_id for m in members}) != len(members):
            raise TrustFormatError("a city is listed twice")
        if len({m.root_fingerprint for m in members}) != len(members):
            raise TrustFormatError("a root fingerprint is listed twice")
        if len({m.kid for m in members}) != len(members):
            # 64-bit kid prefixes of distinct SHA-256 digests: never by chance.
            raise TrustFormatError("two members' roots share a kid")
        object.__setattr__(self, "members", members)
        if not _is_int(self.threshold) or not 2 <= self.threshold <= len(members):
            raise TrustFormatError("the threshold is at least 2 and at most the member count")

    def member(self, city_id: str) -> AllianceMember | None:
        """The member with ``city_id``, if listed."""
        return next((m for m in self.members if m.city_id == city_id), None)

    def member_by_kid(self, kid: bytes) -> AllianceMember | None:
        """The member whose root has ``kid``, if listed."""
        return next((m for m in self.members if m.kid == kid), None)

    @property
    def city_ids(self) -> tuple[str, ...]:
        """Members' city ids, sorted."""
        return tuple(m.city_id for m in self.members)


def make_member_list(
    *,
    alliance_id: str,
    name: str,
    version: int,
    threshold: int,
    members: Iterable[AllianceMember],
    now: dt.datetime,
    valid_for: dt.timedelta,
) -> MemberList:
    """A member list issued at ``now``, valid for ``valid_for``."""
    at = _now(now)
    if valid_for <= dt.timedelta(0):
        raise TrustFormatError("a member list must be valid for some time")
    return MemberList(
        alliance_id=alliance_id,
        name=name,
        version=version,
        issued_at=at,
        expires_at=at + valid_for,
        threshold=threshold,
        members=tuple(members),
    )


# --------------------------------------------------------------------------- encoding


def member_list_payload(ml: MemberList) -> bytes:
    """The canonical CBOR payload of ``ml`` (what every signature covers)."""
    return cbor2.dumps(
        {
            "alliance_id": ml.alliance_id,
            "name": ml.name,
            "version": ml.version,
            "issued_at": _seconds(ml.issued_at),
            "expires_at": _seconds(ml.expires_at),
            "threshold": ml.threshold,
            "members": [
                {
                    "city_id": m.city_id,
                    "city_name": m.city_name,
                    "base_url": m.base_url,
                    "root_fingerprint": m.root_fingerprint,
                }
                for m in ml.members
            ],
        },
        canonical=True,
    )


def _from_payload(payload: bytes) -> MemberList:
    try:
        raw = cbor2.loads(payload)
    except Exception as exc:
        raise TrustFormatError("the member list payload is not CBOR") from exc
    if type(raw) is not dict or raw.keys() != _KEYS:
        raise TrustFormatError("the member list payload does not hold exactly the expected keys")
    listed = raw["members"]
    if type(listed) is not list or not 2 <= len(listed) <= MAX_MEMBERS:
        raise TrustFormatError(f"members must be a list of 2 to {MAX_MEMBERS}")
    members = []
    for item in listed:
        if type(item) is not dict or item.keys() != _MEMBER_KEYS:
            raise TrustFormatError("a member entry has the wrong keys")
        members.append(AllianceMember(**item))
    if [m.city_id for m in members] != sorted(m.city_id for m in members):
        raise TrustFormatError("members are not in order of city_id")
    for key in ("version", "issued_at", "expires_at", "threshold"):
        if not _is_int(raw[key]):
            raise TrustFormatError(f"{key} must be an integer")
    ml = MemberList(
        alliance_id=raw["alliance_id"],
        name=raw["name"],
        version=raw["version"],
        issued_at=_from_seconds(raw["issued_at"], "issued_at"),
        expires_at=_from_seconds(raw["expires_at"], "expires_at"),
        threshold=raw["threshold"],
        members=tuple(members),
    )
    # One encoding per content: "same version, same content" is a byte comparison.
    try:
        same = cbor2.dumps(raw, canonical=True) == payload
    except Exception as exc:
        raise TrustFormatError("the member list payload is not plain CBOR") from exc
    if not same:
        raise TrustFormatError("the member list payload is not in canonical CBOR form")
    return ml


@dataclass(frozen=True)
class MemberListDocument:
    """A signed member list read for its form only: nothing here is verified yet."""

    envelope: cose.Envelope
    member_list: MemberList

    @property
    def raw(self) -> bytes:
        """The document as signed."""
        return self.envelope.raw

    @property
    def signer_kids(self) -> tuple[bytes, ...]:
        """The kids of the signatures present, in document order."""
        return tuple(s.kid for s in self.envelope.signatures)


def read_member_list(data: Any) -> MemberListDocument:
    """(1): format — a COSE_Sign member list, strictly decoded. No signature is checked."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TrustFormatError("a signed member list is bytes")
    data = bytes(data)
    if not data or len(data) > MAX_ALLIANCE_BYTES:
        raise TrustFormatError(f"a signed member list is 1 to {MAX_ALLIANCE_BYTES} bytes")
    if data[:1] != b"\xd8":  # tag 98; a COSE_Sign1 (tag 18) is not a member list
        raise TrustFormatError("a member list is a COSE_Sign message (tag 98)")
    try:
        env = cose.decode(
            data,
            content_type=ALLIANCE_CONTENT_TYPE,
            allow_multi=True,
            signers=(1, MAX_MEMBERS),
        )
    except cose.CoseFormatError as exc:
        raise TrustFormatError(str(exc)) from exc
    kids = [s.kid for s in env.signatures]
    if kids != sorted(kids):
        raise TrustFormatError("the signatures are not in order of kid")
    return MemberListDocument(env, _from_payload(env.payload))


# --------------------------------------------------------------------------- signing


def _assemble(payload: bytes, signatures: Mapping[bytes, bytes]) -> bytes:
    return cose.assemble_multi(
        payload,
        content_type=ALLIANCE_CONTENT_TYPE,
        signatures=sorted(signatures.items()),
    )


def _own_signature(
    payload: bytes, *, root_key: Ed25519PrivateKey, root: x509.Certificate
) -> tuple[bytes, bytes]:
    if not pki.key_matches(root_key, root):
        raise SigningKeyMismatchError("the key is not the key of the root certificate")
    kid = pki.key_id(root)
    body = cose.protected_header(kid=None, content_type=ALLIANCE_CONTENT_TYPE)
    protected = cose.protected_header(kid=kid, content_type=None)
    return kid, root_key.sign(cose.sig_input(body, protected, payload))


def sign_member_list(
    ml: MemberList, *, root_key: Ed25519PrivateKey, root: x509.Certificate
) -> bytes:
    """A new signed member list with one signature, by ``root`` (a draft to co-sign)."""
    if not isinstance(ml, MemberList):
        raise TypeError("ml must be a MemberList")
    payload = member_list_payload(ml)
    kid, signature = _own_signature(payload, root_key=root_key, root=root)
    return _assemble(payload, {kid: signature})


def add_signature(data: bytes, *, root_key: Ed25519PrivateKey, root: x509.Certificate) -> bytes:
    """``data`` co-signed by ``root`` (a signature already there by that root is replaced)."""
    doc = read_member_list(data)
    signatures = {s.kid: s.signature for s in doc.envelope.signatures}
    kid, signature = _own_signature(doc.envelope.payload, root_key=root_key, root=root)
    signatures[kid] = signature
    return _assemble(doc.envelope.payload, signatures)


def merge_signatures(first: bytes, second: bytes) -> bytes:
    """One document with the signatures of two copies of the same list.

    Both must carry the very same content. Where both hold a signature under the same
    kid, the first copy's is kept: merging never checks signatures, counting does.
    """
    a, b = read_member_list(first), read_member_list(second)
    if a.envelope.payload != b.envelope.payload:
        raise RollbackError("the two documents are not the same list")
    signatures = {s.kid: s.signature for s in b.envelope.signatures}
    signatures.update({s.kid: s.signature for s in a.envelope.signatures})
    return _assemble(a.envelope.payload, signatures)


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class SignatureCount:
    """Who signed a list, as far as the roots given can tell.

    ``verified``: members whose signature verified under their listed root.
    ``unverifiable``: members who signed, but whose root certificate was not given.
    ``invalid``: members under whose kid a signature did not verify.
    ``others``: signatures by no member of the list counted against.
    """

    verified: frozenset[str]
    unverifiable: frozenset[str]
    invalid: frozenset[str]
    others: int

    def describe(self) -> str:
        """One sentence for an error message or a log."""
        parts = [f"{len(self.verified)} member(s) signed ({', '.join(sorted(self.verified))})"]
        if self.unverifiable:
            parts.append(f"no root held to check {', '.join(sorted(self.unverifiable))}")
        if self.invalid:
            parts.append(f"signatures that do not verify: {', '.join(sorted(self.invalid))}")
        if self.others:
            parts.append(f"{self.others} signature(s) by non-members ignored")
        return "; ".join(parts)


def _roots_by_fingerprint(
    roots: Iterable[x509.Certificate], members: Sequence[AllianceMember]
) -> dict[bytes, x509.Certificate]:
    wanted = {m.root_fingerprint: m for m in members}
    found: dict[bytes, x509.Certificate] = {}
    for cert in roots:
        if not isinstance(cert, x509.Certificate):
            raise TypeError("roots are X.509 certificates")
        digest = _root_sha256(cert)
        member = wanted.get(digest)
        if member is None or digest in found:
            continue
        try:
            check_root(cert, member.city_id, "root")
        except TrustError:
            continue  # a certificate with that fingerprint that is no root of that city
        found[digest] = cert
    return found


def count_signatures(
    doc: MemberListDocument,
    *,
    members: Sequence[AllianceMember],
    roots: Iterable[x509.Certificate],
) -> SignatureCount:
    """Which of ``members`` signed ``doc``, verified with ``roots`` (counted by member)."""
    by_fingerprint = _roots_by_fingerprint(roots, members)
    by_kid = {m.kid: m for m in members}
    verified: set[str] = set()
    unverifiable: set[str] = set()
    invalid: set[str] = set()
    others = 0
    for signature in doc.envelope.signatures:
        member = by_kid.get(signature.kid)
        if member is None:
            others += 1
            continue
        cert = by_fingerprint.get(member.root_fingerprint)
        if cert is None:
            unverifiable.add(member.city_id)
            continue
        try:
            _ed25519(cert).verify(signature.signature, signature.to_be_signed)
        except InvalidSignature:
            invalid.add(member.city_id)
            continue
        verified.add(member.city_id)
    return SignatureCount(
        frozenset(verified),
        frozenset(unverifiable - verified),
        frozenset(invalid - verified),
        others,
    )


def _require_threshold(count: SignatureCount, threshold: int, whose: str) -> None:
    if len(count.verified) < threshold:
        raise InsufficientSignaturesError(
            f"{whose} needs {threshold} member signatures: {count.describe()}"
        )


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class MemberListChanges:
    """What a list changes against the one held: the admin reads this before co-signing."""

    added: tuple[AllianceMember, ...]
    removed: tuple[AllianceMember, ...]
    changed: tuple[tuple[AllianceMember, AllianceMember], ...]
    threshold: tuple[int | None, int]
    name: tuple[str | None, str]
    version: tuple[int | None, int]

    @property
    def empty(self) -> bool:
        """Whether nothing but dates and version changes."""
        return not (
            self.added
            or self.removed
            or self.changed
            or self.threshold[0] != self.threshold[1]
            or self.name[0] != self.name[1]
        )


def diff_member_lists(held: MemberList | None, new: MemberList) -> MemberListChanges:
    """Members added, removed and changed (name, URL or fingerprint), threshold, name."""
    old = {m.city_id: m for m in held.members} if held is not None else {}
    now_ = {m.city_id: m for m in new.members}
    return MemberListChanges(
        added=tuple(m for c, m in now_.items() if c not in old),
        removed=tuple(m for c, m in old.items() if c not in now_),
        changed=tuple((old[c], m) for c, m in now_.items() if c in old and old[c] != m),
        threshold=(None if held is None else held.threshold, new.threshold),
        name=(None if held is None else held.name, new.name),
        version=(None if held is None else held.version, new.version),
    )


def member_list_to_json(ml: MemberList) -> dict[str, Any]:
    """A readable form of a member list (times ISO 8601 UTC)."""
    return {
        "type": "citycard-alliance",
        "alliance_id": ml.alliance_id,
        "name": ml.name,
        "version": ml.version,
        "issued_at": _iso(ml.issued_at),
        "expires_at": _iso(ml.expires_at),
        "threshold": ml.threshold,
        "members": [
            {
                "city_id": m.city_id,
                "city_name": m.city_name,
                "base_url": m.base_url,
                "fingerprint": m.fingerprint,
            }
            for m in ml.members
        ],
    }


# --------------------------------------------------------------------------- state


class AllianceState:
    """The member list a city holds for one alliance, accepted by the rules above.

    Immutable. Build it with :meth:`join` (first list, with confirmed fingerprints) or
    :meth:`from_bytes` (stored state); :meth:`update` returns a new state or raises a
    :class:`TrustError` and leaves this one as it was.
    """

    __slots__ = ("_doc", "_roots", "_signers")

    _doc: MemberListDocument
    _roots: tuple[x509.Certificate, ...]
    _signers: frozenset[str]

    def __init__(
        self,
        doc: MemberListDocument,
        roots: tuple[x509.Certificate, ...],
        signers: frozenset[str],
        *,
        _token: object = None,
    ) -> None:
        if _token is not _CONSTRUCT:
            raise TypeError("use AllianceState.join or AllianceState.from_bytes")
        object.__setattr__(self, "_doc", doc)
        object.__setattr__(self, "_roots", roots)
        object.__setattr__(self, "_signers", signers)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("an AllianceState is immutable; updates return a new one")

    def __repr__(self) -> str:
        ml = self.member_list
        return (
            f"AllianceState(alliance_id={ml.alliance_id!r}, version={ml.version}, "
            f"threshold={ml.threshold}, members={list(ml.city_ids)!r})"
        )

    @staticmethod
    def _vouching_roots(
        doc: MemberListDocument, count: SignatureCount, roots: Iterable[x509.Certificate]
    ) -> tuple[x509.Certificate, ...]:
        # The roots that made the counted signatures: stored with the list, so that loading
        # it checks the same signatures again without asking anyone.
        members = [m for m in doc.member_list.members if m.city_id in count.verified]
        found = _roots_by_fingerprint(roots, members)
        return tuple(sorted(found.values(), key=_der))

    # -- construction

    @classmethod
    def join(
        cls,
        data: bytes,
        *,
        roots: Iterable[x509.Certificate],
        confirmed: Iterable[str],
        now: dt.datetime,
        alliance_id: str | None = None,
    ) -> AllianceState:
        """Hold a first list: k members' signatures, k of them confirmed by another channel.

        ``confirmed`` are fingerprints the admin read with members' officials (any
        spelling :func:`pki.normalise_fingerprint` takes); ``roots`` are root
        certificates (from members' trust bundles) to check signatures with.
        ``alliance_id``, when given, is the alliance the admin means to join.
        """
        at = _now(now)
        if isinstance(confirmed, str):
            raise TypeError("confirmed is a collection of fingerprints")
        pinned = {fingerprint_bytes(f) for f in confirmed}
        roots = tuple(roots)
        doc = read_member_list(data)  # (1): format
        ml = doc.member_list
        # (2): alliance
        if alliance_id is not None and ml.alliance_id != alliance_id:
            raise AllianceMismatchError(
                f"the list is for alliance {ml.alliance_id!r}, not {alliance_id!r}"
            )
        # (4): expiry
        if at >= ml.expires_at:
            raise ExpiredTrustDataError(f"the member list expired at {_iso(ml.expires_at)}")
        # (5): a confirmed fingerprint the list does not hold is a mistake somewhere
        listed = {m.root_fingerprint for m in ml.members}
        if not pinned <= listed:
            raise FingerprintMismatchError(
                "a fingerprint you confirmed is not a member's root in this list"
            )
        # (6): k members of the list signed it
        count = count_signatures(doc, members=ml.members, roots=roots)
        _require_threshold(count, ml.threshold, "the member list")
        # (7): k of those signers were confirmed by another channel
        confirmed_signers = {
            m.city_id
            for m in ml.members
            if m.root_fingerprint in pinned and m.city_id in count.verified
        }
        if len(confirmed_signers) < ml.threshold:
            raise UnconfirmedFingerprintsError(
                f"joining needs {ml.threshold} confirmed fingerprints of members who signed; "
                f"{len(confirmed_signers)} confirmed ({', '.join(sorted(confirmed_signers))})"
            )
        return cls(doc, cls._vouching_roots(doc, count, roots), count.verified,
                   _token=_CONSTRUCT)

    @classmethod
    def from_bytes(cls, data: bytes, *, alliance_id: str) -> AllianceState:
        """Load a state stored with :meth:`to_bytes`, checking its signatures again."""
        if not isinstance(data, bytes | bytearray | memoryview) or not data:
            raise TrustFormatError("stored alliance state is bytes")
        if len(data) > MAX_ALLIANCE_BYTES * 2:
            raise TrustFormatError("stored alliance state is too large")
        try:
            raw = cbor2.loads(bytes(data))
        except Exception as exc:
            raise TrustFormatError("stored alliance state is not CBOR") from exc
        if (
            type(raw) is not dict
            or raw.keys() != {"format", "list", "roots"}
            or not _is_int(raw["format"])
            or raw["format"] != _STATE_FORMAT
            or type(raw["list"]) is not bytes
            or type(raw["roots"]) is not list
            or len(raw["roots"]) > MAX_MEMBERS
        ):
            raise TrustFormatError("stored alliance state has an unknown layout")
        roots = tuple(_load_der(r, "a stored root") for r in raw["roots"])
        doc = read_member_list(raw["list"])
        if doc.member_list.alliance_id != alliance_id:
            raise AllianceMismatchError("stored list is another alliance's")
        count = count_signatures(doc, members=doc.member_list.members, roots=roots)
        _require_threshold(count, doc.member_list.threshold, "the stored member list")
        return cls(doc, roots, count.verified, _token=_CONSTRUCT)

    def to_bytes(self) -> bytes:
        """The state for storage: the signed list and the roots that vouched for it."""
        return cbor2.dumps(
            {
                "format": _STATE_FORMAT,
                "list": self._doc.raw,
                "roots": [_der(r) for r in self._roots],
            },
            canonical=True,
        )

    # -- updates

    def update(
        self, data: bytes, *, roots: Iterable[x509.Certificate], now: dt.datetime
    ) -> AllianceState:
        """Accept a newer list signed by the held threshold of held members; the new state.

        ``roots`` are root certificates to check signatures with (members' bundles); the
        roots stored with the held list are used too. The same version with the same
        content returns this state unchanged.
        """
        at = _now(now)
        roots = (*self._roots, *roots)
        doc = read_member_list(data)  # (1): format
        new, held = doc.member_list, self.member_list
        # (2): alliance
        if new.alliance_id != held.alliance_id:
            raise AllianceMismatchError(
                f"the list is for alliance {new.alliance_id!r}, not {held.alliance_id!r}"
            )
        # (3): order — no rollback; the same version only as the same content
        if new.version == held.version:
            if doc.envelope.payload == self._doc.envelope.payload:
                return self
            raise RollbackError(f"version {new.version} is held with other content")
        if new.version < held.version:
            raise RollbackError(f"version {new.version} is older than {held.version}, held")
        # (4): expiry
        if at >= new.expires_at:
            raise ExpiredTrustDataError(f"the member list expired at {_iso(new.expires_at)}")
        # (5): the held threshold of held members signed it
        by_held = count_signatures(doc, members=held.members, roots=roots)
        _require_threshold(by_held, held.threshold, f"a change to version {held.version}")
        # (6): valid on its own terms: its own threshold of its own members
        by_new = count_signatures(doc, members=new.members, roots=roots)
        _require_threshold(by_new, new.threshold, f"version {new.version}")
        vouching = self._vouching_roots(doc, by_new, roots)
        return AllianceState(doc, vouching, by_new.verified, _token=_CONSTRUCT)

    # -- members' documents

    def pin_member(self, city_id: str, bundle: bytes, *, now: dt.datetime) -> TrustedState:
        """Start trusting a member from its bundle, pinned by the fingerprint listed (§5)."""
        member = self.member_list.member(city_id)
        if member is None:
            raise CityMismatchError(f"{city_id} is not a member of {self.alliance_id}")
        state = TrustedState.from_pinned_bundle(bundle, fingerprint=member.fingerprint, now=now)
        if state.city_id != member.city_id:
            raise CityMismatchError(
                f"the bundle is {state.city_id}'s, the list names {member.city_id}"
            )
        return state

    def vouches_for(self, state: TrustedState) -> bool:
        """Whether a member state held still descends from the root the list names.

        True when its root is the listed one, or its previous root is (the member
        rotated its root after the list was issued, with both roots' signatures).
        """
        member = self.member_list.member(state.city_id)
        if member is None:
            return False
        return any(_root_sha256(r) == member.root_fingerprint for r in state.roots)

    # -- accessors

    @property
    def member_list(self) -> MemberList:
        """The accepted list."""
        return self._doc.member_list

    @property
    def alliance_id(self) -> str:
        """The alliance's id."""
        return self._doc.member_list.alliance_id

    @property
    def version(self) -> int:
        """The version held."""
        return self._doc.member_list.version

    @property
    def raw(self) -> bytes:
        """The list as signed, to serve to others."""
        return self._doc.raw

    @property
    def signers(self) -> frozenset[str]:
        """Members whose signatures on the held list were verified."""
        return self._signers

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        """Roots that vouched for the held list."""
        return self._roots

    def expired(self, now: dt.datetime) -> bool:
        """Whether the held list is past its ``expires_at`` (members' cards then wait)."""
        return _now(now) >= self._doc.member_list.expires_at
