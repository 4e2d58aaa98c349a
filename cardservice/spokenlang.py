"""Languages a resident speaks: BCP 47 codes, named in the reader's language by CLDR.

Rules this module keeps:

- A spoken language is stored as a **BCP 47 tag** of a primary language subtag that CLDR
  names (``vi``, ``ti``, ``ckb``: two or three letters, lower case), optionally with a
  region subtag CLDR names (``pt-BR``, ``es-419``): :func:`check_code` writes it in its
  one canonical spelling, or refuses it with :class:`LanguageCodeError`. The special
  codes ``und``, ``mul``, ``zxx`` and ``mis`` name no language and are refused.
- What a person types is read by :func:`code_for`: a tag (any case, ``_`` or ``-``), or
  a language's name in one of :data:`NAME_LOCALES` (case and accents ignored). This is
  how the clerk's "other language" box and API clients of the old free-text field are
  understood; the answer is always a code, or ``None`` when nothing matches.
- A code is shown by :func:`language_name` in the reader's language (the page's, or the
  card's label language); a value that is not a code — the free text records held before
  codes — is shown as it was typed.

Pure: Babel's CLDR data only, no framework, no clock, no I/O beyond Babel's own data.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from typing import Any

from babel import Locale, UnknownLocaleError

__all__ = [
    "COMMON",
    "NAME_LOCALES",
    "LanguageCodeError",
    "all_languages",
    "check_code",
    "code_for",
    "is_code",
    "language_name",
    "language_names",
]

#: Languages offered first on the clerk's form: widely spoken in the alliance's cities
#: and among the people who come to their desks. Any other CLDR language can be given too.
COMMON = ("af", "am", "ar", "bm", "bn", "de", "en", "es", "fa", "ff", "fil", "fr", "ha",
          "hi", "it", "ku", "ln", "ne", "pa", "pl", "ps", "pt", "ro", "ru", "so", "sq",
          "sw", "ta", "ti", "tr", "uk", "ur", "vi", "wo", "xh", "yo", "zh", "zu")

#: Languages whose names for languages are understood as input ("vietnamien", "Vietnamese",
#: "vietnamita", "الفيتنامية"): the alliance's languages.
NAME_LOCALES = ("en", "fr", "pt", "es", "ar")

# Codes CLDR lists that name no language.
_NOT_LANGUAGES = frozenset({"und", "mul", "zxx", "mis"})
_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_]([A-Za-z]{2}|[0-9]{3}))?")


class LanguageCodeError(ValueError):
    """A value is not a BCP 47 language tag this module accepts (see the module rules)."""


@cache
def _cldr() -> Locale:
    return Locale("en")


@cache
def _known_languages() -> frozenset[str]:
    return frozenset(code for code in map(str, _cldr().languages)
                     if re.fullmatch("[a-z]{2,3}", code) and code not in _NOT_LANGUAGES)


@cache
def _known_regions() -> frozenset[str]:
    return frozenset(code for code in map(str, _cldr().territories)
                     if re.fullmatch("[A-Z]{2}|[0-9]{3}", code))


def check_code(value: Any) -> str:
    """``value`` as a canonical BCP 47 tag (``pt-BR``), or :class:`LanguageCodeError`."""
    if not isinstance(value, str):
        raise LanguageCodeError("a language code is text")
    m = _TAG.fullmatch(value.strip())
    if m is None:
        raise LanguageCodeError(f"{value[:40]!r} is not a language code such as 'vi' or 'pt-BR'")
    language, region = m.group(1).lower(), m.group(2)
    if language not in _known_languages():
        raise LanguageCodeError(f"{language!r} is not a language CLDR knows")
    if region is None:
        return language
    region = region.upper()
    if region not in _known_regions():
        raise LanguageCodeError(f"{region!r} is not a region CLDR knows")
    return f"{language}-{region}"


def is_code(value: Any) -> bool:
    """Whether ``value`` is a tag in its canonical spelling (what records store)."""
    try:
        return check_code(value) == value
    except LanguageCodeError:
        return False


def _fold(text: str) -> str:
    """Case and accents ignored, spaces tidied: how typed names are compared."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


@cache
def _locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return _cldr()


@cache
def _names(locale: str) -> dict[str, str]:
    """Every accepted code and its name in ``locale``."""
    data = _locale(locale).languages
    names = {code: data[code] for code in _known_languages() if code in data}
    for key, name in data.items():  # CLDR's own names of regional variants: pt_BR, es_419
        language, _, region = key.partition("_")
        if region and language in names and region in _known_regions():
            names[f"{language}-{region}"] = name
    return names


@cache
def _codes_by_name(locale: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for code, name in _names(locale).items():
        found.setdefault(_fold(name), code)
    return found


def code_for(text: str, *, locales: Iterable[str] = ()) -> str | None:
    """The code ``text`` stands for: a tag, or a language's name in ``locales`` first and
    then in :data:`NAME_LOCALES`; ``None`` when it is neither."""
    text = text.strip()
    if not text:
        return None
    try:
        return check_code(text)
    except LanguageCodeError:
        pass
    key = _fold(text)
    for locale in (*locales, *NAME_LOCALES):
        code = _codes_by_name(locale).get(key)
        if code is not None:
            return code
    return None


def language_name(value: str, locale: str) -> str:
    """A stored language in ``locale``: the CLDR name of a code, else the text as stored."""
    if not is_code(value):
        return value
    names = _names(locale)
    if value in names:
        return names[value]
    language, _, region = value.partition("-")
    territory = _locale(locale).territories.get(region, region)
    return f"{names.get(language, language)} ({territory})"


def language_names(values: Iterable[str], locale: str) -> list[str]:
    """Each stored language named in ``locale`` (see :func:`language_name`)."""
    return [language_name(v, locale) for v in values]


def all_languages(locale: str, codes: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """``(code, name in locale)`` for ``codes`` (default: every accepted language), sorted
    by name as a reader looks them up (case and accents ignored)."""
    names = _names(locale)
    wanted = names if codes is None else {c: language_name(c, locale) for c in codes}
    return sorted(wanted.items(), key=lambda item: (_fold(item[1]), item[0]))
