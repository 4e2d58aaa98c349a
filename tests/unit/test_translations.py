"""The message catalogs keep up with the code: the template is current, and every language
of ``SUPPORTED_LOCALES`` but English is complete, keeps the placeholders and has its plurals.

When a test here fails after you added or changed a user-facing string, run the two
commands in ``UPDATE_HELP`` (also in the README, "Translations"), translate the new
entries in each ``cardservice/translations/<lang>/LC_MESSAGES/messages.po`` and remove their
``#, fuzzy`` flags: a fuzzy entry is not used, so the page would show English.
"""

from __future__ import annotations

import gettext
import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from cardservice.config import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "cardservice" / "translations"
POT = TRANSLATIONS / "messages.pot"
# English is the source language: its catalog may stay empty (the msgids are shown).
TRANSLATED = [code for code in SUPPORTED_LOCALES if code != "en"]

# The same keywords as the README's extract command; `_`, `gettext` and `ngettext`
# are Babel's defaults and need no flag.
KEYWORDS = ["-k", "lazy_gettext", "-k", "_l", "-k", "N_", "-k", "ngettext:1,2",
            "-k", "pgettext:1c,2", "-k", "lazy_pgettext:1c,2"]
UPDATE_HELP = (
    "run `pybabel extract -F babel.cfg -k lazy_gettext -k _l -k N_ -k ngettext:1,2 "
    "-k pgettext:1c,2 -k lazy_pgettext:1c,2 "
    "-o cardservice/translations/messages.pot .` then "
    "`pybabel update -i cardservice/translations/messages.pot -d cardservice/translations`, "
    "and translate the new entries in each <lang>/LC_MESSAGES/messages.po"
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

    Form 0 is matched with the msgid, the other forms with the plural msgid (which form
    a number takes is the language's plural rule, from the catalog's header).
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


@pytest.fixture(scope="module", params=TRANSLATED)
def catalog(request: pytest.FixtureRequest) -> Catalog:
    """One translated language's catalog (each test runs once per language)."""
    code: str = request.param
    return load(TRANSLATIONS / code / "LC_MESSAGES" / "messages.po", locale=code)


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


def test_every_string_is_translated(template: Catalog, catalog: Catalog) -> None:
    lang = str(catalog.locale)
    translated = entries(catalog)
    missing = [k for k in entries(template) if k not in translated]
    assert not missing, f"not in the {lang} catalog: {missing[:5]}; {UPDATE_HELP}"
    fuzzy = [k for k, m in translated.items() if m.fuzzy]
    assert not fuzzy, f"fuzzy (unused) {lang} entries, check and unflag them: {fuzzy[:5]}"
    empty = [k for k, m in translated.items() if not all(s.strip() for _, s in forms(m))]
    assert not empty, f"{len(empty)} untranslated {lang} entries: {empty[:5]}"
    wrong_count = [k for k, m in translated.items()
                   if isinstance(m.id, tuple) and len(forms(m)) != catalog.num_plurals]
    assert not wrong_count, (
        f"plural entries need {catalog.num_plurals} {lang} forms: {wrong_count[:5]}")


def single_number_forms(catalog: Catalog) -> set[int]:
    """Plural forms used for exactly one number (Arabic's "one" and "two"): the number may
    be left out of them, as Arabic writes "يومين" (two days), not "2 يومين"."""
    rule = gettext.c2py(catalog.plural_expr)
    used: dict[int, set[int]] = {}
    for n in range(10_001):
        used.setdefault(rule(n), set()).add(n)
    return {form for form, numbers in used.items() if len(numbers) == 1}


def test_translations_keep_the_placeholders(catalog: Catalog) -> None:
    bad = []
    may_drop_number = single_number_forms(catalog)
    for k, message in entries(catalog).items():
        for i, (english, translated) in enumerate(forms(message)):
            if not translated:
                continue  # reported by the completeness test
            expected = placeholders(english)
            if isinstance(message.id, tuple) and i in may_drop_number \
                    and "%(num)d" not in translated:
                expected = [p for p in expected if p != "%(num)d"]
            if placeholders(translated) != expected:
                bad.append((k, placeholders(english), placeholders(translated)))
            elif formats(english) and not formats(translated):
                bad.append((k, "formats", "fails: a lone % must be written %%"))
    assert not bad, (f"{catalog.locale} placeholders or % signs differ from the English: "
                     f"{bad[:5]}")


def test_the_header_declares_the_languages_plurals(catalog: Catalog) -> None:
    """The catalog's plural rule is Babel's (CLDR) for the language: Arabic has six forms."""
    code = str(catalog.locale)
    rule = get_plural(code)
    assert (catalog.num_plurals, catalog.plural_expr) == (rule.num_plurals, rule.plural_expr)
    assert catalog.num_plurals >= 2
