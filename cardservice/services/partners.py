"""Partner cities: pin by fingerprint, sync trust data, suspend, remove, recognition requests.

Rules:
1. Nothing from a partner is trusted unless it chains to the root whose fingerprint an
   admin entered, as given by the partner's officials through another channel.
2. Sync accepts a bundle or revocation list only through ``trust.TrustedState``: signed
   by the pinned root (or a rotation signed by old and new root), not older than what
   is held, not expired. A refused document leaves the stored state exactly as it was;
   only the sync result is recorded.
3. Fetching goes through :mod:`cardservice.fetcher` (http(s) only, no redirect to
   another host, one deadline and a size cap per fetch); TLS is not what makes a
   document trusted (rule 1 is). Nothing named by a document is fetched before that
   document is verified: a new partner's revocation list comes from the
   ``revocations_url`` of its bundle only once the bundle matched the pinned fingerprint.
4. A failed fetch tells the admin which document did not come, in one sentence whatever
   the network did (refused, unreachable, 404, time-out, redirect elsewhere): the
   details go to the server log, so the error text cannot be used to map the network.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cardservice import fetcher, pki, trust
from cardservice.errors import N_, ConflictError, DomainError, InvalidInputError, NotFoundError
from cardservice.models import Counter, Partner, RecognitionRequest
from cardservice.services import audit
from cardservice.services.verification import IssuerInfo, PartnerTrust

WELL_KNOWN = "/.well-known/citycard"
#: Wall-clock seconds for all the fetches of one partner operation (add, sync, request).
FETCH_SECONDS = 20.0
VERSION_COUNTER = "partners"

log = logging.getLogger("cardservice.partners")

BUNDLE_NOT_FETCHED = N_("The partner's server did not answer with its trust bundle. Check the "
                        "address and try again later; the server log has the details.")
REVOCATIONS_NOT_FETCHED = N_("The partner's server did not answer with its revocation list. "
                             "Try again later; the server log has the details.")
REQUEST_NOT_SENT = N_("The other city's server did not take our recognition request. Check "
                      "the address and try again later; the server log has the details.")


class PartnerFetchError(DomainError):
    """The partner's server could not be reached or answered badly."""

    code = "partner_unreachable"
    http_status = 502


class RequestQueueFullError(DomainError):
    """Recognition requests wait for an admin; no more are taken for now."""

    code = "too_many_requests"
    http_status = 429


class PartnerTrustError(DomainError):
    """The partner's documents were refused; ``trust_code`` is the trust rule that refused them."""

    code = "partner_refused"
    http_status = 422
    trust_code = "refused"


@dataclass(frozen=True)
class PartnerView:
    """A partner as the admin page lists it."""

    id: int
    city_id: str
    name: str
    base_url: str
    fingerprint: str
    status: str
    bundle_version: int
    bundle_expires_at: datetime
    revocations_sequence: int | None
    added_at: datetime
    last_sync_at: datetime | None
    last_sync_ok_at: datetime | None
    last_sync_result: str | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        def t(v: datetime | None) -> str | None:
            return v.strftime("%Y-%m-%dT%H:%M:%SZ") if v else None
        return {"id": self.id, "city_id": self.city_id, "name": self.name,
                "base_url": self.base_url, "fingerprint": self.fingerprint,
                "status": self.status, "bundle_version": self.bundle_version,
                "bundle_expires_at": t(self.bundle_expires_at),
                "revocations_sequence": self.revocations_sequence,
                "added_at": t(self.added_at), "last_sync_at": t(self.last_sync_at),
                "last_sync_ok_at": t(self.last_sync_ok_at),
                "last_sync_result": self.last_sync_result}


def fetch_deadline() -> float:
    """When a fetch of partner documents started now must give up."""
    return time.monotonic() + FETCH_SECONDS


def download_document(url: str, *, max_bytes: int, deadline: float, failure: str) -> bytes:
    """GET one partner document; any failure is ``failure``, the details are logged."""
    try:
        return fetcher.get(url, max_bytes=max_bytes, deadline=deadline)
    except fetcher.FetchError as exc:
        log.warning("partner fetch of %s failed: %s", url, exc.reason)
        raise PartnerFetchError(failure) from None


def base_url_of(url: str) -> str:
    """A city's base URL as given by an admin, checked and without its trailing slash."""
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query:
        raise InvalidInputError(N_("The partner's address is its base URL, e.g. "
                                "https://cards.lyon.example"), field="url")
    return url


def parsed_fingerprint(text: str) -> str:
    """A root fingerprint typed by an admin, normalised; a typed error names the field."""
    try:
        return pki.normalise_fingerprint(text)
    except pki.FingerprintFormatError:
        raise InvalidInputError(N_("A fingerprint is 64 hexadecimal digits (16 groups of 4)."),
                                field="fingerprint") from None


def _refused(exc: trust.TrustError) -> PartnerTrustError:
    # The trust module's own wording stays in English as a detail for the technical staff.
    messages = {
        trust.FingerprintMismatchError: N_("The fingerprint does not match this city's root "
                                           "key. Nothing was stored. Check the fingerprint "
                                           "with the partner's officials by another channel. "
                                           "(%(detail)s)"),
        trust.RollbackError: N_("The partner sent older trust data than we hold (refused: no "
                                "rollback). (%(detail)s)"),
        trust.ExpiredTrustDataError: N_("The partner's trust data has expired. (%(detail)s)"),
        trust.RootRotationError: N_("A new root key was not signed by the root we trust. "
                                    "(%(detail)s)"),
    }
    refused = PartnerTrustError(N_("The partner's trust data was refused: %(detail)s"),
                                params={"detail": str(exc)})
    for cls, msg in messages.items():
        if isinstance(exc, cls):
            refused = PartnerTrustError(msg, params={"detail": str(exc)})
            break
    refused.trust_code = exc.code
    return refused


def bump_trust_version(session: Session) -> None:
    """Count a change of the trust data others serve from us (partners, alliances)."""
    result = session.execute(update(Counter).where(Counter.name == VERSION_COUNTER)
                             .values(value=Counter.value + 1))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        session.add(Counter(name=VERSION_COUNTER, value=1))


def _view(p: Partner, state: trust.TrustedState | None = None) -> PartnerView:
    st = state or trust.TrustedState.from_bytes(p.state, fingerprint=p.fingerprint)
    rl = st.revocations
    return PartnerView(p.id, p.city_id, p.name, p.base_url, st.fingerprint, p.status,
                       st.version, st.expires_at, rl.sequence if rl else None, p.added_at,
                       p.last_sync_at, p.last_sync_ok_at, p.last_sync_result)


def add_partner_from_documents(
    session: Session, *, bundle: bytes, revocations: bytes | None, fingerprint: str,
    own_city_id: str, actor: str, now: datetime, url: str | None = None,
) -> PartnerView:
    """Pin a partner from its signed bundle (fetched or imported from a file)."""
    fp = parsed_fingerprint(fingerprint)
    try:
        state = trust.TrustedState.from_pinned_bundle(bundle, fingerprint=fp, now=now)
        if revocations is not None:
            state = state.update_revocations(revocations, now=now)
    except trust.TrustError as exc:
        raise _refused(exc) from None
    if state.city_id == own_city_id:
        raise ConflictError(N_("This is our own city."))
    if session.scalar(select(Partner.id).where(Partner.city_id == state.city_id)) is not None:
        raise ConflictError(N_("%(city)s is already a partner."), params={"city": state.city_id})
    partner = Partner(city_id=state.city_id, name=state.bundle.city_name,
                      base_url=url or state.bundle.base_url, fingerprint=state.fingerprint,
                      state=state.to_bytes(), status="active", added_at=now,
                      last_sync_at=now, last_sync_ok_at=now, last_sync_result="ok")
    session.add(partner)
    session.flush()
    bump_trust_version(session)
    audit.record(session, actor=actor, action="partner.add", target_type="partner",
                 target_id=partner.city_id, now=now,
                 details={"fingerprint": state.fingerprint, "version": state.version})
    return _view(partner, state)


@dataclass(frozen=True)
class FetchedDocuments:
    """A partner's bundle and revocation list as fetched, not yet checked."""

    base_url: str
    bundle: bytes
    revocations: bytes


def fetch_documents(url: str, *, fingerprint: str, now: datetime) -> FetchedDocuments:
    """Fetch a new partner's bundle, check it against ``fingerprint``, then its list.

    No database here. The revocation list is fetched from the ``revocations_url`` of the
    bundle only after the bundle verified against the pinned fingerprint: an address in
    a document nobody vouched for is never visited.
    """
    base = base_url_of(url)
    fp = parsed_fingerprint(fingerprint)  # refused before any network call when malformed
    deadline = fetch_deadline()
    bundle = download_document(f"{base}{WELL_KNOWN}/trust-bundle",
                               max_bytes=trust.MAX_BUNDLE_BYTES, deadline=deadline,
                               failure=BUNDLE_NOT_FETCHED)
    try:
        state = trust.TrustedState.from_pinned_bundle(bundle, fingerprint=fp, now=now)
    except trust.TrustError as exc:
        raise _refused(exc) from None
    revocations = download_document(state.bundle.revocations_url,
                                    max_bytes=trust.MAX_REVOCATION_LIST_BYTES,
                                    deadline=deadline, failure=REVOCATIONS_NOT_FETCHED)
    return FetchedDocuments(base, bundle, revocations)


def fetch_updates(base_url: str) -> tuple[bytes, bytes]:
    """Fetch a known partner's current bundle and revocation list (one deadline for both)."""
    deadline = fetch_deadline()
    bundle = download_document(f"{base_url}{WELL_KNOWN}/trust-bundle",
                               max_bytes=trust.MAX_BUNDLE_BYTES, deadline=deadline,
                               failure=BUNDLE_NOT_FETCHED)
    revocations = download_document(f"{base_url}{WELL_KNOWN}/revocations",
                                    max_bytes=trust.MAX_REVOCATION_LIST_BYTES, deadline=deadline,
                                    failure=REVOCATIONS_NOT_FETCHED)
    return bundle, revocations


def city_of_bundle(data: bytes) -> str:
    """The city a bundle file claims to be from (unverified: only to route an import)."""
    try:
        return trust.decode_bundle_unverified(data).city_id
    except trust.TrustError as exc:
        raise InvalidInputError(N_("This file is not a trust bundle: %(detail)s"),
                                params={"detail": str(exc)}) from None


def is_partner(session: Session, city_id: str) -> bool:
    """Whether ``city_id`` is a partner already."""
    return session.scalar(select(Partner.id).where(Partner.city_id == city_id)) is not None


def _get(session: Session, partner_id: int | str) -> Partner:
    # A row id is a few ASCII digits: str.isdigit() also takes "²" (int() refuses it) and
    # 30 digits (no database integer holds them); both were 500s, now plain "no such partner".
    key = str(partner_id)
    if re.fullmatch(r"[0-9]{1,18}", key):
        p = session.get(Partner, int(key))
    else:
        p = session.scalar(select(Partner).where(Partner.city_id == key.upper()))
    if p is None:
        raise NotFoundError(N_("No such partner city."))
    return p


def apply_documents(session: Session, partner_id: int | str, *, bundle: bytes | None,
                    revocations: bytes | None, actor: str, now: datetime) -> PartnerView:
    """Offer new documents for a partner; store them only if every check passes."""
    p = _get(session, partner_id)
    held = trust.TrustedState.from_bytes(p.state, fingerprint=p.fingerprint)
    try:
        state = held
        if bundle is not None:
            state = state.update_bundle(bundle, now=now)
        if revocations is not None:
            state = state.update_revocations(revocations, now=now)
    except trust.TrustError as exc:
        raise _refused(exc) from None
    p.state = state.to_bytes()
    p.fingerprint = state.fingerprint  # follows a verified root rotation
    p.name = state.bundle.city_name
    p.last_sync_at = p.last_sync_ok_at = now
    p.last_sync_result = "ok"
    bump_trust_version(session)
    audit.record(session, actor=actor, action="partner.sync", target_type="partner",
                 target_id=p.city_id, now=now,
                 details={"version": state.version,
                          "revocations": state.revocations.sequence if state.revocations
                          else None})
    return _view(p, state)


def record_sync_failure(session: Session, partner_id: int | str, error: DomainError, *,
                        actor: str, now: datetime) -> None:
    """Note a failed sync on the partner (its trust data stays exactly as it was).

    A refusal by the trust rules is also audited; an unreachable server is only noted.
    """
    p = _get(session, partner_id)
    p.last_sync_at = now
    p.last_sync_result = error.message[:500]
    if isinstance(error, PartnerTrustError):
        audit.record(session, actor=actor, action="partner.sync_refused", target_type="partner",
                     target_id=p.city_id, now=now, details={"error": error.trust_code})
    session.flush()


def set_status(session: Session, partner_id: int | str, *, suspended: bool, actor: str,
               now: datetime) -> PartnerView:
    """Suspend (cards read ``partner_suspended``) or resume recognition."""
    p = _get(session, partner_id)
    p.status = "suspended" if suspended else "active"
    bump_trust_version(session)
    audit.record(session, actor=actor, action="partner.suspend" if suspended
                 else "partner.resume", target_type="partner", target_id=p.city_id, now=now)
    session.flush()
    return _view(p)


def remove_partner(session: Session, partner_id: int | str, *, actor: str, now: datetime) -> None:
    """Stop recognising a partner and forget its trust data (its cards: ``unknown_issuer``)."""
    p = _get(session, partner_id)
    city = p.city_id
    session.delete(p)
    bump_trust_version(session)
    audit.record(session, actor=actor, action="partner.remove", target_type="partner",
                 target_id=city, now=now)
    session.flush()


def list_partners(session: Session) -> list[PartnerView]:
    """Every partner, by city id."""
    return [_view(p) for p in session.scalars(select(Partner).order_by(Partner.city_id))]


def get_partner(session: Session, partner_id: int | str) -> PartnerView:
    """One partner."""
    return _view(_get(session, partner_id))


# ---- verification data ---------------------------------------------------------------------

# How long a process trusts its cached partner data before asking the database whether it
# changed: a sync, suspension or removal reaches every app process within this time.
RECHECK_SECONDS = 1.0


def partners_version(session: Session) -> int:
    """A number that grows with every change to any partner (sync, suspend, remove)."""
    return session.scalar(select(Counter.value).where(Counter.name == VERSION_COUNTER)) or 0


def load_partner_trust(session: Session) -> dict[str, PartnerTrust]:
    """What verification needs of every partner, read from the stored trusted states."""
    built: dict[str, PartnerTrust] = {}
    for p in session.scalars(select(Partner)):
        built[p.city_id] = PartnerTrust(
            info=IssuerInfo(p.city_id, p.name, own=False, suspended=p.status != "active"),
            state=trust.TrustedState.from_bytes(p.state, fingerprint=p.fingerprint))
    return built


# ---- recognition requests ------------------------------------------------------------------

#: Pending requests kept per claimed city id, and in all: anyone may send one (the
#: endpoint is also rate-limited per client), so the queue is bounded.
MAX_PENDING_PER_CITY = 3
MAX_PENDING_REQUESTS = 50


def receive_recognition_request(session: Session, *, data: bytes, now: datetime
                                ) -> RecognitionRequest:
    """Store another city's signed request (its own current bundle) for an admin to judge.

    Only the form is checked here (a bundle signed by the root inside it): trust comes
    when an admin accepts it with the fingerprint given by another channel. Anyone can
    send a request naming any city id, so a new request never replaces a pending one:
    they wait side by side and the fingerprint check picks the genuine one. The same
    document sent again is the request already held. At most
    :data:`MAX_PENDING_PER_CITY` wait per city id and :data:`MAX_PENDING_REQUESTS` in all;
    more are refused until an admin decides.
    """
    try:
        bundle = trust.decode_bundle_unverified(data)
        # Self-consistency: it must verify against its own root, else it is noise.
        trust.TrustedState.from_pinned_bundle(data, fingerprint=bundle.fingerprint, now=now)
    except trust.TrustError as exc:
        raise PartnerTrustError(N_("This is not a valid signed trust bundle: %(detail)s"),
                                params={"detail": str(exc)}) from None
    pending = RecognitionRequest.status == "pending"
    same = session.scalar(select(RecognitionRequest).where(
        pending, RecognitionRequest.city_id == bundle.city_id, RecognitionRequest.data == data))
    if same is not None:
        return same
    for_city = session.scalar(select(func.count()).select_from(RecognitionRequest).where(
        pending, RecognitionRequest.city_id == bundle.city_id)) or 0
    if for_city >= MAX_PENDING_PER_CITY:
        raise RequestQueueFullError(
            N_("Requests from %(city)s are already waiting for an administrator of this city. "
               "Ask them by another channel to decide on them."), params={"city": bundle.city_id})
    waiting = session.scalar(select(func.count()).select_from(RecognitionRequest)
                             .where(pending)) or 0
    if waiting >= MAX_PENDING_REQUESTS:
        raise RequestQueueFullError(N_("Too many recognition requests are waiting for an "
                                       "administrator of this city. Try again later."))
    req = RecognitionRequest(city_id=bundle.city_id, name=bundle.city_name,
                             base_url=bundle.base_url, received_at=now, data=data,
                             status="pending")
    session.add(req)
    session.flush()
    return req


@dataclass(frozen=True)
class RecognitionRequestView:
    """A city's request to be recognised, as the admin page shows it."""

    id: int
    city_id: str
    name: str
    base_url: str
    received_at: datetime


def pending_recognition_requests(session: Session) -> list[RecognitionRequestView]:
    """Requests waiting for an admin."""
    rows = session.scalars(select(RecognitionRequest).where(
        RecognitionRequest.status == "pending").order_by(RecognitionRequest.received_at))
    # The bundle's own fingerprint is not shown: the admin types the one read out by the
    # other city's officials, and only that check makes the request trusted.
    return [RecognitionRequestView(r.id, r.city_id, r.name, r.base_url, r.received_at)
            for r in rows]


def decide_recognition_request(session: Session, request_id: int, *, accept: bool,
                               fingerprint: str, own_city_id: str, actor: str, now: datetime
                               ) -> PartnerView | None:
    """Accept (after the same fingerprint check as any partner) or reject a request."""
    req = session.get(RecognitionRequest, request_id)
    if req is None or req.status != "pending":
        raise NotFoundError(N_("No such pending request."))
    if not accept:
        req.status = "rejected"
        audit.record(session, actor=actor, action="recognition.reject", target_type="partner",
                     target_id=req.city_id, now=now)
        session.flush()
        return None
    view = add_partner_from_documents(session, bundle=req.data, revocations=None,
                                      fingerprint=fingerprint, own_city_id=own_city_id,
                                      actor=actor, now=now, url=req.base_url)
    req.status = "accepted"
    # The city is a partner now: other requests naming it can only be impostors or copies.
    for other in session.scalars(select(RecognitionRequest).where(
            RecognitionRequest.status == "pending", RecognitionRequest.city_id == req.city_id)):
        other.status = "superseded"
    session.flush()
    return view


def send_recognition_request(*, partner_url: str, bundle: bytes) -> None:
    """POST our signed bundle to a partner as a recognition request."""
    base = base_url_of(partner_url)
    url = f"{base}{WELL_KNOWN}/recognition-requests"
    try:
        fetcher.post(url, body=bundle, content_type="application/cose", deadline=fetch_deadline())
    except fetcher.FetchError as exc:
        log.warning("recognition request to %s failed: %s", url, exc.reason)
        raise PartnerFetchError(REQUEST_NOT_SENT) from None
