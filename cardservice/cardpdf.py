"""Printable cards: one card as a two-page ID-1 PDF, or many cards on A4 sheets.

Rules this module keeps:

- A card page is exactly ID-1 (ISO/IEC 7810): 85.60 x 53.98 mm. Page 1 is the front
  (photo, names, dates, languages), page 2 the back (QR code, serial, where to check it,
  notice, "if found, return to").
- The card is not its own key: it never carries the renewal code, which with the serial
  and the date of birth lets someone ask to cancel or change the card. The code goes on a
  separate renewal slip (:mod:`cardservice.slippdf`) that the holder keeps at home.
- The QR code sits on the back, alone on a white field, at least 22 mm wide *without* its
  quiet zone (SPEC §3), so a photo of the back or a scan of page 2 reads it.
- Every string is drawn by :mod:`cardservice.cardtext`: the bundled DejaVu Sans for Latin,
  Greek and Cyrillic, a TrueType font of the script found on the font search path for the
  others (Noto, Droid Sans Fallback for CJK), split into runs by font, put in bidi order
  and shaped by HarfBuzz (Arabic joining, Indic conjuncts). Coverage is checked on the
  glyphs actually drawn: a character no font has is refused with
  :class:`UnsupportedCharactersError` naming it, and a script whose font is not installed
  with :class:`MissingFontError` naming the script and the package, so a missing-glyph box
  is never printed.
- Names are never truncated: a long name is drawn smaller, then on two lines, then
  condensed; a name that still does not fit is refused with :class:`CardLayoutError`.
- The city's :class:`~cardservice.branding.Branding` colours the bands and carries its
  emblem (front band, right) and the "if found, return to" line; the back says where to
  check the card. Text on the city colour is black or white, whichever reads better.
- Labels come translated from the caller (one or two languages, printed "Name / Nom");
  when the first language is written right to left (its title starts with an Arabic or
  Hebrew letter) the card is laid out right to left: photo and QR code on the right, the
  band's emblem on the left, every label, value and notice flush right. Dates and serials
  keep their Latin digits and read left to right within the line.
- The module stays pure: no gettext, no clock (PDFs are written in ReportLab's invariant
  mode, so the same card gives the same bytes), no I/O except reading the bundled fonts.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from bidi import get_base_level
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from cardservice import cardtext as _cardtext
from cardservice import values
from cardservice.branding import Branding, contrast_ratio
from cardservice.cardtext import BOLD as _BOLD
from cardservice.cardtext import REGULAR as _REGULAR
from cardservice.cardtext import Line, fonts, missing_glyphs, shape
from cardservice.cardtext import draw as _draw
from cardservice.cardtext import wrap as _wrap
from cardservice.photo import PHOTO_RATIO
from cardservice.qr import QUIET_ZONE, QrMatrix, encode_qr

__all__ = [
    "CARD_HEIGHT_MM",
    "CARD_WIDTH_MM",
    "MIN_QR_WIDTH_MM",
    "QR_BOX_MM",
    "CardFace",
    "CardLabels",
    "CardLayoutError",
    "CardPdfError",
    "InvalidCardDataError",
    "MissingFontError",
    "UnsupportedCharactersError",
    "check_front",
    "missing_glyphs",
    "qr_symbol_width_mm",
    "render_card_pdf",
    "render_sheet_pdf",
]

#: ID-1 card size (ISO/IEC 7810), in millimetres.
CARD_WIDTH_MM = 85.60
CARD_HEIGHT_MM = 53.98

#: SPEC §3: the printed QR symbol (without quiet zone) is at least this wide.
MIN_QR_WIDTH_MM = 22.0

#: Side of the white square holding the QR symbol *and* its quiet zone on the card back.
#: The symbol gets ``QR_BOX_MM * n / (n + 8)`` mm, i.e. 30.3 mm for version 12 (65 modules).
QR_BOX_MM = 34.0

_W = CARD_WIDTH_MM * mm
_H = CARD_HEIGHT_MM * mm


# Colours (RGB 0..1): grey for field labels (the band takes the city's colour).
_LABEL = (0.33, 0.33, 0.33)
_INK = (0.0, 0.0, 0.0)
_PLACEHOLDER = (0.85, 0.86, 0.88)

# Sheet layout: 2 x 5 cards on A4 portrait, with gutters for crop marks.
_SHEET_COLS = 2
_SHEET_ROWS = 5
_GUTTER_X = 8 * mm
_GUTTER_Y = 4 * mm
_MARK_OFFSET = 0.5 * mm
_MARK_LENGTH = 3 * mm

_GENDERS = frozenset(values.GENDERS)



class CardPdfError(Exception):
    """Base class for the errors of this module."""


class InvalidCardDataError(CardPdfError, ValueError):
    """A :class:`CardFace` or :class:`CardLabels` field has a value the card cannot print."""


# Raised by cardtext while shaping; re-exported here with the other errors of printing.
MissingFontError = _cardtext.MissingFontError


class UnsupportedCharactersError(CardPdfError):
    """A text holds characters that no bundled font can draw.

    ``field`` names the :class:`CardFace` field (or ``labels.<name>``), ``characters`` the
    offending characters, sorted. The caller should ask for a Latin transliteration.
    """

    def __init__(self, field: str, characters: Iterable[str], *, serial: str | None = None):
        self.field = field
        self.characters = tuple(sorted(set(characters)))
        self.serial = serial
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in self.characters)
        where = f"card {serial}: " if serial else ""
        super().__init__(
            f"{where}{field} has characters the card fonts cannot print: {shown}; "
            "give a transliteration in Latin letters instead"
        )


class CardLayoutError(CardPdfError):
    """A text is too long to fit the card even at the smallest allowed size."""


@dataclass(frozen=True)
class CardLabels:
    """Label strings for one language, already translated by the caller.

    ``back_notice`` may contain ``{city}``, replaced by the city's name (plain text
    replacement, so other braces are printed as they are).
    """

    title: str
    name: str
    preferred_name: str
    date_of_birth: str
    gender: str
    serial: str
    issued: str
    expires: str
    languages: str
    back_notice: str
    check_at: str = "Check this card at"
    return_to: str = "If found, please return to"


@dataclass(frozen=True)
class CardFace:
    """Everything printed on one card.

    ``labels`` holds one or two :class:`CardLabels` (the city's languages), printed
    side by side as "Name / Nom". ``photo_jpeg`` is a JPEG from
    :func:`cardservice.photo.process_photo`, or ``None`` for a placeholder. ``gender`` is
    ``"F"``, ``"M"``, ``"X"`` or ``None`` (not printed). There is no renewal code: it is
    printed on the renewal slip, never on the card.
    """

    city_id: str
    city_name: str
    serial: str
    issued_at: date
    expires_at: date
    name: str
    date_of_birth: date
    qr_text: str
    labels: tuple[CardLabels, ...]
    name_latin: str | None = None
    preferred_name: str | None = None
    gender: str | None = None
    languages: tuple[str, ...] = ()
    # The same spoken languages named in the second label language: printed after the
    # first names ("vietnamien, français / Vietnamese, French") when the line then fits
    # without condensing its letters; else ``languages`` alone is printed.
    languages_second: tuple[str, ...] = ()
    photo_jpeg: bytes | None = None
    branding: Branding = Branding()
    check_url: str | None = None  # printed on the back: where an agent checks the card

    def __post_init__(self) -> None:
        if not 1 <= len(self.labels) <= 2:
            raise InvalidCardDataError("labels must hold one or two languages")
        if len(self.languages) > 2 or len(self.languages_second) > 2:
            raise InvalidCardDataError("at most two spoken languages are printed")
        if self.gender is not None and self.gender not in _GENDERS:
            raise InvalidCardDataError('gender must be "F", "M", "X" or None')
        for field in ("city_id", "city_name", "serial", "name", "qr_text"):
            if not str(getattr(self, field)).strip():
                raise InvalidCardDataError(f"{field} must not be empty")
        if self.photo_jpeg is not None and not self.photo_jpeg.startswith(b"\xff\xd8\xff"):
            raise InvalidCardDataError("photo_jpeg is not a JPEG image")
        for field in ("issued_at", "expires_at", "date_of_birth"):
            if not isinstance(getattr(self, field), date):
                raise InvalidCardDataError(f"{field} must be a date")
        if _as_date(self.expires_at) < _as_date(self.issued_at):
            raise InvalidCardDataError("expires_at is before issued_at")
        if self.branding.emblem is not None and self.branding.emblem_type not in (
                "image/png", "image/jpeg"):
            raise InvalidCardDataError("the emblem must be a PNG or JPEG checked by branding")


def _as_date(value: date) -> date:
    return value.date() if isinstance(value, datetime) else value


def _fmt_date(value: date) -> str:
    # ISO 8601 reads the same in every language the card may be labelled in.
    return _as_date(value).isoformat()


def _joined(labels: Sequence[CardLabels], attr: str) -> str:
    values: list[str] = []
    for lab in labels:
        value = getattr(lab, attr)
        if value not in values:  # two languages may share a word ("Serial / Serial")
            values.append(value)
    return " / ".join(values)


# --------------------------------------------------------------------------- prepared card


@dataclass(frozen=True)
class _Prepared:
    """A card's strings in drawn form and its QR matrix, checked and ready to draw."""

    face: CardFace
    city: str
    title: str
    name: str  # logical order; wrapped before display
    name_latin: str | None
    preferred: str | None
    languages: str | None
    lab: dict[str, str]
    notices: tuple[str, ...]
    qr: QrMatrix | None  # None when only the front is checked
    rtl: bool  # laid out right to left: the first label language is written so
    band: tuple[float, float, float]  # the city colour
    band_ink: tuple[float, float, float]  # text on it: black or white
    accent: tuple[float, float, float]  # the city colour, or black where it is too pale
    return_to: str | None


def _prepare(face: CardFace, *, encode: bool = True) -> _Prepared:
    """Check every printed string against the fonts and encode the QR code (if ``encode``)."""
    labels = face.labels
    lab = {
        attr: _joined(labels, attr)
        for attr in (
            "title",
            "name",
            "preferred_name",
            "date_of_birth",
            "gender",
            "serial",
            "issued",
            "expires",
            "languages",
            "check_at",
            "return_to",
        )
    }
    notices = tuple(lb.back_notice.replace("{city}", face.city_name) for lb in labels)
    notices = tuple(dict.fromkeys(n for n in notices if n.strip()))
    languages = _listed(face.languages)
    second = _listed(face.languages_second)

    to_check: list[tuple[str, str | None]] = [
        ("city_name", face.city_name),
        ("serial", face.serial),
        ("name", face.name),
        ("name_latin", face.name_latin),
        ("preferred_name", face.preferred_name),
        ("languages", languages),
        ("languages", second),
        ("gender", face.gender),
        ("check_url", face.check_url),
        ("branding.return_to", face.branding.return_to),
    ]
    to_check += [(f"labels.{k}", v) for k, v in lab.items()]
    to_check += [("labels.back_notice", n) for n in notices]
    for field, value in to_check:
        if value:
            missing = missing_glyphs(value)
            if missing:
                raise UnsupportedCharactersError(field, missing, serial=face.serial)
    if languages and second and second != languages and _fits(
            f"{languages} / {second}", _BOLD, _LANGUAGES_MIN_SIZE, _LANGUAGES_W):
        languages = f"{languages} / {second}"

    return _Prepared(
        face=face,
        city=face.city_name,
        title=lab["title"],
        name=unicodedata.normalize("NFC", face.name.strip()),
        name_latin=face.name_latin.strip() if face.name_latin else None,
        preferred=face.preferred_name.strip() if face.preferred_name else None,
        languages=languages,
        lab=lab,
        notices=notices,
        qr=encode_qr(face.qr_text) if encode else None,
        rtl=get_base_level(labels[0].title) == 1,
        band=face.branding.rgb,
        band_ink=(1.0, 1.0, 1.0) if face.branding.ink == "#ffffff" else _INK,
        # A pale city colour (yellow, say) would vanish as text on white: use black there.
        accent=(face.branding.rgb if contrast_ratio(face.branding.colour, "#ffffff") >= 3.0
                else _INK),
        return_to=face.branding.return_to.strip() or None,
    )


def _listed(items: tuple[str, ...]) -> str | None:
    """Names listed as their language writes lists: Arabic with its own comma (U+060C)."""
    shown = [item for item in items if item.strip()]
    if not shown:
        return None
    return ("، " if get_base_level(shown[0]) == 1 else ", ").join(shown)


def _from_start(p: _Prepared, x: float, width: float) -> float:
    """The left edge of a box ``width`` wide that lies ``x`` from the side where reading
    starts: the left edge, or the right one on a right-to-left card (mirrored layout)."""
    return _W - x - width if p.rtl else x


def qr_symbol_width_mm(matrix: QrMatrix) -> float:
    """Width in mm of the QR symbol (without quiet zone) as this module prints it."""
    return QR_BOX_MM * matrix.size / matrix.size_with_quiet_zone


# --------------------------------------------------------------------------- drawing helpers


def _draw_line(
    c: Canvas,
    x: float,
    y: float,
    text: str | Line,
    *,
    font: str,
    size: float,
    width: float,
    min_size: float,
    color: tuple[float, float, float] = _INK,
    align_right: bool = False,
) -> float:
    """Draw one line of text shrunk to ``width`` (condensed below ``min_size``); return size.

    ``text`` is a string (shaped here in ``font``'s style) or a :class:`Line` already
    shaped; ``align_right`` puts the line's end at ``x + width`` (right-to-left paragraphs).
    """
    shown = text if isinstance(text, Line) else shape(text, bold=font == _BOLD)
    natural = shown.width(size)
    scale = 100.0
    if natural > width:
        size = max(min_size, size * width / natural)
        fitted = shown.width(size)
        if fitted > width:
            # Below the smallest size we condense the letters rather than cut the text.
            scale = 100.0 * width / fitted
    c.setFillColorRGB(*color)
    if align_right:
        x += width - min(width, shown.width(size) * scale / 100.0)
    _draw(c, x, y, shown, size, horiz_scale=scale, ink=color)
    return size


def _two_line_splits(text: str, *, inside_words: bool = False) -> list[tuple[str, str]]:
    words = text.split()
    if len(words) >= 2 and not inside_words:
        return [(" ".join(words[:i]), " ".join(words[i:])) for i in range(1, len(words))]
    # A long word: split between characters, keeping marks with their letter (a space
    # where the split falls is dropped: it is the line break).
    text = " ".join(words)
    return [(text[:i].rstrip(), text[i:].lstrip()) for i in range(1, len(text))
            if not unicodedata.combining(text[i]) and text[:i].strip() and text[i:].strip()]


def _best_split(name: str, *, inside_words: bool) -> tuple[float, list[Line]] | None:
    best: tuple[float, list[Line]] | None = None
    for first, second in _two_line_splits(name, inside_words=inside_words):
        lines = [shape(first, bold=True), shape(second, bold=True)]
        widest = max(line.width(1.0) for line in lines)
        if best is None or widest < best[0]:
            best = (widest, lines)
    return best


def _layout_name(
    name: str, *, width: float, max_one: float, max_two: float, min_size: float
) -> tuple[list[Line], float, float]:
    """Choose lines (shaped), font size and horizontal scale (%) for a name."""
    shown = shape(name, bold=True)
    w = shown.width(max_one)
    if w <= width:
        return [shown], max_one, 100.0
    size = max_one * width / w
    if size >= max_two:
        return [shown], size, 100.0
    best = _best_split(name, inside_words=False)
    if best is not None and best[0] * min_size * 100.0 / 70.0 > width:
        # Breaking between words leaves a word too wide for the card even condensed (one
        # very long word beside short ones): break inside the words instead.
        best = _best_split(name, inside_words=True) or best
    if best is None:  # a one-character name cannot be split; condense it
        return [shown], min_size, 100.0 * width / shown.width(min_size)
    widest, lines = best
    size = min(max_two, width / widest)
    if size >= min_size:
        return lines, size, 100.0
    scale = 100.0 * width / (widest * min_size)
    if scale < 70.0:
        raise CardLayoutError(
            "the name is too long to print on the card; give a shorter printed name"
        )
    return lines, min_size, scale


# The spoken languages field: half the text column right of the photo (see _draw_front).
_LANGUAGES_W = (_W - 29 * mm - 4 * mm) / 2 - 1.5 * mm
_LANGUAGES_MIN_SIZE = 5.0


def _fits(text: str, font: str, size: float, width: float) -> bool:
    """Whether ``text`` drawn at ``size`` is at most ``width`` wide."""
    fonts()  # measuring needs the fonts registered
    return shape(text, bold=font == _BOLD).width(size) <= width


def _field(
    c: Canvas, x: float, y: float, label: str, value: str, *, width: float, value_size: float = 7,
    align_right: bool = False,
) -> None:
    """A small grey label above its value; ``y`` is the value's baseline."""
    _draw_line(
        c, x, y + 2.9 * mm, label, font=_REGULAR, size=4.8, width=width, min_size=3.8,
        color=_LABEL, align_right=align_right,
    )
    _draw_line(c, x, y, value, font=_BOLD, size=value_size, width=width, min_size=5,
               align_right=align_right)


def _draw_photo(c: Canvas, face: CardFace, x: float, y: float, w: float, h: float) -> None:
    if face.photo_jpeg is None:
        c.saveState()
        box = c.beginPath()
        box.rect(x, y, w, h)
        c.clipPath(box, stroke=0, fill=0)
        c.setFillColorRGB(*_PLACEHOLDER)
        c.rect(x, y, w, h, stroke=0, fill=1)
        # A neutral silhouette so a card printed without a photo is visibly so.
        c.setFillColorRGB(0.70, 0.72, 0.75)
        c.circle(x + w / 2, y + h * 0.62, w * 0.2, stroke=0, fill=1)
        c.ellipse(x + w * 0.14, y - h * 0.12, x + w * 0.86, y + h * 0.42, stroke=0, fill=1)
        c.restoreState()
    else:
        try:
            c.drawImage(
                ImageReader(io.BytesIO(face.photo_jpeg)),
                x,
                y,
                w,
                h,
                preserveAspectRatio=True,
                anchor="c",
            )
        except (OSError, ValueError, SyntaxError) as exc:
            raise InvalidCardDataError(
                "photo_jpeg cannot be read; store photos made by process_photo"
            ) from exc
    c.setStrokeColorRGB(*_LABEL)
    c.setLineWidth(0.3)
    c.rect(x, y, w, h, stroke=1, fill=0)


_STRIPE_H = 1.6 * mm  # the city colour along the bottom edge of both sides


def _draw_emblem(c: Canvas, face: CardFace, x: float, y: float, side: float) -> None:
    """The city's emblem centred in a white rounded square (any colour reads on it)."""
    if face.branding.emblem is None:
        return
    c.setFillColorRGB(1, 1, 1)
    c.roundRect(x, y, side, side, side * 0.12, stroke=0, fill=1)
    pad = side * 0.08
    try:
        c.drawImage(ImageReader(io.BytesIO(face.branding.emblem)), x + pad, y + pad,
                    side - 2 * pad, side - 2 * pad, preserveAspectRatio=True, anchor="c",
                    mask="auto")
    except (OSError, ValueError, SyntaxError) as exc:
        raise InvalidCardDataError("the emblem cannot be read; use one checked by "
                                   "branding.check_emblem") from exc


def _draw_band(c: Canvas, p: _Prepared, height: float) -> float:
    """The city-coloured band across the top and the stripe along the bottom; returns
    the width left for text in the band (the emblem takes its right end)."""
    c.setFillColorRGB(*p.band)
    c.rect(0, _H - height, _W, height, stroke=0, fill=1)
    c.rect(0, 0, _W, _STRIPE_H, stroke=0, fill=1)
    if p.face.branding.emblem is None:
        return 0.0
    side = height - 2 * mm
    # At the band's far end: the right on a left-to-right card, the left when mirrored.
    _draw_emblem(c, p.face, _W - side - 2.5 * mm if not p.rtl else 2.5 * mm,
                 _H - height + 1 * mm, side)
    return side + 3.5 * mm


def _draw_front(c: Canvas, p: _Prepared) -> None:
    face = p.face
    margin = 4 * mm
    band_h = 11 * mm
    text_w = _W - 2 * margin - _draw_band(c, p, band_h)
    band_x = _from_start(p, margin, text_w)
    _draw_line(
        c,
        band_x,
        _H - 5.6 * mm,
        p.city,
        font=_BOLD,
        size=10,
        width=text_w,
        min_size=6,
        color=p.band_ink,
        align_right=p.rtl,
    )
    _draw_line(
        c,
        band_x,
        _H - 9.2 * mm,
        p.title,
        font=_REGULAR,
        size=6.2,
        width=text_w,
        min_size=4.5,
        color=p.band_ink,
        align_right=p.rtl,
    )

    photo_w = 21 * mm
    photo_h = photo_w * PHOTO_RATIO[1] / PHOTO_RATIO[0]
    photo_top = _H - band_h - 3 * mm
    _draw_photo(c, face, _from_start(p, margin, photo_w), photo_top - photo_h, photo_w, photo_h)

    # Distances from the reading start; _from_start turns them into page positions.
    start0 = margin + photo_w + 4 * mm
    col_w = _W - start0 - margin
    half_w = col_w / 2 - 1.5 * mm
    x0 = _from_start(p, start0, col_w)
    xf0 = _from_start(p, start0, half_w)  # the first column of the field grid
    xf1 = _from_start(p, start0 + col_w / 2 + 1.5 * mm, half_w)  # the second

    # Field grid, anchored to the bottom; the name block above it may use what is left.
    row3 = 5.2 * mm
    row2 = row3 + 7.0 * mm
    row1 = row2 + 7.0 * mm
    grid_top = row1 + 2.9 * mm + 4.8 * 0.75 + 0.8 * mm  # top of row 1's label, plus a gap

    # Name block, from the top of the photo downwards.
    label_y = photo_top - 1.8 * mm
    _draw_line(
        c,
        x0,
        label_y,
        p.lab["name"],
        font=_REGULAR,
        size=4.8,
        width=col_w,
        min_size=3.8,
        color=_LABEL,
        align_right=p.rtl,
    )
    extra = [(shape(p.name_latin), 6.8)] if p.name_latin else []
    if p.preferred:
        # Label and value are each shaped and then laid out in the card's direction (label
        # first, from the left or from the right); one bidi pass over both would swap them
        # for an RTL label on a left-to-right card.
        label, value = shape(p.lab["preferred_name"]), shape(p.preferred)
        extra.append((value + shape(" :") + label if p.rtl else label + shape(": ") + value,
                      6.2))
    max_one, max_two = 10.0, 8.5
    while True:
        lines, size, scale = _layout_name(
            p.name, width=col_w, max_one=max_one, max_two=max_two, min_size=6
        )
        # 1.25 leaves room for Arabic marks and Vietnamese stacked accents between lines.
        baselines = [label_y - 1.3 * mm - size * 0.78 - i * size * 1.25 for i in range(len(lines))]
        y = baselines[-1]
        extra_y = []
        for _, extra_size in extra:
            y -= extra_size * 1.25
            extra_y.append(y)
        lowest = y - 0.25 * (extra[-1][1] if extra else size)  # descenders
        if lowest >= grid_top or max_two <= 6:
            break
        max_one, max_two = max(6.0, max_one - 0.5), max(6.0, max_two - 0.5)
    if lowest < grid_top:
        raise CardLayoutError("the name is too long to print on the card; give a shorter name")
    c.setFillColorRGB(*_INK)
    for line, baseline in zip(lines, baselines, strict=True):
        drawn = line.width(size) * scale / 100.0
        _draw(c, x0 + col_w - drawn if p.rtl else x0, baseline, line, size, horiz_scale=scale,
              ink=_INK)
    for (text, extra_size), baseline in zip(extra, extra_y, strict=True):
        _draw_line(
            c,
            x0,
            baseline,
            text,
            font=_REGULAR,
            size=extra_size,
            width=col_w,
            min_size=4.5,
            align_right=p.rtl,
        )

    rtl = p.rtl
    _field(c, xf0, row1, p.lab["date_of_birth"], _fmt_date(face.date_of_birth), width=half_w,
           align_right=rtl)
    if face.gender:
        _field(c, xf1, row1, p.lab["gender"], face.gender, width=half_w, align_right=rtl)
    _field(c, xf0, row2, p.lab["issued"], _fmt_date(face.issued_at), width=half_w,
           align_right=rtl)
    _field(c, xf1, row2, p.lab["expires"], _fmt_date(face.expires_at), width=half_w,
           align_right=rtl)
    _field(c, xf0, row3, p.lab["serial"], face.serial, width=half_w, align_right=rtl)
    if p.languages:
        _field(c, xf1, row3, p.lab["languages"], p.languages, width=half_w, value_size=6.5,
               align_right=rtl)

    # City id under the photo: a cue for agents from partner cities.
    _draw_line(
        c,
        _from_start(p, margin, photo_w),
        5.2 * mm,
        face.city_id,
        font=_BOLD,
        size=7,
        width=photo_w,
        min_size=5,
        color=p.accent,
        align_right=p.rtl,
    )


def _draw_qr(c: Canvas, qr: QrMatrix, x: float, y: float, box: float) -> None:
    """Draw the QR symbol with its quiet zone in a ``box``-wide white square at (x, y).

    The dark modules are drawn as one filled path of rectangles, one per horizontal run,
    in a coordinate system of one unit per module with y growing downwards, so every
    number written is a small integer: the QR takes ~4 kB of page content and no float
    formatting (ReportLab's pure-Python number formatting was a third of the render time).
    """
    c.setFillColorRGB(1, 1, 1)
    c.rect(x, y, box, box, stroke=0, fill=1)
    module = box / qr.size_with_quiet_zone
    c.saveState()
    c.setFillColorRGB(0, 0, 0)
    # Origin at the symbol's top-left module corner; one unit per module, y downwards.
    c.transform(module, 0, 0, -module, x + QUIET_ZONE * module, y + box - QUIET_ZONE * module)
    ops = [f"{col} {row} {length} 1 re" for row, col, length in qr.dark_runs()]
    ops.append("f")
    c.addLiteral("\n".join(ops))
    c.restoreState()


def _draw_back(c: Canvas, p: _Prepared) -> None:
    face = p.face
    margin = 3 * mm
    band_h = 7 * mm
    text_w = _W - 2 * margin - 2 * mm - _draw_band(c, p, band_h)
    # The city's name and id shaped apart, then laid out in the card's direction.
    city, city_id = shape(p.city, bold=True), shape(face.city_id, bold=True)
    dot = shape(" · ", bold=True)
    city_line = city_id + dot + city if p.rtl else city + dot + city_id
    _draw_line(
        c,
        _from_start(p, margin + 1 * mm, text_w),
        _H - 4.8 * mm,
        city_line,
        font=_BOLD,
        size=7.5,
        width=text_w,
        min_size=5,
        color=p.band_ink,
        align_right=p.rtl,
    )

    box = QR_BOX_MM * mm
    qr_y = _STRIPE_H + (_H - band_h - _STRIPE_H - box) / 2
    assert p.qr is not None  # _prepare encodes it for every rendered back
    _draw_qr(c, p.qr, _from_start(p, margin, box), qr_y, box)

    start0 = margin + box + 2 * mm
    col_w = _W - start0 - 4 * mm
    x0 = _from_start(p, start0, col_w)
    rtl = p.rtl
    y = _H - band_h - 6.5 * mm
    _field(c, x0, y, p.lab["serial"], face.serial, width=col_w, value_size=7.5, align_right=rtl)
    if face.check_url:
        y -= 7.0 * mm
        _field(c, x0, y, p.lab["check_at"], face.check_url, width=col_w, value_size=6.2,
               align_right=rtl)

    # At the bottom, "if found, return to": a label and up to two lines of place.
    bottom = _STRIPE_H + 2.4 * mm
    if p.return_to:
        place = _wrap(p.return_to, _BOLD, 5.6, col_w)
        if len(place) > 2:
            place = [place[0], " ".join(place[1:])]  # the second line is condensed to fit
        y_line = bottom
        for line in reversed(place):
            _draw_line(c, x0, y_line, line, font=_BOLD, size=5.6, width=col_w, min_size=4.2,
                       align_right=rtl)
            y_line += 5.6 * 1.2
        _draw_line(c, x0, y_line - 0.6, p.lab["return_to"], font=_REGULAR, size=4.8,
                   width=col_w, min_size=3.8, color=_LABEL, align_right=rtl)
        bottom = y_line + 4.8 * 1.3

    # The notice fills what is left between; shrink until it fits.
    top = y - 4.2 * mm
    size = 5.6
    while True:
        leading = size * 1.22
        blocks = [_wrap(n, _REGULAR, size, col_w) for n in p.notices]
        needed = sum(len(b) for b in blocks) * leading + (len(blocks) - 1) * leading * 0.4
        if needed <= top - bottom or size <= 3.6:
            break
        size -= 0.2
    if needed > top - bottom:
        raise CardLayoutError("the back notice is too long to print on the card")
    y = top
    for notice, block in zip(p.notices, blocks, strict=True):
        # An Arabic or Hebrew paragraph reads right to left; on a right-to-left card every
        # paragraph is flush right, like the rest of the column.
        rtl_paragraph = get_base_level(notice) == 1
        for line in block:
            _draw_line(
                c,
                x0,
                y,
                shape(line, base_dir="R" if rtl_paragraph else "L"),
                font=_REGULAR,
                size=size,
                width=col_w,
                min_size=size,
                color=_LABEL,
                align_right=rtl or rtl_paragraph,
            )
            y -= leading
        y -= leading * 0.4


# --------------------------------------------------------------------------- documents


def _new_canvas(buf: io.BytesIO, pagesize: tuple[float, float], title: str) -> Canvas:
    fonts()
    # invariant=1: no creation date or random id in the file, so nothing reads the clock
    # and the same input gives the same bytes.
    c = Canvas(buf, pagesize=pagesize, invariant=1, pageCompression=1)
    c.setTitle(title)  # no holder data in the metadata
    c.setCreator("cardservice")
    return c


def render_card_pdf(face: CardFace) -> bytes:
    """Render one card as a PDF of two ID-1 pages: page 1 the front, page 2 the back.

    Raises :class:`UnsupportedCharactersError` when a printed text holds a character the
    bundled fonts lack and :class:`CardLayoutError` when the name cannot fit.
    """
    prepared = _prepare(face)
    buf = io.BytesIO()
    c = _new_canvas(buf, (_W, _H), f"{face.city_name} card")
    _draw_front(c, prepared)
    c.showPage()
    _draw_back(c, prepared)
    c.showPage()
    c.save()
    return buf.getvalue()


def check_front(face: CardFace) -> None:
    """Lay out the front of ``face`` and keep nothing: the check that a record can be printed.

    Raises what :func:`render_card_pdf` raises for the front (missing glyphs, a name that
    cannot fit) without encoding the QR code, so registration can afford it.
    """
    prepared = _prepare(face, encode=False)
    c = _new_canvas(io.BytesIO(), (_W, _H), "check")
    _draw_front(c, prepared)


def _sheet_positions() -> list[tuple[float, float]]:
    """Lower-left corners of the card slots on an A4 sheet, row by row from the top."""
    page_w, page_h = A4
    grid_w = _SHEET_COLS * _W + (_SHEET_COLS - 1) * _GUTTER_X
    grid_h = _SHEET_ROWS * _H + (_SHEET_ROWS - 1) * _GUTTER_Y
    left = (page_w - grid_w) / 2
    top = page_h - (page_h - grid_h) / 2
    return [
        (left + col * (_W + _GUTTER_X), top - (row + 1) * _H - row * _GUTTER_Y)
        for row in range(_SHEET_ROWS)
        for col in range(_SHEET_COLS)
    ]


def _crop_marks(c: Canvas, slots: Sequence[tuple[float, float]]) -> None:
    """Short hairlines extending each card's edges outwards from its corners."""
    c.setStrokeColorRGB(0, 0, 0)
    c.setLineWidth(0.25)
    # Between two rows the gutter is narrow: marks from both sides meet in the middle.
    inner_v = min(_MARK_LENGTH, _GUTTER_Y / 2 - _MARK_OFFSET)
    inner_h = min(_MARK_LENGTH, _GUTTER_X / 2 - _MARK_OFFSET)
    xs = sorted({x for x, _ in slots})
    ys = sorted({y for _, y in slots})
    path = c.beginPath()
    for x, y in slots:
        left_len = _MARK_LENGTH if x == xs[0] else inner_h
        right_len = _MARK_LENGTH if x == xs[-1] else inner_h
        below_len = _MARK_LENGTH if y == ys[0] else inner_v
        above_len = _MARK_LENGTH if y == ys[-1] else inner_v
        for cx, cy, dx, dy in (
            (x, y, -1, -1),
            (x + _W, y, 1, -1),
            (x, y + _H, -1, 1),
            (x + _W, y + _H, 1, 1),
        ):
            h_len = left_len if dx < 0 else right_len
            v_len = below_len if dy < 0 else above_len
            path.moveTo(cx + dx * _MARK_OFFSET, cy)
            path.lineTo(cx + dx * (_MARK_OFFSET + h_len), cy)
            path.moveTo(cx, cy + dy * _MARK_OFFSET)
            path.lineTo(cx, cy + dy * (_MARK_OFFSET + v_len))
    c.drawPath(path, stroke=1, fill=0)


def render_sheet_pdf(
    faces: Sequence[CardFace],
    *,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """Render many cards on A4 sheets for duplex printing, with crop marks.

    Each group of 10 cards (2 columns x 5 rows) takes two pages: the fronts, then the backs
    mirrored left to right so that, printed double-sided flipping on the long edge, each
    back lands behind its front. Every card is checked before anything is drawn, so one
    bad card fails the whole batch with the card's serial in the error. ``progress`` is
    called with ``(cards_done, total)`` after each card's back is drawn.
    """
    if not faces:
        raise InvalidCardDataError("a sheet needs at least one card")
    prepared = [_prepare(face) for face in faces]
    slots = _sheet_positions()
    per_page = len(slots)
    buf = io.BytesIO()
    c = _new_canvas(buf, A4, "Cards")
    total = len(prepared)
    done = 0
    for start in range(0, total, per_page):
        group = prepared[start : start + per_page]
        used = slots[: len(group)]
        for (x, y), p in zip(used, group, strict=True):
            c.saveState()
            c.translate(x, y)
            _draw_front(c, p)
            c.restoreState()
        _crop_marks(c, used)
        c.showPage()
        page_w = A4[0]
        mirrored = [(page_w - x - _W, y) for x, y in used]
        for (x, y), p in zip(mirrored, group, strict=True):
            c.saveState()
            c.translate(x, y)
            _draw_back(c, p)
            c.restoreState()
            done += 1
            if progress is not None:
                progress(done, total)
        _crop_marks(c, mirrored)
        c.showPage()
    c.save()
    return buf.getvalue()
