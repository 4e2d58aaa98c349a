"""The append-only, hash-chained audit log of staff actions.

Each entry's hash covers its own fields and the previous entry's hash, so an
edited, inserted or deleted entry breaks the chain and ``verify_chain`` names
the first bad one. Entries carry record ids only, never personal data.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from cardservice.models import AuditEntry, AuditHead

GENESIS = "0" * 64
_FORBIDDEN_DETAIL_KEYS = frozenset(
    {"name", "given_names", "family_names", "date_of_birth", "address", "email", "phone"}
)


class AuditChainError(Exception):
    """The audit log has been altered; ``seq`` is the first bad entry."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit entry {seq}: {reason}")
        self.seq = seq
        self.reason = reason


@dataclass(frozen=True)
class AuditReport:
    """What a successful chain verification saw."""

    entries: int
    head_hash: str


def entry_hash(
    *, prev_hash: str, seq: int, at: datetime, actor: str, action: str,
    target_type: str, target_id: str, details: Mapping[str, object],
) -> str:
    """The SHA-256 that chains an entry to its predecessor."""
    body = json.dumps(
        [prev_hash, seq, at.isoformat(timespec="microseconds"), actor, action,
         target_type, target_id, details],
        sort_keys=True, ensure_ascii=False, separators=(",", ":"),
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def record(
    session: Session, *, actor: str, action: str, target_type: str, target_id: str | int,
    now: datetime, details: Mapping[str, object] | None = None,
) -> AuditEntry:
    """Append an entry in the caller's transaction (the caller commits with its own change)."""
    details = dict(details or {})
    leaked = _FORBIDDEN_DETAIL_KEYS.intersection(details)
    if leaked:
        raise ValueError(f"audit details must not hold personal data: {sorted(leaked)}")
    # Updating the head row first serialises appenders (row lock / SQLite write lock).
    seq = session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.hash)
    ).one()
    new_seq, prev_hash = int(seq[0]), str(seq[1])
    at = now
    digest = entry_hash(
        prev_hash=prev_hash, seq=new_seq, at=at, actor=actor, action=action,
        target_type=target_type, target_id=str(target_id), details=details,
    )
    entry = AuditEntry(
        seq=new_seq, at=at, actor=actor, action=action, target_type=target_type,
        target_id=str(target_id), details=details, prev_hash=prev_hash, hash=digest,
    )
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=digest))
    return entry


def verify_chain(session: Session, *, batch: int = 1000) -> AuditReport:
    """Recompute the whole chain; raise ``AuditChainError`` at the first bad entry."""
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    for entry in _all_entries(session, batch):
        if entry.seq != expected_seq:
            raise AuditChainError(expected_seq, "missing (deleted from the log)")
        if entry.prev_hash != expected_prev:
            raise AuditChainError(entry.seq, "does not follow the entry before it")
        digest = entry_hash(
            prev_hash=entry.prev_hash, seq=entry.seq, at=entry.at, actor=entry.actor,
            action=entry.action, target_type=entry.target_type, target_id=entry.target_id,
            details=entry.details,
        )
        if digest != entry.hash:
            raise AuditChainError(entry.seq, "was altered (its hash does not match)")
        expected_prev = entry.hash
        expected_seq += 1
        count += 1
    head = session.get(AuditHead, 1)
    if head is None:
        raise AuditChainError(0, "the audit head row is missing")
    if head.seq != count:
        raise AuditChainError(count + 1, "missing (deleted from the end of the log)")
    if head.hash != expected_prev:
        raise AuditChainError(count, "does not match the recorded head of the log")
    return AuditReport(entries=count, head_hash=expected_prev)


def _all_entries(session: Session, batch: int) -> Iterator[AuditEntry]:
    # Keyset batches keep memory flat without holding a server-side cursor open.
    last = 0
    while True:
        rows = list(session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].seq
        session.expunge_all()


@dataclass(frozen=True)
class AuditQuery:
    """Which entries the admin asks for: each given criterion narrows the search.

    ``since`` is inclusive and ``until`` exclusive, both aware datetimes.
    """

    action: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE clauses (each served by an index of migration 0007)."""
        where = []
        if self.action:
            where.append(AuditEntry.action == self.action)
        if self.actor:
            where.append(AuditEntry.actor == self.actor)
        if self.since is not None:
            where.append(AuditEntry.at >= self.since)
        if self.until is not None:
            where.append(AuditEntry.at < self.until)
        return where


def search(session: Session, query: AuditQuery, *, limit: int, before: int | None = None,
           after: int | None = None) -> list[AuditEntry]:
    """A page of matching entries, newest first, keyset-paged by ``seq``.

    ``before``: the page just older than that entry; ``after``: the page just newer.
    """
    stmt = select(AuditEntry).where(*query.conditions())
    if after is not None:
        rows = list(session.scalars(stmt.where(AuditEntry.seq > after)
                                    .order_by(AuditEntry.seq.asc()).limit(limit)))
        return rows[::-1]
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    return list(session.scalars(stmt.order_by(AuditEntry.seq.desc()).limit(limit)))


def count(session: Session, query: AuditQuery, *, newer_than: int | None = None) -> int:
    """How many entries match (only those newer than ``newer_than`` when given)."""
    conditions = query.conditions()
    if not conditions:
        # The whole log: entries are numbered 1..head without a gap (``verify_chain``
        # checks it), so the head row answers without counting millions of rows.
        head = int(session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0)
        return head - min(head, newer_than or 0)
    stmt = select(func.count()).select_from(AuditEntry).where(*conditions)
    if newer_than is not None:
        stmt = stmt.where(AuditEntry.seq > newer_than)
    return int(session.scalar(stmt) or 0)


def recent(session: Session, *, limit: int = 50, before: int | None = None) -> list[AuditEntry]:
    """The newest entries, for the admin page (keyset pagination by ``seq``)."""
    stmt = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
    if before is not None:
        stmt = stmt.where(AuditEntry.seq < before)
    return list(session.scalars(stmt))
