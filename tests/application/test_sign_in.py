"""Staff sign-in under attack: parallel guesses, enumeration, strangers locking out the admin.

Real SQLite and PostgreSQL (the ``settings`` fixture runs each test on both), real
argon2, real threads against the application layer.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cardservice.application import Application, UnitOfWork
from cardservice.clock import utcnow
from cardservice.errors import AuthenticationError
from cardservice.models import AuditEntry, SignInThrottle, User
from cardservice.services import users

STRANGER = "203.0.113.9"
OFFICE = "198.51.100.7"


@pytest.fixture
def city(settings) -> Iterator[Application]:
    app = Application(settings)
    yield app
    app.db.dispose()


def audit_count(app: Application, action: str) -> int:
    with app.db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == action)) or 0


def failed_logins(app: Application, username: str) -> int:
    with app.db.session() as s:
        return s.scalar(select(User.failed_logins).where(User.username == username)) or 0


def test_sixteen_parallel_wrong_sign_ins_count_sixteen_and_lock_once(city, staff):
    """Finding 5: before, 16 parallel guesses were all judged, left failed_logins=3 and
    wrote six ``user.locked`` entries."""
    barrier = threading.Barrier(16)
    refused: list[str] = []
    errors: list[BaseException] = []

    def guess(n: int) -> None:
        barrier.wait(timeout=60)
        try:
            city.staff.sign_in(username="admin1", password=f"guess number {n}", source=STRANGER)
        except AuthenticationError as exc:
            refused.append(exc.code)
        except BaseException as exc:  # noqa: BLE001 - reported below, with the thread's error
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(refused) == 16 and set(refused) == {"unauthorized"}
    assert failed_logins(city, "admin1") == 16
    assert audit_count(city, "user.locked") == 1
    with city.db.session() as s:
        # only the first max_failed guesses were judged; the rest found the source waiting
        assert s.scalars(select(SignInThrottle.failures)).all() == [5]
    # the right password from that source is refused now, like a wrong one
    with pytest.raises(AuthenticationError):
        city.staff.sign_in(username="admin1", password=staff["admin"].password, source=STRANGER)


def test_a_stranger_cannot_lock_the_admin_out(city, staff):
    """Finding 6: before, five wrong passwords from anywhere locked the account for all."""
    for n in range(12):
        with pytest.raises(AuthenticationError):
            city.staff.sign_in(username="admin1", password=f"guess {n}", source=STRANGER)
    signed = city.staff.sign_in(username="admin1", password=staff["admin"].password,
                                source=OFFICE)
    assert signed.member.username == "admin1"
    # the stranger's address still waits, even with the right password
    with pytest.raises(AuthenticationError):
        city.staff.sign_in(username="admin1", password=staff["admin"].password, source=STRANGER)


# Each refused case, as an attacker would try it; all must cost one argon2 verification
# and raise the same error with the same message.
REFUSALS = {
    "unknown name": ("nobody-here", "some password", OFFICE),
    "wrong password": ("clerk1", "some password", OFFICE),
    "right password, source waiting": ("clerk1", None, STRANGER),
    "disabled account, right password": ("agent1", None, OFFICE),
}


def test_unknown_wrong_waiting_and_disabled_are_refused_alike(city, staff, monkeypatch):
    """Finding 6: before, a locked account answered differently and without argon2."""
    city.staff.set_disabled("agent1", disabled=True, actor="admin1")
    for n in range(5):
        with pytest.raises(AuthenticationError):
            city.staff.sign_in(username="clerk1", password=f"guess {n}", source=STRANGER)
    verified: list[str] = []
    real_verify = users._hasher.__class__.verify

    def counting_verify(self, hash_, password):  # a spy: the real argon2 runs
        verified.append(hash_)
        return real_verify(self, hash_, password)

    monkeypatch.setattr(users._hasher.__class__, "verify", counting_verify)
    answers = {}
    for case, (name, password, source) in REFUSALS.items():
        if password is None:
            password = next(a.password for a in staff.values() if a.username == name)
        before = len(verified)
        with pytest.raises(AuthenticationError) as info:
            city.staff.sign_in(username=name, password=password, source=source)
        assert len(verified) == before + 1, f"{case}: argon2 did not run exactly once"
        answers[case] = (type(info.value), info.value.code, info.value.http_status,
                         info.value.translated(lambda m: m))
    assert len(set(answers.values())) == 1, answers


def test_waits_double_and_a_good_sign_in_forgets_the_source(db, staff):
    policy = users.SignInPolicy(key=b"k" * 32, max_failed=3, lock_for=timedelta(minutes=10))
    start = utcnow()

    def claim(at_minutes: float) -> users.SignInAttempt:
        with UnitOfWork(db)() as s:
            return users.claim_sign_in(s, username="clerk1", source=STRANGER,
                                       now=start + timedelta(minutes=at_minutes), policy=policy)

    def waits_until() -> float:
        with db.session() as s:
            until = s.scalar(select(SignInThrottle.blocked_until))
        return (until - start).total_seconds() / 60 if until else 0.0

    assert [claim(0).may_succeed for _ in range(3)] == [True, True, True]
    assert waits_until() == 10
    assert not claim(9).may_succeed            # still waiting; not judged, no longer wait
    assert waits_until() == 10
    assert claim(11).may_succeed               # one more try after the wait…
    assert waits_until() == 11 + 20            # …and a wrong one doubles it
    assert claim(32).may_succeed
    assert waits_until() == 32 + 40
    # a day without attempts: the count starts again
    assert claim(72 + 24 * 60).may_succeed
    assert waits_until() == 32 + 40
    with db.session() as s:
        assert s.scalar(select(SignInThrottle.failures)) == 1
    # a good sign-in from the source forgets it
    attempt = claim(72 + 24 * 60 + 1)
    with UnitOfWork(db)() as s:
        users.complete_sign_in(s, attempt=attempt, password=staff["clerk"].password,
                               now=start + timedelta(days=2), policy=policy)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottle)) == 0


def test_an_admin_reset_lets_waiting_sources_try_again(city, staff):
    for n in range(5):
        with pytest.raises(AuthenticationError):
            city.staff.sign_in(username="clerk1", password=f"guess {n}", source=STRANGER)
    password = city.staff.reset_password("clerk1", actor="admin1")
    assert city.staff.sign_in(username="clerk1", password=password, source=STRANGER)


SOURCES = {
    "IPv4 is itself": ("192.0.2.10", "192.0.2.10"),
    "IPv6 counts as its /64": ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
    "another address in the same /64": ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
    "IPv4-mapped IPv6 is the IPv4": ("::ffff:192.0.2.10", "192.0.2.10"),
    "missing": (None, "unknown"),
    "garbage": ("not an address", "unknown"),
}


@pytest.mark.parametrize("case", list(SOURCES))
def test_source_of(case):
    address, expected = SOURCES[case]
    assert users.source_of(address) == expected
