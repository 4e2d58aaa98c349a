"""An alliance of four real city processes talking HTTP on loopback (SPEC §5b, issue 16).

Lisboa (A), Lyon (B) and Madrid (C) form the alliance 'migration' with k = 2: A drafts,
B fetches A's draft from A's well-known address, co-signs it and publishes; A and C join
from a member's address, confirming two fingerprints each (never one per member). Berlin
(D) is added with A's and B's signatures and joins; C follows by sync and then recognises
D's cards as alliance cards, and D's revocations. A list that adds a rogue city, signed by A alone,
is refused by B and C and changes nothing they hold. Every step is a ``cardservice
alliances`` command, as an operator's script runs it.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from cardservice import pki, trust
from tests.e2e.cities import EXE, City, start_cities, stop_cities

pytestmark = pytest.mark.slow

ALLIANCE = "migration"


@pytest.fixture(scope="module")
def cities(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, City]]:
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing: install the package (pip install -e .)")
    base = tmp_path_factory.mktemp("alliance")
    made = {
        # Driven by commands only (fewer commands: CI time is tight).
        "A": City(base / "lisboa", city_id="PTLIS", name="Lisboa", with_clerk=False,
                  with_admin_token=False),
        "B": City(base / "lyon", city_id="FRLYS", name="Lyon", with_clerk=False,
                  with_admin_token=False),
        "C": City(base / "madrid", city_id="ESMAD", name="Madrid", with_clerk=False,
                  with_admin_token=False),
        "D": City(base / "berlin", city_id="DEBER", name="Berlin", with_admin_token=False),
    }
    try:
        start_cities(made.values())
        yield made
    finally:
        stop_cities(made.values())


def query(city: City, sql: str, *args: object) -> list[tuple[object, ...]]:
    """Rows of ``city``'s own database, read directly (read-only): what it stores."""
    con = sqlite3.connect(f"file:{city.database}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def held(city: City) -> tuple[object, bytes] | None:
    """(version, stored state) of the alliance ``city`` holds."""
    rows = query(city, "SELECT version, state FROM alliances WHERE alliance_id = ?", ALLIANCE)
    return None if not rows else (rows[0][0], bytes(rows[0][1]))  # type: ignore[arg-type]


def rogue_bundle(path: Path) -> str:
    """A rogue city's genuine-looking bundle file; returns its fingerprint."""
    now = dt.datetime.now(dt.UTC)
    key, root = pki.generate_root(city_id="ZZROG", city_name="Rogue", now=now - dt.timedelta(1))
    content = trust.make_bundle(
        city_id="ZZROG", city_name="Rogue", base_url="http://127.0.0.1:9", version=1,
        now=now, valid_for=dt.timedelta(days=30), root=root, signing_certificates=[],
        revocations_url="http://127.0.0.1:9/.well-known/citycard/revocations")
    path.write_bytes(trust.sign_bundle(content, root_keys=[key]))
    return pki.fingerprint(root)


def test_four_cities_form_an_alliance_and_refuse_a_rogue(cities: dict[str, City],
                                                         tmp_path: Path) -> None:
    a, b, c, d = cities["A"], cities["B"], cities["C"], cities["D"]
    fp = {k: city.fingerprint() for k, city in cities.items()}

    # A drafts version 1 (A, B, C; k = 2) with B's and C's fingerprints read by phone.
    a.last_line("alliances", "create", ALLIANCE, "--name", "Migration Alliance",
                          "--threshold", "2", "--member", b.url, fp["B"],
                          "--member", c.url, fp["C"])
    assert a.api("GET", f"/.well-known/citycard/alliances/{ALLIANCE}/draft").status == 200
    # B reads exactly what it signs, co-signs and publishes it (A's fingerprint confirmed).
    shown = b.cli("alliances", "fetch-draft", a.url, ALLIANCE).stdout
    draft_b = shown.strip().splitlines()[-1]
    assert "added    ESMAD" in shown and fp["C"] in shown and "signed by PTLIS" in shown
    assert "ready to publish" in b.cli("alliances", "cosign", draft_b).stdout
    b.cli("alliances", "publish", draft_b, "--confirm", fp["A"])
    assert b.alliance_list(ALLIANCE).content_type == "application/cose"
    # A and C join from a member's address: k = 2 confirmed fingerprints each.
    a.cli("alliances", "join", ALLIANCE, "--url", b.url, "--confirm", fp["B"])
    c.cli("alliances", "join", ALLIANCE, "--url", a.url, "--confirm", fp["A"],
          "--confirm", fp["B"])
    assert held(a)[0] == held(c)[0] == 1  # type: ignore[index]
    assert query(a, "SELECT status FROM alliance_drafts") == [("published",)]

    # D is added with A's and B's signatures (version 2); C follows by sync.
    a.last_line("alliances", "propose", ALLIANCE, "--add", d.url, fp["D"])
    shown = b.cli("alliances", "fetch-draft", a.url, ALLIANCE).stdout
    draft_b = shown.strip().splitlines()[-1]
    assert "v1 -> v2" in shown and "added    DEBER" in shown and fp["D"] in shown
    b.cli("alliances", "cosign", draft_b)
    b.cli("alliances", "publish", draft_b)
    # D joins with the fingerprints of two signers (k), not one per member.
    d.cli("alliances", "join", ALLIANCE, "--url", b.url, "--confirm", fp["A"],
          "--confirm", fp["B"])
    card = d.issue_card("Ana", "Silva", "1990-04-05")
    assert c.verify(card["qr"])["status"] == "unknown_issuer"
    c.cli("alliances", "sync", ALLIANCE)
    result = c.verify(card["qr"])
    assert result["status"] == "valid", result
    assert result["issuer"] == {"id": "DEBER", "name": "Berlin", "own": False,
                                "alliance": ALLIANCE}

    # A list adding a rogue city, signed by A alone: refused by B and by C.
    a.cli("alliances", "sync", ALLIANCE)  # A follows version 2 (its own proposal, published)
    rogue_file = tmp_path / "rogue-bundle.cose"
    rogue_fp = rogue_bundle(rogue_file)
    rogue_draft = a.last_line("alliances", "propose", ALLIANCE, "--add-bundle", str(rogue_file),
                              rogue_fp)
    assert rogue_draft
    # The rogue draft as A circulates it, saved by whoever fetches it.
    circulated = a.api("GET", f"/.well-known/citycard/alliances/{ALLIANCE}/draft")
    (tmp_path / "rogue-list.cose").write_bytes(circulated.data)
    before = {k: held(city) for k, city in (("B", b), ("C", c))}
    draft_b = b.last_line("alliances", "fetch-draft", a.url, ALLIANCE)
    refused_b = b.cli("alliances", "publish", draft_b, check=False)
    refused_c = c.cli("alliances", "apply", str(tmp_path / "rogue-list.cose"), check=False)
    for run in (refused_b, refused_c):
        assert run.returncode == 2 and "Not enough members signed" in run.output, run.output
    assert {k: held(city) for k, city in (("B", b), ("C", c))} == before
    assert held(b)[0] == held(c)[0] == 2  # type: ignore[index]

    # D revokes the card; C sees it revoked after sync.
    d.revoke(card["serial"])
    c.cli("alliances", "sync", ALLIANCE)
    assert c.verify(card["qr"])["status"] == "revoked"
