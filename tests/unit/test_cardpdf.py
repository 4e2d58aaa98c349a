"""Card PDFs: exact ID-1 pages, a QR that a real decoder reads back, every script printed."""

from __future__ import annotations

import io
import itertools
import random
import unicodedata
from dataclasses import replace
from datetime import date

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image

from cardservice.branding import Branding
from cardservice.cardpdf import (
    CARD_HEIGHT_MM,
    CARD_WIDTH_MM,
    MIN_QR_WIDTH_MM,
    CardFace,
    CardLabels,
    CardLayoutError,
    InvalidCardDataError,
    UnsupportedCharactersError,
    missing_glyphs,
    qr_symbol_width_mm,
    render_card_pdf,
    render_sheet_pdf,
)
from cardservice.photo import process_photo
from cardservice.qr import encode_qr, read_qr, read_qr_from_file

MM = 72 / 25.4
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
QR_TEXT = "LC1:" + "".join(random.Random(11).choice(BASE45) for _ in range(256))  # 260 chars

EN = CardLabels(
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
FR = CardLabels(
    title="Carte de citoyenneté locale",
    name="Nom",
    preferred_name="Nom d'usage",
    date_of_birth="Date de naissance",
    gender="Genre",
    serial="Numéro",
    issued="Délivrée le",
    expires="Expire le",
    languages="Langues",
    check_at="Vérifier cette carte sur",
    return_to="Si vous la trouvez, merci de la rapporter à",
    back_notice=(
        "Cette carte atteste que son titulaire habite à {city}. "
        "Elle ne dit rien du statut migratoire."
    ),
)
AR = CardLabels(
    title="بطاقة المواطنة المحلية",
    name="الاسم",
    preferred_name="الاسم المفضل",
    date_of_birth="تاريخ الميلاد",
    gender="الجنس",
    serial="الرقم",
    issued="تاريخ الإصدار",
    expires="تاريخ الانتهاء",
    languages="اللغات",
    back_notice="تثبت هذه البطاقة أن حاملها يقيم في {city}. ولا تقول شيئا عن وضع الهجرة.",
)

SERIAL = "FRLYS-7K3F-9QX2"


@pytest.fixture(scope="module")
def photo() -> bytes:
    image = Image.new("RGB", (900, 1200), (170, 190, 220))
    buf = io.BytesIO()
    image.save(buf, format="JPEG")
    return process_photo(buf.getvalue())


def make_face(**changes) -> CardFace:
    face = CardFace(
        city_id="FRLYS",
        city_name="Lyon",
        serial=SERIAL,
        issued_at=date(2026, 11, 3),
        expires_at=date(2031, 11, 2),
        name="Łukasz Żółć-Grüßmann",
        date_of_birth=date(1990, 5, 17),
        gender="M",
        languages=("Français", "Polski"),
        qr_text=QR_TEXT,
        labels=(FR, EN),
    )
    return replace(face, **changes)


@pytest.fixture(scope="module")
def card_pdf(photo) -> bytes:
    return render_card_pdf(make_face(photo_jpeg=photo))


def page_text(pdf: bytes, index: int) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[index].get_textpage().get_text_bounded()
    finally:
        doc.close()


def render_page(pdf: bytes, index: int, dpi: int) -> Image.Image:
    doc = pdfium.PdfDocument(pdf)
    try:
        return doc[index].render(scale=dpi / 72).to_pil()
    finally:
        doc.close()


# --------------------------------------------------------------------------- page geometry


def test_two_pages_of_exactly_id1(card_pdf):
    doc = pdfium.PdfDocument(card_pdf)
    assert len(doc) == 2
    for page in doc:
        width, height = page.get_size()
        assert abs(width - CARD_WIDTH_MM * MM) < 0.01
        assert abs(height - CARD_HEIGHT_MM * MM) < 0.01
        assert page.get_mediabox() == pytest.approx((0, 0, width, height))
    doc.close()


def test_rendered_pixel_size_matches_id1(card_pdf):
    image = render_page(card_pdf, 0, 300)
    assert abs(image.width - 85.60 / 25.4 * 300) <= 1
    assert abs(image.height - 53.98 / 25.4 * 300) <= 1


# --------------------------------------------------------------------------- QR read-back


@pytest.mark.parametrize("dpi", [150, 300])
def test_qr_reads_back_from_rendered_back_page(card_pdf, dpi):
    image = render_page(card_pdf, 1, dpi)
    assert read_qr(image) == QR_TEXT
    # And straight from the decoder, checking what it reports about the symbol.
    (result,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert result.text == QR_TEXT
    assert result.ec_level == "Q"


def test_qr_reads_back_from_the_pdf_file(card_pdf, tmp_path):
    assert read_qr_from_file(card_pdf) == QR_TEXT
    path = tmp_path / "card.pdf"
    path.write_bytes(card_pdf)
    assert read_qr_from_file(path) == QR_TEXT


def test_qr_reads_back_from_a_photo_of_the_back(card_pdf):
    # A phone picture: 200 dpi, slightly rotated, on a grey table, saved as JPEG.
    card = render_page(card_pdf, 1, 200).convert("RGB")
    table = Image.new("RGB", (card.width + 400, card.height + 400), (90, 90, 95))
    table.paste(card, (200, 200))
    photo = table.rotate(-9, resample=Image.Resampling.BICUBIC, fillcolor=(90, 90, 95))
    buf = io.BytesIO()
    photo.save(buf, format="JPEG", quality=70)
    assert read_qr_from_file(buf.getvalue()) == QR_TEXT


def test_qr_is_at_least_22_mm_wide(card_pdf):
    matrix = encode_qr(QR_TEXT)
    assert matrix.version == 12
    assert qr_symbol_width_mm(matrix) >= MIN_QR_WIDTH_MM
    # Measured on the rendered page: the decoder's corner points, at 300 dpi.
    image = render_page(card_pdf, 1, 300)
    (result,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    pos = result.position
    width_px = max(pos.top_right.x, pos.bottom_right.x) - min(pos.top_left.x, pos.bottom_left.x)
    measured_mm = width_px / 300 * 25.4
    assert measured_mm >= MIN_QR_WIDTH_MM
    assert measured_mm == pytest.approx(qr_symbol_width_mm(matrix), abs=0.5)


def test_qr_has_its_quiet_zone_free_of_ink(card_pdf):
    matrix = encode_qr(QR_TEXT)
    image = render_page(card_pdf, 1, 300).convert("L")
    (result,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    pos = result.position
    module_px = (pos.top_right.x - pos.top_left.x) / (matrix.size - 1)
    left, top = pos.top_left.x - module_px / 2, pos.top_left.y - module_px / 2
    right = left + matrix.size * module_px
    bottom = top + matrix.size * module_px
    margin = 4 * module_px
    outer = (left - margin + 2, top - margin + 2, right + margin - 2, bottom + margin - 2)
    for x, y in itertools.product(
        range(int(outer[0]), int(outer[2])), range(int(outer[1]), int(outer[3]))
    ):
        if left - 2 <= x <= right + 2 and top - 2 <= y <= bottom + 2:
            continue
        assert image.getpixel((x, y)) > 200, (x, y)


# --------------------------------------------------------------------------- text content


def test_front_and_back_text(card_pdf):
    front, back = page_text(card_pdf, 0), page_text(card_pdf, 1)
    for text in (
        "Lyon",
        SERIAL,
        "Łukasz Żółć-Grüßmann",
        "1990-05-17",
        "2026-11-03",
        "2031-11-02",
        "Français, Polski",
        "Nom / Name",
        "Carte de citoyenneté locale",
    ):
        assert text in front, text
    assert SERIAL in back and "Lyon" in back
    # The card is not its own key: no renewal code (nor its label) on either side.
    for side in (front, back):
        assert "Code de renouvellement" not in side and "Renewal code" not in side
    assert "Elle ne dit rien du statut" in back
    assert "says nothing about immigration" in back.replace("\r\n", " ")


# --------------------------------------------------------------------------- branding


def _emblem_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (120, 140), (200, 16, 46, 255)).save(out, "PNG")
    return out.getvalue()


def _pixel(pdf: bytes, page: int, x_mm: float, y_mm_from_top: float) -> tuple[int, int, int]:
    image = render_page(pdf, page, 200).convert("RGB")
    return image.getpixel((round(x_mm * 200 / 25.4), round(y_mm_from_top * 200 / 25.4)))


def test_branded_card_wears_the_city_colour_emblem_and_lines():
    branding = Branding(colour="#c8102e", emblem=_emblem_png(), emblem_type="image/png",
                        return_to="Hôtel de Ville, 1 place de la Comédie")
    pdf = render_card_pdf(make_face(branding=branding, check_url="https://carte.lyon.example/verify"))
    # The band (top left) and the bottom stripe are the city's red, on both sides.
    for page in (0, 1):
        assert _pixel(pdf, page, 1.0, 1.0) == (200, 16, 46)
        assert _pixel(pdf, page, 40.0, CARD_HEIGHT_MM - 0.5) == (200, 16, 46)
    # The emblem sits at the right end of the front band, on a white ground.
    assert _pixel(pdf, 0, CARD_WIDTH_MM - 6.5, 5.5) == (200, 16, 46)
    assert _pixel(pdf, 0, CARD_WIDTH_MM - 11.0, 1.6) == (255, 255, 255)
    back = page_text(pdf, 1).replace("\r\n", " ")
    assert "https://carte.lyon.example/verify" in back
    assert "Hôtel de Ville, 1 place de la Comédie" in back
    assert "Vérifier cette carte sur / Check this card at" in back
    assert "Si vous la trouvez, merci de la rapporter à / If found, please return to" in back
    assert read_qr_from_file(pdf) == QR_TEXT


def test_two_cities_cards_differ_at_a_glance():
    lyon = render_card_pdf(make_face(branding=Branding(colour="#c8102e")))
    plain = render_card_pdf(make_face())
    assert _pixel(lyon, 0, 1.0, 1.0) != _pixel(plain, 0, 1.0, 1.0)


def test_pale_city_colour_gets_black_ink():
    pdf = render_card_pdf(make_face(branding=Branding(colour="#f4c430")))
    image = render_page(pdf, 0, 200).convert("RGB")
    band = image.crop((0, 0, image.width // 2, round(11 * 200 / 25.4)))
    # The band holds saffron and the city name's ink: black, never white.
    colours = {c for _, c in band.getcolors(maxcolors=100_000)}
    assert (0, 0, 0) in colours or min(sum(c) for c in colours) < 120
    assert (255, 255, 255) not in colours


def test_emblem_must_be_a_checked_picture():
    with pytest.raises(InvalidCardDataError, match="PNG or JPEG"):
        make_face(branding=Branding(emblem=b"GIF89a", emblem_type="image/gif"))


def test_gender_is_optional():
    pdf = render_card_pdf(make_face(gender=None))
    front = page_text(pdf, 0)
    assert "Genre / Gender" not in front
    assert "Genre / Gender" in page_text(render_card_pdf(make_face(gender="X")), 0)


def test_latin_and_preferred_names_are_printed():
    face = make_face(
        name="Александра Иванова", name_latin="Aleksandra Ivanova", preferred_name="Sasha"
    )
    pdf = render_card_pdf(face)
    front = page_text(pdf, 0)
    assert "Александра Иванова" in front
    assert "Aleksandra Ivanova" in front
    assert "Nom d'usage / Preferred name: Sasha" in front


def test_no_holder_data_in_pdf_metadata():
    pdf = render_card_pdf(make_face())
    doc = pdfium.PdfDocument(pdf)
    meta = " ".join(doc.get_metadata_dict().values())
    doc.close()
    assert "Łukasz" not in meta and "Grüßmann" not in meta and SERIAL not in meta


def test_same_card_gives_same_bytes():
    # Invariant mode: no creation time (the module never reads the clock).
    assert render_card_pdf(make_face()) == render_card_pdf(make_face())


def test_photo_is_embedded_as_jpeg(card_pdf):
    assert b"/DCTDecode" in card_pdf
    assert b"/DCTDecode" not in render_card_pdf(make_face(photo_jpeg=None))


# --------------------------------------------------------------------------- scripts and fonts

NAMES = {
    "latin-diacritics": "Łukasz Żółć-Grüßmann",
    "vietnamese": "Nguyễn Thị Minh Khai",
    "vietnamese-decomposed": unicodedata.normalize("NFD", "Trần Hoàng Phương Thảo"),
    "cyrillic": "Александра Петровна Иванова",
    "greek": "Γεώργιος Παπαδόπουλος",
    "arabic": "محمد عبد الله",
    "arabic-lam-alef": "عبد الإله الأحمد",
    "persian-zwnj": "مهدی\u200cزاده",
    "hebrew": "שרה לוי",
    "hebrew-pointed": "שָׂרָה לֵוִי",
    "turkish": "Oğuz Çelik İşçi",
}


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_every_script_prints_without_missing_glyphs(name):
    assert missing_glyphs(name) == set()
    pdf = render_card_pdf(make_face(name=name))
    assert len(pdfium.PdfDocument(pdf)) == 2


@pytest.mark.parametrize(
    "name",
    [
        "Łukasz Żółć-Grüßmann",
        "Nguyễn Thị Minh Khai",
        "Александра Петровна Иванова",
        "Γεώργιος Παπαδόπουλος",
        NAMES["vietnamese-decomposed"],
    ],
)
def test_left_to_right_names_come_back_from_the_pdf_text(name):
    front = page_text(render_card_pdf(make_face(name=name)), 0)
    # A long name may be drawn on two lines.
    assert unicodedata.normalize("NFC", name) in front.replace("\r\n", " ")


def test_arabic_labels_and_mixed_labels_print():
    face = make_face(
        name=NAMES["arabic"], name_latin="Muhammad Abd Allah", labels=(AR, FR), city_name="Lyon"
    )
    pdf = render_card_pdf(face)
    assert read_qr(render_page(pdf, 1, 150)) == QR_TEXT


def test_a_script_without_a_font_is_refused_with_the_characters_named():
    # Balinese has no font on the card's search path (nor in DejaVu Sans).
    with pytest.raises(UnsupportedCharactersError) as info:
        render_card_pdf(make_face(name="ᬩᬮᬶ"))
    err = info.value
    assert err.field == "name"
    assert err.characters == tuple(sorted("ᬩᬮᬶ"))
    assert "ᬩ" in str(err) and "U+1B29" in str(err) and "transliteration" in str(err)
    assert missing_glyphs("ᬩᬮᬶ") == set("ᬩᬮᬶ")
    # With the name printed in Latin letters, the card renders.
    assert render_card_pdf(make_face(name="Bali"))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name_latin": "ᬮ"}, "name_latin"),
        ({"city_name": "ᬩᬮᬶ"}, "city_name"),
        ({"preferred_name": "ᬅ"}, "preferred_name"),
        ({"languages": ("ᬩᬮᬶ",)}, "languages"),
        ({"labels": (replace(EN, name="ᬦᬫ"),)}, "labels.name"),
        ({"name": "Ana\u202eavoN"}, "name"),  # a bidi override would reverse the print
        ({"name": "Ana\tNova"}, "name"),
    ],
)
def test_unsupported_characters_in_any_field(changes, field):
    with pytest.raises(UnsupportedCharactersError) as info:
        render_card_pdf(make_face(**changes))
    assert info.value.field == field
    assert info.value.serial == SERIAL


# --------------------------------------------------------------------------- layout


def text_boxes(pdf: bytes, index: int) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Each line of text (split where PDFium breaks lines, or at a column gap) and the union
    of its glyphs' tight boxes.

    Built from the characters rather than PDFium's text rectangles: a shaped Arabic word may
    hold a glyph that PDFium's grouping attaches to the next line (the tail of a final meem
    in Noto Sans Arabic), which made one rectangle span two lines.
    """
    doc = pdfium.PdfDocument(pdf)
    tp = doc[index].get_textpage()
    boxes: list[tuple[str, tuple[float, float, float, float]]] = []
    text, box = "", None
    for i in range(tp.count_chars()):
        ch = tp.get_text_range(i, 1)
        if ch in ("\r", "\n") or not ch.strip():
            if ch.strip() == "" and ch not in ("\r", "\n") and box is not None:
                text += ch
                continue
            if box is not None:
                boxes.append((text, box))
            text, box = "", None
            continue
        left, bottom, right, top = tp.get_charbox(i)
        # PDFium may join two columns (the languages and, past the photo, the city id) into
        # one line: a gap of 10 mm splits them. (A smaller gap occurs inside a line: PDFium
        # gives Arabic in logical order, so the next character may be a word's far end.)
        if box is not None and max(left - box[2], box[0] - right) > 10 * MM:
            boxes.append((text, box))
            text, box = "", None
        text += ch
        box = ((left, bottom, right, top) if box is None else
               (min(box[0], left), min(box[1], bottom), max(box[2], right), max(box[3], top)))
    if box is not None:
        boxes.append((text, box))
    doc.close()
    return boxes


def object_boxes(pdf: bytes, index: int, kind: int) -> list[tuple[float, float, float, float]]:
    doc = pdfium.PdfDocument(pdf)
    boxes = [obj.get_bounds() for obj in doc[index].get_objects() if obj.type == kind]
    doc.close()
    return boxes


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


LONG_NAMES = {
    "two-lines": "Nguyễn Thị Minh Khai Trần Hoàng Phương Thảo Lê Văn",
    "one-long-word": "Wolfeschlegelsteinhausenbergerdorffvoralternwarengewissenhaft",
    "arabic-long": "محمد بن عبد الرحمن بن عبد العزيز آل سعود الأحمد",
}


def assert_clean_layout(pdf: bytes) -> None:
    """No two text runs overlap, none touches the photo, its frame or the QR code, and all
    stay inside the card with a margin."""
    width, height = CARD_WIDTH_MM * MM, CARD_HEIGHT_MM * MM
    for index in (0, 1):
        boxes = text_boxes(pdf, index)
        # Photo, photo frame, QR code: every drawn object except the top colour band,
        # which carries the city name.
        graphics = object_boxes(pdf, index, pdfium.raw.FPDF_PAGEOBJ_IMAGE) + [
            b for b in object_boxes(pdf, index, pdfium.raw.FPDF_PAGEOBJ_PATH) if b[3] < height - 0.5
        ]
        assert graphics
        for text, box in boxes:
            assert box[0] >= 2 * MM and box[2] <= width - 2 * MM, text
            assert box[1] >= 2 * MM and box[3] <= height - 1 * MM, text
            for graphic in graphics:
                assert not overlap(box, graphic), text
        for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):
            assert not overlap(b1, b2), (t1, t2)


@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=LONG_NAMES.keys())
def test_long_names_fit_without_overlap(name, photo):
    face = make_face(
        name=name,
        name_latin="Nguyen Thi Minh Khai Tran Hoang Phuong Thao Le",
        preferred_name="Khai (chị Hai)",
        photo_jpeg=photo,
    )
    assert_clean_layout(render_card_pdf(face))


def test_arabic_labels_layout(photo):
    face = make_face(
        name=LONG_NAMES["arabic-long"],
        name_latin="Muhammad bin Abd al-Rahman",
        preferred_name="Hamoudi",
        labels=(AR, FR),
        photo_jpeg=photo,
    )
    assert_clean_layout(render_card_pdf(face))


def test_damaged_photo_is_refused():
    with pytest.raises(InvalidCardDataError, match="photo"):
        render_card_pdf(make_face(photo_jpeg=b"\xff\xd8\xff\xe0" + bytes(200)))


def test_absurdly_long_name_is_refused():
    with pytest.raises(CardLayoutError, match="too long"):
        render_card_pdf(make_face(name=" ".join(["Maximiliana"] * 30)))


@pytest.mark.parametrize(
    "changes",
    [
        {"gender": "female"},
        {"labels": ()},
        {"labels": (EN, FR, EN)},
        {"languages": ("a", "b", "c")},
        {"photo_jpeg": b"\x89PNG\r\n\x1a\n"},
        {"serial": " "},
        {"expires_at": date(2020, 1, 1)},
        {"date_of_birth": "1990-05-17"},
    ],
)
def test_invalid_card_data(changes):
    with pytest.raises(InvalidCardDataError):
        make_face(**changes)


# --------------------------------------------------------------------------- sheets


def test_sheet_of_23_cards(photo):
    faces = [
        make_face(
            serial=f"FRLYS-0000-{i:04d}",
            photo_jpeg=photo if i % 2 else None,
        )
        for i in range(23)
    ]
    calls: list[tuple[int, int]] = []
    pdf = render_sheet_pdf(faces, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 23) for i in range(1, 24)]
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 6  # 10 + 10 + 3 cards, each group a page of fronts and one of backs
    for page in doc:
        width, height = page.get_size()
        assert abs(width - 210 * MM) < 0.5 and abs(height - 297 * MM) < 0.5
    doc.close()

    fronts, backs = page_text(pdf, 0), page_text(pdf, 1)
    for i in range(10):
        assert f"FRLYS-0000-{i:04d}" in fronts
        assert f"FRLYS-0000-{i:04d}" in backs  # each back belongs to its card
    assert "FRLYS-0000-0020" in page_text(pdf, 4)
    assert "FRLYS-0000-0022" in page_text(pdf, 5)


def _serial_x(pdf: bytes, index: int, serial: str) -> float:
    doc = pdfium.PdfDocument(pdf)
    tp = doc[index].get_textpage()
    searcher = tp.search(serial)
    found = searcher.get_next()
    assert found is not None, serial
    x = tp.get_charbox(found[0])[0]
    doc.close()
    return x


def test_sheet_backs_are_mirrored_for_duplex():
    faces = [make_face(serial=f"FRLYS-0000-{i:04d}") for i in range(4)]
    pdf = render_sheet_pdf(faces)
    half = 105 * MM
    # Card 0 is top left on the fronts, so its back is top right on the backs page.
    assert _serial_x(pdf, 0, "FRLYS-0000-0000") < half
    assert _serial_x(pdf, 1, "FRLYS-0000-0000") > half
    assert _serial_x(pdf, 0, "FRLYS-0000-0001") > half
    assert _serial_x(pdf, 1, "FRLYS-0000-0001") < half


def test_sheet_qr_codes_read_back():
    faces = [
        make_face(serial=f"FRLYS-0000-{i:04d}", qr_text=f"LC1:{i:04d}" + QR_TEXT[8:])
        for i in range(2)
    ]
    pdf = render_sheet_pdf(faces)
    backs = render_page(pdf, 1, 200)
    results = zxingcpp.read_barcodes(backs, formats=zxingcpp.BarcodeFormat.QRCode)
    assert sorted(r.text for r in results) == sorted(f.qr_text for f in faces)


def test_sheet_has_crop_marks_outside_the_cards():
    pdf = render_sheet_pdf([make_face()])
    image = render_page(pdf, 0, 150).convert("L")
    # The top-left card's corner, in pixels; marks run left of and above it.
    positions = _first_slot_px(150)
    x, y = positions
    left_mark = [image.getpixel((x - d, y)) for d in range(5, 15)]
    above_mark = [image.getpixel((x, y - d)) for d in range(5, 15)]
    assert min(left_mark) < 220 and min(above_mark) < 220  # a 0.25 pt hairline
    # No ink in the gutter away from the marks.
    assert image.getpixel((x - 10, y - 10)) > 240


def _first_slot_px(dpi: int) -> tuple[int, int]:
    grid_w = 2 * CARD_WIDTH_MM + 8
    grid_h = 5 * CARD_HEIGHT_MM + 4 * 4
    left_mm = (210 - grid_w) / 2
    top_mm = (297 - grid_h) / 2
    return round(left_mm / 25.4 * dpi), round(top_mm / 25.4 * dpi)


def test_empty_sheet_is_refused():
    with pytest.raises(InvalidCardDataError):
        render_sheet_pdf([])


def test_sheet_refuses_a_bad_card_naming_its_serial():
    faces = [make_face(), make_face(serial="FRLYS-BAD", name="ᬩᬮᬶ")]
    with pytest.raises(UnsupportedCharactersError, match="FRLYS-BAD"):
        render_sheet_pdf(faces)


# --------------------------------------------------------------------------- right to left


def text_span(pdf: bytes, index: int, text: str) -> tuple[float, float]:
    """Left and right edges (points) of the first occurrence of ``text`` on a page."""
    doc = pdfium.PdfDocument(pdf)
    try:
        tp = doc[index].get_textpage()
        found = tp.search(text).get_next()
        assert found is not None, text
        start, count = found
        return tp.get_charbox(start)[0], tp.get_charbox(start + count - 1)[2]
    finally:
        doc.close()


def graphic_span(pdf: bytes, index: int, kind: int, *, width_mm: tuple[float, float]
                 ) -> tuple[float, float]:
    """Left and right edges of the widest object of ``kind`` whose width (mm) is in range:
    the photo, or the QR code's white square (not the band across the card)."""
    low, high = width_mm
    boxes = [b for b in object_boxes(pdf, index, kind) if low * MM <= b[2] - b[0] <= high * MM]
    assert boxes
    left, _, right, _ = max(boxes, key=lambda b: b[2] - b[0])
    return left, right


@pytest.fixture(scope="module")
def mirrored_pair(photo) -> tuple[bytes, bytes]:
    """One card labelled French + Arabic (left to right) and Arabic + French (mirrored)."""
    face = make_face(photo_jpeg=photo, name_latin="Lukasz Zolc-Grussmann", preferred_name="Luk",
                     check_url="https://carte.lyon.example/verify")
    return render_card_pdf(replace(face, labels=(FR, AR))), render_card_pdf(
        replace(face, labels=(AR, FR)))


def test_arabic_labelled_front_is_mirrored(mirrored_pair):
    ltr, rtl = mirrored_pair
    width = CARD_WIDTH_MM * MM
    image = pdfium.raw.FPDF_PAGEOBJ_IMAGE
    # The photo moves from the left edge to the right edge.
    ltr_photo, rtl_photo = (graphic_span(ltr, 0, image, width_mm=(15, 30)),
                            graphic_span(rtl, 0, image, width_mm=(15, 30)))
    assert ltr_photo[0] < width / 3 and rtl_photo[0] > 2 * width / 3
    assert abs(ltr_photo[0] - (width - rtl_photo[1])) < 0.2 * MM
    # Each field value starts its column from the left, or ends it at the right: the
    # same distance from the card's edge on both cards. Dates and serial stay readable.
    for value in ("1990-05-17", "2026-11-03", "2031-11-02", SERIAL, "Lukasz Zolc-Grussmann"):
        (ltr_left, _), (_, rtl_right) = text_span(ltr, 0, value), text_span(rtl, 0, value)
        assert abs(ltr_left - (width - rtl_right)) < 0.5 * MM, value
    # The second column of the grid (expiry, beside the issue date) is on the left.
    assert text_span(rtl, 0, "2031-11-02")[1] < text_span(rtl, 0, "2026-11-03")[0]
    assert text_span(ltr, 0, "2031-11-02")[0] > text_span(ltr, 0, "2026-11-03")[1]
    # Labels too: "Date de naissance / تاريخ الميلاد" starts where its value starts, and
    # on the mirrored card ends (with its Arabic half) where its value ends.
    def label_box(pdf: bytes) -> tuple[float, float, float, float]:
        return next(box for text, box in text_boxes(pdf, 0) if "Date de naissance" in text)

    assert abs(label_box(ltr)[0] - text_span(ltr, 0, "1990-05-17")[0]) < 0.5 * MM
    assert abs(label_box(rtl)[2] - text_span(rtl, 0, "1990-05-17")[1]) < 0.5 * MM


def test_arabic_labelled_back_is_mirrored_and_its_qr_reads(mirrored_pair):
    ltr, rtl = mirrored_pair
    width = CARD_WIDTH_MM * MM
    path = pdfium.raw.FPDF_PAGEOBJ_PATH
    ltr_qr, rtl_qr = (graphic_span(ltr, 1, path, width_mm=(25, 40)),
                      graphic_span(rtl, 1, path, width_mm=(25, 40)))
    assert ltr_qr[0] < width / 2 < rtl_qr[0]
    assert abs(ltr_qr[0] - (width - rtl_qr[1])) < 0.2 * MM
    for value in (SERIAL, "https://carte.lyon.example/verify"):
        (ltr_left, _), (_, rtl_right) = text_span(ltr, 1, value), text_span(rtl, 1, value)
        assert abs(ltr_left - (width - rtl_right)) < 0.5 * MM, value
    # The French notice is flush right too, under the Arabic one.
    column_end = width - text_span(ltr, 1, SERIAL)[0]
    assert abs(text_span(rtl, 1, "migratoire.")[1] - column_end) < 0.5 * MM
    assert read_qr(render_page(rtl, 1, dpi=300)) == QR_TEXT


def test_arabic_labelled_card_layout_is_clean(mirrored_pair):
    assert_clean_layout(mirrored_pair[1])
