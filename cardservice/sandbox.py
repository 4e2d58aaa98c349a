"""Decode untrusted uploads in a child process with CPU, memory and time limits.

Rules this module keeps:

- The decoders of uploaded bytes (:func:`qr.read_qr_from_file`, :func:`photo.process_photo`)
  run in a fresh child process (``python -m cardservice.sandbox``), never in the server's:
  the budgets of those modules are checked on the file's structure, and whatever escapes
  them (content wrapped in a filter they do not undo, patterns, shadings, fonts, a decoder
  bug) is stopped here by the operating system instead.
- The child sets its own limits before it reads a byte: CPU seconds (``RLIMIT_CPU``),
  address space (``RLIMIT_AS``), no core file; it runs at a lower priority, so requests
  that need no decoding keep the processor. The parent kills it after a wall-clock limit.
  It gets no environment from the server (no secret key, no passphrase).
- A child stopped by a limit is the same typed error as a file over a budget
  (:class:`qr.QrInputTooLargeError`, :class:`photo.PhotoTooLargeError`); a child that fails
  otherwise is an unreadable file (and a line in the log). The server never sees a crash.
- At most ``concurrent`` children per process; at most ``waiting`` requests wait up to
  ``wait_seconds`` for one to finish, and any other request is refused at once with
  :class:`SandboxBusyError`. Waiting requests hold a server thread, so keeping
  ``concurrent + waiting`` below the threads of a worker leaves one free for everything else.

No Flask, no database: the web, the CLI and the clerk's photo upload reach it through the
application layer.
"""

from __future__ import annotations

import logging
import os
import re
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cardservice import photo, qr

__all__ = ["Limits", "Sandbox", "SandboxBusyError"]

log = logging.getLogger("cardservice.sandbox")

# Errors a child may report, by a stable code: the parent re-raises the same type.
_ERRORS: dict[str, type[Exception]] = {
    "qr.too_large": qr.QrInputTooLargeError,
    "qr.unreadable": qr.UnreadableFileError,
    "qr.not_found": qr.QrNotFoundError,
    "qr.card_front": qr.CardFrontError,
    "photo.too_large": photo.PhotoTooLargeError,
    "photo.not_an_image": photo.NotAnImageError,
    "photo.too_small": photo.PhotoTooSmallError,
    "photo.invalid_crop": photo.InvalidCropError,
    "photo.refused": photo.PhotoError,
}
_CODES = {cls: code for code, cls in _ERRORS.items()}

# A child's answer on stdout: one status line, then the payload (the QR text in UTF-8,
# the JPEG, or the error's message).
_OK = b"ok"
_ERROR = b"error"
_EXIT_OVER_LIMIT = 3  # the child ran out of memory (MemoryError under RLIMIT_AS)
_NICENESS = 10
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class SandboxBusyError(Exception):
    """Every decoding slot of this process is taken and the wait for one is over."""


@dataclass(frozen=True)
class Limits:
    """What one child may use: CPU seconds, bytes of address space, seconds of wall clock."""

    cpu_seconds: int
    memory_bytes: int
    wall_seconds: float


class _Gate:
    """At most ``slots`` holders at once; at most ``waiting`` others wait, for ``wait`` s."""

    def __init__(self, *, slots: int, waiting: int, wait_seconds: float) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._max_waiting = waiting
        self._wait = wait_seconds
        self._waiting = 0
        self._lock = threading.Lock()

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(blocking=False):
            with self._lock:
                if self._waiting >= self._max_waiting:
                    raise SandboxBusyError("every decoding slot is taken")
                self._waiting += 1
            try:
                got = self._slots.acquire(timeout=self._wait)
            finally:
                with self._lock:
                    self._waiting -= 1
            if not got:
                raise SandboxBusyError("no decoding slot became free in time")
        try:
            yield
        finally:
            self._slots.release()


class Sandbox:
    """Runs the decoders of untrusted bytes in limited child processes, a bounded number at once.

    One per process (the application builds it): the bound on concurrent children holds
    for all the threads of that process.
    """

    def __init__(self, limits: Limits, *, concurrent: int, waiting: int,
                 wait_seconds: float) -> None:
        self.limits = limits
        self._gate = _Gate(slots=concurrent, waiting=waiting, wait_seconds=wait_seconds)

    def read_qr(self, data: bytes) -> str:
        """:func:`qr.read_qr_from_file` on ``data`` in a child; raises the same errors.

        A child stopped by a limit raises :class:`qr.QrInputTooLargeError`;
        :class:`SandboxBusyError` when no slot is free.
        """
        if len(data) > qr.MAX_FILE_BYTES:  # refused before a child is started
            raise qr.QrInputTooLargeError(
                f"file is {len(data):,} bytes; the largest accepted is {qr.MAX_FILE_BYTES:,}")
        out = self._run(["qr"], data, over_limit=qr.QrInputTooLargeError(
            "reading the file needed more time or memory than an upload may use"),
            failed=qr.UnreadableFileError("the file could not be read"))
        return out.decode("utf-8")

    def process_photo(self, data: bytes, *, max_bytes: int) -> bytes:
        """:func:`photo.process_photo` on ``data`` in a child; raises the same errors.

        A child stopped by a limit raises :class:`photo.PhotoTooLargeError`;
        :class:`SandboxBusyError` when no slot is free.
        """
        if len(data) > max_bytes:  # refused before a child is started
            raise photo.PhotoTooLargeError(
                f"the photo file is {len(data):,} bytes; the largest accepted is {max_bytes:,}")
        return self._run(["photo", str(max_bytes)], data, over_limit=photo.PhotoTooLargeError(
            "decoding the photo needed more time or memory than an upload may use"),
            failed=photo.NotAnImageError("the photo could not be decoded"))

    def _run(self, task: list[str], data: bytes, *, over_limit: Exception,
             failed: Exception) -> bytes:
        lim = self.limits
        command = [sys.executable, "-m", "cardservice.sandbox", str(lim.cpu_seconds),
                   str(lim.memory_bytes), *task]
        with self._gate.slot():
            # No preexec_fn (unsafe in a threaded server): the child limits itself first.
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=_child_environment(), cwd=_PACKAGE_ROOT)
            try:
                out, err = proc.communicate(data, timeout=lim.wall_seconds)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                log.warning("upload decoder stopped after %s s of wall-clock time",
                            lim.wall_seconds)
                raise over_limit from None
        status, _, payload = out.partition(b"\n")
        if proc.returncode == 0 and status == _OK:
            return payload
        if proc.returncode == 0 and status.startswith(_ERROR + b" "):
            kind = _ERRORS.get(status[len(_ERROR) + 1:].decode("ascii", "replace"))
            if kind is not None:
                raise kind(payload.decode("utf-8", "replace"))
        if proc.returncode == _EXIT_OVER_LIMIT or proc.returncode in _LIMIT_SIGNALS:
            log.warning("upload decoder stopped by its limits (exit %s)", proc.returncode)
            raise over_limit
        # A decoder failing in a way it does not report (a native crash, a bug): the file
        # is refused all the same, and the operator sees why, by the exception's name only:
        # its message could quote what the file holds (a card's text, a name).
        log.error("upload decoder failed (exit %s): %s", proc.returncode, _exception_name(err))
        raise failed


_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]{0,99})(?::|$)")


def _exception_name(stderr: bytes) -> str:
    """The exception class a Python traceback ends with, without its message."""
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    found = _EXCEPTION_LINE.match(lines[-1]) if lines else None
    return found.group(1) if found else "no Python exception (see exit status)"


# Killed by RLIMIT_CPU (SIGXCPU, then SIGKILL at the hard limit) or, on allocation failure
# under RLIMIT_AS, aborted by native code (SIGABRT) or by the kernel (SIGSEGV, SIGKILL).
_LIMIT_SIGNALS = frozenset(-s for s in (signal.SIGXCPU, signal.SIGKILL, signal.SIGABRT,
                                        signal.SIGSEGV, signal.SIGBUS))


def _child_environment() -> dict[str, str]:
    """The child's whole environment: the parent's import path, nothing else of the server's."""
    path = os.pathsep.join(dict.fromkeys(p for p in (_PACKAGE_ROOT, *sys.path) if p))
    return {"PYTHONPATH": path, "PATH": os.defpath, "LC_ALL": "C.UTF-8",
            "OMP_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def _limit_self(cpu_seconds: int, memory_bytes: int) -> None:
    """Put this (child) process under its limits; called before any input is read."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    os.nice(_NICENESS)


def _child_main(argv: list[str]) -> int:
    """``<cpu seconds> <memory bytes> qr`` or ``… photo <max bytes>``: bytes in, answer out."""
    cpu, memory, task, *rest = argv
    _limit_self(int(cpu), int(memory))
    data = sys.stdin.buffer.read()
    out = sys.stdout.buffer
    try:
        if task == "qr":
            payload = qr.read_qr_from_file(data).encode("utf-8")
        elif task == "photo":
            payload = photo.process_photo(data, max_bytes=int(rest[0]))
        else:
            raise SystemExit(f"unknown task {task!r}")
    except MemoryError:
        return _EXIT_OVER_LIMIT
    except (qr.QrError, photo.PhotoError) as exc:
        code = _CODES.get(type(exc), "qr.unreadable" if task == "qr" else "photo.refused")
        out.write(_ERROR + b" " + code.encode("ascii") + b"\n" + str(exc).encode("utf-8"))
        return 0
    out.write(_OK + b"\n" + payload)
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
