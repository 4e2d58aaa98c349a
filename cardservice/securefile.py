"""Writing secret files so that a crash or a race never exposes or half-writes them.

The bytes go to a fresh temp file in the same directory, created with O_EXCL,
O_NOFOLLOW and its final mode from the start (so the content is never visible under a
laxer mode), are fsynced, then moved into place: ``os.replace`` to overwrite, or
``os.link`` to create only — a hard link fails if the target exists, so "create, never
overwrite" has no check-then-write race. The directory is fsynced so the rename itself
is durable. A crash leaves the old file or none, never a partial one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def fsync_dir(directory: Path) -> None:
    """Make a rename, link or unlink in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    """Write ``data`` to ``path`` with ``mode``; ``FileExistsError`` if it exists and
    ``overwrite`` is false."""
    path = Path(path)
    directory = path.parent
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = directory / f".{path.name}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            os.fchmod(fd, mode)  # the umask may have narrowed it; be exact about what we promise
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):
        fsync_dir(directory)
