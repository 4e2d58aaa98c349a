"""Staff accounts, sign-in with throttling per account and source, and API tokens.

Like every service, these functions change the session and flush; the application
layer commits (``cardservice.application``).

Sign-in rules:

- An attempt is counted *before* its password is checked (``claim_sign_in``), in one
  atomic statement, so parallel attempts cannot lose counts or slip past the limit.
- Unknown names, wrong passwords, disabled accounts and waiting sources get the same
  error, after the same database statements and the same argon2 verification.
- Failures are counted per account *and* source (client address, an IPv6 /64): after
  ``max_failed`` of them that source waits, doubling each time, while the account
  stays open to everyone else. A stranger cannot lock the admin out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from cardservice.errors import (
    N_,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from cardservice.models import ApiToken, Role, SignInThrottle, StaffSession, User
from cardservice.services import audit

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_MIN_PASSWORD = 12
TOKEN_PREFIX = "cs_"  # noqa: S105 - a visible marker so leaked tokens are easy to grep for

# argon2id with the library's RFC 9106 "low memory" profile: strong, and quick enough per login.
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so timing does not reveal usernames.

    Made on first use, not at import: every CLI command imports this module, and an argon2
    hash costs about half a second of CPU.
    """
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffMember:
    """A staff account as pages, the API and the CLI see it (no password hash)."""

    id: int
    username: str
    role: str
    must_change_password: bool
    disabled: bool
    locale: str | None
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> StaffMember:
        """The view of an account row."""
        return cls(id=user.id, username=user.username, role=user.role,
                   must_change_password=user.must_change_password, disabled=user.disabled,
                   locale=user.locale, created_at=user.created_at,
                   last_login_at=user.last_login_at)


# One answer for every refused sign-in, whatever the reason, so it reveals nothing.
SIGN_IN_REFUSED = N_("Wrong username or password (or too many attempts from here: "
                     "wait a few minutes and try again).")


@dataclass(frozen=True)
class SignInPolicy:
    """How failed sign-ins are counted and how long a source waits after too many.

    ``key`` makes the stored account and source keys keyed hashes (HMAC), so the table
    holds neither staff addresses nor the names strangers typed.
    """

    key: bytes = field(repr=False)
    max_failed: int = 5
    lock_for: timedelta = timedelta(minutes=15)
    max_block: timedelta = timedelta(hours=24)
    # Attempts older than this are forgotten: the count starts again at one.
    forget_after: timedelta = timedelta(hours=24)

    def account_key(self, username: str) -> str:
        """The stored key of an account name (known or not)."""
        return self._mac("account", username.strip().lower())

    def source_key(self, address: str | None) -> str:
        """The stored key of a client address; an IPv6 client is its /64 network.

        Anyone with an IPv6 connection holds a whole /64, so counting single addresses
        would let one person try from billions of them.
        """
        return self._mac("source", source_of(address))

    def block_for(self, failures: int) -> timedelta:
        """How long a source waits after its ``failures``-th failure (doubling, capped)."""
        if failures < self.max_failed:
            return timedelta(0)
        doublings = min(failures - self.max_failed, 20)
        return min(self.lock_for * (2 ** doublings), self.max_block)

    def _mac(self, kind: str, value: str) -> str:
        return hmac.new(self.key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def source_of(address: str | None) -> str:
    """The source an address counts as: itself for IPv4, its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


@dataclass(frozen=True)
class SignInAttempt:
    """A sign-in attempt, counted before its password is checked.

    ``password_hash`` is the account's, or a dummy one for an unknown name: the
    password is verified either way, so every refusal costs the same.
    """

    account_key: str
    source_key: str
    user_id: int | None
    password_hash: str = field(repr=False)
    # False: unknown or disabled account, or this source must wait; the password is
    # still checked (same work), its result is not trusted.
    may_succeed: bool = False


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (argon2; always the full work)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random one-time password, easy to read aloud (no ambiguous characters)."""
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(4)]
    return "-".join(groups)


def check_password_strength(password: str) -> None:
    """Refuse passwords that are too short."""
    if len(password) < _MIN_PASSWORD:
        raise InvalidInputError(
            N_("Passwords need at least %(num)d characters."), params={"num": _MIN_PASSWORD},
            field="password",
        )


def create_user(
    session: Session, *, username: str, role: str, actor: str, now: datetime,
    password: str | None = None,
) -> tuple[User, str]:
    """Create an account; returns it with its password (generated when not given)."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise InvalidInputError(
            N_("A username has 2 to 63 characters: lower-case letters, digits, '.', '_' or '-'."),
            field="username",
        )
    if role not in {r.value for r in Role}:
        raise InvalidInputError(N_("The role must be admin, clerk or agent."), field="role")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(N_("The username %(name)s is taken."), params={"name": repr(username)},
                            field="username")
    generated = password is None
    if password is None:
        password = generate_password()
    else:
        check_password_strength(password)
    user = User(
        username=username, role=role, password_hash=hash_password(password),
        must_change_password=generated, created_at=now, disabled=False, failed_logins=0,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor=actor, action="user.create", target_type="user",
                 target_id=user.id, now=now, details={"role": role})
    return user, password


def get_user(session: Session, username: str) -> User:
    """The account with this username, or ``NotFoundError``."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFoundError(N_("No user named %(name)s."), params={"name": repr(username)})
    return user


def user_by_id(session: Session, user_id: int) -> User | None:
    """The account with this id, if it exists."""
    return session.get(User, user_id)


def set_locale(session: Session, *, user_id: int, locale: str) -> None:
    """Remember an account's language."""
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale
        session.flush()


def list_users(session: Session) -> list[User]:
    """All accounts, by username."""
    return list(session.scalars(select(User).order_by(User.username)))


def claim_sign_in(
    session: Session, *, username: str, source: str | None, now: datetime,
    policy: SignInPolicy,
) -> SignInAttempt:
    """Count a sign-in attempt before its password is checked.

    The caller commits this before the (slow) password check, so no lock is held
    during it, and parallel attempts each get their own number: exactly the first
    ``max_failed`` of a source are judged, the one that reaches the limit starts the
    wait (and is the only one to write ``user.locked``), later ones are refused.
    Unknown and known names run the same statements.
    """
    name = username.strip().lower()
    account, src = policy.account_key(name), policy.source_key(source)
    keys = (SignInThrottle.account_key == account, SignInThrottle.source_key == src)
    session.execute(_insert_ignoring_conflict(session).values(
        account_key=account, source_key=src, failures=0, blocked_until=None,
        last_attempt_at=now))
    # Atomic: the row is locked (PostgreSQL) or the database is (SQLite) until commit.
    counted = session.execute(
        update(SignInThrottle)
        .where(*keys, or_(SignInThrottle.blocked_until.is_(None),
                          SignInThrottle.blocked_until <= now))
        .values(failures=case((SignInThrottle.last_attempt_at < now - policy.forget_after, 1),
                              else_=SignInThrottle.failures + 1),
                last_attempt_at=now)
        .returning(SignInThrottle.failures)
    ).scalar_one_or_none()
    starts_wait = counted is not None and counted >= policy.max_failed
    if starts_wait:
        session.execute(update(SignInThrottle).where(*keys)
                        .values(blocked_until=now + policy.block_for(counted or 0)))
    # Counted as refused until it succeeds (complete_sign_in resets it).
    row = session.execute(
        update(User).where(User.username == name)
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.id, User.password_hash, User.disabled)
    ).first()
    if row is None:
        return SignInAttempt(account, src, None, _dummy_hash(), may_succeed=False)
    if starts_wait:
        minutes = int(policy.block_for(counted or 0).total_seconds() // 60)
        audit.record(session, actor="system", action="user.locked", target_type="user",
                     target_id=row.id, now=now, details={"scope": "source", "minutes": minutes})
    session.flush()
    return SignInAttempt(account, src, row.id, row.password_hash,
                         may_succeed=counted is not None and not row.disabled)


def complete_sign_in(
    session: Session, *, attempt: SignInAttempt, password: str, now: datetime,
    policy: SignInPolicy,
) -> StaffMember:
    """Finish an attempt whose password matched: forget this source's failures, sign in."""
    user = session.get(User, attempt.user_id) if attempt.user_id is not None else None
    if user is None or user.disabled:  # disabled or deleted while the password was checked
        raise AuthenticationError(SIGN_IN_REFUSED)
    session.execute(delete(SignInThrottle).where(
        SignInThrottle.account_key == attempt.account_key,
        SignInThrottle.source_key == attempt.source_key))
    # Housekeeping: counts nobody has added to for a day, with no wait running.
    session.execute(delete(SignInThrottle).where(
        SignInThrottle.last_attempt_at < now - policy.forget_after,
        or_(SignInThrottle.blocked_until.is_(None), SignInThrottle.blocked_until <= now)))
    user.failed_logins = 0
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, actor=user.username, action="user.login", target_type="user",
                 target_id=user.id, now=now)
    session.flush()
    return StaffMember.of(user)


def start_session(session: Session, *, user_id: int, now: datetime, lifetime: timedelta) -> str:
    """A new browser session for this account; returns its id (only its hash is kept)."""
    session_id = secrets.token_urlsafe(32)
    session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    session.add(StaffSession(id_hash=_token_digest(session_id), user_id=user_id,
                             created_at=now, expires_at=now + lifetime))
    session.flush()
    return session_id


def member_for_session(session: Session, session_id: str, *, now: datetime) -> User | None:
    """The active account of an unexpired browser session, if any (one query)."""
    return session.scalar(
        select(User).join(StaffSession, StaffSession.user_id == User.id)
        .where(StaffSession.id_hash == _token_digest(session_id),
               StaffSession.expires_at > now, User.disabled.is_(False)))


def end_session(session: Session, session_id: str) -> None:
    """Sign one browser out."""
    session.execute(delete(StaffSession).where(
        StaffSession.id_hash == _token_digest(session_id)))


def end_sessions(session: Session, *, user_id: int) -> None:
    """Sign every browser of this account out."""
    session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))


def _insert_ignoring_conflict(session: Session) -> postgresql.Insert | sqlite.Insert:
    """``INSERT … ON CONFLICT DO NOTHING`` into the throttle table, in this backend's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(SignInThrottle).on_conflict_do_nothing()
    return sqlite.insert(SignInThrottle).on_conflict_do_nothing()


def change_password(
    session: Session, *, user: User, current: str, new: str, now: datetime,
) -> None:
    """Replace a user's password after checking the current one."""
    if not password_matches(user.password_hash, current):
        raise InvalidInputError(N_("The current password is wrong."), field="current_password")
    check_password_strength(new)
    if new == current:
        raise InvalidInputError(N_("Choose a password you have not used here."),
                                field="new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    end_sessions(session, user_id=user.id)
    audit.record(session, actor=user.username, action="user.password", target_type="user",
                 target_id=user.id, now=now)
    session.flush()


def set_disabled(
    session: Session, *, username: str, disabled: bool, actor: str, now: datetime,
) -> User:
    """Disable (or enable again) an account; disabling also revokes its API tokens."""
    user = get_user(session, username)
    if disabled and user.username == actor:
        raise ConflictError(N_("You cannot disable your own account."))
    if disabled and user.role == Role.ADMIN and not user.disabled:
        admins = session.scalars(
            select(User).where(User.role == Role.ADMIN, User.disabled.is_(False))
        ).all()
        if len(admins) <= 1:
            raise ConflictError(N_("This is the last active administrator."))
    user.disabled = disabled
    if disabled:
        end_sessions(session, user_id=user.id)
        for token in user.tokens:
            if token.revoked_at is None:
                token.revoked_at = now
    audit.record(session, actor=actor, action="user.disable" if disabled else "user.enable",
                 target_type="user", target_id=user.id, now=now)
    session.flush()
    return user


def reset_password(
    session: Session, *, username: str, actor: str, now: datetime, policy: SignInPolicy,
) -> str:
    """Give an account a new one-time password; every source waiting on it may try again."""
    user = get_user(session, username)
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    end_sessions(session, user_id=user.id)
    session.execute(delete(SignInThrottle).where(
        SignInThrottle.account_key == policy.account_key(user.username)))
    audit.record(session, actor=actor, action="user.reset_password", target_type="user",
                 target_id=user.id, now=now)
    return password


def _token_digest(token: str) -> str:
    # Tokens carry 256 random bits, so a plain SHA-256 is enough (no need for a slow hash).
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, *, username: str, actor: str, now: datetime) -> str:
    """A new API token for a user; only its hash is kept, the token is returned once."""
    user = get_user(session, username)
    if user.disabled:
        raise ConflictError(N_("%(name)s is disabled."), params={"name": user.username})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_token_digest(token), prefix=token[:10],
                   created_at=now)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="token.create", target_type="user",
                 target_id=user.id, now=now, details={"token_id": row.id})
    return token


def revoke_token(session: Session, *, token_id: int, actor: str, now: datetime) -> None:
    """Revoke one API token."""
    row = session.get(ApiToken, token_id)
    if row is None:
        raise NotFoundError(N_("No API token %(id)s."), params={"id": token_id})
    if row.revoked_at is None:
        row.revoked_at = now
        audit.record(session, actor=actor, action="token.revoke", target_type="user",
                     target_id=row.user_id, now=now, details={"token_id": row.id})


def user_for_token(session: Session, token: str, *, now: datetime) -> User:
    """The active user a bearer token belongs to, or ``AuthenticationError``."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if row is None or row.revoked_at is not None or row.user.disabled:
        raise AuthenticationError(N_("The API token is missing, unknown or revoked."))
    # Record use at most once a minute, so reads stay reads.
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        session.flush()
    return row.user
