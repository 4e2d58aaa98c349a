"""Use cases of the city's keys and its published trust documents (SPEC §5)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cardservice import keystore, pki, trust
from cardservice.application.unit import UnitOfWork, domain_error
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


#: The key store's states as the keys page names them.
SIGNING_STATES = {"active": "current", "pending": "next", "verify-only": "retired",
                  "expired": "expired"}


@dataclass(frozen=True)
class SigningKeyView:
    """One signing certificate: its kid (public), its periods and its state.

    ``state`` is ``current`` (signs cards now), ``next`` (its signing period has not begun),
    ``retired`` (signs no more; the cards it signed still verify) or ``expired`` (no card it
    signed is still valid).
    """

    kid: str
    state: str
    signs_from: datetime
    signs_until: datetime
    valid_until: datetime


@dataclass(frozen=True)
class KeyWarning:
    """Something the admin must do before ``at``.

    ``kind``: ``no_signer`` (no key can sign cards now: rotate), ``signing_ends`` (the
    current key stops signing at ``at`` and no next key follows: rotate) or ``root_ends``
    (after ``at`` the root can no longer issue signing keys for cards of full validity:
    rotate the root).
    """

    kind: str
    at: datetime
    days_left: int


@dataclass(frozen=True)
class KeysOverview:
    """What the keys page shows: public facts only, never key material."""

    city_id: str
    fingerprint: str
    root_valid_from: datetime
    root_valid_until: datetime
    signing: tuple[SigningKeyView, ...]
    warnings: tuple[KeyWarning, ...]
    warning_days: int


@contextmanager
def _key_files() -> Iterator[None]:
    """Errors of the key files (no unit of work around them) as typed domain errors."""
    try:
        yield
    except pki.PKIError as exc:
        mapped = domain_error(exc)
        if mapped is None:  # every PKIError maps; kept honest should that change
            raise
        raise mapped from exc


def _warnings(st: keystore.KeyStoreStatus, *, now: datetime, warn: timedelta,
              card_validity: timedelta) -> tuple[KeyWarning, ...]:
    def left(at: datetime) -> int:
        return max(0, (at - now).days)

    out = []
    current = st.active
    if current is None:
        out.append(KeyWarning("no_signer", now, 0))
    elif current.signs_until - now <= warn and not any(
            s.state == "pending" and s.signs_from <= current.signs_until for s in st.signing):
        out.append(KeyWarning("signing_ends", current.signs_until, left(current.signs_until)))
    # A signing key must outlive the cards it signs, and the root must outlive the key.
    last_issue = st.root_not_after - card_validity
    if last_issue - now <= warn:
        out.append(KeyWarning("root_ends", last_issue, left(last_issue)))
    return tuple(out)


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

    def overview(self) -> KeysOverview:
        """The keys page: fingerprint, signing keys and their states, warnings ahead of expiry."""
        now = utcnow()
        with _key_files():
            st = self._keys.store.status(now=now)
        rows = tuple(SigningKeyView(s.kid, SIGNING_STATES[s.state], s.signs_from, s.signs_until,
                                    s.not_after)
                     for s in sorted(st.signing, key=lambda s: s.signs_from, reverse=True))
        days = self._settings.key_expiry_warning_days
        # The validity the key store gives every signing certificate room for (see init).
        card_validity = timedelta(days=self._settings.cards.validity_years * 366 + 1)
        return KeysOverview(st.city_id, st.root_fingerprint, st.root_not_before,
                            st.root_not_after, rows,
                            _warnings(st, now=now, warn=timedelta(days=days),
                                      card_validity=card_validity), days)

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
        with _key_files():
            new = self._keys.store.rotate(now=now)
        with self._uow() as s:
            audit.record(s, actor=actor, action="keys.rotate", target_type="signing_key",
                         target_id=new.kid, now=now)
            publication.current_bundle(s, self._keys, settings=self._settings, now=now)
        return str(new.kid)

    def rotate_root(self, *, actor: str) -> RootRotation:
        """Replace the city root; the next bundle is signed by the old and the new root."""
        now = utcnow()
        with _key_files():
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
