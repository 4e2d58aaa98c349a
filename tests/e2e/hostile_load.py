"""Hostile uploads against a running server while ``/healthz`` is timed and memory watched.

Used by ``test_hostile_uploads.py`` (a functional guard) and ``bench/bench_hostile_uploads.py``
(the numbers). Memory is read from ``/proc``: the server's processes are the master
(``cardservice serve``) and its workers; the sandbox's children (the workers' children)
are reported apart.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
UPLOAD_TIMEOUT = 120.0


def post_upload(url: str, name: str, data: bytes, *, timeout: float = UPLOAD_TIMEOUT) -> int:
    """POST ``data`` as the verify form's picture; the HTTP status (0: no answer in time)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url + "/verify", data=body, method="POST", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    return _status(req, timeout=timeout)


def get_status(url: str, *, timeout: float = 30.0) -> int:
    """GET ``url``; the HTTP status (0: no answer in time)."""
    return _status(url, timeout=timeout)


def _status(req: urllib.request.Request | str, *, timeout: float) -> int:
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return int(exc.code)
    except OSError:
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as fh:
                stat = fh.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` in MB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemoryWatch:
    """Samples the RSS of a server (master and workers) and of the workers' children."""

    def __init__(self, master: int, *, every: float = 0.05) -> None:
        self._master = master
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.server_peak_mb = 0.0
        self.child_peak_mb = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            workers = _children(self._master)
            for pid in [self._master, *workers]:
                self.server_peak_mb = max(self.server_peak_mb, rss_mb(pid))
            for pid in itertools.chain.from_iterable(_children(w) for w in workers):
                self.child_peak_mb = max(self.child_peak_mb, rss_mb(pid))
            self._stop.wait(self._every)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


@dataclass
class StormResult:
    """What a storm of hostile uploads did to a server."""

    healthz_seconds: list[float] = field(default_factory=list)
    healthz_statuses: list[int] = field(default_factory=list)
    upload_statuses: Counter[int] = field(default_factory=Counter)
    uploads_in_flight_at_probes: list[int] = field(default_factory=list)
    server_peak_mb: float = 0.0
    child_peak_mb: float = 0.0


def storm(url: str, master: int, files: Sequence[tuple[str, bytes]], *, clients: int = 10,
          probes: int = 10, probe_every: float = 0.3, warm_up: float = 1.0) -> StormResult:
    """``clients`` threads upload ``files`` in turn, again and again, while ``/healthz`` is
    timed ``probes`` times; each client finishes the upload it is in when probing ends.
    """
    result = StormResult()
    stop = threading.Event()
    in_flight = 0
    lock = threading.Lock()

    def client(offset: int) -> None:
        nonlocal in_flight
        for name, data in itertools.islice(itertools.cycle(files), offset, None):
            if stop.is_set():
                return
            with lock:
                in_flight += 1
            status = post_upload(url, name, data)
            with lock:
                in_flight -= 1
                result.upload_statuses[status] += 1

    with MemoryWatch(master) as watch:
        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        time.sleep(warm_up)  # every client has sent an upload and waits for its answer
        for _ in range(probes):
            with lock:
                result.uploads_in_flight_at_probes.append(in_flight)
            start = time.monotonic()
            result.healthz_statuses.append(get_status(url + "/healthz"))
            result.healthz_seconds.append(time.monotonic() - start)
            time.sleep(probe_every)
        stop.set()
        for t in threads:
            t.join(UPLOAD_TIMEOUT + 10)
    result.server_peak_mb = watch.server_peak_mb
    result.child_peak_mb = watch.child_peak_mb
    return result
