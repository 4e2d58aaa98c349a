"""Text on a card: fonts for every script, bidi order and OpenType shaping (pure).

Rules this module keeps:

- Latin, Greek and Cyrillic (and whatever else it covers) are drawn with the bundled DejaVu
  Sans (``cardservice/fonts``). Every other script in :data:`SCRIPT_FONTS` is drawn with its
  own font, a TrueType file found at run time on a **font search path** (by default where
  Debian's ``fonts-noto-core``, ``fonts-droid-fallback`` and ``fonts-wqy-microhei`` put
  them; a city sets ``[cards] font_dirs``). ReportLab embeds TrueType outlines only, hence
  Droid Sans Fallback (Han, kana) and WenQuanYi Micro Hei (Hangul) rather than the CFF-based
  Noto CJK.
- A string is split into **runs** by the font that covers each character; spaces,
  punctuation, digits and combining marks stay in the run around them when its font has them.
- Right-to-left text follows the Unicode bidi algorithm (UAX #9) without explicit embeddings,
  which printed names refuse anyway (:func:`values.unprintable_characters`): levels per
  character, runs of one level and one font, runs reordered by rule L2.
- Each run is **shaped with HarfBuzz** (``uharfbuzz``) in its font and direction: Arabic
  joining and lam-alef, Indic conjuncts and reordered vowel signs, mark positioning. The
  glyph ids and positions HarfBuzz returns are drawn as they are, so what is checked is
  what is printed: a glyph id 0 (``.notdef``) in either the regular or the bold face makes
  the character "missing", and a script whose font file is not on the search path raises
  :class:`MissingFontError` naming the script and the Debian package that holds it.
"""

from __future__ import annotations

import functools
import threading
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import uharfbuzz as hb
from reportlab import rl_config
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import ShapeData, ShapedStr, TTFont
from reportlab.pdfgen.canvas import Canvas

from cardservice import values
from cardservice.errors import N_

__all__ = [
    "BOLD",
    "DEFAULT_FONT_DIRS",
    "REGULAR",
    "SCRIPT_FONTS",
    "Line",
    "MissingFontError",
    "ScriptFont",
    "draw",
    "font_dirs",
    "fonts",
    "missing_glyphs",
    "script_of",
    "set_font_dirs",
    "shape",
    "text_width",
    "wrap",
]

FONT_DIR = Path(__file__).with_name("fonts")
#: Style names: which face of each script's font to use. REGULAR and BOLD are also the names
#: of the bundled DejaVu Sans faces registered with ReportLab.
REGULAR = "Cardservice-DejaVuSans"
BOLD = "Cardservice-DejaVuSans-Bold"

#: Where Debian installs ``fonts-noto-core`` and ``fonts-droid-fallback``.
DEFAULT_FONT_DIRS = ("/usr/share/fonts/truetype/noto", "/usr/share/fonts/truetype/droid",
                     "/usr/share/fonts/truetype/wqy")

_NOTO = "fonts-noto-core"


@dataclass(frozen=True)
class ScriptFont:
    """The TrueType font that prints one script, and the Debian package holding it."""

    script: str  # the script's English name, as in messages ("Devanagari"); marked with N_
    regular: str  # file name, looked up on the font search path
    bold: str | None  # None: the regular face is used for bold text too
    package: str


def _noto(script: str, stem: str) -> ScriptFont:
    return ScriptFont(script, f"NotoSans{stem}-Regular.ttf", f"NotoSans{stem}-Bold.ttf", _NOTO)


_CJK = ScriptFont(N_("CJK (Chinese, Japanese, Korean)"), "DroidSansFallbackFull.ttf", None,
                  "fonts-droid-fallback")
# Droid Sans Fallback has 3 of the 11,172 Hangul syllables; WenQuanYi Micro Hei has them all
# (a TrueType collection: its first face).
_HANGUL = ScriptFont(N_("Hangul (Korean)"), "wqy-microhei.ttc", None, "fonts-wqy-microhei")

#: First word of a character's Unicode name -> the font of its script. Characters of other
#: scripts (Latin, Greek, Cyrillic, ...) and common ones are drawn with DejaVu Sans.
SCRIPT_FONTS: dict[str, ScriptFont] = {
    "ARABIC": _noto(N_("Arabic"), "Arabic"),
    "HEBREW": _noto(N_("Hebrew"), "Hebrew"),
    "DEVANAGARI": _noto(N_("Devanagari"), "Devanagari"),
    "BENGALI": _noto(N_("Bengali"), "Bengali"),
    "TAMIL": _noto(N_("Tamil"), "Tamil"),
    "GUJARATI": _noto(N_("Gujarati"), "Gujarati"),
    "GURMUKHI": _noto(N_("Gurmukhi"), "Gurmukhi"),
    "KANNADA": _noto(N_("Kannada"), "Kannada"),
    "MALAYALAM": _noto(N_("Malayalam"), "Malayalam"),
    "TELUGU": _noto(N_("Telugu"), "Telugu"),
    "ORIYA": _noto(N_("Oriya"), "Oriya"),
    "SINHALA": _noto(N_("Sinhala"), "Sinhala"),
    "ETHIOPIC": _noto(N_("Ethiopic"), "Ethiopic"),
    "GEORGIAN": _noto(N_("Georgian"), "Georgian"),
    "ARMENIAN": _noto(N_("Armenian"), "Armenian"),
    "THAI": _noto(N_("Thai"), "Thai"),
    "LAO": _noto(N_("Lao"), "Lao"),
    "KHMER": _noto(N_("Khmer"), "Khmer"),
    "MYANMAR": _noto(N_("Myanmar"), "Myanmar"),
    "SYRIAC": ScriptFont(N_("Syriac"), "NotoSansSyriac-Regular.ttf", None, _NOTO),
    "THAANA": _noto(N_("Thaana"), "Thaana"),
    "TIFINAGH": ScriptFont(N_("Tifinagh"), "NotoSansTifinagh-Regular.ttf", None, _NOTO),
    "NKO": ScriptFont(N_("N'Ko"), "NotoSansNKo-Regular.ttf", None, _NOTO),
    "ADLAM": _noto(N_("Adlam"), "Adlam"),
    "CHEROKEE": _noto(N_("Cherokee"), "Cherokee"),
    "CJK": _CJK,
    "HIRAGANA": _CJK,
    "KATAKANA": _CJK,
    "HANGUL": _HANGUL,
    "BOPOMOFO": _CJK,
    "IDEOGRAPHIC": _CJK,
    "HALFWIDTH": _CJK,
    "FULLWIDTH": _CJK,
}


class MissingFontError(Exception):
    """A script's font file is not on the font search path (the server lacks a package)."""

    def __init__(self, font: ScriptFont, dirs: Sequence[str]):
        self.script = font.script
        self.package = font.package
        self.file = font.regular
        where = ", ".join(dirs) or "(empty font search path)"
        super().__init__(
            f"names in {font.script} need the font package {font.package} "
            f"({font.regular} is not in {where})"
        )


@dataclass(frozen=True)
class _Face:
    """One TrueType face registered with ReportLab, with its HarfBuzz font."""

    name: str  # ReportLab font name
    ttf: TTFont
    hb_font: hb.Font
    cmap: frozenset[int]
    upem: int
    # Bold asked of a font without a bold face (CJK, Hangul, ...): the regular face drawn
    # with a thin outline stroke, so a name reads as bold as in other scripts.
    fake_bold: bool = False


@dataclass(frozen=True)
class Fonts:
    """The bundled fonts, registered with ReportLab (kept for callers that ask for them)."""

    covered: frozenset[int]  # code points both bundled faces map to a glyph


_lock = threading.Lock()
_state: dict[str, tuple[str, ...]] = {"dirs": DEFAULT_FONT_DIRS}


def set_font_dirs(dirs: Iterable[str | Path]) -> None:
    """Set the process-wide font search path (ReportLab's font registry is process-wide too).

    The application calls this from its settings (``[cards] font_dirs``); fonts already
    loaded from another path are forgotten.
    """
    new = tuple(str(d) for d in dirs)
    with _lock:
        if new != _state["dirs"]:
            _state["dirs"] = new
            _script_face.cache_clear()
            _find.cache_clear()


def font_dirs() -> tuple[str, ...]:
    """The font search path in use."""
    return _state["dirs"]


@functools.cache
def _find(file: str, dirs: tuple[str, ...]) -> Path | None:
    for d in dirs:
        base = Path(d)
        if (base / file).is_file():
            return base / file
        if base.is_dir():
            found = next(base.rglob(file), None)
            if found is not None and found.is_file():
                return found
    return None


def _face(name: str, path: Path) -> _Face:
    try:
        ttf = pdfmetrics.getFont(name)
    except KeyError:
        ttf = TTFont(name, str(path))
        pdfmetrics.registerFont(ttf)
    assert isinstance(ttf, TTFont)  # noqa: S101 - our own names are TrueType only
    hb_face = hb.Face(hb.Blob(ttf.face._ttf_data))
    return _Face(name=name, ttf=ttf, hb_font=hb.Font(hb_face),
                 cmap=frozenset(ttf.face.charToGlyph), upem=hb_face.upem)


@functools.cache
def _bundled() -> tuple[_Face, _Face]:
    # Binary streams are standard PDF, a fifth smaller, and skip a pure-Python encoder that
    # cost ~10% of a card's render time (a process-wide ReportLab setting; this module is
    # the project's only ReportLab font user).
    rl_config.useA85 = 0
    return (_face(REGULAR, FONT_DIR / "DejaVuSans.ttf"),
            _face(BOLD, FONT_DIR / "DejaVuSans-Bold.ttf"))


@functools.cache
def fonts() -> Fonts:
    """Register the bundled fonts with ReportLab once per process."""
    regular, bold = _bundled()
    return Fonts(covered=regular.cmap & bold.cmap)


@functools.cache
def _script_face(font: ScriptFont, bold: bool) -> _Face:
    dirs = font_dirs()
    path = _find(font.regular, dirs)
    if path is None:
        raise MissingFontError(font, dirs)
    bold_path = _find(font.bold, dirs) if bold and font.bold else None
    if bold_path is not None:
        path = bold_path
    # The path is part of the ReportLab name: another search path may hold another file.
    tag = zlib.crc32(str(path).encode()) & 0xFFFF
    face = _face(f"Cardservice-{path.stem}-{tag:04x}", path)
    return replace(face, fake_bold=bold and bold_path is None)


@functools.lru_cache(maxsize=8192)
def script_of(ch: str) -> ScriptFont | None:
    """The script font that ``ch`` needs, or None when DejaVu Sans is its font."""
    try:
        first = unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return None
    return SCRIPT_FONTS.get(first)


# --------------------------------------------------------------------------------- bidi

_STRONG_R = frozenset(("R", "AL"))
_NUMBER = frozenset(("EN", "AN"))


def _levels(text: str, base_dir: str | None) -> tuple[int, list[int]]:
    """Embedding level of each character (UAX #9 rules P2-P3, W1-W7, N1-N2, I1-I2).

    No explicit embeddings or isolates: printed text cannot hold them.
    """
    classes = [unicodedata.bidirectional(ch) or "L" for ch in text]
    if base_dir != "R" and not any(c in _STRONG_R or c == "AN" for c in classes):
        return 0, [0] * len(text)  # left to right throughout: the common case
    if base_dir in ("L", "R"):
        base = 1 if base_dir == "R" else 0
    else:
        base = next((1 if c in _STRONG_R else 0 for c in classes if c in _STRONG_R or c == "L"),
                    0)
    sos = "R" if base else "L"
    # W1: a mark takes the class of what it follows. W2, W3: numbers after Arabic letters are
    # Arabic numbers; AL is R. W4-W7 simplified: separators stay neutral; EN after L is L.
    last_strong = sos
    resolved: list[str] = []
    prev = sos
    for c in classes:
        if c == "NSM":
            c = prev
        if c == "EN" and last_strong == "AL":
            c = "AN"
        if c in ("L", "R", "AL"):
            last_strong = c
        if c == "AL":
            c = "R"
        if c == "EN" and last_strong == "L":
            c = "L"
        resolved.append(c)
        prev = c
    # N1, N2: neutrals between two strong types of one direction take it, else the base.
    n = len(resolved)
    direction = [c if c in ("L", "R") or c in _NUMBER else "N" for c in resolved]
    i = 0
    while i < n:
        if direction[i] != "N":
            i += 1
            continue
        j = i
        while j < n and direction[j] == "N":
            j += 1
        before = "R" if i == 0 and base else "L" if i == 0 else direction[i - 1]
        after = ("R" if base else "L") if j == n else direction[j]
        before = "R" if before in _NUMBER else before
        after = "R" if after in _NUMBER else after
        fill = before if before == after else ("R" if base else "L")
        for k in range(i, j):
            direction[k] = fill
        i = j
    levels = []
    for d in direction:
        if base == 0:
            levels.append(0 if d == "L" else 1 if d == "R" else 2)
        else:
            levels.append(1 if d == "R" else 2)
    return base, levels


def _visual_order(levels: Sequence[int]) -> list[int]:
    """Rule L2: indices of the items (runs) in visual order."""
    order = list(range(len(levels)))
    if not levels:
        return order
    top = max(levels)
    lowest_odd = min(lv for lv in levels) | 1
    for level in range(top, lowest_odd - 1, -1):
        i = 0
        while i < len(order):
            if levels[order[i]] >= level:
                j = i
                while j < len(order) and levels[order[j]] >= level:
                    j += 1
                order[i:j] = reversed(order[i:j])
                i = j
            else:
                i += 1
    return order


# --------------------------------------------------------------------------------- shaping


@dataclass(frozen=True)
class _Run:
    """Glyphs of one font in visual order; positions in thousandths of an em."""

    face: _Face
    gids: tuple[int, ...]
    advances: tuple[float, ...]
    x_offsets: tuple[float, ...]
    y_offsets: tuple[float, ...]
    text: str  # the characters shaped, in logical order


@dataclass(frozen=True)
class Line:
    """One line of text shaped for drawing: glyph runs in visual order (left to right)."""

    runs: tuple[_Run, ...]
    rtl: bool  # the paragraph direction

    def width(self, size: float) -> float:
        """Advance width in points at ``size``."""
        return sum(sum(r.advances) for r in self.runs) * size / 1000.0

    @property
    def glyphs(self) -> list[tuple[str, int]]:
        """(ReportLab font name, glyph id) of each glyph, left to right."""
        return [(r.face.name, g) for r in self.runs for g in r.gids]

    def __add__(self, other: Line) -> Line:
        """This line, then ``other`` to its right (each keeps its own visual order)."""
        return Line(runs=self.runs + other.runs, rtl=self.rtl)

    def missing(self) -> set[str]:
        """Characters of runs that came out with glyph 0 (.notdef)."""
        return {ch for r in self.runs if 0 in r.gids for ch in r.text if not ch.isspace()}


def _assign_faces(text: str, bold: bool) -> list[_Face]:
    """The face each character is drawn with (see the module rules)."""
    regular, bold_face = _bundled()
    default = bold_face if bold else regular
    # Letters decide: their script's font, or DejaVu Sans. Everything else (spaces, marks,
    # punctuation, digits, joiners) is decided afterwards by its neighbours.
    faces: list[_Face | None] = []
    for ch in text:
        script = script_of(ch)
        if script is not None:
            faces.append(_script_face(script, bold))
        elif unicodedata.category(ch)[0] == "L":
            faces.append(default)
        else:
            faces.append(None)
    # A mark must be shaped with its letter and a space between two Arabic words belongs to
    # the Arabic run: a neutral character takes the face before it, else the one after it,
    # when that face has it; DejaVu Sans otherwise.
    after_of: list[_Face | None] = [None] * (len(text) + 1)  # the next letter's face
    for i in range(len(text) - 1, -1, -1):
        after_of[i] = faces[i] if faces[i] is not None else after_of[i + 1]
    resolved: list[_Face] = []
    for i, ch in enumerate(text):
        face = faces[i]
        if face is None:
            code = ord(ch)
            before = resolved[-1] if resolved else None
            after = after_of[i + 1]
            if before is not None and code in before.cmap:
                face = before
            elif after is not None and code in after.cmap:
                face = after
            else:
                face = default
        resolved.append(face)
    return resolved


def shape(text: str, *, bold: bool = False, base_dir: str | None = None) -> Line:
    """Shape ``text`` (NFC-normalised) into glyph runs in visual order.

    ``base_dir`` (``"L"`` or ``"R"``) sets the paragraph direction, e.g. for one line of a
    wrapped Arabic paragraph that starts with a Latin word; by default it follows the first
    strong letter. Raises :class:`MissingFontError` when a script's font is not installed.
    """
    text = unicodedata.normalize("NFC", text)
    if not text:
        return Line(runs=(), rtl=base_dir == "R")
    faces = _assign_faces(text, bold)
    base, levels = _levels(text, base_dir)
    spans: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or faces[i] is not faces[start] or levels[i] != levels[start]:
            spans.append((start, i))
            start = i
    runs: list[_Run] = []
    for k in _visual_order([levels[s] for s, _ in spans]):
        s, e = spans[k]
        runs.append(_shape_run(text, s, e, faces[s], rtl=bool(levels[s] % 2)))
    return Line(runs=tuple(runs), rtl=bool(base))


def _shape_run(text: str, start: int, end: int, face: _Face, *, rtl: bool) -> _Run:
    buf = hb.Buffer()
    # The whole text is context (Arabic joining across a run boundary); only the run is shaped.
    buf.add_str(text, start, end - start)
    buf.direction = "rtl" if rtl else "ltr"
    buf.guess_segment_properties()
    hb.shape(face.hb_font, buf, {})
    k = 1000.0 / face.upem
    positions = buf.glyph_positions or []
    infos = buf.glyph_infos or []
    return _Run(
        face=face,
        gids=tuple(i.codepoint for i in infos),
        advances=tuple(p.x_advance * k for p in positions),
        x_offsets=tuple(p.x_offset * k for p in positions),
        y_offsets=tuple(p.y_offset * k for p in positions),
        text=text[start:end],
    )


# --------------------------------------------------------------------------------- checks


def missing_glyphs(text: str) -> set[str]:
    """Return the characters of ``text`` that cannot be printed on a card.

    The text is shaped as it is drawn, in both the regular and the bold face; a character
    whose run holds glyph 0 (.notdef) is missing. Control, format, private-use and
    unassigned characters of the input are reported too, even where a font maps them: a bidi
    override would silently reverse a printed name, and an invisible character prints
    nothing. Zero-width (non-)joiners stay allowed: Persian and Indic scripts need them.
    Raises :class:`MissingFontError` when the font of a script in ``text`` is not installed.
    """
    missing = shape(text).missing() | shape(text, bold=True).missing()
    missing.update(values.unprintable_characters(text))
    return missing


def text_width(text: str | Line, font: str, size: float) -> float:
    """Width in points of ``text`` (a string, shaped here, or a :class:`Line`) at ``size``."""
    line = text if isinstance(text, Line) else shape(text, bold=font == BOLD)
    return line.width(size)


# --------------------------------------------------------------------------------- drawing

_private_lock = threading.Lock()


def _char_for(face: _Face, gid: int) -> int:
    """A code point ReportLab maps to glyph ``gid`` of ``face`` (a private-use one if the
    glyph has none: a conjunct, a positional form), added to the face's maps once."""
    rl_face = face.ttf.face
    chars = rl_face.glyphToChar.get(gid)
    if chars:
        return int(chars[0])
    with _private_lock:
        chars = rl_face.glyphToChar.get(gid)
        if chars:
            return int(chars[0])
        code = max([c for c in rl_face.charToGlyph if 0xE000 <= c <= 0xF8FF] + [0xE000 - 1]) + 1
        while code in rl_face.charToGlyph:
            code += 1
        if code > 0xF8FF:
            raise ValueError(f"{face.name}: no private-use code point left for glyph {gid}")
        rl_face.charToGlyph[code] = gid
        rl_face.glyphToChar.setdefault(gid, []).append(code)
        rl_face.charWidths[code] = rl_face._pdfScale(rl_face.hmetrics[gid][0])
        return code


def _shaped_str(run: _Run) -> ShapedStr:
    chars = [_char_for(run.face, g) for g in run.gids]
    widths = run.face.ttf.face.charWidths
    data = [ShapeData(i, adv, 0, xo, yo, widths[c])
            for i, (c, adv, xo, yo) in enumerate(
                zip(chars, run.advances, run.x_offsets, run.y_offsets, strict=True))]
    return ShapedStr("".join(map(chr, chars)), shapeData=data)


_FAKE_BOLD_STROKE = 0.035  # of the font size: about the weight DejaVu Sans Bold adds


def draw(c: Canvas, x: float, y: float, line: Line, size: float, *,
         horiz_scale: float = 100.0, ink: tuple[float, float, float] = (0.0, 0.0, 0.0),
         ) -> None:
    """Draw ``line`` with its left end at (x, y), in the canvas' fill colour.

    ``horiz_scale`` (percent) condenses the glyphs and their positions alike. ``ink`` should
    be that fill colour: it strokes the runs drawn in a font without a bold face.
    """
    factor = horiz_scale / 100.0
    for run in line.runs:
        if not run.gids:
            continue
        if run.face.fake_bold:
            c.saveState()
            c.setStrokeColorRGB(*ink)
            c.setLineWidth(size * _FAKE_BOLD_STROKE)
            c.setLineJoin(1)
        t = c.beginText(x, y)
        t.setFont(run.face.name, size)
        if horiz_scale != 100.0:
            t.setHorizScale(horiz_scale)
        if run.face.fake_bold:
            t.setTextRenderMode(2)  # fill, then stroke
        t.textOut(_shaped_str(run))
        c.drawText(t)
        if run.face.fake_bold:
            c.restoreState()
        x += sum(run.advances) * size / 1000.0 * factor


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap in logical order (each line is shaped later).

    Widths are measured on the shaped words (a line's width is taken as the sum of its
    words and spaces: no script here joins or kerns across a space); a word wider than the
    line is cut, so no line runs past ``width``.
    """
    space = text_width(" ", font, size)
    lines: list[str] = []
    current, current_w = "", 0.0
    for word in text.split():
        word_w = text_width(word, font, size)
        while word_w > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and text_width(word[:cut], font, size) > width:
                cut -= 1
            if current:
                lines.append(current)
                current, current_w = "", 0.0
            lines.append(word[:cut])
            word = word[cut:]
            word_w = text_width(word, font, size)
        if current and current_w + space + word_w > width:
            lines.append(current)
            current, current_w = word, word_w
        elif current:
            current, current_w = f"{current} {word}", current_w + space + word_w
        else:
            current, current_w = word, word_w
    if current:
        lines.append(current)
    return lines
