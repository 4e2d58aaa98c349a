"""What a name, a city id, a gender, a birth date and a serial may be: each rule written once.

Parsing (registration), signing (``credential``), printing (``cardpdf``), certificates
(``pki``) and trust documents (``trust``) all ask this module, so that whatever
registration accepts can be put on a card. Checks return the value or raise a
:class:`ValueRuleError` subclass that says which rule failed; callers turn it into
their own typed error (``InvalidInputError`` for a clerk, ``InvalidClaimsError`` when
signing, ``TrustFormatError`` for a partner's document).

Rules:

- **City id**: the city's UN/LOCODE without the space (SPEC §3): two letters of the
  country, then three letters or digits 2-9 for the place (UN/LOCODE leaves out 0 and 1,
  which read like O and I).
- **Card name** (:func:`check_card_name`, the wire rule ``credential`` verifies): 1 to
  :data:`MAX_NAME_LENGTH` characters, no white space at either end, no control
  character (Cc), surrogate (Cs), line or paragraph separator (Zl, Zp) and no bidi
  embedding/override/isolate control, which could make a name display as another.
  It deliberately does not judge unassigned code points: a card signed by a partner
  whose Unicode is newer than ours must keep verifying.
- **Printed name** (:func:`check_printed_name`, what a city registers and issues): the
  card-name rule, and also NFC, and no format (Cf), private-use (Co) or unassigned (Cn)
  character except the zero-width (non-)joiners Persian and Indic names need (a format
  character prints nothing, a private-use one prints nothing agreed). Each name part
  (given names, family names) is at most :data:`MAX_NAME_PART_LENGTH` characters and the
  printed name, parts joined by one space, at most :data:`MAX_NAME_LENGTH`.
- **Name order** (:func:`ordered_name`): a resident says in which order their name is
  written, :data:`GIVEN_FIRST` ("Ana Maria Silva") or :data:`FAMILY_FIRST` ("Nguyễn Thị
  Minh Khai", as in Vietnamese, Chinese, Korean, Japanese, Hungarian). The printed name is
  the two parts in that order; a record or a card from before the choice existed is given
  first.
- **Gender**: one of :data:`GENDERS` (as on ICAO travel documents) or absent.
- **Birth date**: not in the future and at most :data:`MAX_AGE_YEARS` years ago.
- **Serials**: see :mod:`cardservice.serials` (re-exported here).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import unicodedata
from typing import Any

from cardservice.serials import ALPHABET as SERIAL_ALPHABET
from cardservice.serials import format_serial, normalise_serial

__all__ = [
    "CARD_NAME_FORBIDDEN",
    "CITY_ID_PATTERN",
    "FAMILY_FIRST",
    "GIVEN_FIRST",
    "GENDERS",
    "MAX_AGE_YEARS",
    "MAX_NAME_LENGTH",
    "MAX_NAME_PART_LENGTH",
    "NAME_ORDERS",
    "NameOrder",
    "SERIAL_ALPHABET",
    "SERIAL_LENGTH",
    "SERIAL_PATTERN",
    "EmptyValueError",
    "ForbiddenCharacterError",
    "NotNormalisedError",
    "SurroundingSpaceError",
    "TooLongError",
    "ValueRuleError",
    "check_birth_date",
    "check_card_name",
    "check_printed_name",
    "format_serial",
    "is_city_id",
    "join_name",
    "normalise_serial",
    "ordered_name",
]

#: A city id: UN/LOCODE without its space (SPEC §3), e.g. ``PTLIS``, ``FRLYS``, ``USNYC``.
CITY_ID_PATTERN = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
#: Gender markers a card may carry; on the wire each is its position here plus one.
GENDERS = ("F", "M", "X")
#: Longest name a card holds (the printed name: given and family names together).
MAX_NAME_LENGTH = 100
#: Longest single name part (given names, or family names) a resident may register.
MAX_NAME_PART_LENGTH = 80
#: A card serial: 11 characters of Crockford Base32 (:mod:`cardservice.serials`); the
#: check character is the issuer's business, so any 11 characters of the alphabet go.
SERIAL_LENGTH = 11
SERIAL_PATTERN = re.compile(f"[{SERIAL_ALPHABET}]{{{SERIAL_LENGTH}}}")
#: Oldest birth date accepted, in years before today.
MAX_AGE_YEARS = 130



class NameOrder(enum.StrEnum):
    """In which order a resident's name is written; the values are the API's."""

    GIVEN_FIRST = "given_first"
    FAMILY_FIRST = "family_first"


#: Name orders, the API's values; records and cards from before the choice are given first.
NAME_ORDERS = tuple(NameOrder)
GIVEN_FIRST = NameOrder.GIVEN_FIRST
FAMILY_FIRST = NameOrder.FAMILY_FIRST

#: Characters no name on a card holds (the wire rule; stable across Unicode versions):
#: controls (Cc), surrogates (Cs), line and paragraph separators (Zl, Zp), and the bidi
#: embedding/override/isolate controls. Format characters such as ZWNJ are not here:
#: Persian names need them.
CARD_NAME_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# Printing also refuses what draws nothing or nothing agreed on; ZWNJ and ZWJ stay.
_UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_JOINERS = frozenset({"\u200c", "\u200d"})


class ValueRuleError(ValueError):
    """A value breaks one of this module's rules. ``rule`` is a stable short code."""

    rule = "invalid"


class EmptyValueError(ValueRuleError):
    """The value is empty (or not text)."""

    rule = "empty"


class TooLongError(ValueRuleError):
    """The value is longer than ``maximum`` characters."""

    rule = "too_long"

    def __init__(self, message: str, *, maximum: int) -> None:
        super().__init__(message)
        self.maximum = maximum


class SurroundingSpaceError(ValueRuleError):
    """The value starts or ends with white space."""

    rule = "surrounding_space"


class ForbiddenCharacterError(ValueRuleError):
    """The value holds ``character``, which a name may not hold."""

    rule = "forbidden_character"

    def __init__(self, message: str, *, character: str) -> None:
        super().__init__(message)
        self.character = character


class NotNormalisedError(ValueRuleError):
    """The value is not in Unicode normalisation form C."""

    rule = "not_nfc"


def is_city_id(value: Any) -> bool:
    """Whether ``value`` is a city id (UN/LOCODE without the space)."""
    return type(value) is str and CITY_ID_PATTERN.fullmatch(value) is not None


def check_card_name(
    value: Any, *, what: str = "holder name", max_length: int = MAX_NAME_LENGTH
) -> str:
    """Return ``value`` if a card may carry it (the wire rule), else raise.

    Trust documents hold city names under the same rule (``max_length`` 64).
    """
    if not isinstance(value, str) or not value:
        raise EmptyValueError(f"{what} must be 1 to {max_length} characters")
    if len(value) > max_length:
        raise TooLongError(f"{what} must be 1 to {max_length} characters", maximum=max_length)
    if value != value.strip():
        raise SurroundingSpaceError(f"{what} must not start or end with white space")
    bad = CARD_NAME_FORBIDDEN.search(value)
    if bad:
        raise ForbiddenCharacterError(
            f"{what} holds control character U+{ord(bad[0]):04X}", character=bad[0]
        )
    return value


def check_printed_name(
    value: Any, *, what: str = "name", max_length: int = MAX_NAME_LENGTH
) -> str:
    """Return ``value`` if a city may print and sign it, else raise (see module rules).

    ``max_length`` is :data:`MAX_NAME_PART_LENGTH` for one part of a name.
    """
    if not isinstance(value, str) or not value:
        raise EmptyValueError(f"{what} must be 1 to {max_length} characters")
    if len(value) > max_length:
        raise TooLongError(f"{what} must be 1 to {max_length} characters", maximum=max_length)
    for ch in unprintable_characters(value):
        raise ForbiddenCharacterError(
            f"{what} holds character U+{ord(ch):04X}, which cannot be printed", character=ch)
    if value != value.strip():
        raise SurroundingSpaceError(f"{what} must not start or end with white space")
    if not unicodedata.is_normalized("NFC", value):
        raise NotNormalisedError(f"{what} is not in Unicode normalisation form C")
    return check_card_name(value, what=what, max_length=max_length)


def unprintable_characters(text: str) -> list[str]:
    """The characters of ``text`` no card prints, in order: controls, format characters
    (except the zero-width (non-)joiners some scripts need), private use, unassigned,
    line and paragraph separators, bidi overrides."""
    return [ch for ch in text if ch not in _JOINERS and (
        unicodedata.category(ch) in _UNPRINTABLE_CATEGORIES or CARD_NAME_FORBIDDEN.match(ch))]


def join_name(*parts: str) -> str:
    """The printed name: the non-empty parts joined by one space."""
    return " ".join(p for p in parts if p)


def ordered_name(given: str, family: str, order: str = NameOrder.GIVEN_FIRST) -> str:
    """The printed name: given and family names in the resident's ``order``.

    ``order`` is one of :data:`NAME_ORDERS`; anything else is a ``ValueRuleError`` (a
    record is checked when it is parsed, so this only catches a programming mistake).
    """
    if order == GIVEN_FIRST:
        return join_name(given, family)
    if order == FAMILY_FIRST:
        return join_name(family, given)
    raise ValueRuleError(f"unknown name order {order!r}")


def check_birth_date(value: Any, *, today: dt.date) -> dt.date:
    """Return ``value`` if it is a possible birth date on ``today``, else raise."""
    if type(value) is not dt.date:
        raise ValueRuleError("a birth date is a datetime.date")
    try:
        earliest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:  # 29 February, 130 years before a year that has none
        earliest = today.replace(year=today.year - MAX_AGE_YEARS, day=28)
    if not earliest <= value <= today:
        raise ValueRuleError("not a possible birth date")
    return value
