"""QR encoding and reading: segno at level Q in, zxing-cpp out."""

from __future__ import annotations

import io
import random

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from cardservice.qr import (
    ALPHANUMERIC_CHARS,
    QUIET_ZONE,
    QrInputTooLargeError,
    QrNotFoundError,
    UnreadableFileError,
    encode_qr,
    read_qr,
    read_qr_from_file,
)

BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


def base45_text(length: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choice(BASE45) for _ in range(length))


# A realistic card QR text: "LC1:" + 256 Base45 characters = 260 characters.
QR_TEXT = "LC1:" + base45_text(256)


def test_base45_alphabet_is_the_alphanumeric_set():
    assert set(BASE45) == ALPHANUMERIC_CHARS


def test_card_text_uses_alphanumeric_mode_at_level_q():
    m = encode_qr(QR_TEXT)
    assert m.mode == "alphanumeric"
    assert m.error == "Q"


def test_version_for_realistic_payloads():
    # Version 11 at Q holds at most 259 alphanumeric characters: "LC1:" + 255 Base45.
    assert encode_qr("LC1:" + base45_text(255)).version == 11
    # One more character (a 260-character text) needs version 12 (65 x 65 modules).
    m = encode_qr(QR_TEXT)
    assert len(QR_TEXT) == 260
    assert m.version == 12
    assert m.size == 65 == len(m.rows) == len(m.rows[0])


def test_non_alphanumeric_text_falls_back_to_byte_mode():
    m = encode_qr("lc1:lower case")
    assert m.mode == "byte"
    assert m.error == "Q"


def test_empty_and_oversized_texts_are_refused():
    with pytest.raises(ValueError):
        encode_qr("")
    with pytest.raises(ValueError):
        encode_qr(base45_text(5000))


def test_quiet_zone_and_runs_match_the_matrix():
    m = encode_qr(QR_TEXT)
    full = m.with_quiet_zone()
    assert len(full) == m.size + 2 * QUIET_ZONE == m.size_with_quiet_zone
    assert not any(full[0]) and not any(full[-1])
    assert all(not row[0] and not row[-1] for row in full)
    assert full[QUIET_ZONE][QUIET_ZONE] is True  # top-left finder pattern corner
    # Rebuild the matrix from the runs: exactly the dark modules, nothing more.
    rebuilt = [[False] * m.size for _ in range(m.size)]
    for row, col, length in m.dark_runs():
        assert length >= 1
        for x in range(col, col + length):
            assert not rebuilt[row][x]
            rebuilt[row][x] = True
    assert tuple(tuple(r) for r in rebuilt) == m.rows


@pytest.mark.parametrize("scale", [2, 3, 6])
def test_encode_then_read_back_from_an_image(scale):
    image = encode_qr(QR_TEXT).to_image(scale=scale)
    assert read_qr(image) == QR_TEXT


def test_read_back_from_a_photo_like_image():
    # Grey paper, code rotated a little and scaled unevenly, as in a phone picture.
    code = encode_qr(QR_TEXT).to_image(scale=5).convert("L")
    canvas = Image.new("L", (code.width + 300, code.height + 200), 200)
    canvas.paste(code, (120, 80))
    photo = canvas.rotate(7, resample=Image.Resampling.BILINEAR, fillcolor=200)
    photo = photo.resize((int(photo.width * 0.9), photo.height)).convert("RGB")
    assert read_qr(photo) == QR_TEXT


def test_only_qr_codes_are_read():
    barcode = zxingcpp.create_barcode("12345678", zxingcpp.BarcodeFormat.Code128)
    raw = memoryview(barcode.to_image(scale=3))
    height, width = raw.shape
    image = Image.new("L", (width + 40, height + 40), 255)
    image.paste(Image.frombytes("L", (width, height), raw.tobytes()), (20, 20))
    # The decoder sees the barcode when any format is allowed ...
    assert [r.text for r in zxingcpp.read_barcodes(image)] == ["12345678"]
    # ... but read_qr only looks for QR codes.
    with pytest.raises(QrNotFoundError):
        read_qr(image)


def test_blank_image_has_no_qr():
    with pytest.raises(QrNotFoundError, match="no readable QR code"):
        read_qr(Image.new("RGB", (400, 400), "white"))


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_read_from_image_files(fmt, tmp_path):
    image = encode_qr(QR_TEXT).to_image(scale=4).convert("RGB")
    data = _encoded(image, fmt)
    assert read_qr_from_file(data) == QR_TEXT
    path = tmp_path / f"code.{fmt.lower()}"
    path.write_bytes(data)
    assert read_qr_from_file(path) == QR_TEXT
    assert read_qr_from_file(str(path)) == QR_TEXT


def _pdf_with_code_on_page(page_with_code: int) -> bytes:
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(100 * mm, 60 * mm), invariant=1)
    code = encode_qr(QR_TEXT).to_image(scale=4).convert("RGB")
    for page in (1, 2):
        if page == page_with_code:
            c.drawImage(ImageReader(code), 10 * mm, 10 * mm, 40 * mm, 40 * mm)
        else:
            c.drawString(10 * mm, 30 * mm, "no code here")
        c.showPage()
    c.save()
    return buf.getvalue()


@pytest.mark.parametrize("page", [1, 2])
def test_read_from_pdf_page_one_or_two(page):
    assert read_qr_from_file(_pdf_with_code_on_page(page)) == QR_TEXT


def test_pdf_without_code():
    with pytest.raises(QrNotFoundError, match="first two pages"):
        read_qr_from_file(_pdf_with_code_on_page(3))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is a text file\n",
        random.Random(3).randbytes(2000),
        b"%PDF-1.7\nthis is not really a PDF",
        b"GIF89a" + bytes(100),
    ],
    ids=["empty", "text", "random", "broken-pdf", "gif-header"],
)
def test_unreadable_files(data):
    with pytest.raises(UnreadableFileError):
        read_qr_from_file(data)


def test_transparent_png_is_read_on_white():
    # Dark modules opaque black, light modules fully transparent (stored as black too).
    code = encode_qr(QR_TEXT).to_image(scale=4).convert("L")
    alpha = code.point(lambda v: 255 - v)
    image = Image.merge("RGBA", (Image.new("L", code.size, 0),) * 3 + (alpha,))
    assert read_qr_from_file(_encoded(image, "PNG")) == QR_TEXT


def test_gif_is_not_accepted_even_when_valid():
    image = encode_qr(QR_TEXT).to_image(scale=4).convert("L")
    with pytest.raises(UnreadableFileError, match="not a PNG, JPEG, WebP"):
        read_qr_from_file(_encoded(image, "GIF"))


def test_missing_file(tmp_path):
    with pytest.raises(UnreadableFileError, match="cannot read"):
        read_qr_from_file(tmp_path / "nope.png")


def test_decompression_bomb_is_refused():
    # A PNG header claiming 30000 x 30000 pixels in a few hundred bytes.
    img = Image.new("1", (30000, 1))
    data = _encoded(img, "PNG")
    # Patch the height in IHDR (bytes 20..24) and fix its CRC.
    import struct
    import zlib

    ihdr = bytearray(data[12:29])
    ihdr[8:12] = struct.pack(">I", 30000)
    patched = data[:12] + bytes(ihdr) + struct.pack(">I", zlib.crc32(bytes(ihdr))) + data[33:]
    with pytest.raises(UnreadableFileError, match="too large"):
        read_qr_from_file(patched)


def test_small_drawing_is_not_mistaken_for_a_code():
    image = Image.new("RGB", (300, 300), "white")
    ImageDraw.Draw(image).rectangle((50, 50, 250, 250), outline="black", width=8)
    with pytest.raises(QrNotFoundError):
        read_qr(image)


@settings(max_examples=25, deadline=None)
@given(st.text(alphabet=BASE45, min_size=1, max_size=300))
def test_round_trip_any_alphanumeric_text(text):
    m = encode_qr(text)
    assert m.mode == "alphanumeric"
    assert read_qr(m.to_image(scale=2)) == text


# --- resource budget: hostile uploads are refused before the expensive step ----------------
# Each is built here; the cost is measured in a child process (see tests/unit/budget.py).
# Bounds are generous functional guards (before the budget: 11-14 s, 180-570 MB), not
# benchmarks.

def _pdf_filling(side: float, fills: int, *, form_uses: int = 0) -> bytes:
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(side, side), pageCompression=1)
    if form_uses:
        c.beginForm("fills")
    for _ in range(fills):
        c.rect(0, 0, side, side, stroke=0, fill=1)
    if form_uses:
        c.endForm()
        for _ in range(form_uses):
            c.doForm("fills")
    c.showPage()
    c.save()
    return buf.getvalue()


def _white_png(side: int) -> bytes:
    return _encoded(Image.new("RGB", (side, side), "white"), "PNG")


HOSTILE = {
    "14400 pt page, 2,000 fills": (lambda: _pdf_filling(14400, 2000), "14400 x 14400 points"),
    "A4 page, 3,000 fills": (lambda: _pdf_filling(842, 3000), "more than 2,000 objects"),
    "A4 page, 200,000 fills in 13 kB": (lambda: _pdf_filling(842, 200_000), "inflates to"),
    "one form used 1,000 times": (lambda: _pdf_filling(842, 1500, form_uses=1000),
                                  "form XObjects"),
    "white 7740 x 7740 PNG": (lambda: _white_png(7740), "7740x7740 pixels"),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_file_is_refused_quickly_with_bounded_memory(case, tmp_path):
    from tests.unit.budget import cost_of

    make, message = HOSTILE[case]
    cost = cost_of("qr", make(), tmp_path)
    assert cost.error is not None
    assert cost.error.startswith("cardservice.qr.QrInputTooLargeError")
    assert message in cost.error
    assert cost.cpu < 1.5, cost
    assert cost.mb < 100, cost


def test_too_large_is_an_unreadable_file():
    assert issubclass(QrInputTooLargeError, UnreadableFileError)


def test_pdf_with_too_many_pages_is_refused():
    from reportlab.pdfgen.canvas import Canvas

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(243, 153))
    for _ in range(5):
        c.showPage()
    c.save()
    with pytest.raises(QrInputTooLargeError, match="5 pages"):
        read_qr_from_file(buf.getvalue())


def test_big_photo_is_scanned_downscaled():
    # A 7000 x 5000 JPEG (35 MP) with the code in it: decoded at reduced scale, still read.
    code = encode_qr(QR_TEXT).to_image(scale=24).convert("L")
    photo = Image.new("L", (7000, 5000), 200)
    photo.paste(code, (3000, 2000))
    assert read_qr_from_file(_encoded(photo, "JPEG")) == QR_TEXT


def test_a_picture_too_long_for_the_decoder_is_unreadable_not_a_crash():
    """Found by bench/bench_fuzz.py: a PNG of 1 x 100,000 pixels made zxing-cpp raise a bare
    ValueError (a 500 on the verify form before uploads went to the sandbox)."""
    from cardservice import qr
    from tests.fuzzbodies import _png_claiming

    with pytest.raises(qr.UnreadableFileError):
        qr.read_qr_from_file(_png_claiming(1, 100_000))
