"""Every script on the card: one real card per script, rendered once, read back from the PDF.

For each name: no glyph 0 (.notdef) anywhere in the PDF (PyMuPDF's text trace gives the
glyph id of every glyph drawn); the Latin line is printed for a non-Latin name; the QR code,
a real signed credential holding the name, reads back from a PDFium render. For Arabic and
Devanagari the glyphs drawn are exactly HarfBuzz's shaping of the name with the same font
file: the embedded subset fonts renumber glyphs, so each drawn glyph is matched to the
original font's glyph by its outline and advance.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pymupdf
import pypdfium2 as pdfium
import pytest
import uharfbuzz as hb
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import cardtext, credential, serials, translit
from cardservice.cardpdf import render_card_pdf
from cardservice.qr import read_qr
from tests.unit.test_cardpdf import make_face

NOTO = Path("/usr/share/fonts/truetype/noto")

#: script -> a name written in it (the scripts issue #13 names, and three CJK writings).
NAMES = {
    "latin": "Nguyễn Thị Minh Khai",
    "cyrillic": "Юлия Александровна Щукина",
    "greek": "Γεώργιος Παπαδόπουλος",
    "arabic": "محمد عبد الله",
    "hebrew": "שָׂרָה לֵוִי",
    "devanagari": "राम कृष्ण शर्मा",
    "bengali": "তাসলিমা নাসরিন",
    "tamil": "சுப்பிரமணியன் பாரதி",
    "ethiopic": "አበበ ቢቂላ",
    "georgian": "ნინო ბერიძე",
    "armenian": "Արամ Խաչատրյան",
    "thai": "สมชาย ใจดี",
    "chinese": "王小明",
    "japanese": "山田 はなこ",
    "korean": "김민준",
    "tifinagh": "ⵜⴰⵎⴰⵣⵉⵖⵜ ⵎⴰⵍⵉ",
}

ISSUED = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
KEY = Ed25519PrivateKey.generate()
SERIAL = serials.new_serial()


def _card(script: str) -> tuple[str, str | None, str, bytes]:
    name = NAMES[script]
    latin = translit.propose_latin(name) if translit.needs_latin_line(name) else None
    claims = credential.CardClaims(
        issuer="FRLYS", serial=SERIAL, issued_at=ISSUED,
        expires_at=ISSUED.replace(year=2031),
        holder=credential.Holder(name=name, date_of_birth=dt.date(1990, 5, 17)))
    qr = credential.unsafe_encode_card(claims, signer_key=KEY, kid=b"\x01" * 8)
    pdf = render_card_pdf(make_face(name=name, name_latin=latin, qr_text=qr))
    return name, latin, qr, pdf


@pytest.fixture(scope="module")
def cards() -> dict[str, tuple[str, str | None, str, bytes]]:
    """One card per script, rendered once for every test here."""
    return {script: _card(script) for script in NAMES}


def _trace(pdf: bytes, page: int) -> list[dict]:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return list(doc[page].get_texttrace())


@pytest.mark.parametrize("script", NAMES)
def test_no_missing_glyph_anywhere_on_the_card(cards, script):
    _, _, _, pdf = cards[script]
    for page in (0, 1):
        spans = _trace(pdf, page)
        assert spans
        notdef = [(s["font"], chr(c[0])) for s in spans for c in s["chars"] if c[1] == 0]
        assert notdef == [], notdef


@pytest.mark.parametrize("script", NAMES)
def test_the_latin_line_is_printed_for_a_non_latin_name(cards, script):
    name, latin, _, pdf = cards[script]
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        front = doc[0].get_text()
    if script == "latin":
        assert latin is None
        assert name in front
        return
    assert latin and latin.isascii() and any(ch.isalpha() for ch in latin)
    assert latin in front


def test_the_name_is_drawn_in_its_scripts_font(cards):
    expected = {"arabic": "NotoSansArabic", "hebrew": "NotoSansHebrew",
                "devanagari": "NotoSansDevanagari", "bengali": "NotoSansBengali",
                "tamil": "NotoSansTamil", "ethiopic": "NotoSansEthiopic",
                "georgian": "NotoSansGeorgian", "armenian": "NotoSansArmenian",
                "thai": "NotoSansThai", "chinese": "DroidSansFallback",
                "japanese": "DroidSansFallback", "korean": "WenQuanYiMicroHei",
                "tifinagh": "NotoSansTifinagh", "cyrillic": "DejaVuSans",
                "greek": "DejaVuSans", "latin": "DejaVuSans"}
    for script, font in expected.items():
        fonts = {s["font"] for s in _trace(cards[script][3], 0)}
        assert any(f.startswith(font) for f in fonts), (script, fonts)


def test_the_qr_code_reads_back_for_every_script(cards):
    # One render per card back at 200 dpi (PDFium), read by the project's decoder.
    for script, (_, _, qr, pdf) in cards.items():
        doc = pdfium.PdfDocument(pdf)
        try:
            image = doc[1].render(scale=200 / 72).to_pil()
        finally:
            doc.close()
        assert read_qr(image) == qr, script


# --------------------------------------------------------------------------- shaping


class _Pen:
    """Records an outline as a tuple (a fontTools-style pen)."""

    def __init__(self) -> None:
        self.ops: list[tuple] = []

    def moveTo(self, p):  # noqa: N802 - the pen protocol's names
        self.ops.append(("M", p))

    def lineTo(self, p):  # noqa: N802
        self.ops.append(("L", p))

    def qCurveTo(self, *ps):  # noqa: N802
        self.ops.append(("Q", ps))

    def curveTo(self, *ps):  # noqa: N802
        self.ops.append(("C", ps))

    def closePath(self):  # noqa: N802
        self.ops.append(("Z",))

    def endPath(self):  # noqa: N802
        self.ops.append(("E",))


def _glyph_key(font: hb.Font, gid: int) -> tuple:
    pen = _Pen()
    font.draw_glyph_with_pen(gid, pen)
    return font.get_glyph_h_advance(gid), tuple(pen.ops)


def _hb_font(data: bytes) -> hb.Font:
    return hb.Font(hb.Face(hb.Blob(data)))


def _drawn_glyphs(pdf: bytes, font_prefix: str, size: float) -> list[tuple]:
    """Outline keys of the glyphs drawn in the name's span (font and size), in order."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        page = doc[0]
        spans = [s for s in page.get_texttrace()
                 if s["font"].startswith(font_prefix) and abs(s["size"] - size) < 0.01]
        assert spans, f"no span in {font_prefix} at {size} pt"
        embedded = {}
        for xref, _ext, _type, basefont, *_ in page.get_fonts():
            if basefont.split("+", 1)[-1].startswith(font_prefix):
                embedded[basefont.split("+", 1)[-1]] = _hb_font(doc.extract_font(xref)[3])
        keys = []
        for span in spans:
            font = embedded[span["font"]]
            keys += [_glyph_key(font, c[1]) for c in span["chars"]]
        return keys


def _harfbuzz_glyphs(text: str, path: Path) -> list[tuple]:
    font = _hb_font(path.read_bytes())
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(font, buf, {})
    return [_glyph_key(font, info.codepoint) for info in buf.glyph_infos]


def _name_size(pdf: bytes, font_prefix: str) -> float:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return max(s["size"] for s in doc[0].get_texttrace()
                   if s["font"].startswith(font_prefix))


@pytest.mark.parametrize(("script", "font"), [
    ("arabic", "NotoSansArabic-Bold"),
    ("devanagari", "NotoSansDevanagari-Bold"),
])
def test_names_are_drawn_as_harfbuzz_shapes_them(cards, script, font):
    name, _, _, pdf = cards[script]
    drawn = _drawn_glyphs(pdf, font, _name_size(pdf, font))
    assert drawn == _harfbuzz_glyphs(name, NOTO / f"{font}.ttf")


def _gids(text: str, path: Path) -> list[int]:
    buf = hb.Buffer()
    buf.add_str(text)
    buf.guess_segment_properties()
    hb.shape(_hb_font(path.read_bytes()), buf, {})
    return [i.codepoint for i in buf.glyph_infos]


def test_arabic_letters_join_and_devanagari_forms_conjuncts():
    # What the comparison above relies on: shaping changes the glyphs. Arabic letters take
    # their joined forms (not one glyph per letter as typed, isolated); a Devanagari
    # conjunct (ष्ण) and a vowel sign written before its consonant (ि) are reordered.
    arabic = NOTO / "NotoSansArabic-Bold.ttf"
    font = _hb_font(arabic.read_bytes())
    isolated = [font.get_nominal_glyph(ord(ch)) for ch in reversed("محمد")]
    assert _gids("محمد", arabic) != isolated
    deva = NOTO / "NotoSansDevanagari-Bold.ttf"
    dfont = _hb_font(deva.read_bytes())
    krishna = _gids("कृष्ण", deva)
    assert len(krishna) < len("कृष्ण")  # ष + ् + ण made one conjunct glyph
    ki = _gids("कि", deva)  # the i-sign is drawn first, before the consonant
    assert ki[0] != dfont.get_nominal_glyph(ord("क")) and ki[1] == dfont.get_nominal_glyph(
        ord("क"))
    # And the card draws exactly these glyphs for the name (test above) and the line API
    # returns them for the text it shapes.
    line = cardtext.shape("कि", bold=True)
    assert [g for _, g in line.glyphs] == ki


def test_mixed_directions_are_in_visual_order():
    # A Latin word, then an Arabic one, then digits: the Arabic run is shaped right to left
    # and the digits after it join it (UAX #9: numbers after Arabic letters).
    line = cardtext.shape("Ali محمد 12")
    arabic = [r for r in line.runs if "Arabic" in r.face.name]
    assert line.runs[0].text == "Ali " and arabic
    # Logical text of each run, runs left to right: the space after the Arabic word is
    # between Arabic and a number, so it goes right to left with them.
    assert [r.text for r in line.runs[1:]] == ["12", "محمد "]
    # A right-to-left paragraph puts its first word rightmost.
    rtl = cardtext.shape("محمد Ali")
    assert rtl.rtl and rtl.runs[0].text == "Ali" and rtl.runs[-1].text == "محمد "


def test_a_missing_font_names_the_script_and_the_package():
    try:
        cardtext.set_font_dirs([])
        with pytest.raises(cardtext.MissingFontError) as err:
            cardtext.missing_glyphs("राम")
        assert err.value.script == "Devanagari" and err.value.package == "fonts-noto-core"
        assert "names in Devanagari need the font package fonts-noto-core" in str(err.value)
        with pytest.raises(cardtext.MissingFontError, match="fonts-droid-fallback"):
            render_card_pdf(make_face(name="王小明"))
        # Latin, Greek and Cyrillic need only the bundled fonts.
        assert cardtext.missing_glyphs("Γεώργιος Юлия Łukasz") == set()
    finally:
        cardtext.set_font_dirs(cardtext.DEFAULT_FONT_DIRS)


def test_the_latin_line_proposals():
    cases = {
        "Юлия Щукина": "Iuliia Shchukina",  # ICAO 9303, as on a Russian passport
        "Олександр": "Oleksandr",
        "Γεώργιος Παπαδόπουλος": "Georgios Papadopoulos",  # ου -> ou (ELOT 743)
        "小明 王": "Xiaoming Wang",
        "তাসলিমা নাসরিন": "Taslima Nasrin",
        "ნინო ბერიძე": "Nino Beridze",
        "Ana محمد": "Ana Mhmd",  # Latin words kept; Arabic without its unwritten vowels
    }
    for name, latin in cases.items():
        assert translit.propose_latin(name) == latin
    assert not translit.needs_latin_line("Nguyễn Thị Minh Khai")
    assert translit.needs_latin_line("Ana محمد")
