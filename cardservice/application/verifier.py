"""The app's one verifier: trust anchors (own city + partners), revocation look-ups, counts.

Web pages, the JSON API, the CLI and the offline trust export all verify through the
``Verifier`` of their ``Application``. Its caches are objects with a lifetime, not
dictionary entries: own certificates are re-read when ``keys/keys.json`` changes, and
partners' trust data when the partners' version counter moves (checked at most once a
``RECHECK_SECONDS``), so a change made by another process is seen within that bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cardservice.application.unit import UnitOfWork
from cardservice.application.uploads import Uploads
from cardservice.config import Settings
from cardservice.db import Database
from cardservice.errors import DatabaseUnavailableError
from cardservice.services import alliances, cards, partners, publication, verification
from cardservice.services.citykeys import CityKeys
from cardservice.services.verification import (
    CityTrust,
    OwnCertificates,
    PartnerTrust,
    VerificationCounter,
    VerificationResult,
)
from cardservice.verifykit import OfflineKit

log = logging.getLogger("cardservice.verify")


@dataclass(frozen=True)
class _PartnerSnapshot:
    version: int
    partners: Mapping[str, PartnerTrust]
    checked_at: float


class PartnerDirectory:
    """Partners' and alliance members' verification data for one process, rebuilt only
    when it changed (both bump the partners' version counter)."""

    def __init__(self, uow: UnitOfWork, *, recheck_seconds: float = partners.RECHECK_SECONDS
                 ) -> None:
        self._uow = uow
        self._recheck = recheck_seconds
        self._snapshot: _PartnerSnapshot | None = None
        self._lock = threading.Lock()

    def current(self) -> Mapping[str, PartnerTrust]:
        """The partners as last stored; the database is asked at most once a recheck period."""
        now = time.monotonic()
        snap = self._snapshot
        if snap is not None and now - snap.checked_at < self._recheck:
            return snap.partners
        with self._lock, self._uow.read() as session:
            version = partners.partners_version(session)
            snap = self._snapshot
            if snap is not None and snap.version == version:
                self._snapshot = _PartnerSnapshot(version, snap.partners, now)
                return snap.partners
            built = partners.load_partner_trust(session)
            # Alliance members after bilateral partners: a city pinned by a phone call
            # keeps that pin (and its suspension) whatever an alliance says of it.
            built.update(alliances.load_alliance_trust(session, skip=built))
            self._snapshot = _PartnerSnapshot(version, built, now)
            return built

    def forget(self) -> None:
        """Make this process read the partners again at the next verification."""
        self._snapshot = None


class Verifier:
    """Checks cards against this city and its partners (SPEC §6), and counts the outcomes."""

    def __init__(self, settings: Settings, keys: CityKeys, db: Database, uow: UnitOfWork,
                 uploads: Uploads) -> None:
        self._settings = settings
        self._uploads = uploads
        self._db = db
        self._uow = uow
        self._keys = keys
        self._own = OwnCertificates(keys)
        self.partners = PartnerDirectory(uow)
        self.counter = VerificationCounter()

    def anchors(self, *, now: datetime) -> CityTrust:
        """The trust anchors for one verification at ``now``: own certificates and partners."""
        city = self._settings.city
        return CityTrust(own_id=city.id, own_name=city.name, own=self._own,
                         partners=self.partners.current(), now=now)

    def _own_is_revoked(self, serial: str) -> bool:
        # No ORM session on the hot path: one indexed query on a pooled connection.
        with self._db.engine.connect() as conn:
            return cards.is_revoked(conn, serial)

    def read_upload(self, data: bytes) -> str:
        """The card text in an uploaded picture or PDF, decoded in the sandbox.

        Raises ``NoCardCodeError``, ``UnreadableUploadError``, ``UploadTooLargeError``
        (413) or ``ServiceBusyError`` (503) when every decoding slot is taken.
        """
        return self._uploads.read_qr(data)

    def verify(self, qr_text: str, *, now: datetime) -> VerificationResult:
        """Verify one card's text and count the outcome (by status only)."""
        result = verification.verify_qr(
            qr_text.strip(), anchors=self.anchors(now=now), now=now,
            own_is_revoked=self._own_is_revoked,
            revocations_max_age=timedelta(hours=self._settings.verify.revocations_max_age_hours))
        self.counter.add(result.status, now=now)
        mono = time.monotonic()
        if self.counter.due(monotonic=mono):
            self.flush_counts(monotonic=mono)
        return result

    def flush_counts(self, *, monotonic: float | None = None) -> None:
        """Add the pending counts to the database; statistics never cost an agent an answer."""
        try:
            with self.counter.take(monotonic=monotonic) as pending:
                if pending:
                    with self._uow() as session:
                        verification.add_counts(session, pending)
        except (SQLAlchemyError, DatabaseUnavailableError) as exc:
            log.warning("verification counts not saved yet: %s", type(exc).__name__)

    def offline_trust_data(self, *, now: datetime) -> dict[str, Any]:
        """Public keys and revoked serials of every recognised city (no personal data)."""
        anchors = self.anchors(now=now)
        with self._uow.read() as session:
            own_revoked = [c.serial for c in cards.revoked_cards(session, now=now)]
        data = verification.offline_trust_data(anchors, own_revoked=own_revoked, now=now)
        # The signed documents too, re-signed first if due (hence a unit of work that
        # may write), so the page can check them against the roots it pins.
        with self._uow() as session:
            bundle = publication.current_bundle(session, self._keys, settings=self._settings,
                                                now=now)
            revocations = publication.current_revocations(
                session, self._keys, settings=self._settings, now=now)
        data["documents"] = verification.offline_documents(
            anchors, own_bundle=bundle.data, own_revocations=revocations.data)
        return data

    def offline_pins(self, *, now: datetime) -> list[dict[str, Any]]:
        """The roots the verify page pins, by fingerprint, to check its stored trust data."""
        return verification.offline_pins(self.anchors(now=now))

    def offline_kit(self, *, now: datetime) -> OfflineKit:
        """What the offline verification kit carries: every recognised city's signed
        documents as published (own bundle and revocation list re-signed first if due)
        and the roots they must chain to, pinned by fingerprint. Public data only."""
        documents = self.offline_trust_data(now=now)["documents"]
        city = self._settings.city
        return OfflineKit(city_id=city.id, city_name=city.name, generated_at=now,
                          max_age_hours=self._settings.verify.revocations_max_age_hours,
                          pins=tuple(self.offline_pins(now=now)), documents=tuple(documents))
