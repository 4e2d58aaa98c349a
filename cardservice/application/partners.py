"""Use cases of partner cities: pin, import, sync, suspend, remove, recognition requests.

Network fetches happen before a unit of work opens, so no transaction waits on a
partner's server. Every change makes this process's verifier read partners again at
once (other processes within ``services.partners.RECHECK_SECONDS``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cardservice.application.unit import UnitOfWork
from cardservice.application.verifier import PartnerDirectory
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import DomainError
from cardservice.services import partners, publication
from cardservice.services.citykeys import CityKeys
from cardservice.services.partners import (
    PartnerFetchError,
    PartnerTrustError,
    PartnerView,
    RecognitionRequestView,
)


@dataclass(frozen=True)
class SyncResult:
    """One partner's sync in a sync of many: its new view, or the error that stopped it."""

    city_id: str
    view: PartnerView | None
    error: DomainError | None


class PartnerUseCases:
    """What administrators do with partner cities."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork,
                 directory: PartnerDirectory) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow
        self._directory = directory

    def add(self, *, url: str, fingerprint: str, actor: str) -> PartnerView:
        """Fetch a partner's documents from its base URL and pin it if the fingerprint matches."""
        docs = partners.fetch_documents(url, fingerprint=fingerprint, now=utcnow())
        with self._uow() as s:
            view = partners.add_partner_from_documents(
                s, bundle=docs.bundle, revocations=docs.revocations, fingerprint=fingerprint,
                own_city_id=self._settings.city.id, actor=actor, now=utcnow(),
                url=docs.base_url)
        self._directory.forget()
        return view

    def import_documents(self, *, bundle: bytes, revocations: bytes | None,
                         fingerprint: str | None, actor: str) -> PartnerView:
        """Offline exchange: a new partner (with the fingerprint) or an update of one held."""
        city = partners.city_of_bundle(bundle)
        with self._uow() as s:
            held = partners.is_partner(s, city)
        if held:
            view = self._apply(city, bundle=bundle, revocations=revocations, actor=actor)
        else:
            with self._uow() as s:
                view = partners.add_partner_from_documents(
                    s, bundle=bundle, revocations=revocations, fingerprint=fingerprint or "",
                    own_city_id=self._settings.city.id, actor=actor, now=utcnow())
        self._directory.forget()
        return view

    def _apply(self, partner: int | str, *, bundle: bytes | None, revocations: bytes | None,
               actor: str) -> PartnerView:
        try:
            with self._uow() as s:
                return partners.apply_documents(s, partner, bundle=bundle,
                                                revocations=revocations, actor=actor,
                                                now=utcnow())
        except PartnerTrustError as exc:
            self._note_failure(partner, exc, actor=actor)
            raise

    def _note_failure(self, partner: int | str, error: DomainError, *, actor: str) -> None:
        # A unit of its own: the refused documents are never stored, the refusal is.
        with self._uow() as s:
            partners.record_sync_failure(s, partner, error, actor=actor, now=utcnow())

    def sync(self, partner: int | str, *, actor: str) -> PartnerView:
        """Fetch and check a partner's bundle, then its revocation list."""
        current = self.get(partner)
        try:
            bundle, revocations = partners.fetch_updates(current.base_url)
        except PartnerFetchError as exc:
            self._note_failure(current.id, exc, actor=actor)
            raise
        view = self._apply(current.id, bundle=bundle, revocations=revocations, actor=actor)
        self._directory.forget()
        return view

    def sync_many(self, cities: tuple[str, ...] = (), *, actor: str) -> Iterator[SyncResult]:
        """Sync the named partners (all when none is named), one result each."""
        targets = cities or tuple(p.city_id for p in self.all())
        for city in targets:
            try:
                yield SyncResult(city, self.sync(city, actor=actor), None)
            except DomainError as exc:
                yield SyncResult(city, None, exc)

    def set_suspended(self, partner: int | str, *, suspended: bool, actor: str) -> PartnerView:
        """Suspend (cards read ``partner_suspended``) or resume recognition."""
        with self._uow() as s:
            view = partners.set_status(s, partner, suspended=suspended, actor=actor,
                                       now=utcnow())
        self._directory.forget()
        return view

    def remove(self, partner: int | str, *, actor: str) -> None:
        """Forget a partner's trust data (its cards then read ``unknown_issuer``)."""
        with self._uow() as s:
            partners.remove_partner(s, partner, actor=actor, now=utcnow())
        self._directory.forget()

    def all(self) -> list[PartnerView]:
        """Every partner, by city id."""
        with self._uow.read() as s:
            return partners.list_partners(s)

    def get(self, partner: int | str) -> PartnerView:
        """One partner, by id or city id."""
        with self._uow.read() as s:
            return partners.get_partner(s, partner)

    # ---- recognition requests ----------------------------------------------------------

    def receive_request(self, data: bytes) -> str:
        """Store another city's signed request for an admin; returns its city id."""
        with self._uow() as s:
            return partners.receive_recognition_request(s, data=data, now=utcnow()).city_id

    def pending_requests(self) -> list[RecognitionRequestView]:
        """Recognition requests waiting for an admin."""
        with self._uow.read() as s:
            return partners.pending_recognition_requests(s)

    def decide_request(self, request_id: int, *, accept: bool, fingerprint: str, actor: str
                       ) -> PartnerView | None:
        """Accept (after the fingerprint check) or reject a request, in one unit of work."""
        with self._uow() as s:
            view = partners.decide_recognition_request(
                s, request_id, accept=accept, fingerprint=fingerprint,
                own_city_id=self._settings.city.id, actor=actor, now=utcnow())
        self._directory.forget()
        return view

    def send_request(self, url: str) -> None:
        """Send our current signed bundle to another city as a recognition request."""
        with self._uow() as s:
            doc = publication.current_bundle(s, self._keys, settings=self._settings,
                                             now=utcnow())
        partners.send_recognition_request(partner_url=url, bundle=doc.data)
