"""Real city instances for multi-city tests: each its own config, SQLite file, keys and server.

A :class:`City` is driven exactly as an operator's script drives one (SPEC §7): it writes
``city.toml``, runs ``cardservice init``, ``users add`` and ``users token``, then
``cardservice serve`` on a free loopback port, in a subprocess. Nothing here talks to
anything but 127.0.0.1: proxy variables are removed from the environment the servers
and commands inherit, and the test's own HTTP client ignores proxies.

Every wait is bounded; :meth:`City.stop` always ends the server (callers register it as
a finaliser), and a server that does not start leaves its log in the assertion message.
"""

from __future__ import annotations

import json as jsonlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardservice.services.partners import RECHECK_SECONDS
from tests.conftest import TEST_PASSPHRASE, TEST_SECRET

EXE = Path(sys.executable).parent / "cardservice"
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0
HTTP_TIMEOUT = 30.0
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy", "ftp_proxy",
                              "no_proxy"})

# The test's own client: no proxy, whatever the environment says (loopback only).
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The inherited environment without other cities' settings or proxies, plus ``extra``."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CARDSERVICE_") and k.lower() not in _PROXY_VARIABLES}
    # A server fetching its partners must reach them directly on loopback.
    env["NO_PROXY"] = env["no_proxy"] = f"{LOOPBACK},localhost"
    env.update(extra)
    return env


@dataclass(frozen=True)
class Answer:
    """An HTTP answer: status, content type, raw body, and the body as JSON when it is JSON."""

    status: int
    content_type: str
    data: bytes

    @property
    def json(self) -> Any:
        """The body decoded as JSON (fails loudly when it is not JSON)."""
        assert self.content_type == "application/json", (self.status, self.data[:300])
        return jsonlib.loads(self.data)


@dataclass(frozen=True)
class Run:
    """A finished ``cardservice`` command."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout and stderr together, for messages and assertions on wording."""
        return self.stdout + self.stderr


class City:
    """One city instance: ``city.toml``, its own SQLite file and keys/, and its server.

    ``admin_token`` and ``clerk_token`` are API tokens made with ``users token``; a city
    made ``with_clerk=False`` (one that only recognises others' cards) has no clerk, and
    one made ``with_admin_token=False`` (driven by commands only) no admin token.
    """

    def __init__(self, base: Path, *, city_id: str, name: str,
                 languages: Iterable[str] = ("en",), with_clerk: bool = True,
                 with_admin_token: bool = True) -> None:
        self.base = Path(base)
        self.with_clerk = with_clerk
        self.with_admin_token = with_admin_token
        self.base.mkdir(parents=True, exist_ok=True)
        self.city_id = city_id
        self.name = name
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.keys_dir = self.base / "keys"
        self.database = self.base / "city.db"
        self.config = self.base / "city.toml"
        self.log = self.base / "server.log"
        langs = ", ".join(f'"{lang}"' for lang in languages)
        self.config.write_text(
            f'[city]\nid = "{city_id}"\nname = "{name}"\nbase_url = "{self.url}"\n'
            f"languages = [{langs}]\n\n"
            f'[database]\nurl = "sqlite:///{self.database}"\n\n'
            f'[keys]\ndir = "{self.keys_dir}"\n\n'
            f'[server]\ninstance_dir = "{self.base / "instance"}"\nsecure_cookies = false\n\n'
            # A scenario verifies many cards within a minute; the limit has its own tests.
            f'[verify]\nrate_limit = "10000 per minute"\n',
            encoding="utf-8")
        self.env = clean_environment({
            "CARDSERVICE_CONFIG": str(self.config),
            "CARDSERVICE_SECRET_KEY": TEST_SECRET,
            "CARDSERVICE_KEY_PASSPHRASE": TEST_PASSPHRASE,
        })
        self.process: subprocess.Popen[bytes] | None = None
        self.admin_token = ""
        self.clerk_token = ""
        # When the last verify answer arrived (system-wide monotonic clock, as the server's),
        # and whether anything may have changed this city's stored data since then.
        self._last_verify_end = 0.0
        self._changed = False

    def __repr__(self) -> str:
        return f"City({self.city_id}, {self.url})"

    # -- commands

    def cli(self, *args: str, check: bool = True) -> Run:
        """Run ``cardservice <args>`` against this city; with ``check``, it must succeed."""
        self._changed = True  # a command may write this city's database
        done = subprocess.run([str(EXE), *args], env=self.env, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False, stdin=subprocess.DEVNULL)
        run = Run(tuple(args), done.returncode, done.stdout, done.stderr)
        if check:
            assert run.returncode == 0, (
                f"{self.city_id}: cardservice {' '.join(args)} exited {run.returncode}: "
                f"{run.output[-2000:]}")
        return run

    def has_command(self, *words: str) -> bool:
        """Whether ``cardservice <words[:-1]> --help`` lists the subcommand ``words[-1]``."""
        run = self.cli(*words[:-1], "--help", check=False)
        return run.returncode == 0 and any(
            line.split()[:1] == [words[-1]] for line in run.stdout.splitlines())

    def setup(self) -> None:
        """``init`` (keys, schema, admin), a clerk, and an API token for each."""
        self.cli("init", "--admin", "boss")
        # The token is alone on the last line of stdout (SPEC §7).
        if self.with_admin_token:
            self.admin_token = self.last_line("users", "token", "boss")
        if self.with_clerk:
            self.cli("users", "add", "clerk1", "--role", "clerk")
            self.clerk_token = self.cli("users", "token", "clerk1").stdout.strip().splitlines()[-1]

    # -- server

    def start(self) -> None:
        """``cardservice serve`` with one worker; returns once ``/healthz`` answers 200."""
        assert self.process is None, "already started"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(EXE), "serve", "--host", LOOPBACK, "--port", str(self.port),
                 "--workers", "1"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.city_id} server exited: {self.log_tail()}")
            try:
                if self.api("GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.city_id} server did not start: {self.log_tail()}")

    def ask_to_stop(self) -> None:
        """Send the server TERM without waiting (see :func:`stop_cities`)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """End the server (TERM, then KILL after a bounded wait). Safe to call twice."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server log, for failure messages."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    # -- HTTP

    def api(self, method: str, path: str, *, token: str | None = None, json: Any = None,
            data: bytes | None = None, timeout: float = HTTP_TIMEOUT) -> Answer:
        """One HTTP request to this city; any status comes back as an :class:`Answer`."""
        headers = {"Accept": "application/json"}
        if method != "GET" and path != "/api/v1/verify":
            self._changed = True  # a write request may change what verify answers
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if json is not None:
            data = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(req, timeout=timeout) as resp:
                return Answer(resp.status, resp.headers.get_content_type(), resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, exc.headers.get_content_type(), exc.read())
        except urllib.error.URLError as exc:
            process = self.process
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{self.city_id} server has exited ({process.returncode}): "
                                     f"{self.log_tail()}") from exc
            raise

    def fingerprint(self) -> str:
        """The city fingerprint as its bundle publishes it (``trust-bundle.json``)."""
        answer = self.api("GET", "/.well-known/citycard/trust-bundle.json")
        assert answer.status == 200, answer
        fp: str = answer.json["fingerprint"]
        return fp

    def bundle(self) -> bytes:
        """The signed trust bundle as published now (COSE bytes)."""
        answer = self.api("GET", "/.well-known/citycard/trust-bundle")
        assert answer.status == 200 and answer.content_type == "application/cose", answer
        return answer.data

    def partners(self) -> dict[str, dict[str, Any]]:
        """``GET /api/v1/partners`` as the admin, by city id."""
        answer = self.api("GET", "/api/v1/partners", token=self.admin_token)
        assert answer.status == 200, answer
        return {p["city_id"]: p for p in answer.json["partners"]}

    def last_line(self, *args: str) -> str:
        """Run a command that must succeed; its last line of stdout (an id, a token)."""
        return self.cli(*args).stdout.strip().splitlines()[-1]

    def alliance_list(self, alliance_id: str) -> Answer:
        """The member list this city serves at its well-known address."""
        return self.api("GET", f"/.well-known/citycard/alliances/{alliance_id}")

    def issue_card(self, given: str, family: str, date_of_birth: str) -> dict[str, Any]:
        """Register a resident as the clerk and issue a card; the 201 body of the issue."""
        resident = self.api("POST", "/api/v1/residents", token=self.clerk_token, json={
            "given_names": given, "family_names": family, "date_of_birth": date_of_birth,
            "gender": "F", "address": {"line1": "Rua das Flores 12", "postcode": "1200-195"},
            "languages": ["English"], "documents": ["passport", "utility_bill"],
            "confirm_new": True,
        })
        assert resident.status == 201, resident
        card = self.api("POST", f"/api/v1/residents/{resident.json['id']}/cards",
                        token=self.clerk_token)
        assert card.status == 201, card
        body: dict[str, Any] = card.json
        return body

    def revoke(self, serial: str, reason: str = "stolen") -> None:
        """Revoke a card of this city as the clerk."""
        answer = self.api("POST", f"/api/v1/cards/{serial}/revoke", token=self.clerk_token,
                          json={"reason": reason})
        assert answer.status == 200, answer

    def verify(self, qr: str) -> dict[str, Any]:
        """``POST /api/v1/verify`` as the public does (no token); the SPEC §6 result.

        The answer reflects what this city has stored now: a server re-reads its partners'
        trust data from the database at most once every ``RECHECK_SECONDS`` (a documented
        bound: changes reach every process within it), so after a command or a write
        request to this city, this first waits out that interval since the last answer.
        """
        if self._changed:
            wait = self._last_verify_end + RECHECK_SECONDS * 1.1 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._changed = False
        answer = self.api("POST", "/api/v1/verify", json={"qr": qr})
        self._last_verify_end = time.monotonic()
        assert answer.status == 200, answer
        body: dict[str, Any] = answer.json
        return body


def start_cities(cities: Iterable[City]) -> None:
    """Set up and start several cities at once (their key generation runs in parallel)."""
    todo = list(cities)

    def bring_up(city: City) -> None:
        city.setup()
        city.start()

    with ThreadPoolExecutor(max_workers=max(1, len(todo))) as pool:
        for future in [pool.submit(bring_up, c) for c in todo]:
            future.result()


def stop_cities(cities: Iterable[City]) -> None:
    """Stop several servers: TERM to all first, so their graceful shutdowns overlap."""
    todo = list(cities)
    for city in todo:
        city.ask_to_stop()
    for city in todo:
        city.stop()
