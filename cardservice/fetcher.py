"""The one way this service fetches from another city's server: partner trust documents.

Partner addresses are typed by admins and fetched by cron, so a fetch must neither be
led somewhere else nor held open, and its failures must not map the network. Rules:

1. **http and https only**, to a host named in the URL; no user or password in it.
2. **Redirects**: at most :data:`MAX_REDIRECTS`, for GET only, and only to the same
   origin (scheme, host, port) or from ``http`` up to ``https`` on the same host. A
   redirect to another host or scheme (``ftp:``, ``file:``…) is a failure.
3. **One deadline per fetch, on the wall clock** (a ``time.monotonic`` value passed in):
   connecting, the TLS handshake, sending, the status line, the headers and every read
   of the body each wait only for what is left of it, so a server that drips one byte
   every few seconds is cut off at the deadline, not after each byte. (Name resolution
   uses the system resolver's own time-outs, which the deadline cannot interrupt.)
4. **A size cap**: a ``Content-Length`` above it is refused before the body is read;
   the body is read up to one byte past the cap, then refused.
5. Only ``200`` (GET) or ``2xx`` (POST) is an answer.
6. Every failure is one :class:`FetchError`; its ``reason`` ("HTTP 404", "connection
   refused", "deadline passed"…) is for the server log. Callers show a person one
   sentence per document, the same whatever happened on the network (issue 11).

TLS is checked with the system's CA store, but it is not what makes a document trusted:
the signature and the pinned fingerprint are (:mod:`cardservice.trust`).
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

__all__ = ["MAX_REDIRECTS", "FetchError", "Origin", "get", "post"]

#: Redirects followed within one origin (rule 2).
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024
_USER_AGENT = "cardservice"


class FetchError(Exception):
    """A fetch failed; ``reason`` says how, for the server log only (rule 6)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port of an http(s) URL."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin:
        """The origin of ``url``; :class:`FetchError` unless it is a plain http(s) URL."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise FetchError("not a URL") from None
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"scheme {parts.scheme[:10]!r} is not http(s)")
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise FetchError("the URL names no host, or carries a user name")
        default = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, parts.hostname.lower(), port or default)

    def may_redirect_to(self, target: Origin) -> bool:
        """(2): the same origin, or the upgrade from http to https on the same host."""
        if target == self:
            return True
        return (self.scheme, target.scheme) == ("http", "https") and target.host == self.host


def get(url: str, *, max_bytes: int, deadline: float, accept: str = "application/cose") -> bytes:
    """GET ``url`` by the rules above; the body, at most ``max_bytes``."""
    return _fetch("GET", url, body=None, headers={"Accept": accept}, max_bytes=max_bytes,
                  deadline=deadline)


def post(url: str, *, body: bytes, content_type: str, deadline: float,
         max_bytes: int = 4096) -> bytes:
    """POST ``body`` to ``url`` (no redirect is followed); the answer, at most ``max_bytes``."""
    return _fetch("POST", url, body=body, headers={"Content-Type": content_type},
                  max_bytes=max_bytes, deadline=deadline)


def _fetch(method: str, url: str, *, body: bytes | None, headers: Mapping[str, str],
           max_bytes: int, deadline: float) -> bytes:
    first = Origin.of(url)  # (1)
    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        origin = Origin.of(current)
        parts = urlsplit(current)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn = _Connection(origin, deadline=deadline)
        try:
            conn.request(method, target, body=body,
                         headers={**headers, "User-Agent": _USER_AGENT, "Connection": "close"})
            response = conn.getresponse()
            if method == "GET" and response.status in _REDIRECTS:  # (2)
                location = response.getheader("Location") or ""
                current = urljoin(current, location.strip())
                if not first.may_redirect_to(Origin.of(current)):
                    raise FetchError(f"redirect to another origin: {current[:200]}")
                continue
            if response.status != 200 and not (method == "POST" and 200 <= response.status < 300):
                raise FetchError(f"HTTP {response.status}")  # (5)
            return _read_capped(response, max_bytes)  # (4)
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError("deadline passed") from None
        except ssl.SSLError as exc:
            raise FetchError(f"TLS: {exc.reason or type(exc).__name__}") from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise FetchError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        finally:
            conn.close_now()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _read_capped(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    declared = response.getheader("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > max_bytes:
        raise FetchError(f"Content-Length {int(declared)} is over the cap of {max_bytes} bytes")
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = response.read(min(_CHUNK, max_bytes + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise FetchError(f"more than {max_bytes} bytes")


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    return left


class _DeadlineSocket:
    """A connected socket whose every wait is cut to what is left of the deadline (3).

    ``http.client`` reads the status line, headers and body through ``makefile``; the
    file made here calls back into :meth:`recv_into`, so no read escapes the deadline.
    As with ``socket.socket``, closing waits for the files made from it to be closed:
    ``http.client`` closes the connection while the response still reads the body.
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._files = 0
        self._closed = False

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        """Read, waiting at most until the deadline."""
        self._sock.settimeout(_left(self._deadline))
        return self._sock.recv_into(buffer, nbytes, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        """Send, waiting at most until the deadline."""
        self._sock.settimeout(_left(self._deadline))
        self._sock.sendall(data, flags)

    def makefile(self, mode: str = "rb", *_args: Any, **_kwargs: Any) -> io.BufferedReader:
        """A buffered reader over :meth:`recv_into` (the only mode http.client asks for)."""
        if mode != "rb":
            raise ValueError("only 'rb'")
        self._files += 1
        return io.BufferedReader(socket.SocketIO(self, "rb"))  # type: ignore[arg-type]

    def _decref_socketios(self) -> None:
        # Called by socket.SocketIO when a file made by makefile is closed.
        self._files = max(0, self._files - 1)
        if self._closed and not self._files:
            self._sock.close()

    def close(self) -> None:
        """Close the connection once no file made from it is open."""
        self._closed = True
        if not self._files:
            self._sock.close()

    def shutdown_and_close(self) -> None:
        """Close the connection now, whatever still reads from it."""
        self._closed = True
        self._sock.close()


class _Connection(http.client.HTTPConnection):
    """One HTTP(S) connection to ``origin``; every step is bounded by the deadline."""

    def __init__(self, origin: Origin, *, deadline: float) -> None:
        super().__init__(origin.host, origin.port, timeout=max(0.0, deadline - time.monotonic()))
        self._origin = origin
        self._deadline = deadline
        self._deadline_socket: _DeadlineSocket | None = None

    def connect(self) -> None:
        """Resolve, connect to each address in turn and shake hands, within the deadline."""
        error: OSError = OSError("the name resolves to no address")
        sock: socket.socket | None = None
        for family, kind, proto, _name, address in socket.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM
        ):
            candidate = socket.socket(family, kind, proto)
            try:
                candidate.settimeout(_left(self._deadline))
                candidate.connect(address)
            except OSError as exc:
                candidate.close()
                error = exc
                if isinstance(exc, TimeoutError):
                    break
                continue
            sock = candidate
            break
        if sock is None:
            raise error
        if self._origin.scheme == "https":
            try:
                sock.settimeout(_left(self._deadline))
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=self.host)
            except BaseException:
                sock.close()
                raise
        self.sock = self._deadline_socket = _DeadlineSocket(sock, self._deadline)

    def close_now(self) -> None:
        """Close the connection and its socket, even while a response file is open."""
        self.close()
        if self._deadline_socket is not None:
            self._deadline_socket.shutdown_and_close()
