"""Uploaded files, decoded in the sandbox: the QR code of a card picture or PDF, a photo.

Every use case that decodes bytes from outside goes through the one ``Uploads`` of its
``Application``, so the bound on concurrent decodes holds for the whole process, and the
sandbox's refusals become domain errors here: too large (413), unreadable or without a
code (400; a picture that looks like a card's front says the code is on the back),
busy (503, retry shortly).
"""

from __future__ import annotations

from cardservice import qr
from cardservice.config import UploadSettings
from cardservice.errors import (
    N_,
    CardFrontUploadedError,
    NoCardCodeError,
    ServiceBusyError,
    UnreadableUploadError,
    UploadTooLargeError,
)
from cardservice.sandbox import Limits, Sandbox, SandboxBusyError

_BUSY = N_("The service is busy. Please try again in a moment.")


class Uploads:
    """Decodes untrusted uploads in limited child processes, a bounded number at once."""

    def __init__(self, settings: UploadSettings) -> None:
        self.sandbox = Sandbox(
            Limits(cpu_seconds=settings.cpu_seconds,
                   memory_bytes=settings.memory_mb * 1024 * 1024,
                   wall_seconds=float(settings.wall_seconds)),
            concurrent=settings.concurrent_decodes, waiting=settings.waiting_decodes,
            wait_seconds=settings.wait_ms / 1000)

    def read_qr(self, data: bytes) -> str:
        """The text of the QR code in an uploaded picture or PDF."""
        try:
            return self.sandbox.read_qr(data)
        except SandboxBusyError:
            raise ServiceBusyError(_BUSY) from None
        except qr.CardFrontError:
            raise CardFrontUploadedError(
                N_("No card code was found. If this is the front of the card, the code is on "
                   "the back: photograph or scan the back."), field="image") from None
        except qr.QrNotFoundError:
            raise NoCardCodeError(
                N_("No card code was found in this picture. Try a sharper, closer photo."),
                field="image") from None
        except qr.QrInputTooLargeError:
            raise UploadTooLargeError(
                N_("This file is too large or too complex to read. Upload a photo of the "
                   "card, or the card's own PDF."), field="image") from None
        except qr.UnreadableFileError:
            raise UnreadableUploadError(
                N_("This file is not a picture or a PDF we can read."), field="image") from None

    def process_photo(self, data: bytes, *, max_bytes: int) -> bytes:
        """:func:`photo.process_photo` in the sandbox: a clean JPEG or a ``PhotoError``."""
        try:
            return self.sandbox.process_photo(data, max_bytes=max_bytes)
        except SandboxBusyError:
            raise ServiceBusyError(_BUSY) from None


__all__ = ["Uploads"]
