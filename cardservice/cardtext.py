"""Text on a card: the bundled fonts, shaping and bidi order, and what can be printed (pure).

Every string printed on a card goes through :func:`display_text` (NFC; Arabic shaped into
presentation forms; right-to-left runs put in visual order) and is checked with
:func:`missing_glyphs` against the glyphs both faces of the bundled font have, so a
missing-glyph box is never printed.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from arabic_reshaper import ArabicReshaper
from arabic_reshaper.letters import ISOLATED, LETTERS_ARABIC
from arabic_reshaper.ligatures import LETTERS_LIGATURES, SENTENCES_LIGATURES, WORDS_LIGATURES
from bidi import get_display
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

from cardservice import values

__all__ = ["BOLD", "REGULAR", "Fonts", "display_text", "fonts", "missing_glyphs", "text_width",
           "wrap"]

FONT_DIR = Path(__file__).with_name("fonts")
REGULAR = "Cardservice-DejaVuSans"
BOLD = "Cardservice-DejaVuSans-Bold"


@dataclass(frozen=True)
class Fonts:
    """The card's fonts, registered with ReportLab."""

    covered: frozenset[int]  # code points both the regular and the bold face map to a glyph


@functools.cache
def fonts() -> Fonts:
    """Register the bundled fonts with ReportLab once per process.

    Also turns off ReportLab's ASCII85 stream encoding (a process-wide ReportLab setting;
    this module is the project's only ReportLab user): binary streams are standard PDF,
    a fifth smaller, and skip a pure-Python encoder that cost ~10% of a card's render time.
    """
    rl_config.useA85 = 0
    regular = TTFont(REGULAR, str(FONT_DIR / "DejaVuSans.ttf"))
    bold = TTFont(BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdfmetrics.registerFont(regular)
    pdfmetrics.registerFont(bold)
    covered = frozenset(regular.face.charToGlyph) & frozenset(bold.face.charToGlyph)
    return Fonts(covered=covered)


@functools.cache
def _arabic_reshaper() -> ArabicReshaper:
    """An Arabic reshaper that only produces presentation forms the fonts have.

    arabic-reshaper's default turns "الله" into U+FDF2, which DejaVu Sans lacks. We keep
    the lam-alef ligatures (obligatory in Arabic writing) when the fonts cover them and
    turn every other ligature off: they are stylistic and would mix with unligated text.
    """
    covered = fonts().covered
    config: dict[str, object] = {"support_ligatures": True, "delete_harakat": True}
    for name, _ in SENTENCES_LIGATURES + WORDS_LIGATURES:
        config[name] = False
    for name, (_, forms) in LETTERS_LIGATURES:
        wanted = name.startswith("ARABIC LIGATURE LAM WITH ALEF")
        config[name] = wanted and all(ord(f) in covered for f in forms if f)
    config["use_unshaped_instead_of_isolated"] = not all(
        ord(forms[ISOLATED]) in covered for forms in LETTERS_ARABIC.values() if forms[ISOLATED]
    )
    return ArabicReshaper(configuration=config)


def _is_rtl_char(ch: str) -> bool:
    return unicodedata.bidirectional(ch) in ("R", "AL")


def display_text(text: str, *, base_dir: str | None = None) -> str:
    """Return ``text`` as it is drawn: NFC-normalised, RTL runs shaped and in visual order.

    Left-to-right text only goes through NFC. Text holding Arabic or Hebrew letters is
    reshaped into presentation forms (Arabic) and reordered with the Unicode bidi
    algorithm, so ReportLab can draw it left to right glyph by glyph. ``base_dir`` (``"L"``
    or ``"R"``) sets the paragraph direction, e.g. for one line of a wrapped Arabic
    paragraph that starts with a Latin word; by default it follows the first strong letter.
    """
    text = unicodedata.normalize("NFC", text)
    if base_dir != "R" and not any(_is_rtl_char(ch) for ch in text):
        return text
    # Not cached: the texts are residents' names, which should not linger in memory.
    shaped = _arabic_reshaper().reshape(text)
    # Combining marks (Hebrew points) come out *before* their letter, which is where
    # DejaVu Sans draws them from: its zero-width Hebrew marks overlay the next glyph
    # (checked by rendering pointed Hebrew and looking at it).
    return str(get_display(shaped, base_dir=base_dir))


def missing_glyphs(text: str) -> set[str]:
    """Return the characters of ``text`` that cannot be printed on a card.

    Coverage is checked on :func:`display_text` of ``text`` (after shaping), because the
    characters drawn for Arabic are presentation forms, not the letters typed. Control,
    format, private-use and unassigned characters of the input are reported too, even where
    the font maps them: a bidi override would silently reverse a printed name, and an
    invisible character prints nothing. Zero-width (non-)joiners stay allowed: Persian and
    other scripts need them. An empty set means the text prints without a missing-glyph box
    in both the regular and the bold face.
    """
    covered = fonts().covered
    missing = {ch for ch in display_text(text) if ord(ch) not in covered}
    missing.update(values.unprintable_characters(text))
    return missing


def text_width(text: str, font: str, size: float) -> float:
    """Width in points of ``text`` (already in drawn form) in ``font`` at ``size``."""
    return float(pdfmetrics.stringWidth(text, font, size))


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap in logical order (each line is put in drawn form later).

    Widths are measured on the drawn form (:func:`display_text`); a word wider than the
    line is cut, so no line ever runs past ``width``.
    """
    lines: list[str] = []
    current = ""
    for word in text.split():
        while text_width(display_text(word), font, size) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and text_width(display_text(word[:cut]), font, size) > width:
                cut -= 1
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:cut])
            word = word[cut:]
        trial = f"{current} {word}" if current else word
        if current and text_width(display_text(trial), font, size) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines
