"""QR codes for cards: encode the card's QR text, and read it back from a picture or a PDF.

Rules this module keeps (SPEC §3):

- Error correction is **Q** and is never silently raised or lowered (``boost_error=False``),
  so a given payload always gives the same version and module size on the card.
- Alphanumeric mode whenever the text allows it (``LC1:`` + Base45 always does); any other
  text falls back to the mode segno picks (byte mode for lower case or non-ASCII).
- Reading uses a real decoder (zxing-cpp) restricted to QR codes, so a barcode of another
  kind in the same picture is ignored rather than mistaken for a card.
- Uploaded bytes are untrusted (the verify form is public), so each decoder works within
  a budget checked *before* the expensive step: an image's pixel count is read from its
  header and it is decoded no larger than a QR needs; a PDF is refused by its compressed
  content, its page count and size and the number of things drawn on a page before PDFium
  renders it, and then rendered at most :data:`PDF_RENDER_PIXELS`. A refusal for size is a
  :class:`QrInputTooLargeError` naming the limit.

The module is pure: no clock, no configuration, no I/O except reading a file the caller
names in :func:`read_qr_from_file`.
"""

from __future__ import annotations

import base64
import ctypes
import io
import math
import os
import re
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import segno
import zxingcpp
from PIL import Image, ImageFilter

__all__ = [
    "ALPHANUMERIC_CHARS",
    "QUIET_ZONE",
    "CardFrontError",
    "QrError",
    "QrMatrix",
    "QrInputTooLargeError",
    "QrNotFoundError",
    "UnreadableFileError",
    "encode_qr",
    "looks_like_a_card",
    "read_qr",
    "read_qr_from_file",
]

#: The 45 characters QR alphanumeric mode can hold (also exactly the Base45 alphabet).
ALPHANUMERIC_CHARS = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

#: Width of the light margin around a QR symbol, in modules, that ISO/IEC 18004 requires.
QUIET_ZONE = 4

#: Resolution used to render PDF pages before looking for a QR code (a card: 0.65 MP).
PDF_RENDER_DPI = 300

#: Most pixels a PDF page is rendered to; a larger page is rendered at a lower resolution.
#: An A4 sheet of cards still gets ~3.7 pixels a QR module.
PDF_RENDER_PIXELS = 4_000_000

#: Largest file read_qr_from_file accepts; a card PDF is ~100 kB, a phone photo a few MB.
MAX_FILE_BYTES = 25_000_000

#: Largest raster (in pixels) read_qr scans, to keep memory bounded on hostile input.
MAX_PIXELS = 60_000_000

#: Largest JPEG, in pixels by its header: decoded at 1/2, 1/4 or 1/8 scale when large
#: (a 50-megapixel phone photo passes).
MAX_JPEG_PIXELS = 64_000_000

#: Largest PNG or WebP, in pixels by its header: these are decoded at full size
#: (an A4 page scanned at 400 dpi passes).
MAX_LOSSLESS_PIXELS = 16_000_000

#: Pixels an image is scaled down to before scanning; a phone photo of a card keeps
#: several pixels a QR module.
SCAN_PIXELS = 8_000_000

#: Images up to this many pixels are also tried upscaled 2x: a card scanned at up to
#: 200 dpi (0.6 MP at 150 dpi), where modules get few pixels; the copy has 4 MP at most.
SMALL_IMAGE_PIXELS = 1_000_000

#: Most pages a PDF may have; a card PDF has 2 (front, back).
MAX_PDF_PAGES = 4

#: Largest PDF page, in points, either way round: A3 (a card is 243 x 153, a sheet A4).
MAX_PDF_PAGE_SIZE = (842.0, 1191.0)

#: Most bytes the compressed streams of a PDF may inflate to; a card PDF holds ~100 kB.
MAX_PDF_INFLATED_BYTES = 2_000_000

#: Most objects drawn on a page (inside forms included); a card page has ~20.
MAX_PDF_PAGE_OBJECTS = 2_000

#: Most path segments on a page; a card's back has ~5,700 (the QR code's modules).
MAX_PDF_PATH_SEGMENTS = 100_000

#: Largest image inside a PDF page, in pixels; a card photo is 600 x 800.
MAX_PDF_IMAGE_PIXELS = 16_000_000

#: Most streams a PDF may hold; a card PDF has ~15.
MAX_PDF_STREAMS = 256

_PDF_STREAM = re.compile(rb"(?<!end)stream\r?\n")
_ASCII85 = re.compile(rb"[!-uz\s]+")
# PDFium parses a form XObject in full each time a page uses it, while loading the page and
# before anything can be counted: a 2 kB PDF using one form 1,000 times cost 3 s and 500 MB.
# A card PDF has none, so a PDF with any is refused.
_PDF_FORM = re.compile(rb"/Subtype\s*/Form(?![A-Za-z0-9])")

_IMAGE_FORMATS = ("PNG", "JPEG", "WEBP")

_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
_MAX_SIDE = 65_535  # zxing-cpp's largest image side


class QrError(Exception):
    """Base class for the errors of this module."""


class QrNotFoundError(QrError):
    """No readable QR code was found in the image or document."""


class CardFrontError(QrNotFoundError):
    """No QR code was found and the picture looks like a card: most likely its front.

    A hint, from the picture's shape and colour band (:func:`looks_like_a_card`), never
    a verdict: the answer should say "if this is the front, the code is on the back".
    """


class UnreadableFileError(QrError):
    """The file is not a PNG, JPEG, WebP image or PDF document that can be opened."""


class QrInputTooLargeError(UnreadableFileError):
    """The file is over a size budget (pixels, pages, page size, content); the message names it."""


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

    Tries, stopping at the first valid read, the attempts of :func:`_attempts`: the
    image as it is, a sharpened copy, and for a small image an upscaled sharpened copy.
    Raises :class:`CardFrontError` when no code is found and the picture looks like an
    ID-1 card (most likely its front), :class:`QrNotFoundError` otherwise.
    """
    if image.width * image.height > MAX_PIXELS:
        raise UnreadableFileError(
            f"image of {image.width}x{image.height} pixels is too large to scan"
        )
    if max(image.width, image.height) > _MAX_SIDE:
        # zxing-cpp refuses a side over 65,535 pixels with a bare ValueError; a 1 x 100,000
        # picture is within the pixel budget, and is no card either.
        raise UnreadableFileError(
            f"image of {image.width}x{image.height} pixels is too long to scan")
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels are often stored as black: put the picture on white paper first.
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
    if image.mode not in ("L", "RGB"):
        # zxing-cpp takes grey or RGB buffers; a grey copy is also the cheapest to scan.
        image = image.convert("L")
    seen_symbol = False
    for attempt in _attempts(image):
        # return_errors: a symbol found but not decoded still tells a back from a front.
        for result in zxingcpp.read_barcodes(attempt, formats=_QR_ONLY, return_errors=True):
            if result.valid and result.text:
                return str(result.text)
            seen_symbol = True
    if not seen_symbol and looks_like_a_card(image):
        raise CardFrontError("no QR code was found; the picture looks like a card's front")
    raise QrNotFoundError("no readable QR code was found in the image")


def _attempts(image: Image.Image) -> Iterator[Image.Image]:
    """The pictures :func:`read_qr` hands zxing-cpp, cheapest first, each made only if needed.

    Measured over card backs of 14 names (bench/bench_decode.py): renders by PDFium and
    poppler at 80-300 dpi read as they are; blur (a phone's focus, 1.5 px at 150 dpi) and
    blur with low contrast need the sharpened copy, one of them only the upscaled one.
    zxing-cpp's other binarizers (GlobalHistogram, FixedThreshold) and ``is_pure`` read
    nothing more on those sets, so they are not tried. Every copy is at most
    :data:`SCAN_PIXELS`: a large photo is sharpened at half size, and only a small
    image is upscaled, so a photo with no code costs about two scans, not more.
    """
    yield image
    grey = image.convert("L") if image.mode != "L" else image
    pixels = grey.width * grey.height
    if pixels > SCAN_PIXELS // 2:
        grey = grey.reduce(2)  # a phone's blur spans several pixels: sharpen at half size
    yield grey.filter(_SHARPEN)
    if pixels <= SMALL_IMAGE_PIXELS:
        up = grey.resize((grey.width * 2, grey.height * 2), Image.Resampling.BICUBIC)
        yield up.filter(_SHARPEN_UPSCALED)


_SHARPEN = ImageFilter.UnsharpMask(radius=2, percent=200, threshold=0)
_SHARPEN_UPSCALED = ImageFilter.UnsharpMask(radius=3, percent=200, threshold=0)

#: ID-1 card sides' ratio (85.60 : 53.98), and how far a picture of one may be from it.
_ID1_RATIO = 85.60 / 53.98
_RATIO_TOLERANCE_WHOLE = 0.04
_RATIO_TOLERANCE_FOUND = 0.08
_THUMB_SIDE = 200
_GROUND_CONTRAST = 24


def looks_like_a_card(image: Image.Image) -> bool:
    """Whether ``image`` looks like an ID-1 card with a band across its top: cheap, a hint only.

    The picture is a card when its own sides are in the card's ratio (a scan, a crop, a
    rendered PDF page), or when it holds a region in that ratio standing apart from a
    uniform surround (a card on a table, photographed square on). Either way the card's
    top (or bottom, upside down) must be a uniform colour band, as both faces of our
    cards have. No text is read: used only to add "the code is on the back" to the
    answer for a picture with no code in it.
    """
    scale = _THUMB_SIDE / max(image.width, image.height)
    thumb = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                         Image.Resampling.BOX).convert("RGB")
    w, h = thumb.size
    if min(w, h) < 20:
        return False
    box = (0, 0, w, h) if _id1_ratio(w, h, _RATIO_TOLERANCE_WHOLE) else _card_region(thumb)
    if box is None:
        return False
    card = thumb.crop(box)
    if card.width < card.height:  # a card photographed upright: its top is on a side
        card = card.rotate(90, expand=True)
    return _has_band(card) or _has_band(card.rotate(180))


def _id1_ratio(w: int, h: int, tolerance: float) -> bool:
    ratio = max(w, h) / max(min(w, h), 1)
    return abs(ratio / _ID1_RATIO - 1) <= tolerance


def _card_region(thumb: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box of what differs from the picture's border, if it is card-shaped."""
    grey = thumb.convert("L")
    w, h = grey.size
    border = sorted(cast(int, v) for edge in ((0, 0, w, 1), (0, h - 1, w, h), (0, 0, 1, h),
                                              (w - 1, 0, w, h))
                    for v in grey.crop(edge).get_flattened_data())
    if border[len(border) * 9 // 10] - border[len(border) // 10] > 40:
        return None  # no uniform surround: a scene, not a card on a table
    ground = border[len(border) // 2]
    mask = grey.point(lambda v: 255 if abs(v - ground) > _GROUND_CONTRAST else 0)
    # Share of each row and column that differs from the ground (box-averaged mask).
    rows = cast(list[int], list(mask.resize((1, h), Image.Resampling.BOX).get_flattened_data()))
    cols = cast(list[int], list(mask.resize((w, 1), Image.Resampling.BOX).get_flattened_data()))
    ys = [y for y, n in enumerate(rows) if n >= 0.2 * 255]
    xs = [x for x, n in enumerate(cols) if n >= 0.2 * 255]
    if not ys or not xs:
        return None
    box = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
    bw, bh = box[2] - box[0], box[3] - box[1]
    inside = box[0] > 0 and box[1] > 0 and box[2] < w and box[3] < h
    if not inside or bw * bh < 0.15 * w * h or not _id1_ratio(bw, bh, _RATIO_TOLERANCE_FOUND):
        return None
    return box


def _has_band(card: Image.Image) -> bool:
    """A uniform strip across the top of ``card`` (landscape), unlike the card's middle."""
    w, h = card.size
    strip = card.crop((int(w * 0.05), int(h * 0.04), int(w * 0.95), max(int(h * 0.11),
                                                                       int(h * 0.04) + 1)))
    middle = card.crop((int(w * 0.3), int(h * 0.4), int(w * 0.7), int(h * 0.6)))
    colours = cast(list[tuple[int, ...]], list(strip.get_flattened_data()))
    median = tuple(sorted(c[i] for c in colours)[len(colours) // 2] for i in range(3))
    near = sum(1 for c in colours if _distance(c, median) < 30)
    if near < 0.85 * len(colours):
        return False
    mid = cast(list[tuple[int, ...]], list(middle.get_flattened_data()))
    mid_median = tuple(sorted(c[i] for c in mid)[len(mid) // 2] for i in range(3))
    return _distance(median, mid_median) >= 40


def _distance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)


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
    """Decode an image within budget: refused by its header, decoded no larger than a scan needs."""
    # Pillow warns (DecompressionBombWarning) above its own pixel limit and raises above
    # twice that; both mean "refuse", and our own lower limits are checked before decoding.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=_IMAGE_FORMATS)
            limit = MAX_JPEG_PIXELS if img.format == "JPEG" else MAX_LOSSLESS_PIXELS
            if img.width * img.height > limit:
                raise QrInputTooLargeError(
                    f"image of {img.width}x{img.height} pixels is too large to scan "
                    f"(the largest {img.format} accepted has {limit:,} pixels)"
                )
            if img.format == "JPEG":
                # The JPEG decoder can scale by 1/2, 1/4 or 1/8 while decoding, in grey.
                img.draft("L", _fit(img.size, SCAN_PIXELS))
            img.load()
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise QrInputTooLargeError("image dimensions are too large to scan") from exc
    except UnreadableFileError:
        raise
    except (OSError, SyntaxError, ValueError) as exc:
        # UnidentifiedImageError is an OSError; truncated or corrupt data raises OSError or
        # SyntaxError depending on the plugin.
        raise UnreadableFileError(
            "the file is not a PNG, JPEG, WebP image or a PDF document"
        ) from exc
    if img.width * img.height > SCAN_PIXELS:
        # Box averaging keeps the modules' edges; a card photo loses nothing a decoder needs.
        return img.reduce(math.ceil((img.width * img.height / SCAN_PIXELS) ** 0.5))
    return img


def _fit(size: tuple[int, int], pixels: int) -> tuple[int, int]:
    """``size`` scaled down (never up) to at most ``pixels`` pixels, ratio kept."""
    w, h = size
    if w * h <= pixels:
        return w, h
    scale = (pixels / (w * h)) ** 0.5
    return max(1, int(w * scale)), max(1, int(h * scale))


# PDFium is not thread-safe: every use of pypdfium2 in the process takes this lock
# (the app may run with several threads per process).
PDFIUM_LOCK = threading.Lock()


def _read_qr_from_pdf(data: bytes) -> str:
    # Before the lock: a refused PDF must not make the next upload wait.
    _check_pdf_inflated_size(data)
    with PDFIUM_LOCK:
        return _read_qr_from_pdf_locked(data)


def _check_pdf_inflated_size(data: bytes) -> None:
    """Refuse a PDF whose streams inflate past the budget (PDFium parses them whole),
    or that uses form XObjects.

    Every place a stream may start is tried as zlib data, then as ASCII85 (ReportLab
    wraps its Flate streams in it); other bytes fail at once. Decoded bytes that are
    zlib data again (filters can be chained) are inflated too, against the same budget.
    """
    _refuse_pdf_forms(data)
    starts = [m.end() for m in _PDF_STREAM.finditer(data)]
    if len(starts) > MAX_PDF_STREAMS:
        raise QrInputTooLargeError(f"the PDF has more than {MAX_PDF_STREAMS} streams")
    budget = MAX_PDF_INFLATED_BYTES
    view = memoryview(data)
    pending: list[bytes | memoryview] = [view[start:] for start in starts]
    while pending:
        chunk = pending.pop()
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(chunk, budget + 1)
        except zlib.error:
            if not isinstance(chunk, memoryview):
                continue  # decoded bytes that are not zlib data: counted by PDFium's parse
            decoded = _ascii85_stream(bytes(chunk[: budget * 5 // 4 + 16]))
            if decoded is not None and decoded[:1] == b"\x78":
                pending.append(decoded)
            continue
        budget -= len(out)
        if budget < 0 or inflater.unconsumed_tail:
            raise QrInputTooLargeError(
                f"the PDF's content inflates to more than {MAX_PDF_INFLATED_BYTES:,} bytes"
            )
        _refuse_pdf_forms(out)  # object streams hold dictionaries too
        if out[:1] == b"\x78":
            pending.append(out)


def _ascii85_stream(head: bytes) -> bytes | None:
    """The bytes of an ASCII85 stream starting ``head``, None if it is not one.

    ``head`` is as long as the longest ASCII85 text whose bytes fit the inflate budget,
    so a stream that looks like ASCII85 and does not end within it is too large.
    """
    end = head.find(b"endstream")
    if end < 0:
        if _ASCII85.fullmatch(head[:64]):
            raise QrInputTooLargeError(
                f"the PDF's content inflates to more than {MAX_PDF_INFLATED_BYTES:,} bytes"
            )
        return None
    text = head[:end].rstrip()
    if not text.endswith(b"~>") or not _ASCII85.fullmatch(text[:-2]):
        return None
    try:
        return base64.a85decode(text[:-2])
    except ValueError:
        return None


def _refuse_pdf_forms(data: bytes) -> None:
    if _PDF_FORM.search(data):
        raise QrInputTooLargeError(
            "the PDF uses form XObjects, which the card reader does not open "
            "(upload a photo of the card instead)"
        )


def _read_qr_from_pdf_locked(data: bytes) -> str:
    import pypdfium2 as pdfium  # imported lazily: only PDF uploads need it

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise UnreadableFileError("the PDF document cannot be opened") from exc
    try:
        pages = len(pdf)
        if pages == 0:
            raise UnreadableFileError("the PDF document has no pages")
        if pages > MAX_PDF_PAGES:
            raise QrInputTooLargeError(
                f"the PDF has {pages} pages; a card has 2 and at most {MAX_PDF_PAGES} are read"
            )
        for index in range(min(2, pages)):
            # Read from the page tree without parsing the page's content.
            width_pt, height_pt = pdf.get_page_size(index)
            short, long = sorted((width_pt, height_pt))
            if short > MAX_PDF_PAGE_SIZE[0] + 1 or long > MAX_PDF_PAGE_SIZE[1] + 1:
                raise QrInputTooLargeError(
                    f"PDF page {index + 1} is {width_pt:.0f} x {height_pt:.0f} points; the "
                    f"largest read is A3 ({MAX_PDF_PAGE_SIZE[0]:.0f} x "
                    f"{MAX_PDF_PAGE_SIZE[1]:.0f})"
                )
        fronts = 0
        for index in range(min(2, pages)):
            page = pdf[index]
            try:
                _check_page_content(page, index)
                width_pt, height_pt = page.get_size()
                scale = min(PDF_RENDER_DPI / 72,
                            (PDF_RENDER_PIXELS / max(width_pt * height_pt, 1.0)) ** 0.5)
                image = page.render(scale=scale, grayscale=True).to_pil()
            finally:
                page.close()
            try:
                return read_qr(image)
            except CardFrontError:
                fronts += 1
            except QrNotFoundError:
                continue
    finally:
        pdf.close()
    if fronts == min(2, pages):  # only card-like pages with no code: a front, not a back
        raise CardFrontError("no QR code was found; the PDF looks like a card's front")
    raise QrNotFoundError("no readable QR code was found on the first two pages of the PDF")


def _check_page_content(page: Any, index: int) -> None:
    """Refuse a page whose drawing would cost too much, counting before rendering.

    PDFium checks for a pause only between top-level objects and never inside one, so
    the budget is on what is drawn: objects (those inside forms too, each time a form is
    used), path segments and the pixels of embedded images.
    """
    import pypdfium2.raw as pdfium_c

    objects = segments = 0
    # (handle, is_form): the page, then each form met, walked iteratively.
    stack: list[tuple[Any, bool]] = [(page.raw, False)]
    while stack:
        handle, is_form = stack.pop()
        count = (pdfium_c.FPDFFormObj_CountObjects if is_form
                 else pdfium_c.FPDFPage_CountObjects)(handle)
        get = pdfium_c.FPDFFormObj_GetObject if is_form else pdfium_c.FPDFPage_GetObject
        objects += max(count, 0)
        if objects > MAX_PDF_PAGE_OBJECTS:
            raise QrInputTooLargeError(
                f"PDF page {index + 1} draws more than {MAX_PDF_PAGE_OBJECTS:,} objects"
            )
        for i in range(count):
            obj = get(handle, i)
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            if kind == pdfium_c.FPDF_PAGEOBJ_FORM:
                stack.append((obj, True))
            elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
                segments += max(pdfium_c.FPDFPath_CountSegments(obj), 0)
                if segments > MAX_PDF_PATH_SEGMENTS:
                    raise QrInputTooLargeError(
                        f"PDF page {index + 1} draws more than {MAX_PDF_PATH_SEGMENTS:,} "
                        "path segments"
                    )
            elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
                w, h = ctypes.c_uint(), ctypes.c_uint()
                if pdfium_c.FPDFImageObj_GetImagePixelSize(obj, ctypes.byref(w),
                                                           ctypes.byref(h)) and \
                        w.value * h.value > MAX_PDF_IMAGE_PIXELS:
                    raise QrInputTooLargeError(
                        f"PDF page {index + 1} holds an image of {w.value}x{h.value} pixels; "
                        f"the largest read has {MAX_PDF_IMAGE_PIXELS:,}"
                    )
