"""Finding residents at the desk: by card (typed or scanned), by names and date of birth,
by family name and year of birth — through blind indexes only, on SQLite and PostgreSQL.

The pages run through the real app with real CSRF tokens; the use cases underneath through
the application layer, as the CLI would.
"""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import select, text

from cardservice import serials
from cardservice.application import (
    CardOfAnotherCityError,
    CardQuery,
    FamilyQuery,
    NameQuery,
)
from cardservice.errors import InvalidInputError
from cardservice.models import AuditEntry, Resident
from tests.web.test_clerk import jpeg_bytes, post_form, registered


@pytest.fixture
def clerk(client, auth, staff):
    """The test client, signed in as a clerk."""
    auth.login(staff["clerk"])
    return client


@pytest.fixture
def application(app):
    return app.extensions["cardservice"]


def fields(given: str, family: str, born: str) -> dict:
    return {"given_names": given, "family_names": family, "date_of_birth": born,
            "address": {"line1": "Rua 1"}, "documents": ["passport", "utility_bill"]}


def found_ids(html: str) -> list[str]:
    return re.findall(r'<a href="/clerk/residents/([0-9a-f]+)"><strong>', html)


def search_audit(db) -> list[dict]:
    with db.session() as s:
        rows = s.scalars(select(AuditEntry).where(AuditEntry.action == "resident.search")
                         .order_by(AuditEntry.seq)).all()
        return [dict(r.details) | {"target": r.target_id} for r in rows]


def test_card_search_by_typed_serial_and_by_scan(clerk, application, db):
    rid = registered(clerk, photo=jpeg_bytes())
    issued = application.cards.issue(rid, actor="test")
    typed = " " + serials.format_serial(issued.serial).lower().replace("-", " ") + " "

    page = post_form(clerk, "/clerk/", {"search": "card", "card": typed})
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html[:2000]
    assert "1 resident found" in html and found_ids(html) == [rid]
    assert "Ana Maria Conceição da Silva" in html
    assert f'src="/clerk/residents/{rid}/photo"' in html
    assert 'alt="Photo of Ana Maria Conceição da Silva"' in html
    assert serials.format_serial(issued.serial) in html and "status-active" in html

    # What a hand scanner types: the QR text, then Enter.
    scanned = post_form(clerk, "/clerk/", {"search": "card", "card": issued.qr})
    assert scanned.status_code == 200 and found_ids(scanned.get_data(as_text=True)) == [rid]
    # A link with the serial still works (GET: nothing changes, nothing secret in it).
    linked = clerk.get("/clerk/", query_string={"serial": issued.serial})
    assert linked.status_code == 200 and found_ids(linked.get_data(as_text=True)) == [rid]

    # Searches are audited by kind and count only: never a serial, a name or the scan.
    log = search_audit(db)
    assert [e["kind"] for e in log] == ["card", "scan", "card"]
    assert all(e["results"] == 1 for e in log)
    dumped = json.dumps(log)
    assert issued.serial not in dumped and "LC1" not in dumped and "Ana" not in dumped


def card_field_value(html: str) -> str | None:
    match = re.search(r'<input[^>]*\bname="card"[^>]*>', html)
    assert match, "no card field on the page"
    value = re.search(r'\bvalue="([^"]*)"', match.group(0))
    return value.group(1) if value else None


def test_the_card_field_is_empty_again_for_the_next_scan(clerk, application):
    """A hand scanner types into the focused field: what the last search left there would
    run into the next scan. A typed number that found nobody stays, to be checked."""
    rid = registered(clerk)
    issued = application.cards.issue(rid, actor="test")
    for typed in (issued.qr, serials.format_serial(issued.serial)):
        html = post_form(clerk, "/clerk/", {"search": "card", "card": typed}).get_data(
            as_text=True)
        assert found_ids(html) == [rid]
        assert card_field_value(html) in ("", None)
        assert "autofocus" in re.search(r'<input[^>]*\bname="card"[^>]*>', html).group(0)
    unknown = serials.format_serial(serials.new_serial())
    html = post_form(clerk, "/clerk/", {"search": "card", "card": unknown}).get_data(
        as_text=True)
    assert "0 residents found" in html and card_field_value(html) == unknown


def test_card_search_refusals_name_the_field(clerk, application):
    rid = registered(clerk)
    issued = application.cards.issue(rid, actor="test")
    bad_char = "0" if issued.serial[3] != "0" else "1"
    typo = issued.serial[:3] + bad_char + issued.serial[4:]
    wrong = post_form(clerk, "/clerk/", {"search": "card", "card": typo})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "typing mistake" in html
    assert 'aria-invalid="true"' in html and 'href="#card"' in html  # the error summary links

    nobody = post_form(clerk, "/clerk/", {"search": "card", "card": serials.new_serial()})
    assert nobody.status_code == 200
    assert "0 residents found" in nobody.get_data(as_text=True)
    assert "No resident found" in nobody.get_data(as_text=True)

    # One character changed inside the signed part: not this city's card any more.
    qr = issued.qr
    i = len(qr) // 2
    tampered = qr[:i] + ("A" if qr[i] != "A" else "B") + qr[i + 1:]
    refused = post_form(clerk, "/clerk/", {"search": "card", "card": tampered})
    assert refused.status_code == 400
    assert "not a card of this city" in refused.get_data(as_text=True)

    empty = post_form(clerk, "/clerk/", {"search": "card", "card": "  "})
    assert empty.status_code == 400
    assert "Type the card number or scan the card." in empty.get_data(as_text=True)


def test_a_revoked_or_replaced_card_still_leads_to_its_holder(application):
    rid = application.residents.register(fields("Ana", "Silva", "1990-04-12"), photo=None,
                                         confirm_new=False, actor="t")
    first = application.cards.issue(rid, actor="t")
    second = application.cards.issue(rid, actor="t")
    by_old = application.residents.find(CardQuery(first.qr), actor="t")
    assert [m.id for m in by_old.matches] == [rid]
    assert by_old.matches[0].card.serial == first.serial
    assert by_old.matches[0].card.status == "superseded"
    by_name = application.residents.find(NameQuery("ana", "silva", date(1990, 4, 12)),
                                         actor="t")
    assert by_name.matches[0].card.serial == second.serial  # the card in force


def test_a_scan_of_another_city_s_card_is_refused_by_name(application, monkeypatch):
    # Building a partner city takes a second city's keys and trust exchange (see
    # tests/e2e/test_partner_cities.py); here the verification answer is replaced to
    # check only how the desk treats a genuine card of a partner.
    from cardservice.services import verification
    from cardservice.services.verification import IssuerInfo, VerificationResult

    def partner_card(qr, **_kw):
        return VerificationResult(status="valid", issuer=IssuerInfo("FRLYS", "Lyon", own=False),
                                  serial=serials.new_serial())

    monkeypatch.setattr(verification, "verify_qr", partner_card)
    with pytest.raises(CardOfAnotherCityError) as exc:
        application.residents.find(CardQuery("LC1:ANYTHING"), actor="t")
    assert "Lyon" in exc.value.message and exc.value.field == "card"


def test_name_and_birth_date_search_ignores_accents_case_and_order(clerk, application):
    rid = registered(clerk)
    for given, family in (("ana maria", "CONCEICAO DA SILVA"),
                          ("Silva da Conceição", "Maria Ana"),
                          ("ÁNA-MARÍA", "conceição  da silva")):
        page = post_form(clerk, "/clerk/", {"given_names": given, "family_names": family,
                                            "date_of_birth": "1990-04-12"})
        html = page.get_data(as_text=True)
        assert page.status_code == 200 and found_ids(html) == [rid], (given, family)
        assert "No card issued" in html

    none = post_form(clerk, "/clerk/", {"search": "name", "given_names": "Ana Maria",
                                        "family_names": "Conceição da Silva",
                                        "date_of_birth": "1990-04-13"})
    assert "Nobody is registered" in none.get_data(as_text=True)
    nameless = post_form(clerk, "/clerk/", {"search": "name", "given_names": ".",
                                            "family_names": "", "date_of_birth": "1990-04-12"})
    assert nameless.status_code == 400
    assert "Give at least one name" in nameless.get_data(as_text=True)

    vietnamese = application.residents.register(
        fields("Nguyễn Thị", "Phương Thảo", "1999-03-07"), photo=None, confirm_new=False,
        actor="t")
    hit = application.residents.find(NameQuery("phuong thao", "NGUYEN THI", date(1999, 3, 7)),
                                     actor="t")
    assert [m.id for m in hit.matches] == [vietnamese] and hit.total == 1


def test_family_and_birth_year_search_pages_through_everyone_in_the_bucket(
        clerk, application, db):
    ids = []
    for i in range(23):
        ids.append(application.residents.register(
            fields(f"Person {chr(65 + i)}", "García López", f"1985-{1 + i % 12:02d}-{1 + i:02d}"),
            photo=None, confirm_new=True, actor="t"))
    other_year = application.residents.register(fields("Eva", "García López", "1986-01-01"),
                                                photo=None, confirm_new=True, actor="t")
    other_name = application.residents.register(fields("Eva", "García", "1985-01-01"),
                                                photo=None, confirm_new=True, actor="t")

    first = post_form(clerk, "/clerk/", {"family-search": "family",
                                         "family-family_names": "lopez garcia",
                                         "family-birth_year": "1985"})
    html = first.get_data(as_text=True)
    assert first.status_code == 200, html[:2000]
    assert "23 residents found" in html and "Page 1 of 2" in html
    page1 = found_ids(html)
    assert len(page1) == 20 and "Next page" in html and "Previous page" not in html

    # The pager posts the same search with the next page number.
    second = post_form(clerk, "/clerk/", {"family-search": "family",
                                          "family-family_names": "lopez garcia",
                                          "family-birth_year": "1985", "family-page": "2"})
    html2 = second.get_data(as_text=True)
    page2 = found_ids(html2)
    assert len(page2) == 3 and "Page 2 of 2" in html2 and "Previous page" in html2
    assert 'name="family-family_names" value="lopez garcia"' in html2
    # Stable order (registration order), every resident exactly once, nobody else.
    assert page1 + page2 == ids
    assert other_year not in page1 + page2 and other_name not in page1 + page2

    # A page past the end shows the last page.
    late = application.residents.find(FamilyQuery("Garcia Lopez", 1985), actor="t", page=9)
    assert late.page == 2 and [m.id for m in late.matches] == ids[20:]
    assert [e["kind"] for e in search_audit(db)][-3:] == ["family_year"] * 3

    bad_year = post_form(clerk, "/clerk/", {"family-search": "family",
                                            "family-family_names": "Garcia",
                                            "family-birth_year": "85"})
    assert bad_year.status_code == 400
    assert "four digits" in bad_year.get_data(as_text=True)
    future = post_form(clerk, "/clerk/", {"family-search": "family",
                                          "family-family_names": "Garcia",
                                          "family-birth_year": "2999"})
    assert future.status_code == 400 and "not a possible year" in future.get_data(as_text=True)
    no_name = post_form(clerk, "/clerk/", {"family-search": "family",
                                           "family-family_names": " - ",
                                           "family-birth_year": "1985"})
    assert no_name.status_code == 400 and "Give the family name." in no_name.get_data(
        as_text=True)


def test_a_single_name_is_found_by_family_name_whichever_box_held_it(application):
    rid = application.residents.register(
        {**fields("Madonna", "", "1958-08-16")}, photo=None, confirm_new=False, actor="t")
    hit = application.residents.find(FamilyQuery("MADONNA", 1958), actor="t")
    assert [m.id for m in hit.matches] == [rid]


def test_purged_residents_are_never_found(application, db):
    rid = application.residents.register(fields("Ana", "Silva", "1990-04-12"), photo=None,
                                         confirm_new=False, actor="t")
    issued = application.cards.issue(rid, actor="t")
    application.residents.purge(rid, actor="t", reason="asked")
    queries = [CardQuery(issued.serial), CardQuery(issued.qr),
               NameQuery("Ana", "Silva", date(1990, 4, 12)), FamilyQuery("Silva", 1990)]
    for query in queries:
        result = application.residents.find(query, actor="t")
        assert result.total == 0 and result.matches == (), query
    with db.session() as s:
        row = s.get(Resident, rid)
        assert row.blind_index is None and row.family_year_index is None


def test_correction_moves_the_resident_to_the_new_indexes(application):
    rid = application.residents.register(fields("Ana", "Silva", "1990-04-12"), photo=None,
                                         confirm_new=False, actor="t")
    application.residents.correct(rid, {"family_names": "Souza", "date_of_birth": "1991-04-12"},
                                  photo=None, actor="t")
    assert application.residents.find(FamilyQuery("Silva", 1990), actor="t").total == 0
    assert application.residents.find(NameQuery("Ana", "Silva", date(1990, 4, 12)),
                                      actor="t").total == 0
    assert application.residents.find(FamilyQuery("souza", 1991), actor="t").total == 1
    assert application.residents.find(NameQuery("Ana", "Souza", date(1991, 4, 12)),
                                      actor="t").total == 1


def test_duplicate_check_is_tolerant_and_keeps_its_answer(application):
    from cardservice.application import LikelyDuplicateError

    first = application.residents.register(fields("José", "Silva", "1980-02-02"), photo=None,
                                           confirm_new=False, actor="t")
    with pytest.raises(LikelyDuplicateError) as exc:
        application.residents.register(fields("jose", "SILVA", "1980-02-02"), photo=None,
                                       confirm_new=False, actor="t")
    assert exc.value.matches == [first]


def test_paging_arguments_are_checked(application):
    with pytest.raises(InvalidInputError):
        application.residents.find(FamilyQuery("Silva", 1990), actor="t", page=0)
    with pytest.raises(InvalidInputError):
        application.residents.find(FamilyQuery("Silva", 1990), actor="t", page_size=1000)


def test_reindex_fills_rows_registered_before_the_indexes(application, db):
    ids = [application.residents.register(fields(f"Ana {c}", "Silva", "1990-04-12"),
                                          photo=None, confirm_new=True, actor="t")
           for c in "ABCDE"]
    purged = application.residents.register(fields("Old", "Silva", "1990-01-01"), photo=None,
                                            confirm_new=True, actor="t")
    application.residents.purge(purged, actor="t", reason="asked")
    # As migration 0008 leaves rows that existed before it.
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE residents SET family_year_index = NULL"))
        conn.execute(text("UPDATE residents SET blind_index = NULL WHERE id = :id"),
                     {"id": ids[0]})
    assert application.residents.find(FamilyQuery("Silva", 1990), actor="t").total == 0
    assert application.residents.count_to_reindex() == 5

    seen: list[str] = []
    done = application.residents.reindex(batch=2, progress=seen.append)
    assert done == 5 and sorted(seen) == sorted(ids)
    assert application.residents.count_to_reindex() == 0
    assert application.residents.reindex() == 0  # nothing left: a second run is a no-op
    found = application.residents.find(FamilyQuery("Silva", 1990), actor="t")
    assert sorted(m.id for m in found.matches) == sorted(ids)
    assert application.residents.find(NameQuery("Ana A", "Silva", date(1990, 4, 12)),
                                      actor="t").total == 1
    with db.session() as s:
        row = s.get(Resident, purged)
        assert row.blind_index is None and row.family_year_index is None
    assert application.residents.count_to_reindex(everything=True) == 5
    assert application.residents.reindex(everything=True) == 5


def test_reindex_cut_short_keeps_the_batches_done_and_resumes(application, db, monkeypatch):
    from cardservice.services import residents as residents_service

    ids = sorted(application.residents.register(fields(f"Ana {c}", "Silva", "1990-04-12"),
                                                photo=None, confirm_new=True, actor="t")
                 for c in "ABCDE")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE residents SET family_year_index = NULL"))
    real = residents_service.search_indexes
    calls = []

    def failing(v, data):
        calls.append(data)
        if len(calls) == 4:  # inside the second batch of two
            raise RuntimeError("power cut")
        return real(v, data)

    monkeypatch.setattr(residents_service, "search_indexes", failing)
    with pytest.raises(RuntimeError):
        application.residents.reindex(batch=2)
    with db.session() as s:
        indexed = sorted(s.scalars(select(Resident.id).where(
            Resident.family_year_index.is_not(None))).all())
    assert indexed == ids[:2]  # the first batch committed, the second rolled back whole
    monkeypatch.setattr(residents_service, "search_indexes", real)
    assert application.residents.reindex(batch=2) == 3
    assert application.residents.count_to_reindex() == 0
