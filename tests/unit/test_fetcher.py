"""The partner fetcher against real HTTP servers on 127.0.0.1 (issue 11, findings 3 and 4).

Each hostile server is a named case: what it does, and what the fetch must give. The
servers are ``http.server`` in threads; nothing is mocked. Time appears only in
generous functional guards (a drip that would last 30 s must be cut at a 2 s deadline
well before 10 s).
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from cardservice import fetcher, trust
from cardservice.services import partners
from tests.unit.test_trust import NOW, City

Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


@dataclass
class Server:
    """One HTTP server on 127.0.0.1: path -> handler; it records the paths asked for."""

    routes: dict[str, Handler] = field(default_factory=dict)
    hits: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, Handler]], Server]]:
    started: list[http.server.ThreadingHTTPServer] = []

    def start(routes: dict[str, Handler]) -> Server:
        server = Server(dict(routes))

        class Handle(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                server.hits.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                # The client giving up on a hostile answer is the point of most cases.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    route(self)

            do_GET = do_POST = _any  # noqa: N815

            def log_message(self, *args: object) -> None:
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handle)
        httpd.daemon_threads = True
        server.port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
        return server

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


# --------------------------------------------------------------------------- answers


def body(data: bytes, *, status: int = 200, length: bool = True) -> Handler:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        if length:
            h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    return answer


def redirect(location: str | Callable[[], str], status: int = 302) -> Handler:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Location", location() if callable(location) else location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return answer


def drip_body(seconds: float = 30.0, every: float = 0.2) -> Handler:
    """Headers at once, then one byte of body every ``every`` seconds (finding 4)."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(int(seconds / every)))
        h.end_headers()
        for _ in range(int(seconds / every)):
            h.wfile.write(b"x")
            h.wfile.flush()
            time.sleep(every)

    return answer


def drip_headers(seconds: float = 30.0, every: float = 0.2) -> Handler:
    """The status line, then one byte of a header every ``every`` seconds."""

    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(int(seconds / every)):
            h.wfile.write(b"a")
            h.wfile.flush()
            time.sleep(every)

    return answer


def silent(seconds: float = 30.0) -> Handler:
    def answer(h: http.server.BaseHTTPRequestHandler) -> None:
        time.sleep(seconds)

    return answer


def endless_chunked(h: http.server.BaseHTTPRequestHandler) -> None:
    """No Content-Length: chunks for as long as the client reads."""
    h.send_response(200)
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"y" * 65536
    for _ in range(1000):
        h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------- the table

CAP = 1000
DEADLINE = 2.0
GUARD = 10.0  # generous: a fetch cut at its deadline ends long before this

#: name -> (routes of the server, given its own and a second server's URL), or None: success
REFUSED: dict[str, Callable[[Server, Server], dict[str, Handler]]] = {
    "redirect to another port (another origin)": lambda s, other: {
        "/doc": redirect(lambda: f"{other.url}/doc")},
    "redirect to another host name": lambda s, other: {
        "/doc": redirect(lambda: f"http://localhost:{other.port}/doc")},
    "redirect to ftp": lambda s, other: {"/doc": redirect("ftp://127.0.0.1/doc")},
    "redirect to file": lambda s, other: {"/doc": redirect("file:///etc/passwd")},
    "redirect with a user name": lambda s, other: {
        "/doc": redirect(lambda: f"http://admin@127.0.0.1:{s.port}/doc2")},
    "redirect loop on the same origin": lambda s, other: {"/doc": redirect("/doc")},
    "404": lambda s, other: {},
    "500": lambda s, other: {"/doc": body(b"oops", status=500)},
    "204 no content": lambda s, other: {"/doc": body(b"", status=204)},
    "body over the cap with its length": lambda s, other: {"/doc": body(b"z" * (CAP + 1))},
    "body over the cap without a length": lambda s, other: {
        "/doc": body(b"z" * (CAP + 1), length=False)},
    "endless chunked body": lambda s, other: {"/doc": endless_chunked},
    "one byte of body every 0.2 s for 30 s": lambda s, other: {"/doc": drip_body()},
    "one byte of header every 0.2 s for 30 s": lambda s, other: {"/doc": drip_headers()},
    "accepts and says nothing for 30 s": lambda s, other: {"/doc": silent()},
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused(serve: Callable[[dict[str, Handler]], Server], name: str) -> None:
    other = serve({"/doc": body(b"elsewhere"), "/doc2": body(b"elsewhere")})
    server = serve({})
    server.routes.update(REFUSED[name](server, other))
    start = time.monotonic()
    with pytest.raises(fetcher.FetchError):
        fetcher.get(f"{server.url}/doc", max_bytes=CAP, deadline=start + DEADLINE)
    assert time.monotonic() - start < GUARD
    assert other.hits == []  # never led to another origin


def test_redirects_within_the_origin_are_followed(serve: Callable[..., Server]) -> None:
    server = serve({"/a": redirect("/b", 301), "/b": redirect("/c?x=1", 308),
                    "/c?x=1": body(b"here")})
    assert fetcher.get(f"{server.url}/a", max_bytes=CAP, deadline=time.monotonic() + 5) == b"here"
    assert server.hits == ["/a", "/b", "/c?x=1"]


def test_post_follows_no_redirect(serve: Callable[..., Server]) -> None:
    server = serve({"/in": redirect("/in2", 307), "/in2": body(b"", status=202)})
    with pytest.raises(fetcher.FetchError, match="HTTP 307"):
        fetcher.post(f"{server.url}/in", body=b"x", content_type="application/cose",
                     deadline=time.monotonic() + 5)
    assert fetcher.post(f"{server.url}/in2", body=b"x", content_type="application/cose",
                        deadline=time.monotonic() + 5) == b""


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/doc", "file:///etc/passwd", "gopher://127.0.0.1:70/", "http://",
    "http://user:secret@127.0.0.1/doc", "http://127.0.0.1:99999/doc", "javascript:alert(1)",
])
def test_refused_before_any_connection(url: str) -> None:
    with pytest.raises(fetcher.FetchError):
        fetcher.get(url, max_bytes=CAP, deadline=time.monotonic() + 5)


@pytest.mark.parametrize("start, target, allowed", [
    ("http://a.example", "http://a.example:80", True),
    ("http://a.example", "https://a.example", True),  # the upgrade to TLS, same host
    ("https://a.example", "http://a.example", False),  # never down
    ("http://a.example", "https://b.example", False),
    ("http://a.example:8080", "http://a.example:8081", False),
    ("https://a.example", "https://A.EXAMPLE:443", True),
])
def test_origins(start: str, target: str, allowed: bool) -> None:
    assert fetcher.Origin.of(start).may_redirect_to(fetcher.Origin.of(target)) is allowed


def test_connection_refused_is_a_fetch_error() -> None:
    with pytest.raises(fetcher.FetchError):
        fetcher.get(f"http://127.0.0.1:{closed_port()}/doc", max_bytes=CAP,
                    deadline=time.monotonic() + 5)


# --------------------------------------------------------------------------- partner documents


@pytest.mark.parametrize("name", ["404", "500", "redirect to ftp",
                                  "redirect to another port (another origin)",
                                  "one byte of body every 0.2 s for 30 s",
                                  "body over the cap with its length", "connection refused"])
def test_every_failure_gives_the_admin_one_sentence(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """No status, error class, port or address in the answer: it is not a scanner."""
    monkeypatch.setattr(partners, "FETCH_SECONDS", DEADLINE)
    monkeypatch.setattr(trust, "MAX_BUNDLE_BYTES", CAP)
    other = serve({})
    server = serve({})
    if name == "connection refused":
        base = f"http://127.0.0.1:{closed_port()}"
    else:
        routes = REFUSED[name](server, other)
        server.routes.update({f"{partners.WELL_KNOWN}/trust-bundle": routes.get("/doc")}
                             if "/doc" in routes else {})
        base = server.url
    start = time.monotonic()
    with pytest.raises(partners.PartnerFetchError) as info:
        partners.fetch_documents(base, fingerprint="00" * 32, now=NOW)
    assert time.monotonic() - start < GUARD
    assert info.value.message == partners.BUNDLE_NOT_FETCHED
    assert info.value.params == {}


def test_a_sync_shares_one_deadline(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle and a list each dripping for most of the deadline: cut at one deadline."""
    monkeypatch.setattr(partners, "FETCH_SECONDS", DEADLINE)
    server = serve({f"{partners.WELL_KNOWN}/trust-bundle": drip_body(1.6, 0.2),
                    f"{partners.WELL_KNOWN}/revocations": drip_body(30.0, 0.2)})
    start = time.monotonic()
    with pytest.raises(partners.PartnerFetchError) as info:
        partners.fetch_updates(server.url)
    assert time.monotonic() - start < DEADLINE + 1.5
    assert info.value.message == partners.REVOCATIONS_NOT_FETCHED


@pytest.mark.parametrize("name", ["wrong fingerprint", "broken signature"])
def test_nothing_named_by_an_unverified_bundle_is_fetched(
    serve: Callable[..., Server], name: str
) -> None:
    """Finding 3: the revocations_url of a bundle is visited only once it verified."""
    trap = serve({"/revocations": body(b"")})
    city = City()
    bundle = city.bundle(1, revocations_url=f"{trap.url}/revocations")
    fingerprint = city.fingerprint
    if name == "wrong fingerprint":
        fingerprint = City("FRLYS", "Lyon").fingerprint
    else:
        bundle = bundle[:-1] + bytes([bundle[-1] ^ 1])
    server = serve({f"{partners.WELL_KNOWN}/trust-bundle": body(bundle)})
    with pytest.raises(partners.PartnerTrustError):
        partners.fetch_documents(server.url, fingerprint=fingerprint, now=NOW)
    assert trap.hits == []


def test_a_verified_bundle_leads_to_its_revocation_list(serve: Callable[..., Server]) -> None:
    city = City()
    revocations = city.revocations(1, ("PT-AAA",))
    trap = serve({"/lists/current": body(revocations)})
    bundle = city.bundle(1, revocations_url=f"{trap.url}/lists/current")
    server = serve({f"{partners.WELL_KNOWN}/trust-bundle": body(bundle)})
    docs = partners.fetch_documents(server.url + "/", fingerprint=city.fingerprint, now=NOW)
    assert (docs.base_url, docs.bundle, docs.revocations) == (server.url, bundle, revocations)
    assert trap.hits == ["/lists/current"]


def test_a_recognition_request_that_is_not_taken_gives_one_sentence(
    serve: Callable[..., Server]
) -> None:
    server = serve({f"{partners.WELL_KNOWN}/recognition-requests": body(b"no", status=429)})
    with pytest.raises(partners.PartnerFetchError) as info:
        partners.send_recognition_request(partner_url=server.url, bundle=b"x")
    assert info.value.message == partners.REQUEST_NOT_SENT
