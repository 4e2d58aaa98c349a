"""Use cases of the city's keys and its published trust documents (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cardservice import pki, trust
from cardservice.application.unit import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.services import audit, publication
from cardservice.services.citykeys import CityKeys
from cardservice.services.publication import Published


@dataclass(frozen=True)
class TrustExport:
    """Our signed bundle and revocation list, for an offline exchange."""

    city_id: str
    fingerprint: str
    bundle: Published
    revocations: Published


@dataclass(frozen=True)
class RootRotation:
    """A new city root and the first bundle it co-signed with the old one."""

    fingerprint: str
    bundle_version: int


class CityUseCases:
    """The city's keys and published documents: create, inspect, rotate, publish, export."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow

    def init(self) -> list[str]:
        """Create the city root, a signing key and the master key unless they exist."""
        return self._keys.init(now=utcnow())

    def status(self) -> Any:
        """The root fingerprint and every signing certificate's state."""
        return self._keys.store.status(now=utcnow())

    def master_key_present(self) -> bool:
        """Whether the register can still be read (``purge --all`` destroys the key)."""
        return self._keys.master_key_path.exists()

    def fingerprint(self) -> str:
        """This city's fingerprint (SHA-256 of the root certificate), as read over the phone."""
        return pki.fingerprint(self._keys.store.root_certificate())

    def rotate_signing_key(self, *, actor: str) -> str:
        """A new signing certificate signs from now; returns its kid. Audited and published.

        The key files change first (a file system has no rollback); the audit entry and the
        new bundle are then one unit of work.
        """
        now = utcnow()
        new = self._keys.store.rotate(now=now)
        with self._uow() as s:
            audit.record(s, actor=actor, action="keys.rotate", target_type="signing_key",
                         target_id=new.kid, now=now)
            publication.current_bundle(s, self._keys, settings=self._settings, now=now)
        return str(new.kid)

    def rotate_root(self, *, actor: str) -> RootRotation:
        """Replace the city root; the next bundle is signed by the old and the new root."""
        now = utcnow()
        fp = self._keys.store.rotate_root(now=now)
        with self._uow() as s:
            audit.record(s, actor=actor, action="keys.rotate_root", target_type="root",
                         target_id=fp.replace(" ", "")[:16], now=now)
            doc = publication.current_bundle(s, self._keys, settings=self._settings, now=now)
        return RootRotation(fp, doc.version)

    # ---- published documents -----------------------------------------------------------

    def bundle(self) -> Published:
        """The signed trust bundle, re-signed when its content changed or it ages."""
        with self._uow() as s:
            return publication.current_bundle(s, self._keys, settings=self._settings,
                                              now=utcnow())

    def bundle_json(self) -> dict[str, Any]:
        """The same bundle, readable (certificates in PEM)."""
        return trust.bundle_to_json(trust.decode_bundle_unverified(self.bundle().data))

    def revocations(self) -> Published:
        """The signed revocation list, re-signed when it changed or nears its next update."""
        with self._uow() as s:
            return publication.current_revocations(s, self._keys, settings=self._settings,
                                                   now=utcnow())

    def export(self) -> TrustExport:
        """Both documents and our fingerprint, for a partner without a network path."""
        now = utcnow()
        with self._uow() as s:
            bundle = publication.current_bundle(s, self._keys, settings=self._settings, now=now)
            rev = publication.current_revocations(s, self._keys, settings=self._settings,
                                                  now=now)
        return TrustExport(self._settings.city.id, self.fingerprint(), bundle, rev)
