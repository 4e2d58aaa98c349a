"""QR version and card layout for names in every script, up to the longest name allowed.

Run: .venv/bin/python bench/bench_scripts_qr.py

For each script: a real name, and the longest printed name the rules allow
(values.MAX_NAME_LENGTH characters of random letters of the script, the worst case). Each is
signed into a real credential (a throwaway Ed25519 key), encoded as the card's QR code
(level Q), and printed on a card with its proposed Latin line; the card's back is rendered
by PDFium at 200 dpi and the QR read back. Printed: characters, UTF-8 bytes of the name,
QR text length, QR version, module size in mm, whether the card lays out and the QR reads
back.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import unicodedata
from pathlib import Path

import pypdfium2 as pdfium
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cardservice import credential, serials, translit, values  # noqa: E402
from cardservice.cardpdf import (  # noqa: E402
    CardFace,
    CardLabels,
    CardPdfError,
    missing_glyphs,
    qr_symbol_width_mm,
    render_card_pdf,
)
from cardservice.qr import encode_qr, read_qr  # noqa: E402

NAMES = {
    "Latin": "Nguyễn Thị Minh Khai",
    "Cyrillic": "Юлия Александровна Щукина",
    "Greek": "Γεώργιος Παπαδόπουλος",
    "Arabic": "محمد عبد الله",
    "Hebrew": "שָׂרָה לֵוִי",
    "Devanagari": "राम कृष्ण शर्मा",
    "Bengali": "তাসলিমা নাসরিন",
    "Tamil": "சுப்பிரமணியன் பாரதி",
    "Ethiopic": "አበበ ቢቂላ",
    "Georgian": "ნინო ბერიძე",
    "Armenian": "Արամ Խաչատրյան",
    "Thai": "สมชาย ใจดี",
    "Chinese": "王小明",
    "Japanese": "山田 はなこ",
    "Korean": "김민준",
    "Tifinagh": "ⵜⴰⵎⴰⵣⵉⵖⵜ ⵎⴰⵍⵉ",
}

LABELS = CardLabels(title="Local citizenship card", name="Name", preferred_name="Preferred",
                    date_of_birth="Date of birth", gender="Gender", serial="Card number",
                    issued="Issued", expires="Expires", languages="Languages",
                    back_notice="This card shows its holder lives in {city}.")
ISSUED = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
KEY = Ed25519PrivateKey.generate()


#: Letters of each script (Unicode ranges) for the worst case: random letters compress badly.
BLOCKS = {
    "Latin": [(0x41, 0x5A), (0x61, 0x7A), (0xC0, 0x17F)], "Cyrillic": [(0x410, 0x44F)],
    "Greek": [(0x391, 0x3C9)], "Arabic": [(0x621, 0x64A)], "Hebrew": [(0x5D0, 0x5EA)],
    "Devanagari": [(0x905, 0x939)], "Bengali": [(0x985, 0x9B9)], "Tamil": [(0xB85, 0xBB9)],
    "Ethiopic": [(0x1200, 0x135A)], "Georgian": [(0x10D0, 0x10FA)],
    "Armenian": [(0x531, 0x586)], "Thai": [(0xE01, 0xE2E)], "Chinese": [(0x4E00, 0x9FA5)],
    "Japanese": [(0x3041, 0x3096), (0x4E00, 0x9FA5)], "Korean": [(0xAC00, 0xD7A3)],
    "Tifinagh": [(0x2D30, 0x2D67)],
}


def longest(script: str, rng: random.Random) -> str:
    """A name of values.MAX_NAME_LENGTH characters: random letters of ``script`` in words of
    2 to 9 letters (a worst case for the QR: nothing repeats for zlib to compress)."""
    letters = [chr(c) for lo, hi in BLOCKS[script] for c in range(lo, hi + 1)
               if unicodedata.category(chr(c)).startswith("L")
               and not missing_glyphs(chr(c))]
    out = ""
    while len(out) < values.MAX_NAME_LENGTH:
        word = "".join(rng.choice(letters) for _ in range(rng.randint(2, 9)))
        out = f"{out} {word}" if out else word
    return out[:values.MAX_NAME_LENGTH].rstrip()


def measure(name: str) -> tuple[int, int, int, float, str]:
    serial = serials.new_serial()
    claims = credential.CardClaims(
        issuer="PTLIS", serial=serial, issued_at=ISSUED, expires_at=ISSUED.replace(year=2031),
        holder=credential.Holder(name=name, date_of_birth=dt.date(1990, 4, 12)))
    qr = credential.unsafe_encode_card(claims, signer_key=KEY, kid=b"\x01" * 8)
    matrix = encode_qr(qr)
    latin = translit.propose_latin(name) if translit.needs_latin_line(name) else None
    face = CardFace(city_id="PTLIS", city_name="Lisboa", serial=serials.format_serial(serial),
                    issued_at=ISSUED.date(), expires_at=dt.date(2031, 11, 29), name=name,
                    date_of_birth=dt.date(1990, 4, 12), qr_text=qr, labels=(LABELS,),
                    name_latin=latin[:values.MAX_NAME_LENGTH] if latin else None)
    try:
        pdf = render_card_pdf(face)
    except CardPdfError as exc:
        status = f"refused: {exc}"
    else:
        doc = pdfium.PdfDocument(pdf)
        try:
            image = doc[1].render(scale=200 / 72).to_pil()
        finally:
            doc.close()
        status = "reads back" if read_qr(image) == qr else "QR NOT READ"
    module_mm = qr_symbol_width_mm(matrix) / matrix.size
    return len(qr), matrix.version, matrix.size, module_mm, status


def main() -> int:
    print(f"{'script':<11} {'name':<7} {'chars':>5} {'bytes':>5} {'QR text':>7} {'version':>7} "
          f"{'module mm':>9}  card")
    rng = random.Random(13)
    for script, name in NAMES.items():
        for kind, text in (("sample", name), ("longest", longest(script, rng))):
            length, version, _size, module_mm, status = measure(text)
            print(f"{script:<11} {kind:<7} {len(text):>5} {len(text.encode()):>5} {length:>7} "
                  f"{version:>7} {module_mm:>9.3f}  {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
