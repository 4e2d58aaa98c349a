"""A city's look: its emblem and colour, checked once, used on the card and the pages.

Pure: bytes and strings in, values out (Pillow only reads the emblem's header and
pixels in memory). The configuration reads the emblem's file and calls
:func:`check_emblem`; the card and the web pages take the checked :class:`Branding`.

Rules this module keeps:

- The emblem is a PNG or JPEG of at most :data:`EMBLEM_MAX_BYTES` bytes and
  :data:`EMBLEM_MAX_SIDE` pixels a side (it is printed about 8 mm high, so more is waste
  and a decompression bomb is refused before it is decoded).
- The colour is ``#rrggbb``. The ink drawn on it (city name, page header) is black or
  white, whichever contrasts more; WCAG 2 guarantees one of them reaches 4.5:1.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image

__all__ = [
    "DEFAULT_COLOUR",
    "EMBLEM_MAX_BYTES",
    "EMBLEM_MAX_SIDE",
    "Branding",
    "BrandingError",
    "check_emblem",
    "contrast_ratio",
    "ink_for",
    "parse_colour",
]

EMBLEM_MAX_BYTES = 256 * 1024
EMBLEM_MAX_SIDE = 1024
DEFAULT_COLOUR = "#1c4066"

_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg"}
_HEX = re.compile(r"^#([0-9a-fA-F]{6})$")

RGB = tuple[float, float, float]


class BrandingError(ValueError):
    """An emblem or colour the card cannot use; the message says why, for an operator."""


@dataclass(frozen=True)
class Branding:
    """What makes one city's card and pages recognisable at a glance."""

    colour: str = DEFAULT_COLOUR
    emblem: bytes | None = None
    emblem_type: str | None = None  # "image/png" or "image/jpeg"
    return_to: str = ""

    @property
    def rgb(self) -> RGB:
        """The colour as 0..1 floats, for ReportLab."""
        return parse_colour(self.colour)

    @property
    def ink(self) -> str:
        """``#ffffff`` or ``#000000``: the text colour on the city colour."""
        return ink_for(self.colour)


def parse_colour(text: str) -> RGB:
    """``"#1c4066"`` → ``(0.11, 0.25, 0.4)``; anything else is refused."""
    m = _HEX.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise BrandingError(f"{text!r} is not a colour written #rrggbb (e.g. #1c4066)")
    h = m.group(1)
    return (int(h[0:2], 16) / 255, int(h[2:4], 16) / 255, int(h[4:6], 16) / 255)


def _luminance(rgb: RGB) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """The WCAG 2 contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(parse_colour(a)), _luminance(parse_colour(b))), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def ink_for(colour: str) -> str:
    """White or black, whichever is more readable on ``colour``."""
    return ("#ffffff" if contrast_ratio(colour, "#ffffff") >= contrast_ratio(colour, "#000000")
            else "#000000")


def check_emblem(data: bytes) -> str:
    """The emblem's media type, after checking its size, format and dimensions."""
    if len(data) > EMBLEM_MAX_BYTES:
        raise BrandingError(f"the emblem is {len(data):,} bytes; at most "
                            f"{EMBLEM_MAX_BYTES:,} are allowed (it is printed about 8 mm high)")
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format or ""
            width, height = im.size
            if fmt not in _FORMATS:
                raise BrandingError(f"the emblem is {fmt or 'not an image'}; use a PNG or JPEG")
            if max(width, height) > EMBLEM_MAX_SIDE:
                raise BrandingError(f"the emblem is {width}×{height} pixels; at most "
                                    f"{EMBLEM_MAX_SIDE} a side are allowed")
            im.load()  # a truncated or corrupt file fails here, not on the first card
    except BrandingError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BrandingError(f"the emblem cannot be read as an image: {exc}") from None
    return _FORMATS[fmt]
