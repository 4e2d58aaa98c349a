"""The interface languages: each one's name in itself and its writing direction.

Both come from Babel's CLDR data, so adding a language to ``SUPPORTED_LOCALES`` needs no
table here.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from babel import Locale

Direction = Literal["ltr", "rtl"]


@cache
def own_name(code: str) -> str:
    """The language's name written in that language, capitalised as in a list of languages
    ("Português", "Español", "العربية")."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


@cache
def text_direction(code: str) -> Direction:
    """``"rtl"`` for a language written right to left (Arabic), else ``"ltr"``."""
    return "rtl" if Locale.parse(code).character_order == "right-to-left" else "ltr"


def is_right_to_left(code: str) -> bool:
    """Whether ``code``'s script runs right to left."""
    return text_direction(code) == "rtl"
