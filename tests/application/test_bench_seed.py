"""The benchmarks' bulk seeding (``bench/seed.py``) writes rows the application reads as its own.

Seeding is a bench path, not a use case, but if it drifted from what the service writes,
``bench/bench_scale.py`` would measure another register: here the real application finds,
opens, prints, re-issues and audits seeded residents, on SQLite and PostgreSQL (COPY).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from cardservice.application import Application, CardQuery, FamilyQuery, NameQuery
from cardservice.clock import utcnow
from cardservice.config import Settings

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def seed() -> ModuleType:
    """``bench/seed.py`` (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("bench_seed", BENCH / "seed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_seed"] = module
    spec.loader.exec_module(module)
    return module


def test_seeded_register_is_read_by_the_application(settings: Settings, seed: ModuleType
                                                     ) -> None:
    app = Application(settings)
    try:
        first = seed.seed(app, count=120, batch_size=50, purge_candidates=5)
        assert (first.already, first.residents) == (0, 120)
        # Resumes where the last run stopped: the next 80, not 200 more.
        rest = seed.seed(app, count=200, batch_size=50, purge_candidates=5)
        assert (rest.already, rest.residents) == (120, 80)
        assert seed.seeded_count(app) == 200
        assert seed.seed(app, count=200).residents == 0

        live = app.residents.count()
        assert 180 <= live <= 200  # a few were forgotten by a past purge (tombstones)
        found = 0
        for index in range(5, 60):
            person = seed.person(index)
            page = app.residents.find(NameQuery(person.given_names, person.family_names,
                                                person.date_of_birth), actor="test")
            if page.total == 0:  # a tombstone: never found, as after a real purge
                continue
            found += 1
            match = page.matches[0]
            assert (match.full_name, match.date_of_birth) == (person.full_name,
                                                              person.date_of_birth)
            assert app.residents.get(match.id).data == person
            family = app.residents.find(FamilyQuery(person.family_names,
                                                    person.date_of_birth.year), actor="test")
            assert match.id in {m.id for m in family.matches}
            assert match.card is not None
            by_card = app.residents.find(CardQuery(match.card.serial), actor="test")
            assert [m.id for m in by_card.matches] == [match.id]
        assert found >= 45

        # A seeded card in force prints from its sealed print data, and the resident gets
        # a new card that verifies, superseding it.
        person = next(seed.person(i) for i in range(5, 60)
                      if app.residents.find(NameQuery(seed.person(i).given_names,
                                                      seed.person(i).family_names,
                                                      seed.person(i).date_of_birth),
                                            actor="test").total)
        match = app.residents.find(NameQuery(person.given_names, person.family_names,
                                             person.date_of_birth), actor="test").matches[0]
        assert match.card is not None
        if match.card.status == "active":
            assert app.cards.pdf(match.card.serial).startswith(b"%PDF")
        issued = app.cards.issue(match.id, actor="test")
        assert app.verifier.verify(issued.qr, now=utcnow()).status == "valid"
        if match.card.status == "active":
            assert app.cards.get(match.card.serial).status == "superseded"

        plan = app.residents.plan_purge()
        assert len(plan.resident_ids) >= 5
        queue = app.renewals.pending(limit=25)
        assert queue.total == len(queue.items) <= first.requests + rest.requests
        assert all(item.holder_name for item in queue.items)

        # Every seeded change is in the audit chain, which still verifies.
        report = app.staff.verify_audit()
        assert report.entries >= first.audit_entries + rest.audit_entries
        assert first.audit_entries >= 120 + first.cards
    finally:
        app.close()


def test_the_queue_pages_by_keyset_oldest_first(settings: Settings, seed: ModuleType) -> None:
    app = Application(settings)
    try:
        # Seeded residents only for their cards; the requests are filed like residents do.
        seed.seed(app, count=12, purge_candidates=0)
        filed = []
        for index in range(12):
            person = seed.person(index)
            page = app.residents.find(NameQuery(person.given_names, person.family_names,
                                                person.date_of_birth), actor="test")
            card = page.matches[0].card if page.total else None
            if card is None or card.status != "active":
                continue
            view = app.renewals.file(card.serial, kind="damaged", changes=None, locale="en")
            filed.append(view.id)
        already = app.renewals.pending(limit=100)
        order = [item.request.id for item in already.items]
        assert set(filed) <= set(order) and len(order) >= 5

        seen, page = [], app.renewals.pending(limit=2)
        assert page.older is None and page.start == 0 and page.total == len(order)
        while True:
            assert page.start == len(seen)
            seen += [item.request.id for item in page.items]
            if page.newer is None:
                break
            page = app.renewals.pending(limit=2, after=page.newer)
        assert seen == order  # every request once, oldest first
        back = app.renewals.pending(limit=2, before=page.older)
        assert [i.request.id for i in back.items] == order[page.start - 2:page.start]
        # A cursor that names no request starts from the oldest.
        assert app.renewals.pending(limit=2, after="no-such-request").start == 0
    finally:
        app.close()
