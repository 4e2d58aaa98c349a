"""The renewal slip: one A4 page that carries a card's renewal code, apart from the card.

Rules this module keeps:

- The renewal code (with the serial and the date of birth it lets someone ask to renew,
  replace, change or cancel a card) is printed here and nowhere else: never on the card,
  so whoever holds or photographs a card cannot act in its holder's name.
- Every sentence comes translated from the caller (:class:`SlipLabels`); the module stays
  pure: no gettext, no clock (PDFs are written in ReportLab's invariant mode), no I/O
  except reading the bundled fonts.
- Text is drawn with the card's fonts (:mod:`cardservice.cardtext`): NFC, shaped, right-to-left
  paragraphs right-aligned. A character no font has is refused with
  :class:`SlipTextError` naming the field, so a missing-glyph box is never printed.
- Nothing personal is printed besides the serial and the code: no name, no date of birth.
  Desk lines (address, opening hours) are printed only when the city configured them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, fields

from bidi import get_base_level
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from cardservice.cardtext import BOLD as _BOLD
from cardservice.cardtext import REGULAR as _REGULAR
from cardservice.cardtext import draw as _draw
from cardservice.cardtext import fonts, missing_glyphs, shape
from cardservice.cardtext import wrap as _wrap

__all__ = ["RenewalSlip", "SlipLabels", "SlipPdfError", "SlipTextError", "render_slip_pdf"]

_PAGE_W, _PAGE_H = A4
_MARGIN = 20 * mm
_BAND = (0.11, 0.25, 0.40)
_INK = (0.0, 0.0, 0.0)
_GREY = (0.33, 0.33, 0.33)
_WARN_FILL = (1.0, 0.96, 0.85)
_WARN_EDGE = (0.75, 0.45, 0.0)


class SlipPdfError(Exception):
    """Base class for the errors of this module."""


class SlipTextError(SlipPdfError, ValueError):
    """A text of the slip is empty where it may not be, or holds characters no font has.

    ``field`` names the :class:`RenewalSlip` field (or ``labels.<name>``).
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class SlipLabels:
    """Every sentence of the slip in one language, translated (and filled in) by the caller."""

    title: str             # "Renewal slip"
    serial: str            # "Card number"
    renewal_code: str      # "Renewal code"
    renew_heading: str     # "Renew or replace your card"
    renew_online: str      # "Online, with the card number, your date of birth and this code:"
    renew_desk: str        # "Or at the service desk, with your card or this slip."
    lost_heading: str      # "If your card is lost or stolen"
    lost_text: str         # how to report it, online with this slip or at the desk
    desk_heading: str      # "Service desk"
    desk_address: str      # "Address"
    desk_hours: str        # "Opening hours"
    warning: str           # keep this slip at home, apart from the card
    only_here: str         # the code is shown only here; the desk can issue a new slip


@dataclass(frozen=True)
class RenewalSlip:
    """Everything printed on one renewal slip.

    ``serial`` and ``renewal_code`` come formatted for reading (``XXXX-XXXX-XXX``,
    ``XXXX-XXXX``); ``resident_url`` is the page where residents renew online.
    ``desk_address`` and ``desk_hours`` may hold several lines (``\\n``); empty: not printed.
    """

    city_name: str
    serial: str
    renewal_code: str
    resident_url: str
    labels: SlipLabels
    desk_address: str = ""
    desk_hours: str = ""

    def __post_init__(self) -> None:
        for name in ("city_name", "serial", "renewal_code", "resident_url"):
            if not getattr(self, name).strip():
                raise SlipTextError(name, "must not be empty")
        for f in fields(SlipLabels):
            if not getattr(self.labels, f.name).strip():
                raise SlipTextError(f"labels.{f.name}", "must not be empty")


def _check(slip: RenewalSlip) -> None:
    texts = [(name, getattr(slip, name)) for name in
             ("city_name", "serial", "renewal_code", "resident_url", "desk_address",
              "desk_hours")]
    texts += [(f"labels.{f.name}", getattr(slip.labels, f.name)) for f in fields(SlipLabels)]
    for name, text in texts:
        for line in text.splitlines():
            missing = missing_glyphs(line)
            if missing:
                shown = ", ".join(f"U+{ord(c):04X}" for c in sorted(missing))
                raise SlipTextError(name, f"has characters the fonts cannot print: {shown}")


class _Writer:
    """A column of text flowing down the page, onto a new page when it is full."""

    def __init__(self, c: Canvas, slip: RenewalSlip) -> None:
        self.c = c
        self.slip = slip
        self.x = _MARGIN
        self.width = _PAGE_W - 2 * _MARGIN
        self.y = _PAGE_H - _MARGIN

    def room(self, height: float) -> None:
        if self.y - height < _MARGIN:
            self.c.showPage()
            self.y = _PAGE_H - _MARGIN

    def line(self, text: str, *, font: str = _REGULAR, size: float = 11,
             color: tuple[float, float, float] = _INK, rtl: bool | None = None,
             x: float | None = None, width: float | None = None) -> None:
        """One already-wrapped line, right-aligned when its paragraph is right-to-left."""
        left = self.x if x is None else x
        w = self.width if width is None else width
        if rtl is None:
            rtl = get_base_level(text) == 1
        shown = shape(text, bold=font == _BOLD, base_dir="R" if rtl else "L")
        self.room(size * 1.35)
        self.y -= size * 1.05
        self.c.setFillColorRGB(*color)
        _draw(self.c, left + w - shown.width(size) if rtl else left, self.y, shown, size,
              ink=color)
        self.y -= size * 0.3

    def paragraph(self, text: str, *, font: str = _REGULAR, size: float = 11,
                  color: tuple[float, float, float] = _INK, x: float | None = None,
                  width: float | None = None) -> None:
        """A paragraph (``\\n`` starts a new line), wrapped to the column."""
        w = self.width if width is None else width
        for part in text.splitlines() or [""]:
            rtl = get_base_level(part) == 1
            for line in _wrap(part, font, size, w) or [""]:
                self.line(line, font=font, size=size, color=color, rtl=rtl, x=x, width=w)

    def gap(self, height: float) -> None:
        self.y -= height


def _header(c: Canvas, slip: RenewalSlip) -> float:
    band = 24 * mm
    c.setFillColorRGB(*_BAND)
    c.rect(0, _PAGE_H - band, _PAGE_W, band, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    for text, font, size, y in ((slip.city_name, _BOLD, 18.0, _PAGE_H - 11 * mm),
                                (slip.labels.title, _REGULAR, 13.0, _PAGE_H - 18.5 * mm)):
        shown = shape(text, bold=font == _BOLD)
        while size > 8 and shown.width(size) > _PAGE_W - 2 * _MARGIN:
            size -= 0.5
        _draw(c, _PAGE_W - _MARGIN - shown.width(size) if shown.rtl else _MARGIN, y, shown,
              size, ink=(1.0, 1.0, 1.0))
    return _PAGE_H - band - 10 * mm


def _code_box(w: _Writer, slip: RenewalSlip) -> None:
    """The serial, then the renewal code large in a framed box."""
    lab = slip.labels
    w.paragraph(lab.serial, size=10, color=_GREY)
    w.line(slip.serial, font=_BOLD, size=16, rtl=False)
    w.gap(4 * mm)
    box_h = 30 * mm
    w.room(box_h)
    top = w.y
    c = w.c
    c.setStrokeColorRGB(*_BAND)
    c.setLineWidth(1.2)
    c.roundRect(w.x, top - box_h, w.width, box_h, 3 * mm, stroke=1, fill=0)
    inner = w.width - 12 * mm
    w.y = top - 4 * mm
    w.paragraph(lab.renewal_code, size=11, color=_GREY, x=w.x + 6 * mm, width=inner)
    size = 34.0
    code = shape(slip.renewal_code, bold=True)
    while size > 16 and code.width(size) > inner:
        size -= 1
    c.setFillColorRGB(*_INK)
    _draw(c, w.x + (w.width - code.width(size)) / 2, top - box_h + 7 * mm, code, size,
          ink=_INK)
    w.y = top - box_h - 8 * mm


def _warning(w: _Writer, slip: RenewalSlip) -> None:
    """The warning in a tinted box: measured first, then drawn behind its text."""
    size = 11.0
    pad = 4 * mm
    inner = w.width - 2 * pad
    lines = [ln for part in slip.labels.warning.splitlines()
             for ln in _wrap(part, _BOLD, size, inner)]
    height = len(lines) * size * 1.35 + 2 * pad
    w.room(height)
    c = w.c
    c.setFillColorRGB(*_WARN_FILL)
    c.setStrokeColorRGB(*_WARN_EDGE)
    c.setLineWidth(1)
    c.rect(w.x, w.y - height, w.width, height, stroke=1, fill=1)
    w.y -= pad
    rtl = get_base_level(slip.labels.warning) == 1
    for line in lines:
        w.line(line, font=_BOLD, size=size, rtl=rtl, x=w.x + pad, width=inner)
    w.y -= pad


def render_slip_pdf(slip: RenewalSlip) -> bytes:
    """Render the renewal slip as an A4 portrait PDF (one page, more if the text needs it).

    Raises :class:`SlipTextError` when a text holds a character the bundled fonts lack.
    """
    _check(slip)
    fonts()
    buf = io.BytesIO()
    # invariant=1: no creation date or random id, so the same slip gives the same bytes.
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    c.setTitle(slip.labels.title)  # no serial, no code in the metadata
    c.setCreator("cardservice")
    w = _Writer(c, slip)
    w.y = _header(c, slip)
    lab = slip.labels

    _code_box(w, slip)
    _warning(w, slip)
    w.gap(6 * mm)

    w.paragraph(lab.renew_heading, font=_BOLD, size=14)
    w.gap(1 * mm)
    w.paragraph(lab.renew_online)
    w.line(slip.resident_url, font=_BOLD, size=12, rtl=False)
    w.gap(1 * mm)
    w.paragraph(lab.renew_desk)
    w.gap(5 * mm)

    w.paragraph(lab.lost_heading, font=_BOLD, size=14)
    w.gap(1 * mm)
    w.paragraph(lab.lost_text)
    w.gap(5 * mm)

    if slip.desk_address.strip() or slip.desk_hours.strip():
        w.paragraph(lab.desk_heading, font=_BOLD, size=14)
        w.gap(1 * mm)
        for label, value in ((lab.desk_address, slip.desk_address),
                             (lab.desk_hours, slip.desk_hours)):
            if value.strip():
                w.paragraph(label, size=10, color=_GREY)
                w.paragraph(value.strip())
                w.gap(2 * mm)
        w.gap(3 * mm)

    w.paragraph(lab.only_here, size=10, color=_GREY)
    c.showPage()
    c.save()
    return buf.getvalue()
