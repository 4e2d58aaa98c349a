"""This city's published trust documents (SPEC §5): the trust bundle and the revocation list.

Both are signed by the city root and stored, so every app instance serves the same
bytes and versions only grow. A new version is made when the content changes (a
signing key added, a card revoked) or when the published one is past half its life;
otherwise the stored one is served as it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cardservice import pki, trust
from cardservice.config import Settings
from cardservice.models import Counter, PublishedDocument
from cardservice.services import cards
from cardservice.services.citykeys import CityKeys

BUNDLE = "bundle"
REVOCATIONS = "revocations"
BUNDLE_VALIDITY = timedelta(days=30)
REVOCATIONS_VALIDITY = timedelta(days=1)
WELL_KNOWN = "/.well-known/citycard"
_DER = Encoding.DER


@dataclass(frozen=True)
class Published:
    """A signed document as served."""

    version: int
    issued_at: datetime
    expires_at: datetime
    data: bytes


def _latest(session: Session, kind: str) -> PublishedDocument | None:
    return session.scalar(select(PublishedDocument).where(PublishedDocument.kind == kind)
                          .order_by(PublishedDocument.version.desc()).limit(1))


def _next_version(session: Session, kind: str) -> int:
    # The counter row is the lock: concurrent publishers take turns, versions never repeat.
    name = f"publish:{kind}"
    result = session.execute(update(Counter).where(Counter.name == name)
                             .values(value=Counter.value + 1).returning(Counter.value))
    row = result.first()
    if row is None:
        session.add(Counter(name=name, value=1))
        session.flush()
        return 1
    return int(row[0])


def _fresh(doc: PublishedDocument | None, digest: str, now: datetime, life: timedelta) -> bool:
    return (doc is not None and doc.digest == digest
            and doc.expires_at - now > life / 2)


def current_bundle(session: Session, keys: CityKeys, *, settings: Settings, now: datetime
                   ) -> Published:
    """The city's trust bundle, re-signed when its content changed or it ages."""
    store = keys.store
    root = store.root_certificate()
    previous = store.previous_root()
    # Partners can tie a signing certificate only to the root or the previous root; older
    # ones (two rotations ago) are left out of the bundle.
    signing = [c for c in store.signing_certificates()
               if pki.chains_to(c, [root] if previous is None else [root, previous])]
    base = settings.city.base_url
    content = b"".join([root.public_bytes(_DER), *(c.public_bytes(_DER) for c in signing),
                        previous.public_bytes(_DER) if previous else b"",
                        settings.city.name.encode(), base.encode()])
    digest = hashlib.sha256(content).hexdigest()
    doc = _latest(session, BUNDLE)
    if _fresh(doc, digest, now, BUNDLE_VALIDITY):
        assert doc is not None
        return Published(doc.version, doc.issued_at, doc.expires_at, doc.data)
    version = _next_version(session, BUNDLE)
    bundle = trust.make_bundle(
        city_id=settings.city.id, city_name=settings.city.name, base_url=base,
        version=version, now=now, valid_for=BUNDLE_VALIDITY, root=root,
        signing_certificates=signing, revocations_url=f"{base}{WELL_KNOWN}/revocations",
        previous_root=previous)
    root_keys = [keys.root_key()]
    if previous is not None:
        root_keys.append(store.previous_root_key())
    data = trust.sign_bundle(bundle, root_keys=root_keys)
    return _store(session, BUNDLE, version, bundle.issued_at, bundle.expires_at, digest, data)


def current_revocations(session: Session, keys: CityKeys, *, settings: Settings, now: datetime
                        ) -> Published:
    """The city's signed revocation list, re-signed when it changed or nears next_update."""
    revoked = [trust.RevokedCard(serial=c.serial, expires_at=c.expires_at,
                                 reason=c.revocation_reason or "withdrawn")
               for c in cards.revoked_cards(session, now=now)]
    root = keys.store.root_certificate()
    # The root is part of the digest: after a root rotation the list is re-signed by the
    # new root, the only one partners accept revocation lists from.
    digest = hashlib.sha256(root.public_bytes(_DER) + "\n".join(
        f"{r.serial}:{r.reason}" for r in revoked).encode()).hexdigest()
    doc = _latest(session, REVOCATIONS)
    if _fresh(doc, digest, now, REVOCATIONS_VALIDITY):
        assert doc is not None
        return Published(doc.version, doc.issued_at, doc.expires_at, doc.data)
    sequence = _next_version(session, REVOCATIONS)
    rl = trust.make_revocation_list(city_id=settings.city.id, sequence=sequence,
                                    revoked=revoked, now=now,
                                    next_update=now + REVOCATIONS_VALIDITY)
    data = trust.sign_revocations(rl, root_key=keys.root_key(), root=root)
    return _store(session, REVOCATIONS, sequence, rl.issued_at, rl.next_update, digest, data)


def _store(session: Session, kind: str, version: int, issued_at: datetime,
           expires_at: datetime, digest: str, data: bytes) -> Published:
    session.add(PublishedDocument(kind=kind, version=version, issued_at=issued_at,
                                  expires_at=expires_at, digest=digest, data=data))
    session.flush()
    return Published(version, issued_at, expires_at, data)

