"""Staff accounts, sign-in with lock-out, and API tokens.

Like every service, these functions change the session and flush; the application
layer commits (``cardservice.application``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cardservice.errors import (
    N_,
    AccountLockedError,
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from cardservice.models import ApiToken, Role, User
from cardservice.services import audit

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_MIN_PASSWORD = 12
TOKEN_PREFIX = "cs_"  # noqa: S105 - a visible marker so leaked tokens are easy to grep for

# argon2id with the library's RFC 9106 "low memory" profile: strong, and quick enough per login.
_hasher = PasswordHasher()
# Verified against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


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
    # A slice of the password hash: a browser session is bound to it, so a password
    # change signs the account out elsewhere.
    session_tag: str

    @classmethod
    def of(cls, user: User) -> StaffMember:
        """The view of an account row."""
        return cls(id=user.id, username=user.username, role=user.role,
                   must_change_password=user.must_change_password, disabled=user.disabled,
                   locale=user.locale, created_at=user.created_at,
                   last_login_at=user.last_login_at, session_tag=user.password_hash[-16:])


@dataclass(frozen=True)
class SignInOutcome:
    """What a sign-in attempt did: the account on success, else the error to raise.

    A failed attempt still changes the database (the failure count, a lock-out), so
    it is returned, not raised, and the caller commits before raising ``error``.
    """

    member: StaffMember | None
    error: AuthenticationError | None


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failed sign-ins lock an account, and for how long."""

    max_failed: int = 5
    lock_for: timedelta = timedelta(minutes=15)


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


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


def authenticate(
    session: Session, *, username: str, password: str, now: datetime, policy: LockoutPolicy,
) -> SignInOutcome:
    """Check a sign-in; counts failures and locks the account after too many."""
    wrong = AuthenticationError(N_("Wrong username or password."))
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        _verify_quietly(_DUMMY_HASH, password)
        return SignInOutcome(None, wrong)
    if user.locked_until is not None and user.locked_until > now:
        return SignInOutcome(None, AccountLockedError(
            N_("Too many failed attempts: this account is locked for a while. "
            "Try again later or ask an administrator.")))
    if not _verify_quietly(user.password_hash, password) or user.disabled:
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failed:
            user.locked_until = now + policy.lock_for
            user.failed_logins = 0
            audit.record(session, actor="system", action="user.locked", target_type="user",
                         target_id=user.id, now=now)
        session.flush()
        return SignInOutcome(None, wrong)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    audit.record(session, actor=user.username, action="user.login", target_type="user",
                 target_id=user.id, now=now)
    session.flush()
    return SignInOutcome(StaffMember.of(user), None)


def _verify_quietly(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def change_password(
    session: Session, *, user: User, current: str, new: str, now: datetime,
) -> None:
    """Replace a user's password after checking the current one."""
    if not _verify_quietly(user.password_hash, current):
        raise InvalidInputError(N_("The current password is wrong."), field="current_password")
    check_password_strength(new)
    if new == current:
        raise InvalidInputError(N_("Choose a password you have not used here."),
                                field="new_password")
    user.password_hash = hash_password(new)
    user.must_change_password = False
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
        for token in user.tokens:
            if token.revoked_at is None:
                token.revoked_at = now
    audit.record(session, actor=actor, action="user.disable" if disabled else "user.enable",
                 target_type="user", target_id=user.id, now=now)
    session.flush()
    return user


def reset_password(session: Session, *, username: str, actor: str, now: datetime) -> str:
    """Give an account a new one-time password and unlock it."""
    user = get_user(session, username)
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
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
