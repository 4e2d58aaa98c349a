"""Real card PDFs for many holders, and their pages as a scanner or a phone would see them.

Shared by tests/unit/test_decode.py and bench/bench_decode.py. Each card carries a real
credential (``credential.unsafe_encode_card`` with a fresh Ed25519 key: the same bytes
as an issued card, only the signer is not a city's), so the names' lengths and scripts
give the QR versions real cards have.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

import pypdfium2 as pdfium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image, ImageEnhance, ImageFilter

from cardservice import credential, serials
from cardservice.cardpdf import CardFace, CardLabels, missing_glyphs, render_card_pdf

LABELS = CardLabels(
    title="Local citizenship card",
    name="Name",
    preferred_name="Preferred name",
    date_of_birth="Date of birth",
    gender="Gender",
    serial="Serial",
    issued="Issued",
    expires="Expires",
    languages="Languages",
    check_at="Check this card at",
    return_to="If found, please return to",
    back_notice=(
        "This card shows its holder lives in {city}. It says nothing about immigration status."
    ),
)

#: (name as registered, Latin form printed when no font covers the script, gender).
#: Several scripts, short and long names: QR versions 9 to 13 at level Q.
NAMES: tuple[tuple[str, str | None, str | None], ...] = (
    ("Ana Lima", None, None),
    ("Łukasz Żółć-Grüßmann", None, "M"),
    ("Nguyễn Thị Minh Khai", None, "F"),
    ("Αικατερίνη Παπαδοπούλου", None, "F"),
    ("محمد عبد الله", None, "M"),
    ("Олександра Шевченко", None, "F"),
    ("王小明", "Wang Xiaoming", None),
    ("Maria de los Ángeles Fernández-Castillo y Rodríguez", None, "F"),
    ("Abdirahman Mohamed Abdullahi Warsame Hassan", None, "M"),
    ("Світлана Олександрівна Коваленко-Петренко", None, None),
    ("عبد الرحمن بن محمد الحسيني الهاشمي", None, "M"),
    ("Jean-Baptiste Nguyễn Văn Thành Phạm", None, "X"),
    ("Oluwaseun Adebayo-Okonkwo", None, None),
    ("O", None, None),
)

CITY_ID = "PTLIS"
_ISSUED = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC)


@cache
def _key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def card_text(name: str, gender: str | None = None, *, index: int = 0) -> str:
    """The QR text of a card for ``name``, as a city issues it (real COSE, real Base45)."""
    body = "".join(serials.ALPHABET[(index * 7 + i * 3) % len(serials.ALPHABET)]
                   for i in range(10))
    claims = credential.CardClaims(
        issuer=CITY_ID, serial=body + serials.check_character(body), issued_at=_ISSUED,
        expires_at=_ISSUED + dt.timedelta(days=5 * 365),
        holder=credential.Holder(name=name, date_of_birth=dt.date(1990, 5, 17), gender=gender))
    return credential.unsafe_encode_card(claims, signer_key=_key(), kid=b"\x01" * 8)


@cache
def card(index: int) -> tuple[str, bytes]:
    """``(qr text, card PDF)`` for ``NAMES[index]``."""
    name, latin, gender = NAMES[index]
    text = card_text(name, gender, index=index)
    if missing_glyphs(name):  # as the city prints it: the Latin form instead
        name, latin = latin or name, None
    face = CardFace(
        city_id=CITY_ID, city_name="Lisboa", serial=serials.format_serial("ABCDEFGHJK" + "M"),
        issued_at=_ISSUED.date(), expires_at=(_ISSUED + dt.timedelta(days=5 * 365)).date(),
        name=name, name_latin=latin, date_of_birth=dt.date(1990, 5, 17), gender=gender,
        languages=("Português",), qr_text=text, labels=(LABELS,),
        check_url="https://lisboa.example/verify")
    return text, render_card_pdf(face)


def render_pdfium(pdf: bytes, page: int, dpi: int) -> Image.Image:
    """A page rendered by PDFium (what the server itself renders, and Chrome)."""
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[page].render(scale=dpi / 72).to_pil()
    finally:
        doc.close()


def have_poppler() -> bool:
    return shutil.which("pdftoppm") is not None


def render_poppler(pdf: bytes, page: int, dpi: int) -> Image.Image:
    """A page rendered by poppler's ``pdftoppm`` (what many scanning and print tools use)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "card.pdf"
        src.write_bytes(pdf)
        subprocess.run(  # noqa: S603 - a fixed tool on a file we wrote
            ["pdftoppm", "-r", str(dpi), "-f", str(page + 1), "-l", str(page + 1), "-png",
             "-singlefile", str(src), str(Path(tmp) / "out")], check=True)
        with Image.open(Path(tmp) / "out.png") as img:
            img.load()
            return img.copy()


def jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def on_table(card_image: Image.Image, margin: int = 150,
             colour: tuple[int, int, int] = (92, 88, 84)) -> Image.Image:
    """The card lying on a darker table, as a phone frames it."""
    card_image = card_image.convert("RGB")
    table = Image.new("RGB", (card_image.width + 2 * margin, card_image.height + 2 * margin),
                      colour)
    table.paste(card_image, (margin, margin))
    return table


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=True,
                        fillcolor=image.getpixel((0, 0)))


def tilted(image: Image.Image, amount: float) -> Image.Image:
    """A perspective tilt: the top edge ``amount`` (0..1) narrower than the bottom one."""
    w, h = image.size
    inset = amount * w / 2
    # Output corners (a trapezoid) mapped from the input's rectangle.
    quad = (inset, 0, 0, h, w, h, w - inset, 0)
    coeffs = _perspective_coefficients(
        [(quad[0], quad[1]), (quad[2], quad[3]), (quad[4], quad[5]), (quad[6], quad[7])],
        [(0, 0), (0, h), (w, h), (w, 0)])
    return image.transform((w, h), Image.Transform.PERSPECTIVE, coeffs,
                           Image.Resampling.BICUBIC, fillcolor=image.getpixel((0, 0)))


def _perspective_coefficients(dst: list[tuple[float, float]],
                              src: list[tuple[float, float]]) -> tuple[float, ...]:
    """PIL's 8 coefficients mapping output points ``dst`` to input points ``src``."""
    rows: list[list[float]] = []
    rhs: list[float] = []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rhs.append(u)
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.append(v)
    return tuple(_solve(rows, rhs))


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(n):
            if r != col and m[col][col]:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] for i in range(n)]


def blurred(image: Image.Image, radius: float) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def low_contrast(image: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Contrast(image.convert("RGB")).enhance(factor)


def noise_picture(width: int, height: int, *, seed: int = 1) -> Image.Image:
    """A picture with no card in it: smooth colour gradients and random ellipses."""
    import random

    rnd = random.Random(seed)
    img = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    for _ in range(60):
        x, y = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randrange(10, max(11, width // 8))
        draw.ellipse((x - r, y - r, x + r, y + r),
                     fill=(rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    return img.filter(ImageFilter.GaussianBlur(2))


def pixels_per_module(text: str, dpi: int, box_mm: float) -> float:
    """Pixels a QR module gets at ``dpi`` (for reports)."""
    from cardservice.qr import QUIET_ZONE, encode_qr

    n = encode_qr(text).size
    return box_mm / 25.4 * dpi / (n + 2 * QUIET_ZONE) if n else math.nan
