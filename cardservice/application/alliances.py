"""Use cases of alliances (SPEC §5b): draft, co-sign, publish, join, sync, suspend.

Network fetches happen before a unit of work opens, so no transaction waits on a
member's server. Every change to what is trusted makes this process's verifier read
partners and members again at once (other processes within the recheck period).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from cardservice import pki, trust
from cardservice.application.unit import UnitOfWork
from cardservice.application.verifier import PartnerDirectory
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import N_, ConflictError, DomainError, InvalidInputError
from cardservice.services import alliances, partners
from cardservice.services.alliances import AllianceView, DraftView
from cardservice.services.citykeys import CityKeys
from cardservice.trust import alliance as al

#: How long a new member list is valid unless the admin says otherwise.
DEFAULT_VALID_DAYS = 90


@dataclass(frozen=True)
class AllianceSyncResult:
    """One step of an alliance sync: a member's list, or a member's trust documents."""

    alliance_id: str
    city_id: str
    what: str  # "list" or "documents"
    ok: bool
    message: str


class AllianceUseCases:
    """What administrators do with alliances."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork,
                 directory: PartnerDirectory) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow
        self._directory = directory

    # ---- helpers -------------------------------------------------------------------------

    def _own_roots(self) -> list[x509.Certificate]:
        return self._keys.store.roots()

    def _own_root(self) -> x509.Certificate:
        return self._keys.store.root_certificate()

    def _own_member(self) -> al.AllianceMember:
        city = self._settings.city
        der = self._own_root().public_bytes(serialization.Encoding.DER)
        return al.AllianceMember(city_id=city.id, city_name=city.name,
                                 base_url=city.base_url.rstrip("/"),
                                 root_fingerprint=hashlib.sha256(der).digest())

    def _view(self, row_id: int) -> DraftView:
        with self._uow.read() as s:
            row = alliances.get_draft(s, row_id)
            return alliances.draft_view(s, row, roots=alliances.known_roots(s, self._own_roots()),
                                        own_root=self._own_root())

    def _sign_new(self, ml: al.MemberList) -> bytes:
        return al.sign_member_list(ml, root_key=self._keys.root_key(), root=self._own_root())

    def _store(self, data: bytes, *, learnt: Sequence[trust.TrustedState], action: str,
               actor: str) -> DraftView:
        now = utcnow()
        with self._uow() as s:
            for state in learnt:
                alliances.remember_roots(s, state, now=now)
            row_id = alliances.store_draft(s, data, actor=actor, now=now, action=action).id
        return self._view(row_id)

    @staticmethod
    def _members(members: Sequence[al.AllianceMember]) -> tuple[al.AllianceMember, ...]:
        if len({m.city_id for m in members}) != len(members):
            raise InvalidInputError(N_("A city is listed twice."), field="members")
        return tuple(members)

    def _list(self, *, alliance_id: str, name: str, version: int, threshold: int,
              members: Sequence[al.AllianceMember], valid_days: int) -> al.MemberList:
        if not 1 <= valid_days <= 3660:
            raise InvalidInputError(N_("A member list is valid for 1 to 3660 days."),
                                    field="valid_days")
        try:
            return al.make_member_list(alliance_id=alliance_id, name=name, version=version,
                                       threshold=threshold, members=self._members(members),
                                       now=utcnow(), valid_for=timedelta(days=valid_days))
        except trust.TrustFormatError as exc:
            raise InvalidInputError(N_("This member list cannot be made: %(detail)s"),
                                    params={"detail": str(exc)}) from None

    # ---- drafts --------------------------------------------------------------------------

    def _new_members(self, urls: Sequence[tuple[str, str]],
                     bundles: Sequence[tuple[bytes, str]]
                     ) -> list[tuple[al.AllianceMember, trust.TrustedState]]:
        return ([alliances.fetch_member(url, fp, now=utcnow()) for url, fp in urls]
                + [alliances.member_from_bundle(data, fp, now=utcnow()) for data, fp in bundles])

    def create(self, *, alliance_id: str, name: str, threshold: int,
               members: Sequence[tuple[str, str]] = (),
               member_bundles: Sequence[tuple[bytes, str]] = (), actor: str,
               valid_days: int = DEFAULT_VALID_DAYS) -> DraftView:
        """Draft version 1 of a new alliance: this city and the cities at ``members``
        (base URL, fingerprint as their officials gave it) or in ``member_bundles``
        (bundle file, fingerprint), signed by this city."""
        alliance_id = alliances.check_alliance_id(alliance_id)
        with self._uow.read() as s:
            if alliances.held_state(s, alliance_id) is not None:
                raise ConflictError(N_("This city already holds alliance %(alliance)s."),
                                    params={"alliance": alliance_id})
        fetched = self._new_members(members, member_bundles)
        listed = [self._own_member(), *(m for m, _s in fetched)]
        ml = self._list(alliance_id=alliance_id, name=name, version=1, threshold=threshold,
                        members=listed, valid_days=valid_days)
        return self._store(self._sign_new(ml), learnt=[st for _m, st in fetched],
                           action="alliance.draft_create", actor=actor)

    def propose(self, alliance_id: str, *, add: Sequence[tuple[str, str]] = (),
                add_bundles: Sequence[tuple[bytes, str]] = (),
                remove: Sequence[str] = (), threshold: int | None = None,
                name: str | None = None, actor: str,
                valid_days: int = DEFAULT_VALID_DAYS) -> DraftView:
        """Draft the next version of a held list: members added (base URL and fingerprint,
        or bundle file and fingerprint) or removed, another threshold or name; signed by
        this city."""
        with self._uow.read() as s:
            held = alliances.held_state(s, alliance_id)
        if held is None:
            raise ConflictError(N_("This city holds no member list of alliance %(alliance)s."),
                                params={"alliance": alliance_id})
        current = {m.city_id: m for m in held.member_list.members}
        for city in remove:
            if current.pop(city.upper(), None) is None:
                raise InvalidInputError(N_("%(city)s is not a member."), params={"city": city},
                                        field="remove")
        fetched = self._new_members(add, add_bundles)
        for member, _state in fetched:
            current[member.city_id] = member
        if not (fetched or remove or threshold is not None or name is not None):
            raise InvalidInputError(N_("Say what the new version changes: members to add or "
                                       "remove, a threshold or a name."))
        ml = self._list(alliance_id=alliance_id, name=name or held.member_list.name,
                        version=held.version + 1,
                        threshold=held.member_list.threshold if threshold is None else threshold,
                        members=list(current.values()), valid_days=valid_days)
        return self._store(self._sign_new(ml), learnt=[st for _m, st in fetched],
                           action="alliance.draft_propose", actor=actor)

    def renew(self, alliance_id: str, *, actor: str,
              valid_days: int = DEFAULT_VALID_DAYS) -> DraftView:
        """Draft the next version with the same members, to extend its validity."""
        with self._uow.read() as s:
            held = alliances.held_state(s, alliance_id)
        if held is None:
            raise ConflictError(N_("This city holds no member list of alliance %(alliance)s."),
                                params={"alliance": alliance_id})
        ml = self._list(alliance_id=alliance_id, name=held.member_list.name,
                        version=held.version + 1, threshold=held.member_list.threshold,
                        members=held.member_list.members, valid_days=valid_days)
        return self._store(self._sign_new(ml), learnt=(), action="alliance.draft_propose",
                           actor=actor)

    def drafts(self, alliance_id: str | None = None) -> list[DraftView]:
        """Pending drafts, with their changes and signers."""
        with self._uow.read() as s:
            roots = alliances.known_roots(s, self._own_roots())
            return [alliances.draft_view(s, row, roots=roots, own_root=self._own_root())
                    for row in alliances.pending_drafts(s, alliance_id)]

    def draft(self, draft_id: int) -> DraftView:
        """One draft."""
        return self._view(draft_id)

    def draft_document(self, draft_id: int) -> bytes:
        """A draft as a file, with every signature gathered here."""
        with self._uow.read() as s:
            return alliances.get_draft(s, draft_id).data

    def cosign(self, draft_id: int, *, actor: str) -> DraftView:
        """Add this city's root signature to a draft (after the admin read its changes)."""
        with self._uow.read() as s:
            row = alliances.get_draft(s, draft_id)
            data, status = row.data, row.status
            doc = alliances.read_document(data)
            held = alliances.held_state(s, doc.member_list.alliance_id)
        if status != "pending":
            raise ConflictError(N_("This draft is no longer pending."))
        own = self._settings.city.id
        in_held = held is not None and held.member_list.member(own) is not None
        if doc.member_list.member(own) is None and not in_held:
            raise ConflictError(N_("Only members sign an alliance's member list."))
        signed = al.add_signature(data, root_key=self._keys.root_key(), root=self._own_root())
        return self._store(signed, learnt=(), action="alliance.cosign", actor=actor)

    def import_document(self, data: bytes, *, actor: str) -> DraftView:
        """Keep a draft received as a file (or fetched): merged with a copy held here.

        The roots of its signers are learnt from their bundles (matched by the listed
        fingerprint) so that the page can say whose signatures verify.
        """
        doc = alliances.read_document(data)
        learnt = self._learn_signer_roots(doc)
        return self._store(doc.raw, learnt=learnt, action="alliance.draft_import", actor=actor)

    def _learn_signer_roots(self, doc: al.MemberListDocument) -> list[trust.TrustedState]:
        with self._uow.read() as s:
            known = {pki.fingerprint(r) for r in alliances.known_roots(s, self._own_roots())}
        signers = [m for m in doc.member_list.members if m.kid in set(doc.signer_kids)]
        return alliances.fetch_member_roots(signers, skip=known, now=utcnow())

    def fetch_draft(self, url: str, alliance_id: str, *, actor: str) -> DraftView:
        """Fetch the draft a member circulates at its well-known address and keep it."""
        data = alliances.fetch_draft(url, alliances.check_alliance_id(alliance_id))
        view = self.import_document(data, actor=actor)
        if view.alliance_id != alliance_id:
            raise ConflictError(N_("The member served a draft of another alliance."))
        return view

    # ---- lists held ----------------------------------------------------------------------

    def _accept(self, data: bytes, *, actor: str, confirmed: Sequence[str] | None,
                alliance_id: str | None = None, learnt: Sequence[trust.TrustedState] = ()
                ) -> tuple[trust.AllianceState, bool]:
        now = utcnow()
        with self._uow() as s:
            for state in learnt:
                alliances.remember_roots(s, state, now=now)
            result = alliances.accept_list(
                s, data, roots=alliances.known_roots(s, self._own_roots()),
                own_city_id=self._settings.city.id, own_roots=self._own_roots(), actor=actor,
                now=now, confirmed=confirmed, alliance_id=alliance_id)
        self._directory.forget()
        return result

    def _note_refusal(self, alliance_id: str, source: str, error: DomainError, *,
                      actor: str) -> None:
        with self._uow() as s:
            alliances.record_list_refusal(s, alliance_id, source=source, error=error,
                                          actor=actor, now=utcnow())

    def _with_own(self, confirm: Sequence[str], doc: al.MemberListDocument) -> list[str]:
        # Our own root needs no phone call: it counts as confirmed when the list names it
        # (and, like any confirmation, only if our signature is on the list).
        own = pki.fingerprint(self._own_root())
        listed = {m.fingerprint for m in doc.member_list.members}
        return [*confirm, own] if own in listed else list(confirm)

    def publish(self, draft_id: int, *, confirm: Sequence[str] = (), actor: str
                ) -> AllianceView:
        """Hold a draft that gathered its signatures: the next version of a list held, or
        (with ``confirm``: members' fingerprints read with their officials) version 1."""
        data = self.draft_document(draft_id)
        doc = alliances.read_document(data)
        alliance_id = doc.member_list.alliance_id
        with self._uow.read() as s:
            held = alliances.held_state(s, alliance_id)
        confirmed = None if held is not None else self._with_own(confirm, doc)
        try:
            self._accept(data, actor=actor, confirmed=confirmed)
        except alliances.AllianceRefusedError as exc:
            self._note_refusal(alliance_id, "draft", exc, actor=actor)
            raise
        self._sync_documents(alliance_id, actor=actor)
        return self.get(alliance_id)

    def apply(self, data: bytes, *, actor: str) -> AllianceView:
        """Offline update: the next version of a held list, from a file."""
        doc = alliances.read_document(data)
        alliance_id = doc.member_list.alliance_id
        try:
            self._accept(data, actor=actor, confirmed=None)
        except alliances.AllianceRefusedError as exc:
            self._note_refusal(alliance_id, "file", exc, actor=actor)
            raise
        self._sync_documents(alliance_id, actor=actor)
        return self.get(alliance_id)

    def join(self, alliance_id: str, *, confirm: Sequence[str], actor: str,
             url: str | None = None, data: bytes | None = None) -> AllianceView:
        """Hold an alliance's list for the first time, from a member's URL or a file, with
        the fingerprints of at least k signing members read with their officials."""
        alliance_id = alliances.check_alliance_id(alliance_id)
        if (url is None) == (data is None):
            raise InvalidInputError(N_("Give either a member's address or the list's file."))
        for text in confirm:
            alliances.check_fingerprint(text)
        if data is None:
            assert url is not None
            data = alliances.fetch_list(url, alliance_id)
        doc = alliances.read_document(data)
        pinned = {pki.normalise_fingerprint(f) for f in confirm}
        with self._uow.read() as s:
            if alliances.held_state(s, alliance_id) is not None:
                raise ConflictError(N_("This city already holds alliance %(alliance)s."),
                                    params={"alliance": alliance_id})
            known = {pki.fingerprint(r) for r in alliances.known_roots(s, self._own_roots())}
        # Only members whose fingerprints the admin confirmed are asked for their roots.
        learnt = alliances.fetch_member_roots(
            [m for m in doc.member_list.members if m.fingerprint in pinned],
            skip=known, now=utcnow())
        self._accept(data, actor=actor, confirmed=self._with_own(confirm, doc),
                     alliance_id=alliance_id, learnt=learnt)
        self._sync_documents(alliance_id, actor=actor)
        return self.get(alliance_id)

    def sync(self, alliance_id: str | None = None, *, actor: str) -> list[AllianceSyncResult]:
        """Fetch every member's list (follow a newer version by the rules), then every
        member's trust bundle and revocation list. One result per step."""
        with self._uow.read() as s:
            targets = ([alliance_id] if alliance_id else
                       [a.alliance_id for a in alliances.list_alliances(
                           s, own_city_id=self._settings.city.id)])
        results: list[AllianceSyncResult] = []
        for target in targets:
            results.extend(self._sync_lists(target, actor=actor))
            results.extend(self._sync_documents(target, actor=actor))
        return results

    def _sync_lists(self, alliance_id: str, *, actor: str) -> list[AllianceSyncResult]:
        with self._uow.read() as s:
            alliances.get_alliance(s, alliance_id, own_city_id=self._settings.city.id)
            sources = alliances.members_to_sync(s, alliance_id)
        results = []
        for city, base_url in sources:
            try:
                data = alliances.fetch_list(base_url, alliance_id)
                with self._uow.read() as s:
                    held = alliances.held_state(s, alliance_id)
                version = alliances.read_document(data).member_list.version
                if held is not None and version < held.version:
                    # A member that has not caught up yet: nothing to judge.
                    results.append(AllianceSyncResult(alliance_id, city, "list", True,
                                                      f"holds version {version}"))
                    continue
                state, changed = self._accept(data, actor=actor, confirmed=None)
                results.append(AllianceSyncResult(
                    alliance_id, city, "list", True,
                    f"version {state.version}" + (" accepted" if changed else " (unchanged)")))
            except DomainError as exc:
                self._note_refusal(alliance_id, city, exc, actor=actor)
                results.append(AllianceSyncResult(alliance_id, city, "list", False,
                                                  exc.message))
        return results

    def _sync_documents(self, alliance_id: str, *, actor: str) -> list[AllianceSyncResult]:
        with self._uow.read() as s:
            members = alliances.members_to_sync(s, alliance_id)
        results = []
        for city, base_url in members:
            try:
                bundle, revocations = partners.fetch_updates(base_url)
                with self._uow() as s:
                    alliances.apply_member_documents(s, alliance_id, city, bundle=bundle,
                                                     revocations=revocations, actor=actor,
                                                     now=utcnow())
                results.append(AllianceSyncResult(alliance_id, city, "documents", True, "ok"))
            except DomainError as exc:
                with self._uow() as s:
                    alliances.record_member_failure(s, alliance_id, city, exc, actor=actor,
                                                    now=utcnow())
                results.append(AllianceSyncResult(alliance_id, city, "documents", False,
                                                  exc.message))
        self._directory.forget()
        return results

    def import_member_documents(self, alliance_id: str, city_id: str, *, bundle: bytes,
                                revocations: bytes | None, actor: str) -> AllianceView:
        """Offline exchange: a member's bundle and revocation list from files."""
        try:
            with self._uow() as s:
                alliances.apply_member_documents(s, alliance_id, city_id, bundle=bundle,
                                                 revocations=revocations, actor=actor,
                                                 now=utcnow())
        except alliances.AllianceRefusedError as exc:
            with self._uow() as s:
                alliances.record_member_failure(s, alliance_id, city_id, exc, actor=actor,
                                                now=utcnow())
            raise
        self._directory.forget()
        return self.get(alliance_id)

    def set_member_suspended(self, alliance_id: str, city_id: str, *, suspended: bool,
                             actor: str) -> AllianceView:
        """Suspend (its cards read ``partner_suspended`` here) or resume a member."""
        with self._uow() as s:
            alliances.set_member_suspended(s, alliance_id, city_id, suspended=suspended,
                                           actor=actor, now=utcnow())
        self._directory.forget()
        return self.get(alliance_id)

    def all(self) -> list[AllianceView]:
        """Every alliance held."""
        with self._uow.read() as s:
            return alliances.list_alliances(s, own_city_id=self._settings.city.id)

    def get(self, alliance_id: str) -> AllianceView:
        """One alliance held."""
        with self._uow.read() as s:
            return alliances.get_alliance(s, alliance_id, own_city_id=self._settings.city.id)

    def history(self, *, limit: int = 30) -> list[alliances.AllianceEvent]:
        """The newest alliance events: versions held, drafts, co-signatures, refusals."""
        with self._uow.read() as s:
            return alliances.recent_events(s, limit=limit)

    def held_document(self, alliance_id: str) -> bytes:
        """The signed list held, as served at the well-known address."""
        alliance_id = alliances.check_alliance_id(alliance_id)
        with self._uow.read() as s:
            return alliances.held_document(s, alliance_id)

    def circulated_draft(self, alliance_id: str) -> bytes:
        """The draft served to members at the well-known draft address."""
        alliance_id = alliances.check_alliance_id(alliance_id)
        with self._uow.read() as s:
            return alliances.circulated_draft(s, alliance_id)
