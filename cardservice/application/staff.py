"""Use cases of staff accounts and the audit log."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cardservice.application.unit import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import N_, AuthenticationError, DomainError, NotFoundError
from cardservice.services import audit, users
from cardservice.services.users import StaffMember


@dataclass(frozen=True)
class AuditEntryView:
    """One audit entry as the admin page shows it."""

    seq: int
    at: datetime
    actor: str
    action: str
    target_type: str
    target_id: str
    details: dict[str, object]


@dataclass(frozen=True)
class AuditPage:
    """A page of the audit log under a filter, with what the pager needs.

    ``position`` is the 1-based rank of the first entry shown (1 = the newest match);
    ``older_than`` / ``newer_than`` are the keys of the next pages, None at either end.
    """

    entries: list[AuditEntryView]
    total: int
    position: int
    older_than: int | None
    newer_than: int | None


@dataclass(frozen=True)
class NewAccount:
    """A created account and its one-time password (shown once)."""

    member: StaffMember
    password: str


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the account and its new browser session's id (for the cookie)."""

    member: StaffMember
    session_id: str = field(repr=False)


class StaffUseCases:
    """Create, sign in, disable, reset staff accounts; API tokens; the audit log."""

    def __init__(self, settings: Settings, uow: UnitOfWork) -> None:
        self._settings = settings
        self._uow = uow

    def _policy(self) -> users.SignInPolicy:
        cfg = self._settings.auth
        # A key of its own, derived from the server secret, for the throttle's hashes.
        key = hashlib.sha256(b"cardservice sign-in throttle\0"
                             + self._settings.secret_key.encode()).digest()
        return users.SignInPolicy(key=key, max_failed=cfg.max_failed_logins,
                                  lock_for=timedelta(minutes=cfg.lockout_minutes))

    def create(self, *, username: str, role: str, actor: str, password: str | None = None
               ) -> NewAccount:
        """Create an account; its password is generated unless given."""
        with self._uow() as s:
            user, pw = users.create_user(s, username=username, role=role, actor=actor,
                                         now=utcnow(), password=password)
            return NewAccount(StaffMember.of(user), pw)

    def ensure_admin(self, *, username: str, actor: str) -> NewAccount | None:
        """Create this admin unless an account of that name exists (``init``)."""
        with self._uow() as s:
            try:
                users.get_user(s, username)
            except NotFoundError:
                user, pw = users.create_user(s, username=username, role="admin", actor=actor,
                                             now=utcnow())
                return NewAccount(StaffMember.of(user), pw)
            return None

    def all(self) -> list[StaffMember]:
        """Every account, by username."""
        with self._uow.read() as s:
            return [StaffMember.of(u) for u in users.list_users(s)]

    def sign_in(self, *, username: str, password: str, source: str | None) -> SignedIn:
        """Check a sign-in from ``source`` (the client address).

        Two units of work, on purpose: the attempt is counted and committed first, then
        the password is checked with no transaction open (argon2 takes a while, and on
        SQLite an open write would stall every other writer), then a good password
        signs in. Every refusal raises the same ``AuthenticationError``.
        """
        policy = self._policy()
        with self._uow() as s:
            attempt = users.claim_sign_in(s, username=username, source=source, now=utcnow(),
                                          policy=policy)
        # Always verified, even when the answer is already no: every refusal costs the same.
        matches = users.password_matches(attempt.password_hash, password)
        if not (matches and attempt.may_succeed):
            raise AuthenticationError(users.SIGN_IN_REFUSED)
        with self._uow() as s:
            now = utcnow()
            member = users.complete_sign_in(s, attempt=attempt, password=password, now=now,
                                            policy=policy)
            return SignedIn(member, users.start_session(s, user_id=member.id, now=now,
                                                        lifetime=self._session_lifetime()))

    def _session_lifetime(self) -> timedelta:
        return timedelta(hours=self._settings.auth.session_hours)

    def member_for_session(self, session_id: str) -> StaffMember | None:
        """The account behind a browser session, unless it ended, expired or was disabled."""
        with self._uow.read() as s:
            user = users.member_for_session(s, session_id, now=utcnow())
            return StaffMember.of(user) if user is not None else None

    def sign_out(self, session_id: str) -> None:
        """End one browser session (a saved copy of its cookie no longer works)."""
        with self._uow() as s:
            users.end_session(s, session_id)

    def for_token(self, token: str) -> StaffMember:
        """The active account an API token belongs to (its use is noted once a minute)."""
        with self._uow() as s:
            return StaffMember.of(users.user_for_token(s, token, now=utcnow()))

    def change_password(self, user_id: int, *, current: str, new: str) -> SignedIn:
        """Replace one's own password; every session ends, this browser gets a new one."""
        with self._uow() as s:
            user = users.user_by_id(s, user_id)
            if user is None:
                raise NotFoundError(N_("No such account."))
            now = utcnow()
            users.change_password(s, user=user, current=current, new=new, now=now)
            return SignedIn(StaffMember.of(user),
                            users.start_session(s, user_id=user.id, now=now,
                                                lifetime=self._session_lifetime()))

    def set_locale(self, user_id: int, locale: str) -> None:
        """Remember an account's language."""
        with self._uow() as s:
            users.set_locale(s, user_id=user_id, locale=locale)

    def set_disabled(self, username: str, *, disabled: bool, actor: str) -> StaffMember:
        """Disable (revoking API tokens) or enable an account."""
        with self._uow() as s:
            return StaffMember.of(users.set_disabled(s, username=username, disabled=disabled,
                                                     actor=actor, now=utcnow()))

    def reset_password(self, username: str, *, actor: str) -> str:
        """A new one-time password for an account, which is unlocked."""
        with self._uow() as s:
            return users.reset_password(s, username=username, actor=actor, now=utcnow(),
                                        policy=self._policy())

    def create_token(self, username: str, *, actor: str) -> str:
        """A new API token (returned once; only its hash is kept)."""
        with self._uow() as s:
            return users.create_token(s, username=username, actor=actor, now=utcnow())

    # ---- audit log ---------------------------------------------------------------------

    def audit_entries(self, *, limit: int, before: int | None = None) -> list[AuditEntryView]:
        """The newest audit entries, keyset-paged by sequence number."""
        with self._uow.read() as s:
            return [AuditEntryView(e.seq, e.at, e.actor, e.action, e.target_type, e.target_id,
                                   dict(e.details or {}))
                    for e in audit.recent(s, limit=limit, before=before)]

    def audit_page(self, query: audit.AuditQuery, *, size: int, before: int | None = None,
                   after: int | None = None) -> AuditPage:
        """One page of the entries matching ``query``, newest first, and the counts."""
        with self._uow.read() as s:
            rows = audit.search(s, query, limit=size, before=before, after=after)
            entries = [AuditEntryView(e.seq, e.at, e.actor, e.action, e.target_type,
                                      e.target_id, dict(e.details or {})) for e in rows]
            total = audit.count(s, query)
            newer = audit.count(s, query, newer_than=entries[0].seq) if entries else 0
        return AuditPage(entries, total, newer + 1,
                         entries[-1].seq if newer + len(entries) < total else None,
                         entries[0].seq if entries and newer > 0 else None)

    def verify_audit(self) -> audit.AuditReport:
        """Recompute the hash chain; ``AuditChainError`` names the first bad entry."""
        with self._uow.read() as s:
            return audit.verify_chain(s)


__all__ = ["AuditEntryView", "AuditPage", "DomainError", "NewAccount", "SignedIn", "StaffMember",
           "StaffUseCases"]
