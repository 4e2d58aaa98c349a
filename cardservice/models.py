"""SQLAlchemy models. Schema changes go through Alembic (``cardservice/migrations``).

Nothing here may hold what SPEC §2 says is never collected. Personal data of
residents is stored only as ciphertext (see ``vault``); the audit log holds
record ids, never a resident's name or personal data.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every model."""


class Role(enum.StrEnum):
    """What a staff member may do."""

    ADMIN = "admin"
    CLERK = "clerk"
    AGENT = "agent"


class User(Base):
    """A staff account."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Refused sign-ins since the last good one, from every source (the admin's warning
    # light). It locks nothing: throttling is per account and source (SignInThrottle).
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class SignInThrottle(Base):
    """Sign-in attempts of one account name from one source, and how long that source waits.

    Both keys are keyed hashes (HMAC with the server secret): the table holds neither
    staff addresses nor the names strangers typed, and unknown names are counted exactly
    like real ones, so the table's work does not tell them apart.
    """

    __tablename__ = "sign_in_throttle"

    account_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class StaffSession(Base):
    """A signed-in browser: the signed cookie carries a random id, this row its SHA-256.

    Signing out, a password change or reset, and disabling the account delete the rows,
    so a copied cookie stops working at once rather than when it expires.
    """

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ApiToken(Base):
    """An API token; only its SHA-256 is stored, the token is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    user: Mapped[User] = relationship(back_populates="tokens")


class AuditEntry(Base):
    """One staff action; each entry carries the hash of the one before it."""

    __tablename__ = "audit_log"
    # Migration 0007: the audit page filters by action, actor or time, newest first.
    __table_args__ = (
        Index("ix_audit_log_action_seq", "action", "seq"),
        Index("ix_audit_log_actor_seq", "actor", "seq"),
        Index("ix_audit_log_at", "at"),
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, object]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row that serialises appends and remembers the last hash.

    Updating this row first takes the write lock (SQLite) or the row lock
    (PostgreSQL), so two appenders never fork the chain; it also lets
    ``audit verify`` notice entries deleted from the end of the log.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Resident(Base):
    """A registered resident: ciphertext only, under the resident's own data key.

    ``wrapped_key`` is the resident's data key wrapped by the master key; deleting it
    (purge) makes every ciphertext of this resident unreadable, in this database and
    in every backup of it. Two blind indexes (``vault``) let clerks find a resident
    without any name being searchable: ``blind_index``, a keyed hash of all the
    normalised name tokens and the birth date (likely duplicates, and the "name and
    date of birth" search), and ``family_year_index``, a keyed hash of the family-name
    tokens and the birth year (coarse on purpose). Purge sets both to NULL.
    """

    __tablename__ = "residents"
    # Migration 0010: residents past retention (purge), live rows only.
    __table_args__ = (
        Index("ix_residents_last_card_expiry", "last_card_expires_at",
              postgresql_where=text("purged_at IS NULL"),
              sqlite_where=text("purged_at IS NULL")),
        Index("ix_residents_cardless", "created_at",
              postgresql_where=text("last_card_expires_at IS NULL AND purged_at IS NULL"),
              sqlite_where=text("last_card_expires_at IS NULL AND purged_at IS NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    record: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    blind_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # NULL for rows registered before migration 0007 until ``cardservice residents reindex``.
    family_year_index: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    last_card_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    cards: Mapped[list[Card]] = relationship(back_populates="resident",
                                             order_by="Card.issued_at.desc()")


class CardStatus(enum.StrEnum):
    """Where a card stands."""

    ACTIVE = "active"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class Card(Base):
    """An issued card. What the QR says is signed; this row holds no personal data in clear.

    ``print_data`` (the QR text and renewal code, for reprints) is sealed with the
    resident's data key, so it disappears with a purge; ``renewal_code_hash`` is an
    argon2id hash so a resident can ask for renewal without an account.
    """

    __tablename__ = "cards"
    # Migration 0010: cards issued in a period (batch printing), and those not printed yet.
    __table_args__ = (
        Index("ix_cards_issued_at", "issued_at"),
        Index("ix_cards_unprinted", "issued_at", "serial", "status",
              postgresql_where=text("printed_at IS NULL AND print_data IS NOT NULL"),
              sqlite_where=text("printed_at IS NULL AND print_data IS NOT NULL")),
    )

    serial: Mapped[str] = mapped_column(String(16), primary_key=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    status: Mapped[str] = mapped_column(String(16), default=CardStatus.ACTIVE)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revocation_reason: Mapped[str | None] = mapped_column(String(16), nullable=True)
    superseded_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kid: Mapped[str] = mapped_column(String(16))
    renewal_code_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    print_data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    resident: Mapped[Resident] = relationship(back_populates="cards")


class Counter(Base):
    """Named counters that only grow (revocation list sequence, trust bundle version)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class VerificationCount(Base):
    """How many verifications ended in each status, per day: counts only, never who."""

    __tablename__ = "verification_counts"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(24), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)


class RenewalRequest(Base):
    """A resident's request about their card, made without an account.

    ``id`` is a 128-bit random capability: whoever holds the status link may read the
    status, nobody can guess one. Requested changes (address, gender marker, preferred
    name) are sealed with the resident's data key, like the rest of their record.
    """

    __tablename__ = "renewal_requests"
    # Migration 0010: the clerks' queue, oldest first, a page at a time.
    __table_args__ = (Index("ix_renewal_requests_queue", "status", "created_at", "id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    serial: Mapped[str] = mapped_column(ForeignKey("cards.serial"), index=True)
    resident_id: Mapped[str] = mapped_column(ForeignKey("residents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    changes: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reject_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    new_serial: Mapped[str | None] = mapped_column(String(16), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)


class PublishedDocument(Base):
    """This city's signed trust bundles and revocation lists, as published (newest wins)."""

    __tablename__ = "published_documents"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    digest: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Partner(Base):
    """A partner city whose cards this city recognises, pinned by its root fingerprint.

    ``state`` holds the partner's raw signed documents (``trust.TrustedState``); they are
    re-verified against ``fingerprint`` whenever they are loaded.
    """

    __tablename__ = "partners"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(2048))
    fingerprint: Mapped[str] = mapped_column(String(80))
    state: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_result: Mapped[str | None] = mapped_column(String(500), nullable=True)


class RecognitionRequest(Base):
    """A signed request from another city to be recognised, waiting for an admin."""

    __tablename__ = "recognition_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(2048))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")


class Alliance(Base):
    """An alliance this city holds a member list of (SPEC §5b).

    ``state`` is the signed list and the roots that vouched for it
    (``trust.AllianceState``); it is checked again whenever it is loaded.
    """

    __tablename__ = "alliances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alliance_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[bytes] = mapped_column(LargeBinary)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_result: Mapped[str | None] = mapped_column(String(500), nullable=True)


class AllianceMember(Base):
    """A member of an alliance held, and the trust data fetched from it.

    ``listed_fingerprint`` is the root the member list names; ``state`` (a
    ``trust.TrustedState``, pinned by that fingerprint) is empty until the member's bundle
    was fetched and matched it; ``fingerprint`` is the state's root (it follows a
    rotation). ``suspended`` is this city's own decision.
    """

    __tablename__ = "alliance_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alliance_id: Mapped[str] = mapped_column(String(64), index=True)
    city_id: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(64))
    base_url: Mapped[str] = mapped_column(String(2048))
    listed_fingerprint: Mapped[str] = mapped_column(String(80))
    fingerprint: Mapped[str | None] = mapped_column(String(80), nullable=True)
    state: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_sync_result: Mapped[str | None] = mapped_column(String(500), nullable=True)

    __table_args__ = (Index("ux_alliance_member", "alliance_id", "city_id", unique=True),)


class AllianceDraft(Base):
    """A proposed member list with the signatures gathered so far (``status`` pending,
    published, or superseded once a version at least as high is held)."""

    __tablename__ = "alliance_drafts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alliance_id: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ux_alliance_draft", "alliance_id", "digest", unique=True),)


class KnownRoot(Base):
    """A city root certificate seen in a bundle that matched a fingerprint.

    Used only to check signatures on member lists: a root counts for a member only when
    its SHA-256 is the fingerprint a list names, so holding one more here trusts nothing.
    """

    __tablename__ = "known_roots"

    fingerprint: Mapped[str] = mapped_column(String(80), primary_key=True)
    city_id: Mapped[str] = mapped_column(String(8))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
