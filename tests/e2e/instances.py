"""Several app instances of one city on one PostgreSQL (and Redis), and a TCP proxy to cut.

An :class:`Instance` is a :class:`tests.e2e.cities.City` whose configuration points at a
shared database URL and keys directory instead of a SQLite file of its own: instances made
with the same arguments are the same city served by several ``cardservice serve``
processes, each on its own port and with its own ``instance_dir``. Only the first one runs
``init``; the others reuse its API tokens (they live in the shared database).

:class:`TcpProxy` forwards a loopback port to PostgreSQL; :meth:`TcpProxy.cut` closes every
forwarded connection and refuses new ones, which is what the app sees of a database
restart, without touching the machine's PostgreSQL (other tests share it).
"""

from __future__ import annotations

import http.cookiejar
import json as jsonlib
import os
import re
import secrets
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tests.conftest import skip_or_fail
from tests.e2e.cities import EXE, LOOPBACK, START_TIMEOUT, Answer, City

REDIS_URL = "redis://127.0.0.1:6379/0"


def unique_city_id() -> str:
    """A city id nobody else uses: the rate limiter's Redis keys are prefixed with it."""
    return "ZZ" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3))


@contextmanager
def redis_prefix_cleanup(city_id: str) -> Iterator[None]:
    """Redis reachable (else skip, or fail in CI); this city's limiter keys deleted after."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        client.close()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {type(exc).__name__}")
    try:
        yield
    finally:
        for key in client.scan_iter(f"*{city_id}*"):
            client.delete(key)
        client.close()


class Instance(City):
    """One ``cardservice serve`` process of a city whose data is shared with others."""

    def __init__(self, base: Path, *, city_id: str, database_url: str, keys_dir: Path,
                 public_url: str | None = None, redis_url: str | None = REDIS_URL,
                 extra: str = "") -> None:
        super().__init__(base, city_id=city_id, name="Multiville")
        self.keys_dir = keys_dir
        storage = f'ratelimit_storage_url = "{redis_url}"\n' if redis_url else ""
        self.config.write_text(
            f'[city]\nid = "{city_id}"\nname = "Multiville"\n'
            f'base_url = "{public_url or self.url}"\nlanguages = ["en"]\n\n'
            f'[database]\nurl = "{database_url}"\n\n[keys]\ndir = "{keys_dir}"\n\n'
            f'[server]\ninstance_dir = "{self.base / "instance"}"\nsecure_cookies = false\n'
            # Tests name their client in X-Forwarded-For, so limits of one test are its own.
            f"trusted_proxies = 1\n{storage}\n{extra}",
            encoding="utf-8")

    def start(self, *, workers: int = 1) -> None:
        """Serve in a process group of its own (gunicorn master and workers), so
        :meth:`kill` can SIGKILL them all; returns once ``/healthz`` answers 200."""
        assert self.process is None, "already started"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(EXE), "serve", "--host", LOOPBACK, "--port", str(self.port),
                 "--workers", str(workers)],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log_tail()}")
            try:
                if self.api("GET", "/healthz", timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server did not start: {self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL the server's whole process group: no worker finishes anything."""
        process, self.process = self.process, None
        assert process is not None
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the workers, reparented, die with the group
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError("the server's workers outlived SIGKILL")

    def stop(self) -> None:
        """End the server and every process of its group. Safe to call twice."""
        process = self.process
        super().stop()
        if process is not None:
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def share_tokens(self, first: Instance) -> None:
        """Use the API tokens ``first`` made (the same accounts, in the same database)."""
        self.admin_token, self.clerk_token = first.admin_token, first.clerk_token

    def one_time_password(self, username: str, role: str) -> str:
        """Create an account; its one-time password (the last line ``users add`` prints)."""
        return self.cli("users", "add", username, "--role", role).stdout.strip().splitlines()[-1]


class Browser:
    """A cookie-keeping HTML client that may talk to any instance of one city.

    The instances share the secret key, so a session (and its CSRF token) made by one is
    good on the others, as behind a load balancer without sticky sessions.
    """

    _CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

    def __init__(self, client_address: str) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.jar),
            _NoRedirect())
        self.client_address = client_address

    def request(self, city: City, method: str, path: str,
                form: dict[str, str] | None = None) -> Answer:
        """One request; redirects are returned, not followed."""
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        req = urllib.request.Request(city.url + path, data=data, method=method, headers={
            "X-Forwarded-For": self.client_address, "Accept-Language": "en"})
        try:
            with self.opener.open(req, timeout=30) as resp:
                return Answer(resp.status, resp.headers.get_content_type(), resp.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return Answer(exc.code, exc.headers.get_content_type(), exc.read())

    def csrf(self, city: City, path: str) -> str:
        """The CSRF token of the form at ``path``."""
        page = self.request(city, "GET", path)
        assert page.status == 200, (page.status, page.data[:300])
        match = self._CSRF.search(page.data.decode())
        assert match, page.data[:500]
        return match.group(1)

    def sign_in(self, city: City, username: str, password: str) -> Answer:
        """Post the sign-in form (CSRF token from the same instance's form)."""
        token = self.csrf(city, "/login")
        return self.request(city, "POST", "/login", {
            "csrf_token": token, "username": username, "password": password, "next": ""})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def api(city: City, method: str, path: str, *, client: str, token: str | None = None,
        json: Any = None, timeout: float = 30) -> Answer:
    """A JSON request from the client at ``client`` (its X-Forwarded-For address)."""
    headers = {"Accept": "application/json", "X-Forwarded-For": client}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if json is not None:
        data = jsonlib.dumps(json).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(city.url + path, data=data, method=method, headers=headers)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout) as resp:
            return Answer(resp.status, resp.headers.get_content_type(), resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Answer(exc.code, exc.headers.get_content_type(), exc.read())


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; :meth:`cut` and :meth:`restore` it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind((LOOPBACK, 0))
            self.port: int = probe.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        """Listen (again) on the same port."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LOOPBACK, self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            self._close(source)
            self._close(sink)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    def cut(self) -> None:
        """Close every forwarded connection and refuse new ones (a database restart)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            # close() alone leaves a thread blocked in accept() listening; shutdown wakes it.
            with suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            self._close(sock)

    def restore(self) -> None:
        """Accept connections again."""
        self.start()

    def url(self, pg_url: str) -> str:
        """``pg_url`` with its host and port replaced by this proxy's."""
        return pg_url.replace("@127.0.0.1:5432/", f"@{LOOPBACK}:{self.port}/")
