"""A Latin line an agent can read: propose a transliteration of a name (pure).

Rules this module keeps:

- A name needs a Latin line when it holds a letter of another script than Latin
  (:func:`needs_latin_line`); the card then prints both.
- The proposal (:func:`propose_latin`) is only a proposal: the clerk checks it with the
  resident, who may spell their name otherwise (as in their passport), and corrects it.
- Cyrillic follows ICAO Doc 9303 Part 3 (the table of machine-readable travel documents,
  so the proposal matches a Russian, Ukrainian or Serbian passport's Latin name:
  Юлия Щукина -> Iuliia Shchukina). Greek follows ELOT 743 for "ου" (ou, as on Greek
  passports). Every other script goes through ``anyascii``: pinyin for Chinese (without
  tones), romanisations of Japanese kana, Korean, Indic, Ethiopic, Georgian, Armenian, Thai;
  consonants only for Arabic and Hebrew, whose vowels are not written (the resident
  supplies them). ICAO's Arabic table is not used: it too cannot know the vowels.
- Output: Latin letters, spaces, hyphens and apostrophes inside words; each word starts
  with a capital, and a word that came from CJK ideographs is one capitalised word
  ("小明" -> "Xiaoming", not "XiaoMing").
"""

from __future__ import annotations

import re
import unicodedata

from anyascii import anyascii

__all__ = ["ICAO_CYRILLIC", "needs_latin_line", "propose_latin"]

#: ICAO Doc 9303 Part 3, transliteration of Cyrillic characters (upper case; the proposal
#: is then put in name case).
ICAO_CYRILLIC: dict[str, str] = {
    "А": "A", "Б": "B", "В": "V", "Г": "G", "Д": "D", "Е": "E", "Ё": "E", "Ж": "ZH",
    "З": "Z", "И": "I", "Й": "I", "К": "K", "Л": "L", "М": "M", "Н": "N", "О": "O",
    "П": "P", "Р": "R", "С": "S", "Т": "T", "У": "U", "Ф": "F", "Х": "KH", "Ц": "TS",
    "Ч": "CH", "Ш": "SH", "Щ": "SHCH", "Ъ": "IE", "Ы": "Y", "Ь": "", "Э": "E", "Ю": "IU",
    "Я": "IA",
    # Other Cyrillic alphabets in the same table.
    "Ґ": "G", "Є": "IE", "І": "I", "Ї": "I", "Ў": "U", "Ђ": "D", "Ѓ": "G", "Ѕ": "DZ",
    "Ј": "J", "Љ": "LJ", "Њ": "NJ", "Ќ": "K", "Ћ": "C", "Џ": "DZ",
}

_WORD = re.compile(r"\S+")
_UNWANTED = re.compile(r"[^A-Za-z' \-]")


def _is_letter(ch: str) -> bool:
    return unicodedata.category(ch).startswith("L")


def _script(ch: str) -> str:
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return ""


def needs_latin_line(name: str) -> bool:
    """Whether ``name`` holds a letter of a script other than Latin."""
    return any(_is_letter(ch) and _script(ch) != "LATIN" for ch in name)


def _cyrillic(word: str) -> str:
    out = []
    for ch in word:
        mapped = ICAO_CYRILLIC.get(ch.upper())
        out.append(ch if mapped is None else mapped if ch.isupper() else mapped.lower())
    return "".join(out)


def _greek(word: str) -> str:
    # ELOT 743: the digraph ου is "ou" (anyascii writes "oy"); accents do not matter here.
    plain = "".join(ch for ch in unicodedata.normalize("NFD", word)
                    if not unicodedata.combining(ch))
    return re.sub("ου", "ou", re.sub("ΟΥ|Ου", "Ou", plain))


def _word(word: str) -> str:
    scripts = {_script(ch) for ch in word if _is_letter(ch)}
    if "CYRILLIC" in scripts:
        word = _cyrillic(word)
    if "GREEK" in scripts:
        word = _greek(word)
    latin = anyascii(unicodedata.normalize("NFC", word))
    latin = _UNWANTED.sub("", latin).strip("'-")
    if not latin:
        return ""
    # Name case per hyphenated part: "Abd-Allah", "Xiaoming" (not "XiaoMing").
    return "-".join(part[:1].upper() + part[1:].lower() for part in latin.split("-"))


def propose_latin(name: str) -> str:
    """A Latin transliteration of ``name`` for the resident to check (see the module rules).

    Latin words are kept as they are, accents included; an empty string means nothing
    could be transliterated.
    """
    words = []
    for word in _WORD.findall(name):
        if not needs_latin_line(word):
            words.append(word)
            continue
        latin = _word(word)
        if latin:
            words.append(latin)
    return " ".join(words)
