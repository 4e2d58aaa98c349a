"""Crash safety: SIGKILL under issuing load loses no confirmed write; a lost database is a 503.

The server runs as ``cardservice serve --workers 2`` in a process group of its own; the
test kills the gunicorn master and its workers at once while clerks' threads register
residents and issue cards through the JSON API, restarts it, and checks every answer
that was a 201. The database going away is simulated with a TCP proxy between one
instance and PostgreSQL (the machine's server is shared with other tests, so it is
never restarted here).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import postgres_schema
from tests.e2e.cities import EXE
from tests.e2e.instances import Browser, Instance, TcpProxy, api

CLIENTS = 3
LOAD_SECONDS = 4.0
# A request while the database is unreachable must be answered within this many seconds.
OUTAGE_ANSWER_BOUND = 10.0


def _name() -> str:
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)).title()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database: a SQLite file, or a schema of its own in PostgreSQL."""
    if not EXE.exists():
        pytest.fail(f"{EXE} is missing: install the package (pip install -e .)")
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'city.db'}"
        return
    with postgres_schema() as url:
        yield url


class Clerk(threading.Thread):
    """Registers residents and issues cards until told to stop; keeps what got 201."""

    def __init__(self, city: Instance, stop: threading.Event, number: int) -> None:
        super().__init__(daemon=True)
        self.city, self.stop_event, self.number = city, stop, number
        self.residents: list[str] = []
        self.cards: list[dict] = []
        self.failures = 0
        self.refusal: object = None  # the last answer that was not a 201, for messages

    def run(self) -> None:
        while not self.stop_event.is_set():
            try:
                resident = api(self.city, "POST", "/api/v1/residents", client="10.2.0.1",
                               token=self.city.clerk_token, timeout=10, json={
                    "given_names": _name(), "family_names": _name(),
                    "date_of_birth": f"19{50 + self.number}-03-0{1 + len(self.cards) % 9}",
                    "gender": "F", "address": {"line1": "Rua das Flores 12",
                                               "postcode": "1200-195"},
                    "languages": ["English"], "documents": ["passport", "utility_bill"],
                    "confirm_new": True})
                if resident.status != 201:
                    self.failures += 1
                    self.refusal = resident
                    continue
                rid = resident.json["id"]
                self.residents.append(rid)
                card = api(self.city, "POST", f"/api/v1/residents/{rid}/cards",
                           client="10.2.0.1", token=self.city.clerk_token, timeout=10)
                if card.status == 201:
                    self.cards.append(card.json)
                else:
                    self.refusal = card
            except OSError:
                self.failures += 1  # the server is gone: nothing was confirmed
                time.sleep(0.05)


def test_sigkill_under_issuing_load_loses_no_confirmed_write(database_url, tmp_path, request):
    city = Instance(tmp_path / "city", city_id="PTLIS", database_url=database_url,
                    keys_dir=tmp_path / "keys", redis_url=None)
    request.addfinalizer(city.stop)
    city.setup()
    city.start(workers=2)
    stop = threading.Event()
    clerks = [Clerk(city, stop, n) for n in range(CLIENTS)]
    for clerk in clerks:
        clerk.start()
    time.sleep(LOAD_SECONDS)
    city.kill()  # mid-request: some answers never come
    stop.set()
    for clerk in clerks:
        clerk.join(timeout=30)
    residents = [r for c in clerks for r in c.residents]
    cards = [card for c in clerks for card in c.cards]
    assert cards, ("no card was issued before the kill", [c.refusal for c in clerks])

    city.start(workers=2)
    for rid in residents:
        answer = city.api("GET", f"/api/v1/residents/{rid}", token=city.clerk_token)
        assert answer.status == 200, (rid, answer)
    for card in cards:
        body = api(city, "POST", "/api/v1/verify", client="10.2.0.2", json={"qr": card["qr"]})
        assert body.status == 200 and body.json["status"] == "valid", (card["serial"], body)
    city.cli("audit", "verify")  # exits 1 when the hash chain is broken


def test_database_outage_is_a_503_and_the_instance_recovers(tmp_path, request):
    """The database disappears under a running instance (every connection closed, new
    ones refused, as in a PostgreSQL restart), then comes back."""
    with postgres_schema() as url:
        proxy = TcpProxy(("127.0.0.1", 5432))
        proxy.start()
        request.addfinalizer(proxy.cut)
        city = Instance(tmp_path / "city", city_id="PTLIS", database_url=proxy.url(url),
                        keys_dir=tmp_path / "keys", redis_url=None)
        request.addfinalizer(city.stop)
        city.setup()
        city.start(workers=1)
        card = city.issue_card("Ana", "Lima", "1990-04-01")
        password = city.one_time_password("desk", "clerk")
        browser = Browser("10.2.0.3")
        assert browser.sign_in(city, "desk", password).status == 302

        proxy.cut()
        answers = {}
        for name, call in {
            "register (JSON)": lambda: api(city, "POST", "/api/v1/residents", client="10.2.0.3",
                                           token=city.clerk_token, json={
                "given_names": "Bea", "family_names": "Costa", "date_of_birth": "1980-01-01",
                "gender": "F", "address": {"line1": "Rua 1", "postcode": "1200-195"},
                "languages": ["English"], "documents": ["passport", "utility_bill"],
                    "confirm_new": True}),
            "verify (JSON)": lambda: api(city, "POST", "/api/v1/verify", client="10.2.0.3",
                                         json={"qr": card["qr"]}),
            "health": lambda: api(city, "GET", "/healthz", client="10.2.0.3"),
            "page (HTML)": lambda: browser.request(city, "GET", "/password"),
        }.items():
            began = time.monotonic()
            answer = call()
            answers[name] = (answer, time.monotonic() - began)
        for name, (answer, took) in answers.items():
            assert answer.status == 503, (name, answer.status, answer.data[:300])
            assert took < OUTAGE_ANSWER_BOUND, (name, took)
        assert answers["register (JSON)"][0].json["error"] == "database_unavailable"
        assert answers["page (HTML)"][0].content_type == "text/html"
        assert b"database" in answers["page (HTML)"][0].data
        assert "Traceback" not in city.log_tail(20000)

        proxy.restore()
        deadline = time.monotonic() + OUTAGE_ANSWER_BOUND
        while api(city, "GET", "/healthz", client="10.2.0.3").status != 200:
            assert time.monotonic() < deadline, "the instance did not reconnect"
            time.sleep(0.2)
        again = city.issue_card("Bea", "Costa", "1980-01-01")
        body = api(city, "POST", "/api/v1/verify", client="10.2.0.3", json={"qr": again["qr"]})
        assert body.json["status"] == "valid", body
        assert browser.request(city, "GET", "/password").status == 200
        city.stop()
