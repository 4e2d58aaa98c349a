"""Every use case is one unit of work: a failure after its first write leaves nothing behind.

A failure is injected right after the first INSERT, UPDATE or DELETE that a use case
sends to the database (a real SQLite file and a real PostgreSQL); the whole database
is then compared with what it held before, row by row, audit log and counters included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, text

from cardservice.application import Application
from cardservice.clock import utcnow
from cardservice.db import Database
from cardservice.errors import DomainError
from cardservice.models import Base
from cardservice.services.verification import IssuerInfo
from tests.web.test_partners import other_city_bundle

ANA: dict[str, Any] = {
    "given_names": "Ana Maria", "family_names": "Silva", "date_of_birth": "1990-04-12",
    "address": {"line1": "Rua das Flores 10"}, "documents": ["passport", "utility_bill"],
    "contact": {"email": "ana@example.org"},
}


class InjectedFailure(Exception):
    """The crash the test causes."""


class FailAfterFirstWrite:
    """Raises ``InjectedFailure`` once, right after the first write statement ran."""

    def __init__(self, db: Database) -> None:
        self.armed = False
        self.fired: str | None = None
        event.listen(db.engine, "after_cursor_execute", self._after)

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.armed and statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            self.armed = False
            self.fired = statement.split()[0:3].__str__()
            raise InjectedFailure(statement[:60])


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    out = {}
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(text(f'SELECT * FROM "{table.name}"')).all()
            out[table.name] = sorted((tuple(r) for r in rows), key=repr)
    return out


@pytest.fixture
def city(settings) -> Iterator[Application]:
    app = Application(settings)
    yield app
    app.db.dispose()


@pytest.fixture
def world(city: Application, staff) -> dict[str, Any]:
    """A city with a resident holding a card, a pending request, a partner and a request."""
    rid = city.residents.register({**ANA}, photo=None, confirm_new=False, actor="clerk1")
    card = city.cards.issue(rid, actor="clerk1")
    other = city.residents.register({**ANA, "given_names": "Rui"}, photo=None,
                                    confirm_new=False, actor="clerk1")
    other_card = city.cards.issue(other, actor="clerk1")
    request = city.renewals.request(serial=other_card.serial, date_of_birth="1990-04-12",
                                    renewal_code=other_card.renewal_code, kind="damaged",
                                    changes=None, locale="en")
    lyon, lyon_fp = other_city_bundle()
    city.partners.import_documents(bundle=lyon, revocations=None, fingerprint=lyon_fp,
                                   actor="admin1")
    gao, _ = other_city_bundle("MLGAQ", "Gao")
    city.partners.receive_request(gao)
    return {"resident": rid, "card": card, "request": request.id,
            "gao_request": city.partners.pending_requests()[0].id}


USE_CASES: dict[str, Callable[[Application, dict[str, Any]], object]] = {
    "create a staff account": lambda a, w: a.staff.create(username="new", role="clerk",
                                                          actor="admin1"),
    "count a wrong sign-in": lambda a, w: a.staff.sign_in(username="clerk1", password="no",
                                                          source="192.0.2.1"),
    "disable an account": lambda a, w: a.staff.set_disabled("agent1", disabled=True,
                                                            actor="admin1"),
    "create an API token": lambda a, w: a.staff.create_token("agent1", actor="admin1"),
    "register a resident": lambda a, w: a.residents.register(
        {**ANA, "given_names": "Joana"}, photo=None, confirm_new=False, actor="clerk1"),
    "correct a record": lambda a, w: a.residents.correct(
        w["resident"], {"preferred_name": "Ana"}, photo=None, actor="clerk1"),
    "search by name (audited)": lambda a, w: a.residents.find_by_name(
        given_names="Ana Maria", family_names="Silva",
        date_of_birth=__import__("datetime").date(1990, 4, 12), actor="clerk1"),
    "search by family name and year (audited)": lambda a, w: a.residents.find(
        __import__("cardservice.application").application.FamilyQuery("Silva", 1990),
        actor="clerk1"),
    "issue a card (superseding one)": lambda a, w: a.cards.issue(w["resident"],
                                                                 actor="clerk1"),
    "revoke a card": lambda a, w: a.cards.revoke(w["card"].serial, reason="lost",
                                                 actor="clerk1"),
    "confirm a card printed": lambda a, w: a.cards.mark_printed(w["card"].serial,
                                                                actor="clerk1"),
    "report a card stolen": lambda a, w: a.renewals.request(
        serial=w["card"].serial, date_of_birth="1990-04-12",
        renewal_code=w["card"].renewal_code, kind="stolen", changes=None, locale="en"),
    "approve a request": lambda a, w: a.renewals.approve(w["request"], actor="clerk1"),
    "reject a request": lambda a, w: a.renewals.reject(w["request"], reason="no",
                                                       actor="clerk1"),
    "suspend a partner": lambda a, w: a.partners.set_suspended("FRLYS", suspended=True,
                                                              actor="admin1"),
    "remove a partner": lambda a, w: a.partners.remove("FRLYS", actor="admin1"),
    "accept a recognition request": lambda a, w: a.partners.decide_request(
        w["gao_request"], accept=True, fingerprint=_gao_fingerprint(a), actor="admin1"),
    "forget a resident": lambda a, w: a.residents.purge(w["resident"], actor="admin1",
                                                        reason="retention"),
}


def _gao_fingerprint(app: Application) -> str:
    from cardservice import trust
    from cardservice.models import RecognitionRequest

    with app.db.session() as s:
        data = s.query(RecognitionRequest).filter_by(city_id="MLGAQ").one().data
    return trust.decode_bundle_unverified(data).fingerprint


@pytest.mark.parametrize("use_case", list(USE_CASES))
def test_a_failure_after_the_first_write_leaves_nothing(city, world, use_case):
    run = USE_CASES[use_case]
    injector = FailAfterFirstWrite(city.db)
    before = snapshot(city.db)
    injector.armed = True
    with pytest.raises(Exception) as info:  # noqa: PT011 - the injected failure, wrapped or not
        run(city, world)
    assert injector.fired, f"{use_case} wrote nothing, so nothing was tested"
    assert "InjectedFailure" in repr(info.value) or isinstance(
        info.value.__cause__ or info.value.__context__, InjectedFailure), info.value
    assert snapshot(city.db) == before
    # And the same use case, without the failure, does change the database (a wrong
    # sign-in raises, yet keeps its count).
    try:
        run(city, world)
    except DomainError:
        assert use_case == "count a wrong sign-in"
    assert snapshot(city.db) != before


def test_the_verifier_sees_a_partner_change_at_once_in_its_own_process(city, world):
    lyon = IssuerInfo("FRLYS", "Lyon", own=False)
    assert city.verifier.anchors(now=utcnow()).issuer("FRLYS") == lyon
    city.partners.set_suspended("FRLYS", suspended=True, actor="admin1")
    assert city.verifier.anchors(now=utcnow()).issuer("FRLYS").suspended
