"""Card serials and renewal codes: random, unambiguous, with a check character.

The alphabet is Crockford's Base32 (no I, L, O, U), so a serial read aloud or typed
from a worn card has no 0/O or 1/I/L confusion; input is folded accordingly. The last
character is a Luhn mod 32 check character, which catches every single-character
error and most adjacent transpositions before any database look-up.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
SERIAL_BODY = 10  # 50 random bits: guessing a valid serial is hopeless
RENEWAL_CODE_LENGTH = 8  # 40 random bits, and attempts are rate-limited per serial
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_FOLD = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


class SerialFormatError(ValueError):
    """Not a well-formed serial (wrong length, alphabet or check character)."""


def check_character(body: str) -> str:
    """The Luhn mod 32 check character of ``body``."""
    n = len(ALPHABET)
    total = 0
    factor = 2
    for char in reversed(body):
        addend = factor * _INDEX[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def new_serial() -> str:
    """A fresh random serial with its check character."""
    body = "".join(secrets.choice(ALPHABET) for _ in range(SERIAL_BODY))
    return body + check_character(body)


def normalise_serial(text: str) -> str:
    """Fold user input (case, dashes, spaces, O/I/L) and check the check character."""
    folded = text.strip().upper().translate(_FOLD)
    if len(folded) != SERIAL_BODY + 1 or any(c not in _INDEX for c in folded):
        raise SerialFormatError("A card serial has 11 letters and digits.")
    if check_character(folded[:-1]) != folded[-1]:
        raise SerialFormatError("This serial has a typing mistake (its check character "
                                "does not match).")
    return folded


def format_serial(serial: str) -> str:
    """Group a serial for printing: ``XXXX-XXXX-XXX``."""
    return "-".join(serial[i:i + 4] for i in range(0, len(serial), 4))


def new_renewal_code() -> str:
    """A random renewal code, printed on the renewal slip (never on the card)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(RENEWAL_CODE_LENGTH))


def format_renewal_code(code: str) -> str:
    """Group a renewal code for reading and printing: ``XXXX-XXXX``."""
    return f"{code[:4]}-{code[4:]}"


def normalise_renewal_code(text: str) -> str:
    """Fold a typed renewal code; wrong shapes come back as they are (and fail the check)."""
    return text.strip().upper().translate(_FOLD)
