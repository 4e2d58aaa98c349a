"""Verify a card's QR against this city's keys and its partners' trust data.

The answer follows SPEC §6. The holder is included only after the signature checked
out. Nothing about the card or its holder is logged or stored: only a count per
status and day (``VerificationCounter``), flushed in batches so the hot path does
not write to the database on every scan.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from cardservice import credential, pki, trust
from cardservice.models import VerificationCount
from cardservice.services.citykeys import CityKeys


@dataclass(frozen=True)
class IssuerInfo:
    """A city whose cards this instance can check."""

    id: str
    name: str
    own: bool
    suspended: bool = False
    #: The alliance through which this city is recognised (None: own city or partner).
    alliance: str | None = None


@dataclass(frozen=True)
class PartnerTrust:
    """A partner city as verification sees it: who it is, and the trusted state held."""

    info: IssuerInfo
    state: trust.TrustedState
    #: For an alliance member: when the member list that vouches for it expires. After
    #: that its cards cannot be judged (a list withheld must not keep a member forever).
    vouched_until: datetime | None = None

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        """The partner's root, then its previous root."""
        return self.state.roots

    @property
    def signing_certificates(self) -> tuple[x509.Certificate, ...]:
        """Every signing certificate of the partner's bundle."""
        return tuple(k.certificate for k in self.state.bundle.signing_keys)

    def revoked_serials(self) -> list[str]:
        """Serials the partner's latest accepted list revokes, sorted."""
        rl = self.state.revocations
        return sorted(r.serial for r in rl.revoked) if rl is not None else []


@dataclass(frozen=True)
class VerificationResult:
    """The SPEC §6 verify answer."""

    status: str
    issuer: IssuerInfo | None = None
    serial: str | None = None
    issued_at: datetime | None = None
    expires_at: datetime | None = None
    holder_name: str | None = None
    holder_date_of_birth: date | None = None
    holder_gender: str | None = None
    trust_data_age_seconds: int | None = None
    message: str = ""
    #: Reasons to doubt a ``valid`` answer: ``revocations_stale`` (see :func:`verify_qr`).
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        """Only ``valid`` is valid."""
        return self.status == "valid"

    def as_json(self) -> dict[str, Any]:
        """The JSON body of ``POST /api/v1/verify``."""
        body: dict[str, Any] = {"valid": self.valid, "status": self.status}
        if self.issuer is not None:
            body["issuer"] = {"id": self.issuer.id, "name": self.issuer.name,
                              "own": self.issuer.own}
            if self.issuer.alliance is not None:
                body["issuer"]["alliance"] = self.issuer.alliance
        if self.serial is not None and self.issued_at and self.expires_at:
            body["card"] = {"serial": self.serial, "issued_at": _iso(self.issued_at),
                            "expires_at": _iso(self.expires_at)}
        if self.holder_name is not None and self.holder_date_of_birth is not None:
            body["holder"] = {"name": self.holder_name,
                              "date_of_birth": self.holder_date_of_birth.isoformat()}
            if self.holder_gender:
                body["holder"]["gender"] = self.holder_gender
        body["trust_data_age_seconds"] = self.trust_data_age_seconds
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return body


def _iso(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class OwnCertificates:
    """This city's roots (current first) and signing certificates by kid.

    Re-read when keys.json changes (a rotation by another process); the file is looked
    at no more than once a second, so a rotation reaches every process within that.
    """

    RECHECK_SECONDS = 1.0

    def __init__(self, keys: CityKeys) -> None:
        self._keys = keys
        self._stamp: int | None = None
        self._checked = float("-inf")
        self._value: OwnTrust | None = None
        self._lock = threading.Lock()

    def get(self) -> OwnTrust:
        """The current certificates."""
        now = time.monotonic()
        value = self._value
        if value is not None and now - self._checked < self.RECHECK_SECONDS:
            return value
        meta = self._keys.store.directory / self._keys.store.METADATA
        stamp = os.stat(meta).st_mtime_ns
        if value is not None and stamp == self._stamp:
            self._checked = now
            return value
        with self._lock:
            self._keys.store.root_certificate()  # refuses an inconsistent keys directory
            signing = tuple(self._keys.store.signing_certificates())
            by_kid: dict[bytes, list[x509.Certificate]] = {}
            for cert in signing:
                by_kid.setdefault(pki.key_id(cert), []).append(cert)
            value = OwnTrust(roots=tuple(self._keys.store.roots()), signing=signing,
                             by_kid={k: tuple(v) for k, v in by_kid.items()})
            self._value, self._stamp, self._checked = value, stamp, now
            return value


@dataclass(frozen=True)
class OwnTrust:
    """This city's certificates as verification uses them."""

    roots: tuple[x509.Certificate, ...]
    signing: tuple[x509.Certificate, ...]
    by_kid: Mapping[bytes, tuple[x509.Certificate, ...]]


class CityTrust(credential.TrustAnchors):
    """Trust anchors for one verification at ``now``: this city plus its partners.

    Partners' anchors are ``trust.PartnerTrustAnchors`` over their trusted states; this
    adds the city's own certificates, the local suspension of a partner and the expiry
    of its trust data.
    """

    def __init__(self, *, own_id: str, own_name: str, own: OwnCertificates,
                 partners: Mapping[str, PartnerTrust], now: datetime) -> None:
        self.own_id = own_id
        self.own_name = own_name
        self._own = own
        self.partners = partners
        self._partner_anchors = trust.PartnerTrustAnchors(p.state for p in partners.values())
        self.now = now

    def issuer(self, issuer: str) -> IssuerInfo | None:
        """Who ``issuer`` is, if this instance knows it."""
        if issuer == self.own_id:
            return IssuerInfo(self.own_id, self.own_name, own=True)
        p = self.partners.get(issuer)
        return p.info if p is not None else None

    def roots_for(self, issuer: str) -> Sequence[x509.Certificate]:
        """Trusted roots of ``issuer``; a suspended partner stops here."""
        if issuer == self.own_id:
            return self._own.get().roots
        p = self.partners.get(issuer)
        if p is None:
            return ()
        if p.info.suspended:
            raise credential.PartnerSuspendedError(
                f"{p.info.name}'s cards are not recognised at the moment.")
        if p.state.bundle_expired(self.now):
            # The partner's keys are vouched for only until its bundle expires: after
            # that (sync failing or blocked) its cards cannot be judged, whatever they say.
            raise credential.TrustExpiredError(
                f"{p.info.name}'s trust data expired here; sync the partner city.")
        if p.vouched_until is not None and self.now >= p.vouched_until:
            raise credential.TrustExpiredError(
                f"The member list of {p.info.alliance} expired here; sync the alliance.")
        return self._partner_anchors.roots_for(issuer)

    def own_certificates(self) -> tuple[tuple[x509.Certificate, ...],
                                        tuple[x509.Certificate, ...]]:
        """This city's (roots, signing certificates)."""
        own = self._own.get()
        return own.roots, own.signing

    def signing_certificates_for(self, issuer: str, kid: bytes) -> Sequence[x509.Certificate]:
        """Signing certificates of ``issuer`` with ``kid``."""
        if issuer == self.own_id:
            return self._own.get().by_kid.get(kid, ())
        return self._partner_anchors.signing_certificates_for(issuer, kid)

    def is_revoked(self, issuer: str, serial: str) -> bool:
        """Whether a partner's latest accepted list revokes the card (own cards: see
        ``verify_qr``, which asks the database)."""
        return self._partner_anchors.is_revoked(issuer, serial)


class VerificationCounter:
    """Counts per (day, status), kept in memory and added to the database in batches.

    Only counts: no serial, name or QR text is ever recorded. A crash can lose the
    counts of the last batch, never anything a user was told. One thread flushes at a
    time: ``take`` hands the pending counts to it, ``give_back`` returns them when the
    database refused them.
    """

    def __init__(self, *, flush_every: int = 200, flush_seconds: float = 30.0) -> None:
        self._pending: Counter[tuple[date, str]] = Counter()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._flush_every = flush_every
        self._flush_seconds = flush_seconds
        self._last_flush: float | None = None

    def add(self, status: str, *, now: datetime) -> None:
        """Count one verification."""
        with self._lock:
            self._pending[(now.date(), status)] += 1

    def due(self, *, monotonic: float) -> bool:
        """Whether a flush is due."""
        with self._lock:
            if not self._pending:
                return False
            if self._last_flush is None:
                self._last_flush = monotonic
            return (sum(self._pending.values()) >= self._flush_every
                    or monotonic - self._last_flush >= self._flush_seconds)

    def pending_by_status(self) -> dict[str, int]:
        """This process's counts not yet added to the database, per status."""
        with self._lock:
            totals: Counter[str] = Counter()
            for (_day, status), n in self._pending.items():
                totals[status] += n
            return dict(totals)

    @contextmanager
    def take(self, *, monotonic: float | None = None) -> Iterator[Counter[tuple[date, str]]]:
        """The pending counts for one flusher (empty when another thread is flushing).

        If the block raises, the counts are kept for the next flush.
        """
        if not self._flushing.acquire(blocking=False):
            yield Counter()  # another thread is flushing; these counts go with the next one
            return
        try:
            with self._lock:
                pending, self._pending = self._pending, Counter()
                self._last_flush = monotonic
            try:
                yield pending
            except BaseException:
                with self._lock:
                    self._pending.update(pending)
                raise
        finally:
            self._flushing.release()


def add_counts(session: Session, pending: Mapping[tuple[date, str], int]) -> None:
    """Add counts per (day, status) to the stored totals."""
    for (day, status), n in sorted(pending.items()):
        row = session.scalar(select(VerificationCount).where(
            VerificationCount.day == day, VerificationCount.status == status
        ).with_for_update())
        if row is None:
            session.add(VerificationCount(day=day, status=status, count=n))
        else:
            row.count += n
    session.flush()


#: A warning on a ``valid`` partner card: the partner's revocation list held here is
#: missing, past its ``next_update``, or issued longer ago than the configured limit.
REVOCATIONS_STALE = "revocations_stale"


def revocations_stale(partner: PartnerTrust, *, now: datetime, max_age: timedelta) -> bool:
    """Whether ``partner``'s revocation list held here is too old to vouch for a card."""
    rl = partner.state.revocations
    if rl is None or partner.state.revocations_stale(now):
        return True
    return now - rl.issued_at > max_age


def verify_qr(
    qr: str, *, anchors: CityTrust, now: datetime,
    own_is_revoked: Callable[[str], bool], revocations_max_age: timedelta,
) -> VerificationResult:
    """Check one card at ``now``: every status of SPEC §6, holder only after the signature.

    Freshness (issue 11): a partner whose bundle has expired here gives
    ``trust_expired`` (from ``CityTrust.roots_for``); a ``valid`` card of a partner
    whose revocation list is stale (:func:`revocations_stale`) carries the warning
    ``revocations_stale``: a card the partner cancelled since may still read valid.
    """

    def revoked(issuer: str, serial: str) -> bool:
        if issuer == anchors.own_id:
            return own_is_revoked(serial)
        return anchors.is_revoked(issuer, serial)

    try:
        card = credential.verify_card(qr, trust=anchors, now=now, is_revoked=revoked)
    except credential.CardVerificationError as exc:
        return _result(exc.status, exc.claims, anchors=anchors, now=now, message=exc.message)
    result = _result("valid", card.claims, anchors=anchors, now=now)
    partner = anchors.partners.get(card.claims.issuer)
    if partner is not None and revocations_stale(partner, now=now,
                                                 max_age=revocations_max_age):
        result = replace(result, warnings=(REVOCATIONS_STALE,))
    return result


def _result(status: str, claims: credential.CardClaims | None, *, anchors: CityTrust,
            now: datetime, message: str = "") -> VerificationResult:
    if claims is None:
        return VerificationResult(status=status, message=message)
    issuer = anchors.issuer(claims.issuer)
    age = _age(anchors, claims.issuer, now)
    return VerificationResult(
        status=status, issuer=issuer, serial=claims.serial, issued_at=claims.issued_at,
        expires_at=claims.expires_at, holder_name=claims.holder.name,
        holder_date_of_birth=claims.holder.date_of_birth, holder_gender=claims.holder.gender,
        trust_data_age_seconds=age, message=message,
    )


def _age(anchors: CityTrust, issuer: str, now: datetime) -> int | None:
    if issuer == anchors.own_id:
        return 0  # own keys and revocations are read live
    p = anchors.partners.get(issuer)
    return None if p is None else p.state.trust_data_age_seconds(now)


# ---- trust data for offline verification ----------------------------------------------------

def _iso_or_none(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _issuer_json(cid: str, name: str, own: bool, suspended: bool,
                 roots: Sequence[x509.Certificate], signing: Sequence[x509.Certificate],
                 revoked: list[str], age: int | None,
                 expires_at: datetime | None = None) -> dict[str, Any]:
    keys = []
    for cert in signing:
        if not pki.chains_to(cert, roots):
            continue
        public = cert.public_key()
        assert isinstance(public, Ed25519PublicKey)  # the chain check accepts Ed25519 only
        raw = public.public_bytes_raw()
        keys.append({
            "kid": pki.key_id(cert).hex(),
            "public_key": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "not_before": _iso_or_none(cert.not_valid_before_utc),
            "not_after": _iso_or_none(cert.not_valid_after_utc),
        })
    return {"id": cid, "name": name, "own": own, "suspended": suspended,
            "fingerprint": pki.fingerprint(roots[0]), "keys": keys, "revoked": revoked,
            "trust_data_age_seconds": age,
            # A partner's bundle expiry: offline, its cards read trust_expired after.
            "trust_data_expires_at": None if expires_at is None else _iso_or_none(expires_at)}


def offline_trust_data(anchors: CityTrust, *, own_revoked: Sequence[str], now: datetime
                       ) -> dict[str, Any]:
    """Public keys and revoked serials of every recognised city, for offline checks.

    Only certificates that chain to a trusted root are included, so a verifier can trust
    what it caches; holds no personal data.
    """
    roots, signing = anchors.own_certificates()
    issuers = [_issuer_json(anchors.own_id, anchors.own_name, True, False, roots, signing,
                            list(own_revoked), 0)]
    for p in anchors.partners.values():
        until = p.state.expires_at
        if p.vouched_until is not None:
            until = min(until, p.vouched_until)
        entry = _issuer_json(p.info.id, p.info.name, False, p.info.suspended, p.roots,
                             p.signing_certificates, p.revoked_serials(),
                             p.state.trust_data_age_seconds(now), until)
        if p.info.alliance is not None:
            entry["alliance"] = p.info.alliance
        issuers.append(entry)
    return {"generated_at": _iso_or_none(now), "issuers": issuers}


def _b64url(data: bytes | None) -> str | None:
    return None if data is None else base64.urlsafe_b64encode(data).decode().rstrip("=")


def offline_documents(anchors: CityTrust, *, own_bundle: bytes, own_revocations: bytes
                      ) -> list[dict[str, Any]]:
    """The signed documents themselves (Base64url COSE), for verifiers that check them.

    The verify page keeps these, not the JSON summary, and checks every signature in the
    browser from the roots pinned in the page (:func:`offline_pins`), so data tampered
    with on the device cannot vouch for a key.
    """
    docs = [{"id": anchors.own_id, "bundle": _b64url(own_bundle),
             "revocations": _b64url(own_revocations)}]
    for p in anchors.partners.values():
        docs.append({"id": p.info.id, "bundle": _b64url(p.state.raw_bundle),
                     "revocations": _b64url(p.state.raw_revocations)})
    return docs


def offline_pins(anchors: CityTrust) -> list[dict[str, Any]]:
    """Who the verify page may trust offline: each recognised city's root fingerprint
    (SHA-256 of the root DER, 64 lower-case hex digits), name and local suspension."""
    roots, _signing = anchors.own_certificates()
    pins = [{"id": anchors.own_id, "name": anchors.own_name, "own": True, "suspended": False,
             "root_sha256": _sha256_hex(roots[0])}]
    for p in anchors.partners.values():
        pin = {"id": p.info.id, "name": p.info.name, "own": False,
               "suspended": p.info.suspended, "root_sha256": _sha256_hex(p.state.root)}
        if p.info.alliance is not None:
            pin["alliance"] = p.info.alliance
        pins.append(pin)
    return pins


def _sha256_hex(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
