"""The message catalogs keep up with the code: the template is current, French is complete.

When a test here fails after you added or changed a user-facing string, run the two
commands in ``UPDATE_HELP`` (also in the README, "Translations"), translate the new
entries in ``cardservice/translations/fr/LC_MESSAGES/messages.po`` and remove their
``#, fuzzy`` flags: a fuzzy entry is not used, so the page would show English.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "cardservice" / "translations"
POT = TRANSLATIONS / "messages.pot"
FRENCH = TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po"

# The same keywords as the README's extract command; `_`, `gettext` and `ngettext`
# are Babel's defaults and need no flag.
KEYWORDS = ["-k", "lazy_gettext", "-k", "_l", "-k", "N_", "-k", "ngettext:1,2",
            "-k", "pgettext:1c,2", "-k", "lazy_pgettext:1c,2"]
UPDATE_HELP = (
    "run `pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ -k ngettext:1,2 "
    "-k pgettext:1c,2 -k lazy_pgettext:1c,2 "
    "-o cardservice/translations/messages.pot .` then "
    "`pybabel update -i cardservice/translations/messages.pot -d cardservice/translations`, "
    "and translate the new entries in fr/LC_MESSAGES/messages.po"
)
# A %-placeholder: `%(name)s`, `%(num)d`, or a bare `%s`. `%%` is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")

Key = tuple[str | None, str | tuple[str, ...]]


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def key(message: Message) -> Key:
    """Identity of an entry: context and msgid (with its plural)."""
    msgid = message.id if isinstance(message.id, str) else tuple(message.id)
    return (message.context, msgid)


def entries(catalog: Catalog) -> dict[Key, Message]:
    return {key(m): m for m in catalog if m.id}


def forms(message: Message) -> list[tuple[str, str]]:
    """Each translated form with the English text it must match.

    French form 0 is used for 0 and 1 (the msgid); the other forms are plurals.
    """
    if isinstance(message.id, str):
        return [(message.id, str(message.string or ""))]
    singular, plural = message.id[0], message.id[1]
    strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return [(singular if i == 0 else plural, s or "") for i, s in enumerate(strings)]


def placeholders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text.replace("%%", "")))


def formats(text: str) -> bool:
    """Whether ``text % {...}`` works as it does at run time (templates always format)."""
    names = re.findall(r"%\(([^)]*)\)", text)
    values = {n: 1 for n in names}
    try:
        text % values  # noqa: B018 - the formatting itself is the check
    except (TypeError, ValueError, KeyError):
        return False
    return True


@pytest.fixture(scope="module")
def template() -> Catalog:
    return load(POT)


@pytest.fixture(scope="module")
def french() -> Catalog:
    return load(FRENCH, locale="fr")


def test_template_is_up_to_date_with_the_sources(tmp_path: Path, template: Catalog) -> None:
    fresh_path = tmp_path / "messages.pot"
    # A subprocess, as a developer runs it: pybabel's CLI sets up logging of its own.
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg",
         *KEYWORDS, "-o", str(fresh_path), "."],
        cwd=ROOT, check=True, capture_output=True, text=True,
    )
    fresh, committed = set(entries(load(fresh_path))), set(entries(template))
    new, gone = sorted(fresh - committed, key=repr), sorted(committed - fresh, key=repr)
    assert not new and not gone, (
        f"messages.pot is out of date: {len(new)} new string(s) {new[:5]}, "
        f"{len(gone)} removed {gone[:5]}; {UPDATE_HELP}")


def test_every_string_has_a_french_translation(template: Catalog, french: Catalog) -> None:
    fr = entries(french)
    missing = [k for k in entries(template) if k not in fr]
    assert not missing, f"not in the French catalog: {missing[:5]}; {UPDATE_HELP}"
    fuzzy = [k for k, m in fr.items() if m.fuzzy]
    assert not fuzzy, f"fuzzy (unused) French entries, check and unflag them: {fuzzy[:5]}"
    empty = [k for k, m in fr.items() if not all(s.strip() for _, s in forms(m))]
    assert not empty, f"untranslated French entries: {empty[:5]}"
    wrong_count = [k for k, m in fr.items()
                   if isinstance(m.id, tuple) and len(forms(m)) != french.num_plurals]
    assert not wrong_count, (
        f"plural entries need {french.num_plurals} French forms: {wrong_count[:5]}")


def test_french_keeps_the_placeholders(french: Catalog) -> None:
    bad = []
    for k, message in entries(french).items():
        for english, translated in forms(message):
            if not translated:
                continue  # reported by the completeness test
            if placeholders(translated) != placeholders(english):
                bad.append((k, placeholders(english), placeholders(translated)))
            elif formats(english) and not formats(translated):
                bad.append((k, "formats", "fails: a lone % must be written %%"))
    assert not bad, f"French placeholders or % signs differ from the English: {bad[:5]}"


def test_the_header_declares_french_plurals(french: Catalog) -> None:
    assert str(french.locale) == "fr"
    assert french.num_plurals >= 2
