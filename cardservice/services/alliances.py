"""Alliances (SPEC §5b): member lists held, drafts and co-signing, members' trust data.

Rules:
1. A member list is held only through ``trust.AllianceState``: joined with k signatures
   of members whose fingerprints the admin confirmed, updated only with the held
   threshold of held members; a refused list changes nothing but the record of the
   refusal (last sync result and an audit entry).
2. Signatures are checked with root certificates this city has seen in bundles that
   matched a fingerprint (own roots, partners', members', :class:`~cardservice.models.KnownRoot`).
   A root counts for a member only when its SHA-256 is the fingerprint a list names, so
   a root held here trusts nothing by itself.
3. A member's trust bundle and revocation list are fetched from the ``base_url`` the
   held list names and accepted with the rules of §5 from the listed fingerprint
   (``AllianceState.pin_member``, then ``TrustedState`` updates). A bundle whose root is
   not the listed one is refused and recorded on that member; its cards stay unknown.
4. Our own city may be listed only with our own root; a list naming our city id with
   another root is refused whatever its signatures (someone claims to be us).
5. A member suspended here stays suspended across syncs and list versions.
6. Network fetches go through :mod:`cardservice.fetcher` with the partner rules (one
   deadline, size caps, no redirect elsewhere; failures logged, one sentence shown).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from cardservice import pki, trust
from cardservice.errors import N_, ConflictError, DomainError, InvalidInputError, NotFoundError
from cardservice.models import (
    Alliance,
    AllianceDraft,
    AllianceMember,
    AuditEntry,
    KnownRoot,
    Partner,
)
from cardservice.services import audit
from cardservice.services.partners import (
    WELL_KNOWN,
    PartnerFetchError,
    base_url_of,
    bump_trust_version,
    download_document,
    fetch_deadline,
    parsed_fingerprint,
)
from cardservice.services.verification import IssuerInfo, PartnerTrust
from cardservice.trust import alliance as al

log = logging.getLogger("cardservice.alliances")

LIST_NOT_FETCHED = N_("The member's server did not answer with the alliance's member list. "
                      "Try again later; the server log has the details.")
DRAFT_NOT_FETCHED = N_("The member's server did not answer with a draft of this alliance. "
                       "Check the address and try again later; the server log has the details.")
MEMBER_BUNDLE_NOT_FETCHED = N_("The member's server did not answer with its trust bundle. "
                               "Try again later; the server log has the details.")


class AllianceRefusedError(DomainError):
    """A member list or a member's documents were refused; ``trust_code`` says which rule."""

    code = "alliance_refused"
    http_status = 422
    trust_code = "refused"


def refused(exc: trust.TrustError) -> AllianceRefusedError:
    """The domain error for a refusal by the trust rules (their wording kept as detail)."""
    messages = {
        trust.InsufficientSignaturesError: N_("Not enough members signed this list. Nothing "
                                              "was changed. (%(detail)s)"),
        trust.UnconfirmedFingerprintsError: N_("Not enough fingerprints of members who signed "
                                               "were confirmed. Nothing was stored. "
                                               "(%(detail)s)"),
        trust.FingerprintMismatchError: N_("A fingerprint does not match. Nothing was stored. "
                                           "Check it with the member's officials by another "
                                           "channel. (%(detail)s)"),
        trust.RollbackError: N_("This list is older than, or conflicts with, the version held "
                                "(refused: no rollback). (%(detail)s)"),
        trust.ExpiredTrustDataError: N_("This list has expired. (%(detail)s)"),
        trust.AllianceMismatchError: N_("This list belongs to another alliance. (%(detail)s)"),
    }
    error = AllianceRefusedError(N_("The alliance's member list was refused: %(detail)s"),
                                 params={"detail": str(exc)})
    for cls, msg in messages.items():
        if isinstance(exc, cls):
            error = AllianceRefusedError(msg, params={"detail": str(exc)})
            break
    error.trust_code = exc.code
    return error


def _t(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


# ---- views ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberView:
    """A member of an alliance held, with what this city knows of it."""

    city_id: str
    name: str
    base_url: str
    listed_fingerprint: str
    fingerprint: str | None
    own: bool
    suspended: bool
    bundle_version: int | None
    revocations_sequence: int | None
    last_sync_at: datetime | None
    last_sync_ok_at: datetime | None
    last_sync_result: str | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"city_id": self.city_id, "name": self.name, "base_url": self.base_url,
                "listed_fingerprint": self.listed_fingerprint, "fingerprint": self.fingerprint,
                "own": self.own, "suspended": self.suspended,
                "bundle_version": self.bundle_version,
                "revocations_sequence": self.revocations_sequence,
                "last_sync_at": _t(self.last_sync_at),
                "last_sync_ok_at": _t(self.last_sync_ok_at),
                "last_sync_result": self.last_sync_result}


@dataclass(frozen=True)
class AllianceView:
    """An alliance held: its list's version, threshold, signers and members."""

    alliance_id: str
    name: str
    version: int
    threshold: int
    issued_at: datetime
    expires_at: datetime
    signers: tuple[str, ...]
    members: tuple[MemberView, ...]
    joined_at: datetime
    last_sync_at: datetime | None
    last_sync_result: str | None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"alliance_id": self.alliance_id, "name": self.name, "version": self.version,
                "threshold": self.threshold, "issued_at": _t(self.issued_at),
                "expires_at": _t(self.expires_at), "signers": list(self.signers),
                "members": [m.as_json() for m in self.members],
                "joined_at": _t(self.joined_at), "last_sync_at": _t(self.last_sync_at),
                "last_sync_result": self.last_sync_result}


@dataclass(frozen=True)
class MemberChange:
    """One line of a draft's changes: a member added, removed, or changed."""

    kind: str  # "added", "removed", "changed"
    city_id: str
    name: str
    base_url: str
    fingerprint: str
    old_fingerprint: str | None = None
    old_base_url: str | None = None


@dataclass(frozen=True)
class DraftView:
    """A draft of a member list: exactly what it changes, and who has signed it."""

    id: int
    alliance_id: str
    name: str
    version: int
    held_version: int | None
    threshold: int
    held_threshold: int | None
    name_change: tuple[str, str] | None
    changes: tuple[MemberChange, ...]
    members: tuple[MemberChange, ...]
    expires_at: datetime
    signed_by: tuple[str, ...]
    signatures_needed: int
    unverifiable: tuple[str, ...]
    signed_here: bool
    ready: bool
    status: str
    digest: str
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        """JSON-ready."""
        def change(c: MemberChange) -> dict[str, Any]:
            return {"change": c.kind, "city_id": c.city_id, "name": c.name,
                    "base_url": c.base_url, "fingerprint": c.fingerprint,
                    "old_fingerprint": c.old_fingerprint, "old_base_url": c.old_base_url}
        return {"id": self.id, "alliance_id": self.alliance_id, "name": self.name,
                "version": self.version, "held_version": self.held_version,
                "threshold": self.threshold, "held_threshold": self.held_threshold,
                "name_change": list(self.name_change) if self.name_change else None,
                "changes": [change(c) for c in self.changes],
                "members": [change(c) for c in self.members],
                "expires_at": _t(self.expires_at), "signed_by": list(self.signed_by),
                "signatures_needed": self.signatures_needed,
                "unverifiable": list(self.unverifiable), "signed_here": self.signed_here,
                "ready": self.ready, "status": self.status, "digest": self.digest,
                "updated_at": _t(self.updated_at)}


# ---- roots ---------------------------------------------------------------------------------


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def known_roots(session: Session, own: Sequence[x509.Certificate]) -> list[x509.Certificate]:
    """Every root certificate this city can check list signatures with (rule 2)."""
    roots = list(own)
    for row in session.scalars(select(KnownRoot)):
        roots.append(x509.load_der_x509_certificate(row.der))
    for p in session.scalars(select(Partner)):
        roots.extend(trust.TrustedState.from_bytes(p.state, fingerprint=p.fingerprint).roots)
    for m in session.scalars(select(AllianceMember).where(AllianceMember.state.is_not(None))):
        assert m.state is not None and m.fingerprint is not None
        roots.extend(trust.TrustedState.from_bytes(m.state, fingerprint=m.fingerprint).roots)
    for a in session.scalars(select(Alliance)):
        roots.extend(trust.AllianceState.from_bytes(a.state, alliance_id=a.alliance_id).roots)
    return roots


def remember_roots(session: Session, state: trust.TrustedState, *, now: datetime) -> None:
    """Keep the roots of a bundle that matched a fingerprint, to check list signatures."""
    for root in state.roots:
        fp = pki.fingerprint(root)
        if session.get(KnownRoot, fp) is None:
            session.add(KnownRoot(fingerprint=fp, city_id=state.city_id, der=_der(root),
                                  added_at=now))
    session.flush()


def fetch_member_roots(members: Iterable[al.AllianceMember], *, skip: Iterable[str],
                       now: datetime) -> list[trust.TrustedState]:
    """Fetch members' bundles and keep those whose root is the listed one (no database).

    ``skip`` are fingerprints whose roots are known already. A member that does not
    answer, or answers with another root, is left out: its signature stays unverifiable.
    """
    known = set(skip)
    found = []
    for member in members:
        if member.fingerprint in known:
            continue
        try:
            data = download_document(f"{member.base_url.rstrip('/')}{WELL_KNOWN}/trust-bundle",
                                     max_bytes=trust.MAX_BUNDLE_BYTES, deadline=fetch_deadline(),
                                     failure=MEMBER_BUNDLE_NOT_FETCHED)
            state = trust.TrustedState.from_pinned_bundle(data, fingerprint=member.fingerprint,
                                                          now=now)
        except (PartnerFetchError, trust.TrustError) as exc:
            log.warning("root of alliance member %s not learnt: %s", member.city_id, exc)
            continue
        if state.city_id == member.city_id:
            found.append(state)
    return found


# ---- fetching (no database) ----------------------------------------------------------------


def list_url(base_url: str, alliance_id: str) -> str:
    """Where a member serves the list it holds."""
    return f"{base_url_of(base_url)}{WELL_KNOWN}/alliances/{al.check_alliance_id(alliance_id)}"


def fetch_list(base_url: str, alliance_id: str) -> bytes:
    """GET a member's held list of ``alliance_id``."""
    return download_document(list_url(base_url, alliance_id), max_bytes=trust.MAX_ALLIANCE_BYTES,
                             deadline=fetch_deadline(), failure=LIST_NOT_FETCHED)


def fetch_draft(base_url: str, alliance_id: str) -> bytes:
    """GET the draft a member circulates for ``alliance_id``."""
    return download_document(list_url(base_url, alliance_id) + "/draft",
                             max_bytes=trust.MAX_ALLIANCE_BYTES, deadline=fetch_deadline(),
                             failure=DRAFT_NOT_FETCHED)


def check_alliance_id(value: str) -> str:
    """An alliance id as typed, or a 400 naming the rule."""
    try:
        return al.check_alliance_id(value)
    except trust.TrustFormatError:
        raise InvalidInputError(N_("An alliance id is lower-case letters, digits and '-' "
                                   "(e.g. migration-alliance)."), field="alliance_id") from None


def read_document(data: bytes) -> al.MemberListDocument:
    """A member list or draft file, read for its form (no trust yet)."""
    try:
        return al.read_member_list(data)
    except trust.TrustError as exc:
        raise InvalidInputError(N_("This is not an alliance member list: %(detail)s"),
                                params={"detail": str(exc)}) from None


# ---- alliances held ------------------------------------------------------------------------


def _alliance(session: Session, alliance_id: str) -> Alliance:
    row = session.scalar(select(Alliance).where(Alliance.alliance_id == alliance_id))
    if row is None:
        raise NotFoundError(N_("This city holds no member list of alliance %(alliance)s."),
                            params={"alliance": alliance_id})
    return row


def held_state(session: Session, alliance_id: str) -> trust.AllianceState | None:
    """The list held for ``alliance_id`` (None: not joined)."""
    row = session.scalar(select(Alliance).where(Alliance.alliance_id == alliance_id))
    if row is None:
        return None
    return trust.AllianceState.from_bytes(row.state, alliance_id=alliance_id)


def held_document(session: Session, alliance_id: str) -> bytes:
    """The signed list held, as served to others."""
    return trust.AllianceState.from_bytes(_alliance(session, alliance_id).state,
                                          alliance_id=alliance_id).raw


def _check_own_listing(ml: al.MemberList, *, own_city_id: str,
                       own_roots: Sequence[x509.Certificate]) -> None:
    member = ml.member(own_city_id)
    if member is None:
        return
    ours = {hashlib.sha256(_der(r)).digest() for r in own_roots}
    if member.root_fingerprint not in ours:
        raise ConflictError(N_("This list names our city %(city)s with a root that is not ours. "
                               "Nothing was stored."), params={"city": own_city_id})


def _sync_member_rows(session: Session, state: trust.AllianceState, *, own_city_id: str) -> None:
    """Members' rows follow the list: added, removed, renamed, re-pinned (rule 3)."""
    ml = state.member_list
    rows = {m.city_id: m for m in session.scalars(
        select(AllianceMember).where(AllianceMember.alliance_id == ml.alliance_id))}
    listed = {m.city_id: m for m in ml.members if m.city_id != own_city_id}
    for city_id, gone in rows.items():
        if city_id not in listed:
            session.delete(gone)
    for city_id, member in listed.items():
        row = rows.get(city_id)
        if row is None:
            session.add(AllianceMember(
                alliance_id=ml.alliance_id, city_id=city_id, name=member.city_name,
                base_url=member.base_url, listed_fingerprint=member.fingerprint,
                suspended=False))
            continue
        row.name, row.base_url = member.city_name, member.base_url
        if row.listed_fingerprint != member.fingerprint:
            row.listed_fingerprint = member.fingerprint
            held = _member_state(row)
            if held is None or not state.vouches_for(held):
                # The list re-pins this member to another root: what we held of it goes.
                row.state, row.fingerprint = None, None
                row.last_sync_result = "re-pinned by the member list; sync the alliance"
    session.flush()


def accept_list(session: Session, data: bytes, *, roots: Sequence[x509.Certificate],
                own_city_id: str, own_roots: Sequence[x509.Certificate], actor: str,
                now: datetime, confirmed: Sequence[str] | None = None,
                alliance_id: str | None = None) -> tuple[trust.AllianceState, bool]:
    """Join (``confirmed`` given, nothing held) or update an alliance from a signed list.

    Returns the state held afterwards and whether it changed. Raises
    :class:`AllianceRefusedError` and stores nothing on any refusal.
    """
    doc = read_document(data)
    target = alliance_id or doc.member_list.alliance_id
    row = session.scalar(select(Alliance).where(Alliance.alliance_id == target))
    try:
        if row is None:
            if confirmed is None:
                raise NotFoundError(N_("This city holds no member list of alliance "
                                       "%(alliance)s: join it first."),
                                    params={"alliance": target})
            for text in confirmed:
                parsed_fingerprint(text)
            state = trust.AllianceState.join(data, roots=roots, confirmed=confirmed, now=now,
                                             alliance_id=target)
        else:
            held = trust.AllianceState.from_bytes(row.state, alliance_id=target)
            state = held.update(data, roots=roots, now=now)
            if state is held:
                return held, False
    except trust.TrustError as exc:
        raise refused(exc) from None
    _check_own_listing(state.member_list, own_city_id=own_city_id, own_roots=own_roots)
    ml = state.member_list
    if row is None:
        row = Alliance(alliance_id=ml.alliance_id, name=ml.name, version=ml.version,
                       state=state.to_bytes(), joined_at=now, updated_at=now,
                       last_sync_at=now, last_sync_result="ok")
        session.add(row)
        action = "alliance.join"
    else:
        row.name, row.version, row.state = ml.name, ml.version, state.to_bytes()
        row.updated_at = row.last_sync_at = now
        row.last_sync_result = "ok"
        action = "alliance.update"
    _sync_member_rows(session, state, own_city_id=own_city_id)
    for draft in session.scalars(select(AllianceDraft).where(
            AllianceDraft.alliance_id == ml.alliance_id, AllianceDraft.status == "pending",
            AllianceDraft.version <= ml.version)):
        same = al.read_member_list(draft.data).envelope.payload == \
            al.read_member_list(state.raw).envelope.payload
        draft.status = "published" if same else "superseded"
        draft.updated_at = now
    bump_trust_version(session)
    audit.record(session, actor=actor, action=action, target_type="alliance",
                 target_id=ml.alliance_id, now=now,
                 details={"version": ml.version, "threshold": ml.threshold,
                          "members": list(ml.city_ids), "signers": sorted(state.signers)})
    session.flush()
    return state, True


def record_list_refusal(session: Session, alliance_id: str, *, source: str,
                        error: DomainError, actor: str, now: datetime) -> None:
    """Note a refused or unfetchable list (what is held stays as it was)."""
    row = session.scalar(select(Alliance).where(Alliance.alliance_id == alliance_id))
    if row is not None:
        row.last_sync_at = now
        row.last_sync_result = f"{source}: {error.message}"[:500]
    if isinstance(error, AllianceRefusedError):
        audit.record(session, actor=actor, action="alliance.refused", target_type="alliance",
                     target_id=alliance_id, now=now,
                     details={"source": source, "error": error.trust_code})
    session.flush()


def list_alliances(session: Session, *, own_city_id: str) -> list[AllianceView]:
    """Every alliance held, by id."""
    return [_alliance_view(session, a, own_city_id=own_city_id)
            for a in session.scalars(select(Alliance).order_by(Alliance.alliance_id))]


def get_alliance(session: Session, alliance_id: str, *, own_city_id: str) -> AllianceView:
    """One alliance held."""
    return _alliance_view(session, _alliance(session, alliance_id), own_city_id=own_city_id)


def _member_state(row: AllianceMember) -> trust.TrustedState | None:
    if row.state is None or row.fingerprint is None:
        return None
    return trust.TrustedState.from_bytes(row.state, fingerprint=row.fingerprint)


def _alliance_view(session: Session, a: Alliance, *, own_city_id: str) -> AllianceView:
    state = trust.AllianceState.from_bytes(a.state, alliance_id=a.alliance_id)
    ml = state.member_list
    rows = {m.city_id: m for m in session.scalars(
        select(AllianceMember).where(AllianceMember.alliance_id == a.alliance_id))}
    members = []
    for listed in ml.members:
        row = rows.get(listed.city_id)
        held = _member_state(row) if row is not None else None
        rl = held.revocations if held is not None else None
        members.append(MemberView(
            city_id=listed.city_id, name=listed.city_name, base_url=listed.base_url,
            listed_fingerprint=listed.fingerprint,
            fingerprint=held.fingerprint if held is not None else None,
            own=listed.city_id == own_city_id,
            suspended=bool(row is not None and row.suspended),
            bundle_version=held.version if held is not None else None,
            revocations_sequence=rl.sequence if rl is not None else None,
            last_sync_at=row.last_sync_at if row is not None else None,
            last_sync_ok_at=row.last_sync_ok_at if row is not None else None,
            last_sync_result=row.last_sync_result if row is not None else None))
    return AllianceView(a.alliance_id, ml.name, ml.version, ml.threshold, ml.issued_at,
                        ml.expires_at, tuple(sorted(state.signers)), tuple(members),
                        a.joined_at, a.last_sync_at, a.last_sync_result)


# ---- members' documents --------------------------------------------------------------------


def _member_row(session: Session, alliance_id: str, city_id: str) -> AllianceMember:
    row = session.scalar(select(AllianceMember).where(
        AllianceMember.alliance_id == alliance_id, AllianceMember.city_id == city_id.upper()))
    if row is None:
        raise NotFoundError(N_("%(city)s is not a member of alliance %(alliance)s held here."),
                            params={"city": city_id, "alliance": alliance_id})
    return row


def members_to_sync(session: Session, alliance_id: str) -> list[tuple[str, str]]:
    """(city id, base URL) of every other member of a held alliance."""
    return [(m.city_id, m.base_url) for m in session.scalars(
        select(AllianceMember).where(AllianceMember.alliance_id == alliance_id)
        .order_by(AllianceMember.city_id))]


def apply_member_documents(session: Session, alliance_id: str, city_id: str, *, bundle: bytes,
                           revocations: bytes | None, actor: str, now: datetime) -> None:
    """Accept a member's bundle and revocation list by the rules of §5 from the listed root."""
    state = trust.AllianceState.from_bytes(_alliance(session, alliance_id).state,
                                           alliance_id=alliance_id)
    row = _member_row(session, alliance_id, city_id)
    held = _member_state(row)
    try:
        if held is None:
            member = state.pin_member(row.city_id, bundle, now=now)
        else:
            member = held.update_bundle(bundle, now=now)
        if revocations is not None:
            member = member.update_revocations(revocations, now=now)
    except trust.TrustError as exc:
        raise refused(exc) from None
    first = held is None
    row.state, row.fingerprint = member.to_bytes(), member.fingerprint
    row.last_sync_at = row.last_sync_ok_at = now
    row.last_sync_result = "ok"
    remember_roots(session, member, now=now)
    bump_trust_version(session)
    audit.record(session, actor=actor,
                 action="alliance.member_pin" if first else "alliance.member_sync",
                 target_type="alliance", target_id=f"{alliance_id}/{row.city_id}", now=now,
                 details={"version": member.version,
                          "revocations": member.revocations.sequence if member.revocations
                          else None})
    session.flush()


def record_member_failure(session: Session, alliance_id: str, city_id: str, error: DomainError,
                          *, actor: str, now: datetime) -> None:
    """Note a failed member sync (what is held of it stays as it was)."""
    row = _member_row(session, alliance_id, city_id)
    row.last_sync_at = now
    row.last_sync_result = error.message[:500]
    if isinstance(error, AllianceRefusedError):
        audit.record(session, actor=actor, action="alliance.member_refused",
                     target_type="alliance", target_id=f"{alliance_id}/{row.city_id}", now=now,
                     details={"error": error.trust_code})
    session.flush()


def set_member_suspended(session: Session, alliance_id: str, city_id: str, *, suspended: bool,
                         actor: str, now: datetime) -> None:
    """Suspend (cards read ``partner_suspended``) or resume a member, here only."""
    row = _member_row(session, alliance_id, city_id)
    row.suspended = suspended
    bump_trust_version(session)
    audit.record(session, actor=actor,
                 action="alliance.member_suspend" if suspended else "alliance.member_resume",
                 target_type="alliance", target_id=f"{alliance_id}/{row.city_id}", now=now)
    session.flush()


def load_alliance_trust(session: Session, *, skip: Iterable[str]) -> dict[str, PartnerTrust]:
    """Verification data of every member of every alliance held (``skip``: cities known
    otherwise, own and partners: a bilateral pin comes first)."""
    taken = set(skip)
    built: dict[str, PartnerTrust] = {}
    for a in session.scalars(select(Alliance).order_by(Alliance.alliance_id)):
        vouched_until = trust.AllianceState.from_bytes(
            a.state, alliance_id=a.alliance_id).member_list.expires_at
        for m in session.scalars(select(AllianceMember).where(
                AllianceMember.alliance_id == a.alliance_id,
                AllianceMember.state.is_not(None)).order_by(AllianceMember.city_id)):
            if m.city_id in taken or m.city_id in built:
                continue
            state = _member_state(m)
            assert state is not None
            built[m.city_id] = PartnerTrust(
                info=IssuerInfo(m.city_id, m.name, own=False, suspended=m.suspended,
                                alliance=a.alliance_id),
                state=state, vouched_until=vouched_until)
    return built


# ---- drafts --------------------------------------------------------------------------------


def _digest(doc: al.MemberListDocument) -> str:
    return hashlib.sha256(doc.envelope.payload).hexdigest()


def store_draft(session: Session, data: bytes, *, actor: str, now: datetime,
                action: str) -> AllianceDraft:
    """Keep a draft; a copy of a draft held already brings its signatures to it."""
    doc = read_document(data)
    ml = doc.member_list
    held = held_state(session, ml.alliance_id)
    if held is not None and ml.version <= held.version:
        raise ConflictError(N_("Version %(version)s of %(alliance)s is not newer than the "
                               "version held (%(held)s)."),
                            params={"version": ml.version, "alliance": ml.alliance_id,
                                    "held": held.version})
    digest = _digest(doc)
    row = session.scalar(select(AllianceDraft).where(
        AllianceDraft.alliance_id == ml.alliance_id, AllianceDraft.digest == digest))
    if row is None:
        row = AllianceDraft(alliance_id=ml.alliance_id, version=ml.version, digest=digest,
                            data=doc.raw, status="pending", created_at=now, updated_at=now)
        session.add(row)
    else:
        row.data = al.merge_signatures(row.data, doc.raw)
        row.updated_at = now
    session.flush()
    audit.record(session, actor=actor, action=action, target_type="alliance",
                 target_id=ml.alliance_id, now=now,
                 details={"draft": row.id, "version": ml.version, "digest": digest[:16]})
    return row


def get_draft(session: Session, draft_id: int) -> AllianceDraft:
    """A draft by id."""
    row = session.get(AllianceDraft, draft_id)
    if row is None:
        raise NotFoundError(N_("No such alliance draft."))
    return row


def pending_drafts(session: Session, alliance_id: str | None = None) -> list[AllianceDraft]:
    """Drafts waiting for signatures or publication, newest version first."""
    q = select(AllianceDraft).where(AllianceDraft.status == "pending")
    if alliance_id is not None:
        q = q.where(AllianceDraft.alliance_id == alliance_id)
    return list(session.scalars(q.order_by(AllianceDraft.alliance_id,
                                           AllianceDraft.version.desc(), AllianceDraft.id)))


def circulated_draft(session: Session, alliance_id: str) -> bytes:
    """The pending draft of ``alliance_id`` served to members: the newest version, the
    one with the most signatures."""
    drafts = pending_drafts(session, alliance_id)
    if not drafts:
        raise NotFoundError(N_("No draft of this alliance is circulating here."))
    top = max(drafts, key=lambda d: (d.version, len(al.read_member_list(d.data).signer_kids),
                                     d.updated_at))
    return top.data


def _change(kind: str, m: al.AllianceMember, old: al.AllianceMember | None = None
            ) -> MemberChange:
    return MemberChange(kind, m.city_id, m.city_name, m.base_url, m.fingerprint,
                        old.fingerprint if old is not None and old.fingerprint != m.fingerprint
                        else None,
                        old.base_url if old is not None and old.base_url != m.base_url
                        else None)


def draft_view(session: Session, row: AllianceDraft, *, roots: Sequence[x509.Certificate],
               own_root: x509.Certificate) -> DraftView:
    """What a draft changes against the list held, and whose signatures verify."""
    doc = al.read_member_list(row.data)
    ml = doc.member_list
    held = held_state(session, ml.alliance_id)
    held_list = held.member_list if held is not None else None
    changes = al.diff_member_lists(held_list, ml)
    lines = ([_change("added", m) for m in changes.added]
             + [_change("removed", m) for m in changes.removed]
             + [_change("changed", new, old) for old, new in changes.changed])
    every = {m.city_id: m for m in ml.members}
    if held_list is not None:
        for m in held_list.members:
            every.setdefault(m.city_id, m)
    count = al.count_signatures(doc, members=tuple(every.values()), roots=roots)
    own_count = al.count_signatures(doc, members=ml.members, roots=roots)
    ready = len(own_count.verified) >= ml.threshold
    needed = ml.threshold
    if held_list is not None:
        by_held = al.count_signatures(doc, members=held_list.members, roots=roots)
        ready = ready and len(by_held.verified) >= held_list.threshold
        needed = max(needed, held_list.threshold)
    name_change = None
    if held_list is not None and held_list.name != ml.name:
        name_change = (held_list.name, ml.name)
    return DraftView(
        id=row.id, alliance_id=ml.alliance_id, name=ml.name, version=ml.version,
        held_version=held_list.version if held_list else None, threshold=ml.threshold,
        held_threshold=held_list.threshold if held_list else None, name_change=name_change,
        changes=tuple(sorted(lines, key=lambda c: c.city_id)),
        members=tuple(_change("listed", m) for m in ml.members), expires_at=ml.expires_at,
        signed_by=tuple(sorted(count.verified)), signatures_needed=needed,
        unverifiable=tuple(sorted(count.unverifiable)),
        signed_here=pki.key_id(own_root) in doc.signer_kids, ready=ready, status=row.status,
        digest=row.digest, updated_at=row.updated_at)



def fetch_member(url: str, fingerprint: str, *, now: datetime
                 ) -> tuple[al.AllianceMember, trust.TrustedState]:
    """A city to list, from its base URL and the fingerprint its officials gave (no database).

    Its bundle must match the fingerprint (§5 onboarding rules); the member entry takes
    the city id and name from the bundle and the base URL as given.
    """
    base = base_url_of(url)
    fp = parsed_fingerprint(fingerprint)
    data = download_document(f"{base}{WELL_KNOWN}/trust-bundle", max_bytes=trust.MAX_BUNDLE_BYTES,
                             deadline=fetch_deadline(), failure=MEMBER_BUNDLE_NOT_FETCHED)
    return member_from_bundle(data, fp, now=now, base_url=base)


def member_from_bundle(data: bytes, fingerprint: str, *, now: datetime,
                       base_url: str | None = None
                       ) -> tuple[al.AllianceMember, trust.TrustedState]:
    """A city to list, from its bundle (a file, for an offline exchange) and fingerprint.

    The base URL is the one given, else the one the bundle states (signed by its root).
    """
    fp = parsed_fingerprint(fingerprint)
    try:
        state = trust.TrustedState.from_pinned_bundle(data, fingerprint=fp, now=now)
    except trust.TrustError as exc:
        raise refused(exc) from None
    if state.fingerprint != fp:
        # Pinned by a previous root during a rotation: list the current root instead.
        raise ConflictError(N_("%(city)s has rotated its root: ask its officials for the new "
                               "fingerprint."), params={"city": state.city_id})
    member = al.AllianceMember(city_id=state.city_id, city_name=state.bundle.city_name,
                               base_url=base_url or state.bundle.base_url.rstrip("/"),
                               root_fingerprint=al.fingerprint_bytes(fp))
    return member, state


def check_fingerprint(text: str) -> str:
    """A fingerprint as typed, normalised, or a 400."""
    return parsed_fingerprint(text)


@dataclass(frozen=True)
class AllianceEvent:
    """One step in the history of the alliances held: versions held, drafts, refusals."""

    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]


def recent_events(session: Session, *, limit: int) -> list[AllianceEvent]:
    """The newest alliance entries of the audit log (each version held, each refusal
    with the rule that refused it), newest first."""
    rows = session.scalars(select(AuditEntry).where(AuditEntry.action.like("alliance.%"))
                           .order_by(AuditEntry.seq.desc()).limit(limit))
    return [AllianceEvent(e.at, e.actor, e.action, str(e.target_id), dict(e.details or {}))
            for e in rows]
