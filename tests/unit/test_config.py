"""Configuration: unknown keys are refused by name, each default lives in one place,
and config.example.toml documents exactly the keys the parser knows, with their defaults."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from cardservice.config import (
    FILE_KEYS,
    AuthSettings,
    CardSettings,
    ConfigError,
    MailSettings,
    RegistrationSettings,
    RetentionSettings,
    Settings,
    VerifySettings,
    load_settings,
    settings_from_mapping,
)
from cardservice.demo import DEMO_TOML
from cardservice.demo_seed import gyronny_emblem

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"
SECRET = "s" * 40
ENV = {"CARDSERVICE_SECRET_KEY": SECRET}


def parse(data: dict[str, Any], tmp: Path, env: dict[str, str] | None = None) -> Settings:
    return settings_from_mapping(data, base_dir=tmp, environ=ENV if env is None else env,
                                 check_keys_dir=False)


def required(**sections: dict[str, Any]) -> dict[str, Any]:
    """Only the required keys, plus ``sections`` merged in."""
    data: dict[str, Any] = {
        "city": {"id": "PTLIS", "name": "Lisboa", "base_url": "https://cartao.example/"},
        "database": {"url": "sqlite:///city.db"},
        "keys": {"dir": "keys"},
    }
    for name, values in sections.items():
        data[name] = {**data.get(name, {}), **values}
    return data


def documented_keys(text: str) -> set[str]:
    """Dotted keys of the example file, including those shown only as a comment."""
    keys: set[str] = set()
    section = ""
    for line in text.splitlines():
        if m := re.match(r"^\[([a-z_.]+)\]", line):
            section = m.group(1)
            if section.count(".") == 1:  # a table inside a section, e.g. registration.documents
                keys.add(section)
        elif (m := re.match(r"^#?\s*([a-z_]+)\s*=", line)) and "." not in section:
            keys.add(f"{section}.{m.group(1)}")
    return keys


# --- config.example.toml and the parser cannot drift --------------------------------------

def test_example_documents_every_key_and_only_known_keys() -> None:
    documented = documented_keys(EXAMPLE.read_text(encoding="utf-8"))
    assert sorted(FILE_KEYS - documented) == [], "keys the example does not document"
    assert sorted(documented - FILE_KEYS) == [], "keys in the example the parser does not know"


def test_example_parses_and_shows_the_defaults(tmp_path: Path) -> None:
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    minimal = {name: example[name] for name in ("database", "keys")}
    minimal["city"] = {k: v for k, v in example["city"].items()
                       if k in {"id", "name", "base_url"}}
    assert parse(example, tmp_path) == parse(minimal, tmp_path)


def test_absent_keys_take_the_dataclass_defaults(tmp_path: Path) -> None:
    s = parse(required(), tmp_path)
    assert (s.auth, s.verify, s.registration, s.cards, s.retention, s.mail) == (
        AuthSettings(), VerifySettings(), RegistrationSettings(), CardSettings(),
        RetentionSettings(), MailSettings())
    assert s.instance_dir == tmp_path / "instance"  # a default path is relative to the file too
    assert s.city.base_url == "https://cartao.example"
    assert s.database_url == f"sqlite:///{tmp_path / 'city.db'}"


# --- unknown tables and keys --------------------------------------------------------------

UNKNOWN = {
    "misspelt key": (
        {"cards": {"validty_years": 5}},
        "cards.validty_years: unknown key (did you mean cards.validity_years?)"),
    "misspelt table": (
        {"card": {"validity_years": 5}},
        "card: unknown table (did you mean cards?)"),
    "key outside any table": (
        {"validity_years": 5},
        "validity_years: unknown key (did you mean cards.validity_years?)"),
    "key in the wrong table": (
        {"cards": {"rate_limit": "10 per minute"}},
        "cards.rate_limit: unknown key (did you mean verify.rate_limit?)"),
    "nothing close": (
        {"cards": {"qqqq": "blue"}},
        "cards.qqqq: unknown key"),
    "a known key in another table": (
        {"cards": {"colour": "blue"}},
        "cards.colour: unknown key (did you mean branding.colour?)"),
    "a secret in the file": (
        {"mail": {"password": "hunter2"}},
        "mail.password: a secret is never read from the file (set CARDSERVICE_SMTP_PASSWORD)"),
    "the secret key in the file": (
        {"server": {"secret_key": "x" * 40}},
        "server.secret_key: a secret is never read from the file (set CARDSERVICE_SECRET_KEY)"),
    "a table given as a value": (
        {"cards": 5},
        "cards must be a table ([cards])"),
    "two problems, one line": (
        {"cards": {"validty_years": 5}, "auth": {"session_hour": 8}},
        "cards.validty_years: unknown key (did you mean cards.validity_years?); "
        "auth.session_hour: unknown key (did you mean auth.session_hours?)"),
}


@pytest.mark.parametrize("case", UNKNOWN)
def test_unknown_table_or_key_is_refused_naming_the_closest(case: str, tmp_path: Path) -> None:
    extra, message = UNKNOWN[case]
    data = required()
    for name, value in extra.items():
        data[name] = {**data[name], **value} if name in data else value
    with pytest.raises(ConfigError) as err:
        parse(data, tmp_path)
    assert str(err.value) == message


def test_documents_table_takes_any_category(tmp_path: Path) -> None:
    s = parse(required(registration={"documents": {"work_permit": 2}}), tmp_path)
    assert s.registration.documents == {"work_permit": 2}


def test_unknown_key_in_a_file_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "city.toml"
    cfg.write_text('[city]\nid = "PTLIS"\nname = "Lisboa"\nbase_url = "https://x.example"\n'
                   '[database]\nurl = "sqlite:///x.db"\n[keys]\ndir = "keys"\n'
                   '[cards]\nvalidty_years = 5\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"did you mean cards\.validity_years\?"):
        load_settings(cfg, environ=ENV, check_keys_dir=False)


# --- values -------------------------------------------------------------------------------

INVALID = {
    "missing city id": (required(city={"id": None}), "city.id is missing"),
    "bad city id": (required(city={"id": "Lisbon"}), "is not a UN/LOCODE"),
    "not an URL": (required(city={"base_url": "cartao.example"}), "must be an http(s) URL"),
    "three languages": (required(city={"languages": ["en", "fr", "en"]}), "one or two"),
    "untranslated language": (required(city={"languages": ["xx"]}), "has no translation"),
    "unknown beside a known": (required(city={"languages": ["pt", "de"]}),
                               "'de' has no translation yet (available: en, fr, pt, es, ar)"),
    "same language twice": (required(city={"languages": ["pt", "pt"]}), "the same language twice"),
    "missing database": (required(database={"url": None}),
                         "database.url is missing (or set CARDSERVICE_DATABASE_URL)"),
    "empty keys dir": (required(keys={"dir": " "}), "keys.dir is empty"),
    "string for a number": (required(auth={"session_hours": "8"}),
                            "auth.session_hours must be a whole number"),
    "bool for a number": (required(mail={"port": True}), "mail.port must be a whole number"),
    "below the minimum": (required(auth={"max_failed_logins": 0}),
                          "auth.max_failed_logins must be at least 1"),
    "number for a bool": (required(cards={"print_gender": 1}),
                          "cards.print_gender must be true or false"),
    "string for a list": (required(registration={"fee_waivers": "senior"}),
                          "registration.fee_waivers must be a list of strings"),
    "bad category": (required(registration={"documents": {"Pass port": 2}}),
                     "is not a category name"),
    "negative points": (required(registration={"documents": {"passport": -1}}),
                        "must be a table of category = points"),
    "validity over five years": (required(cards={"validity_years": 6}), "at most 5"),
    "mail without sender": (required(mail={"enabled": True}), "mail.sender must be"),
    "unavailable locale": (required(server={"default_locale": "de"}), "is not available"),
    "colour by name": (required(branding={"colour": "blue"}),
                       "branding.colour: 'blue' is not a colour written #rrggbb"),
    "return line on two lines": (required(branding={"return_to": "Town hall\nDesk 3"}),
                                 "branding.return_to must be one line"),
    "missing emblem": (required(branding={"emblem": "nowhere.png"}),
                       "branding.emblem: cannot read"),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_value_is_refused_naming_the_key(case: str, tmp_path: Path) -> None:
    data, message = INVALID[case]
    for table in data.values():
        for key in [k for k, v in table.items() if v is None]:
            del table[key]
    with pytest.raises(ConfigError) as err:
        parse(data, tmp_path)
    assert message in str(err.value)


def test_environment_stands_in_for_the_file(tmp_path: Path) -> None:
    data = required()
    del data["database"]
    s = parse(data, tmp_path, env={**ENV, "CARDSERVICE_DATABASE_URL": "sqlite:///env.db",
                                   "CARDSERVICE_SMTP_PASSWORD": "pw",
                                   "CARDSERVICE_KEY_PASSPHRASE": "phrase"})
    assert s.database_url == f"sqlite:///{tmp_path / 'env.db'}"
    assert s.mail.password == "pw"
    assert s.key_passphrase == b"phrase"
    assert "pw" not in repr(s) and SECRET not in repr(s)


def test_each_instance_names_its_own_directory_in_the_environment(tmp_path: Path,
                                                                  monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = required(server={"instance_dir": "from-file"})
    assert parse(data, tmp_path, env=ENV).instance_dir == tmp_path / "from-file"
    s = parse(data, tmp_path / "elsewhere",
              env={**ENV, "CARDSERVICE_INSTANCE_DIR": "instance-2"})
    assert s.instance_dir == tmp_path / "instance-2"  # relative to the working directory
    s = parse(data, tmp_path, env={**ENV, "CARDSERVICE_INSTANCE_DIR": "/var/lib/cs/instance-3"})
    assert s.instance_dir == Path("/var/lib/cs/instance-3")


def test_secret_key_from_a_file_or_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n", encoding="utf-8")
    s = parse(required(server={"secret_key_file": "secret"}), tmp_path, env={})
    assert s.secret_key == SECRET
    with pytest.raises(ConfigError, match="server secret key is missing"):
        parse(required(), tmp_path, env={})
    with pytest.raises(ConfigError, match="too short"):
        parse(required(), tmp_path, env={"CARDSERVICE_SECRET_KEY": "short"})


def test_default_locale_follows_the_first_card_language(tmp_path: Path) -> None:
    assert parse(required(city={"languages": ["fr", "en"]}), tmp_path).default_locale == "fr"


@pytest.mark.parametrize("languages", [["pt", "en"], ["es"], ["ar", "fr"], ["en", "es"]])
def test_any_one_or_two_of_the_five_languages_label_the_card(
        languages: list[str], tmp_path: Path) -> None:
    s = parse(required(city={"languages": languages}), tmp_path)
    assert s.city.languages == tuple(languages)
    assert s.default_locale == languages[0]


def test_the_demo_city_is_lisbon_in_portuguese_and_english(tmp_path: Path) -> None:
    (tmp_path / "demo-emblem.png").write_bytes(gyronny_emblem())
    s = parse(tomllib.loads(DEMO_TOML), tmp_path)
    assert (s.city.id, s.city.languages, s.default_locale) == ("PTLIS", ("pt", "en"), "pt")


# --- branding -----------------------------------------------------------------------------

def _png(tmp: Path, side: int, name: str = "emblem.png") -> Path:
    from PIL import Image
    path = tmp / name
    Image.new("RGB", (side, side), (200, 30, 40)).save(path, "PNG")
    return path


def test_branding_emblem_is_read_and_checked(tmp_path: Path) -> None:
    from cardservice.config import load_branding
    _png(tmp_path, 64)
    settings = parse(required(branding={"emblem": "emblem.png", "colour": "#FFD700",
                                        "return_to": "Town hall, desk 3"}), tmp_path)
    assert settings.branding.emblem == tmp_path / "emblem.png"
    b = load_branding(settings.branding)
    assert b.emblem_type == "image/png" and b.emblem and b.emblem.startswith(b"\x89PNG")
    assert (b.colour, b.ink, b.return_to) == ("#ffd700", "#000000", "Town hall, desk 3")
    assert load_branding(parse(required(), tmp_path).branding).emblem is None


@pytest.mark.parametrize(("make", "message"), [
    (lambda tmp: _png(tmp, 1100), "1100×1100 pixels; at most 1024"),
    (lambda tmp: (tmp / "emblem.png").write_bytes(b"GIF89a" + bytes(40)), "cannot be read"),
    (lambda tmp: (tmp / "emblem.png").write_bytes(bytes(300_000)), "at most 262,144"),
])
def test_branding_emblem_refused_with_its_reason(make: Any, message: str,
                                                 tmp_path: Path) -> None:
    make(tmp_path)
    with pytest.raises(ConfigError) as err:
        parse(required(branding={"emblem": "emblem.png"}), tmp_path)
    assert str(err.value).startswith(f"branding.emblem {tmp_path / 'emblem.png'}: ")
    assert message in str(err.value)
