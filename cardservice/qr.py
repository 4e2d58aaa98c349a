"""QR codes for cards: encode the card's QR text, and read it back from a picture or a PDF.

Rules this module keeps (SPEC §3):

- Error correction is **Q** and is never silently raised or lowered (``boost_error=False``),
  so a given payload always gives the same version and module size on the card.
- Alphanumeric mode whenever the text allows it (``LC1:`` + Base45 always does); any other
  text falls back to the mode segno picks (byte mode for lower case or non-ASCII).
- Reading uses a real decoder (zxing-cpp) restricted to QR codes, so a barcode of another
  kind in the same picture is ignored rather than mistaken for a card.

The module is pure: no clock, no configuration, no I/O except reading a file the caller
names in :func:`read_qr_from_file`.
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import segno
import zxingcpp
from PIL import Image

__all__ = [
    "ALPHANUMERIC_CHARS",
    "QUIET_ZONE",
    "QrError",
    "QrMatrix",
    "QrNotFoundError",
    "UnreadableFileError",
    "encode_qr",
    "read_qr",
    "read_qr_from_file",
]

#: The 45 characters QR alphanumeric mode can hold (also exactly the Base45 alphabet).
ALPHANUMERIC_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

#: Width of the light margin around a QR symbol, in modules, that ISO/IEC 18004 requires.
QUIET_ZONE = 4

#: Resolution used to render PDF pages before looking for a QR code.
PDF_RENDER_DPI = 300

#: Largest file read_qr_from_file accepts; a card PDF is ~100 kB, a phone photo a few MB.
MAX_FILE_BYTES = 25_000_000

#: Largest raster (in pixels) we decode or render, to keep memory bounded on hostile input.
MAX_PIXELS = 60_000_000

_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class QrError(Exception):
    """Base class for the errors of this module."""


class QrNotFoundError(QrError):
    """No readable QR code was found in the image or document."""


class UnreadableFileError(QrError):
    """The file is not a PNG, JPEG, WebP image or PDF document that can be opened."""


@dataclass(frozen=True)
class QrMatrix:
    """An encoded QR symbol.

    ``rows`` holds the symbol's modules **without** the quiet zone: ``size`` rows of
    ``size`` booleans, ``True`` for a dark module, row 0 at the top, column 0 on the left.
    :meth:`with_quiet_zone` adds the :data:`QUIET_ZONE`-module light margin that must
    surround the symbol when it is printed.
    """

    version: int
    error: str
    mode: str
    size: int
    rows: tuple[tuple[bool, ...], ...]

    @property
    def size_with_quiet_zone(self) -> int:
        """Modules per side including the quiet zone on both sides."""
        return self.size + 2 * QUIET_ZONE

    def with_quiet_zone(self) -> tuple[tuple[bool, ...], ...]:
        """Return the module rows surrounded by the quiet zone (light modules)."""
        blank_row = (False,) * self.size_with_quiet_zone
        pad = (False,) * QUIET_ZONE
        body = tuple(pad + row + pad for row in self.rows)
        return (blank_row,) * QUIET_ZONE + body + (blank_row,) * QUIET_ZONE

    def dark_runs(self) -> Iterator[tuple[int, int, int]]:
        """Yield ``(row, first_column, length)`` for each horizontal run of dark modules.

        Drawing one rectangle per run instead of one per module makes a PDF several
        times smaller and faster to render; coordinates exclude the quiet zone.
        """
        for y, row in enumerate(self.rows):
            x = 0
            n = len(row)
            while x < n:
                if row[x]:
                    start = x
                    while x < n and row[x]:
                        x += 1
                    yield y, start, x - start
                else:
                    x += 1

    def to_image(self, *, scale: int = 4) -> Image.Image:
        """Render the symbol with its quiet zone as a 1-bit PIL image, ``scale`` px per module."""
        if scale < 1:
            raise ValueError("scale must be at least 1 pixel per module")
        full = self.with_quiet_zone()
        n = len(full)
        img = Image.new("1", (n, n), 1)
        img.putdata([0 if dark else 1 for row in full for dark in row])
        if scale > 1:
            img = img.resize((n * scale, n * scale), Image.Resampling.NEAREST)
        return img


def encode_qr(text: str) -> QrMatrix:
    """Encode ``text`` as a QR code at error correction Q.

    Uses alphanumeric mode when every character of ``text`` is in
    :data:`ALPHANUMERIC_CHARS`, otherwise the mode segno chooses. Raises ``ValueError``
    for an empty text or one too long for any QR version at level Q.
    """
    if not text:
        raise ValueError("cannot encode an empty text as a QR code")
    mode = "alphanumeric" if set(text) <= ALPHANUMERIC_CHARS else None
    try:
        qr = segno.make_qr(text, error="q", boost_error=False, mode=mode)
    except segno.DataOverflowError as exc:
        raise ValueError(
            f"text of {len(text)} characters does not fit a QR code at level Q"
        ) from exc
    rows = tuple(tuple(bool(m) for m in row) for row in qr.matrix)
    return QrMatrix(
        version=int(qr.version),
        error=str(qr.error),
        mode=str(qr.mode),
        size=len(rows),
        rows=rows,
    )


def read_qr(image: Image.Image) -> str:
    """Decode the first QR code found in ``image`` and return its text.

    Raises :class:`QrNotFoundError` when the picture holds no readable QR code.
    """
    if image.width * image.height > MAX_PIXELS:
        raise UnreadableFileError(
            f"image of {image.width}x{image.height} pixels is too large to scan"
        )
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels are often stored as black: put the picture on white paper first.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode not in ("L", "RGB"):
        # zxing-cpp takes grey or RGB buffers; a grey copy is also the cheapest to scan.
        image = image.convert("L")
    results = zxingcpp.read_barcodes(image, formats=_QR_ONLY)
    for result in results:
        if result.valid and result.text:
            return str(result.text)
    raise QrNotFoundError("no readable QR code was found in the image")


def read_qr_from_file(path_or_bytes: str | os.PathLike[str] | bytes) -> str:
    """Read a QR code from a PNG, JPEG or WebP image or from a PDF document.

    A PDF's page 1 is rendered at 300 dpi and scanned, then page 2 when page 1 holds no
    code (a card PDF has its QR on the back, page 2). Raises :class:`UnreadableFileError`
    when the file cannot be opened as one of those formats and :class:`QrNotFoundError`
    when it opens but holds no readable QR code.
    """
    data = _read_bytes(path_or_bytes)
    if data.lstrip()[:5] == b"%PDF-":
        return _read_qr_from_pdf(data)
    return read_qr(_open_image(data))


def _read_bytes(path_or_bytes: str | os.PathLike[str] | bytes) -> bytes:
    if isinstance(path_or_bytes, bytes | bytearray | memoryview):
        data = bytes(path_or_bytes)
    else:
        try:
            size = os.path.getsize(path_or_bytes)
            if size > MAX_FILE_BYTES:
                raise UnreadableFileError(
                    f"file is {size} bytes; the largest accepted is {MAX_FILE_BYTES}"
                )
            with open(path_or_bytes, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise UnreadableFileError(f"cannot read the file: {exc.strerror or exc}") from exc
    if not data:
        raise UnreadableFileError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise UnreadableFileError(
            f"file is {len(data)} bytes; the largest accepted is {MAX_FILE_BYTES}"
        )
    return data


def _open_image(data: bytes) -> Image.Image:
    # Pillow warns (DecompressionBombWarning) above its own pixel limit and raises above
    # twice that; both mean "refuse", and we check our own lower limit before decoding.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
            if img.width * img.height > MAX_PIXELS:
                raise UnreadableFileError(
                    f"image of {img.width}x{img.height} pixels is too large to scan"
                )
            img.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise UnreadableFileError("image dimensions are too large to scan") from exc
    except UnreadableFileError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        # UnidentifiedImageError is an OSError; truncated or corrupt data raises OSError or
        # SyntaxError depending on the plugin.
        raise UnreadableFileError(
            "the file is not a PNG, JPEG, WebP image or a PDF document"
        ) from exc
    return img


# PDFium is not thread-safe: every use of pypdfium2 in the process takes this lock
# (the app may run with several threads per process).
PDFIUM_LOCK = threading.Lock()


def _read_qr_from_pdf(data: bytes) -> str:
    with PDFIUM_LOCK:
        return _read_qr_from_pdf_locked(data)


def _read_qr_from_pdf_locked(data: bytes) -> str:
    import pypdfium2 as pdfium  # imported lazily: only PDF uploads need it

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnreadableFileError("the PDF document cannot be opened") from exc
    try:
        if len(pdf) == 0:
            raise UnreadableFileError("the PDF document has no pages")
        for index in range(min(2, len(pdf))):
            page = pdf[index]
            try:
                width_pt, height_pt = page.get_size()
                scale = PDF_RENDER_DPI / 72
                pixels = width_pt * height_pt * scale * scale
                if pixels > MAX_PIXELS:
                    # A huge page is rendered at a lower resolution instead of refused.
                    scale *= (MAX_PIXELS / pixels) ** 0.5
                image = page.render(scale=scale, grayscale=True).to_pil()
            finally:
                page.close()
            try:
                return read_qr(image)
            except QrNotFoundError:
                continue
    finally:
        pdf.close()
    raise QrNotFoundError("no readable QR code was found on the first two pages of the PDF")
