"""What one city holds about a partner: :class:`TrustedState`, immutable, updated by proof.

Every update returns a new state or raises a :class:`~cardservice.trust.model.TrustError`
and leaves the old one as it was (the rules are in :mod:`cardservice.trust`).
:class:`PartnerTrustAnchors` puts a set of states behind the ``credential.TrustAnchors``
protocol, so cards of those cities can be verified against them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import cbor2
from cryptography import x509

from cardservice import pki
from cardservice.trust.documents import (
    VerifiedBundle,
    VerifiedRevocations,
    check_fresh,
    link,
    read_bundle,
    read_revocations,
)
from cardservice.trust.model import (
    MAX_BUNDLE_BYTES,
    MAX_REVOCATION_LIST_BYTES,
    MAX_ROOT_CHAIN,
    CityMismatchError,
    FingerprintMismatchError,
    RevocationList,
    RollbackError,
    RootRotationError,
    TrustBundle,
    TrustFormatError,
    _is_int,
    _now,
)

# Layout version of TrustedState.to_bytes.
_STATE_FORMAT = 1

_CONSTRUCT = object()


class TrustedState:
    """What one city trusts about a partner: a verified bundle and revocation list.

    Immutable. Build it with :meth:`from_pinned_bundle` (onboarding) or
    :meth:`from_bytes` (stored state); every update returns a new state or raises a
    :class:`TrustError` and leaves this one as it was.
    """

    __slots__ = ("_bundle", "_by_kid", "_revocations", "_revoked")

    _bundle: VerifiedBundle
    _revocations: VerifiedRevocations | None
    _by_kid: dict[bytes, tuple[x509.Certificate, ...]]
    _revoked: frozenset[str]

    def __init__(
        self,
        bundle: VerifiedBundle,
        revocations: VerifiedRevocations | None,
        *,
        _token: object = None,
    ) -> None:
        if _token is not _CONSTRUCT:
            raise TypeError("use TrustedState.from_pinned_bundle or TrustedState.from_bytes")
        by_kid: dict[bytes, list[x509.Certificate]] = {}
        for cert in bundle.bundle.signing_certificates:
            by_kid.setdefault(pki.key_id(cert), []).append(cert)
        set_ = object.__setattr__
        set_(self, "_bundle", bundle)
        set_(self, "_revocations", revocations)
        set_(self, "_by_kid", {k: tuple(v) for k, v in by_kid.items()})
        set_(
            self,
            "_revoked",
            frozenset(r.serial for r in revocations.revocations.revoked)
            if revocations is not None
            else frozenset(),
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a TrustedState is immutable; updates return a new one")

    def __repr__(self) -> str:
        rl = self._revocations
        return (
            f"TrustedState(city_id={self.city_id!r}, version={self.version}, "
            f"fingerprint={self.fingerprint!r}, "
            f"revocations_sequence={None if rl is None else rl.revocations.sequence})"
        )

    # -- construction

    @classmethod
    def from_pinned_bundle(cls, data: bytes, *, fingerprint: str, now: dt.datetime) -> TrustedState:
        """Start trusting a partner from its bundle and the fingerprint its officials gave.

        The fingerprint must be that of the bundle's root, or of its previous root when
        the bundle is a rotation signed by both. Raises ``pki.FingerprintFormatError``
        when ``fingerprint`` is not 64 hex digits, else a :class:`TrustError`.
        """
        pinned = pki.normalise_fingerprint(fingerprint)
        at = _now(now)
        verified = read_bundle(data)  # (1)-(4)
        bundle = verified.bundle
        # (5): trust — the pinned fingerprint names the anchor
        if pki.fingerprint(bundle.root) == pinned:
            anchor = bundle.root
        elif bundle.previous_root is not None and pki.fingerprint(bundle.previous_root) == pinned:
            anchor = bundle.previous_root
        else:
            # Never name the bundle's own fingerprint: an admin who reads a wrong one over
            # the phone must not be handed the right answer (nor an attacker's, to read out).
            raise FingerprintMismatchError(
                "the bundle's root does not have the fingerprint given"
            )
        link(verified, anchor)
        # (7): expiry
        check_fresh(bundle, at)
        return cls(verified, None, _token=_CONSTRUCT)

    @classmethod
    def from_bytes(cls, data: bytes, *, fingerprint: str) -> TrustedState:
        """Load a state stored with :meth:`to_bytes`, checking every signature again.

        ``fingerprint`` is the :attr:`fingerprint` stored with it (the current root's).
        An expired bundle or stale list is loaded; the accessors report it.
        """
        pinned = pki.normalise_fingerprint(fingerprint)
        if not isinstance(data, bytes | bytearray | memoryview) or not data:
            raise TrustFormatError("stored trust state is bytes")
        limit = MAX_BUNDLE_BYTES + MAX_REVOCATION_LIST_BYTES + 1024
        if len(data) > limit:
            raise TrustFormatError("stored trust state is too large")
        try:
            raw = cbor2.loads(bytes(data))
        except Exception as exc:
            raise TrustFormatError("stored trust state is not CBOR") from exc
        if (
            type(raw) is not dict
            or raw.keys() != {"format", "bundle", "revocations"}
            or raw["format"] != _STATE_FORMAT
            or not _is_int(raw["format"])
            or type(raw["bundle"]) is not bytes
            or (raw["revocations"] is not None and type(raw["revocations"]) is not bytes)
        ):
            raise TrustFormatError("stored trust state has an unknown layout")
        if cbor2.dumps(raw, canonical=True) != bytes(data):
            raise TrustFormatError("stored trust state is not in canonical CBOR form")
        verified = read_bundle(raw["bundle"])
        if verified.bundle.fingerprint != pinned:
            raise FingerprintMismatchError("stored bundle's root is not the fingerprint held")
        revocations = None
        if raw["revocations"] is not None:
            revocations = read_revocations(
                raw["revocations"],
                city_id=verified.bundle.city_id,
                roots=_roots_of(verified.bundle),
            )
        return cls(verified, revocations, _token=_CONSTRUCT)

    def to_bytes(self) -> bytes:
        """The state for storage: the raw signed documents (see :meth:`from_bytes`)."""
        return cbor2.dumps(
            {
                "format": _STATE_FORMAT,
                "bundle": self._bundle.envelope.raw,
                "revocations": (
                    None if self._revocations is None else self._revocations.envelope.raw
                ),
            },
            canonical=True,
        )

    # -- updates

    def update_bundle(
        self,
        data: bytes,
        *,
        now: dt.datetime,
        intermediates: Sequence[bytes] = (),
    ) -> TrustedState:
        """Accept a newer bundle, following root rotations; return the new state.

        ``intermediates`` are the rotation bundles between the root held and the new
        bundle's ``previous_root``, oldest first, for a partner more than one rotation
        behind; at most ``MAX_ROOT_CHAIN - 1`` of them. The same version with the same
        content returns this state unchanged.
        """
        at = _now(now)
        if isinstance(intermediates, bytes | bytearray | str):
            raise TypeError("intermediates is a sequence of signed bundles")
        steps = list(intermediates)
        # The cap comes before any decoding: a long chain costs nothing to refuse.
        if len(steps) >= MAX_ROOT_CHAIN:
            raise RootRotationError(
                f"more than {MAX_ROOT_CHAIN} root rotations in one update; re-pin the partner"
            )
        held = self._bundle.bundle
        anchor, floor = held.root, held.version
        for raw in steps:
            step = read_bundle(raw)  # (1)-(4)
            if step.bundle.city_id != held.city_id:
                raise CityMismatchError(f"an intermediate bundle is {step.bundle.city_id}'s")
            if step.bundle.root == anchor:
                raise RootRotationError("an intermediate bundle does not rotate the root")
            if step.bundle.previous_root != anchor:
                raise RootRotationError("an intermediate bundle does not continue the chain")
            link(step, anchor)  # (5)
            if step.bundle.version <= floor:  # (6)
                raise RollbackError("intermediate bundles must have growing versions")
            # Intermediates only prove the succession of roots: their expiry is not
            # judged, as a rotation bundle is normally long expired when a partner
            # that fell behind catches up.
            anchor, floor = step.bundle.root, step.bundle.version

        verified = read_bundle(data)  # (1)-(4)
        bundle = verified.bundle
        # (2b): city
        if bundle.city_id != held.city_id:
            raise CityMismatchError(f"the bundle is {bundle.city_id}'s, not {held.city_id}'s")
        # (5): trust
        link(verified, anchor)
        # (6): order — no rollback; the same version only as the same content
        if not steps and bundle.version == held.version:
            if verified.envelope.payload == self._bundle.envelope.payload:
                return self
            raise RollbackError(f"version {bundle.version} is held with other content")
        if bundle.version <= floor:
            raise RollbackError(f"version {bundle.version} is older than {floor}, held")
        # (7): expiry
        check_fresh(bundle, at)
        # A list signed by a root the new bundle no longer names cannot be checked again
        # on loading; it is dropped (any list from the new root is newer anyway).
        revocations = self._revocations
        if revocations is not None and revocations.signer not in _roots_of(bundle):
            revocations = None
        return TrustedState(verified, revocations, _token=_CONSTRUCT)

    def update_revocations(self, data: bytes, *, now: dt.datetime) -> TrustedState:
        """Accept a newer revocation list signed by the root held; return the new state.

        A list past its ``next_update`` is still accepted when newer than the one held;
        :meth:`revocations_stale` reports it. The same sequence with the same content
        returns this state unchanged.
        """
        _now(now)
        # (1)-(3): format, city, signature by the current root only: a previous root may
        # be the reason for a rotation and must not be able to block newer lists.
        verified = read_revocations(data, city_id=self.city_id, roots=(self._bundle.bundle.root,))
        # (6): order
        held = self._revocations
        if held is not None:
            sequence, held_sequence = verified.revocations.sequence, held.revocations.sequence
            if sequence < held_sequence:
                raise RollbackError(f"sequence {sequence} is older than {held_sequence}, held")
            if sequence == held_sequence:
                if verified.envelope.payload == held.envelope.payload:
                    return self
                raise RollbackError(f"sequence {sequence} is held with other content")
        return TrustedState(self._bundle, verified, _token=_CONSTRUCT)

    # -- accessors

    @property
    def city_id(self) -> str:
        """The partner's city id."""
        return self._bundle.bundle.city_id

    @property
    def bundle(self) -> TrustBundle:
        """The accepted bundle."""
        return self._bundle.bundle

    @property
    def root(self) -> x509.Certificate:
        """The root held (the accepted bundle's root)."""
        return self._bundle.bundle.root

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        """Roots that signing certificates may chain to: the root, then the previous root."""
        return _roots_of(self._bundle.bundle)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the root held; store it with :meth:`to_bytes`."""
        return self._bundle.bundle.fingerprint

    @property
    def version(self) -> int:
        """Version of the accepted bundle."""
        return self._bundle.bundle.version

    @property
    def expires_at(self) -> dt.datetime:
        """When the accepted bundle expires."""
        return self._bundle.bundle.expires_at

    @property
    def revocations(self) -> RevocationList | None:
        """The latest accepted revocation list, if any."""
        return None if self._revocations is None else self._revocations.revocations

    @property
    def raw_bundle(self) -> bytes:
        """The accepted bundle as signed, to pass on or archive."""
        return self._bundle.envelope.raw

    @property
    def raw_revocations(self) -> bytes | None:
        """The accepted revocation list as signed."""
        return None if self._revocations is None else self._revocations.envelope.raw

    def signing_certificates_for(self, kid: bytes) -> list[x509.Certificate]:
        """Signing certificates with ``kid``; each chains to one of :attr:`roots`."""
        return list(self._by_kid.get(bytes(kid), ()))

    def is_revoked(self, serial: str) -> bool:
        """Whether the latest accepted list revokes ``serial``."""
        return serial in self._revoked

    def bundle_expired(self, now: dt.datetime) -> bool:
        """Whether the bundle held is past its ``expires_at`` (possible after loading)."""
        return _now(now) >= self._bundle.bundle.expires_at

    def revocations_stale(self, now: dt.datetime) -> bool:
        """Whether there is no revocation list, or it is past its ``next_update``."""
        rl = self.revocations
        return rl is None or _now(now) >= rl.next_update

    def trust_data_age_seconds(self, now: dt.datetime) -> int:
        """Seconds since the older of the bundle and revocation list was issued (>= 0)."""
        oldest = self._bundle.bundle.issued_at
        rl = self.revocations
        if rl is not None:
            oldest = min(oldest, rl.issued_at)
        return max(0, int((_now(now) - oldest).total_seconds()))


def _roots_of(bundle: TrustBundle) -> tuple[x509.Certificate, ...]:
    if bundle.previous_root is None:
        return (bundle.root,)
    return (bundle.root, bundle.previous_root)


class PartnerTrustAnchors:
    """The ``credential.TrustAnchors`` of a set of partner states, plus their revocations."""

    def __init__(self, states: Iterable[TrustedState]) -> None:
        self._states: dict[str, TrustedState] = {}
        for state in states:
            if state.city_id in self._states:
                raise ValueError(f"two trusted states for {state.city_id}")
            self._states[state.city_id] = state

    def roots_for(self, issuer: str) -> Sequence[x509.Certificate]:
        """The root and previous root held for ``issuer`` (empty: not a partner)."""
        state = self._states.get(issuer)
        return () if state is None else state.roots

    def signing_certificates_for(self, issuer: str, kid: bytes) -> Sequence[x509.Certificate]:
        """Signing certificates of ``issuer`` with ``kid``."""
        state = self._states.get(issuer)
        return () if state is None else state.signing_certificates_for(kid)

    def is_revoked(self, issuer: str, serial: str) -> bool:
        """Whether ``issuer``'s latest accepted list revokes ``serial``."""
        state = self._states.get(issuer)
        return state is not None and state.is_revoked(serial)
