"""Configuration: a TOML file in, a validated frozen ``Settings`` object out.

The file is named by ``CARDSERVICE_CONFIG``. A few values may come from the
environment instead, because they are secrets or differ per deployment:
``CARDSERVICE_SECRET_KEY``, ``CARDSERVICE_KEY_PASSPHRASE`` and
``CARDSERVICE_DATABASE_URL``. Relative paths are resolved against the directory
of the configuration file.

Every problem is reported as one ``ConfigError`` whose message names the key,
so an operator sees one line, never a traceback. There is no default secret.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardservice.values import is_city_id

CONFIG_ENV = "CARDSERVICE_CONFIG"
SECRET_KEY_ENV = "CARDSERVICE_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
PASSPHRASE_ENV = "CARDSERVICE_KEY_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
DATABASE_URL_ENV = "CARDSERVICE_DATABASE_URL"

SUPPORTED_LOCALES = ("en", "fr")
_MIN_SECRET_LEN = 32


class ConfigError(Exception):
    """The configuration is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class CitySettings:
    """Who this city is."""

    id: str
    name: str
    base_url: str
    languages: tuple[str, ...] = ("en",)


@dataclass(frozen=True)
class AuthSettings:
    """Staff sign-in rules."""

    max_failed_logins: int = 5
    lockout_minutes: int = 15
    session_hours: int = 8


@dataclass(frozen=True)
class VerifySettings:
    """Card verification rules."""

    require_login: bool = False
    rate_limit: str = "120 per minute"


DEFAULT_DOCUMENTS: dict[str, int] = {
    # category -> points. Categories only: the document is shown and handed back,
    # no number, copy or country is ever recorded (SPEC §2).
    "passport": 2,
    "identity_card": 2,
    "consular_card": 2,
    "driving_licence": 2,
    "birth_certificate": 1,
    "utility_bill": 1,
    "tenancy_agreement": 1,
    "bank_statement": 1,
    "school_record": 1,
    "employer_letter": 1,
    "ngo_attestation": 1,
    "shelter_attestation": 1,
}
DEFAULT_FEE_WAIVERS = ("low_income", "senior", "youth", "no_fixed_address")


@dataclass(frozen=True)
class RegistrationSettings:
    """What a clerk must see to register a resident."""

    documents: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_DOCUMENTS))
    points_needed: int = 3
    fee_waivers: tuple[str, ...] = DEFAULT_FEE_WAIVERS
    photo_max_bytes: int = 8_000_000


@dataclass(frozen=True)
class CardSettings:
    """How cards are issued and printed."""

    validity_years: int = 5
    minor_validity_years: int = 2
    minor_age: int = 16
    print_gender: bool = True
    renewal_days_before: int = 60
    renewal_days_after: int = 183


@dataclass(frozen=True)
class MailSettings:
    """Optional e-mail notices to residents who gave an address (off by default)."""

    enabled: bool = False
    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    sender: str = ""


@dataclass(frozen=True)
class RetentionSettings:
    """How long personal data is kept after a resident's last card expired."""

    days_after_expiry: int = 365


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one city instance."""

    city: CitySettings
    database_url: str
    keys_dir: Path
    secret_key: str = field(repr=False)
    key_passphrase: bytes | None = field(repr=False, default=None)
    instance_dir: Path = Path("instance")
    secure_cookies: bool = True
    trusted_proxies: int = 0
    default_locale: str = "en"
    ratelimit_storage_url: str = "memory://"
    auth: AuthSettings = AuthSettings()
    verify: VerifySettings = VerifySettings()
    registration: RegistrationSettings = RegistrationSettings()
    cards: CardSettings = CardSettings()
    retention: RetentionSettings = RetentionSettings()
    mail: MailSettings = MailSettings()
    source: Path | None = None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    check_keys_dir: bool = True,
) -> Settings:
    """Read and validate the configuration file named by ``path`` or ``CARDSERVICE_CONFIG``."""
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get(CONFIG_ENV)
        if not path:
            raise ConfigError(
                f"{CONFIG_ENV} is not set: name the city's TOML configuration file "
                "(see config.example.toml)"
            )
    file = Path(path)
    try:
        with file.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"configuration file {file} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {file} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"configuration file {file} cannot be read: {exc.strerror}") from None
    return settings_from_mapping(
        data, base_dir=file.resolve().parent, environ=env, source=file,
        check_keys_dir=check_keys_dir,
    )


def settings_from_mapping(
    data: Mapping[str, Any],
    *,
    base_dir: Path,
    environ: Mapping[str, str] | None = None,
    source: Path | None = None,
    check_keys_dir: bool = True,
) -> Settings:
    """Validate an already-parsed configuration mapping."""
    env = os.environ if environ is None else environ
    r = _Reader(data)

    city_id = r.text("city.id")
    if not is_city_id(city_id):
        raise ConfigError(
            f"city.id {city_id!r} is not a UN/LOCODE without the space (e.g. PTLIS, FRLYS)"
        )
    base_url = r.text("city.base_url").rstrip("/")
    if not re.match(r"^https?://[^/\s]+", base_url):
        raise ConfigError(f"city.base_url {base_url!r} must be an http(s) URL")
    languages = tuple(r.list_of_str("city.languages", default=["en"]))
    if not 1 <= len(languages) <= 2:
        raise ConfigError("city.languages must list one or two languages for the card labels")
    for lang in languages:
        if lang not in SUPPORTED_LOCALES:
            raise ConfigError(
                f"city.languages: {lang!r} has no translation yet "
                f"(available: {', '.join(SUPPORTED_LOCALES)})"
            )
    city = CitySettings(id=city_id, name=r.text("city.name"), base_url=base_url,
                        languages=languages)

    database_url = env.get(DATABASE_URL_ENV) or r.text("database.url", default="")
    if not database_url:
        raise ConfigError(f"database.url is missing (or set {DATABASE_URL_ENV})")
    database_url = _resolve_sqlite(database_url, base_dir)

    secret_key = env.get(SECRET_KEY_ENV) or _read_secret_file(r, "server.secret_key_file", base_dir)
    if not secret_key:
        raise ConfigError(
            f"server secret key is missing: set {SECRET_KEY_ENV} or server.secret_key_file"
        )
    if len(secret_key) < _MIN_SECRET_LEN:
        raise ConfigError(
            f"server secret key is too short: use at least {_MIN_SECRET_LEN} random characters"
        )

    keys_dir = _resolve(r.text("keys.dir"), base_dir)
    if check_keys_dir:
        _check_keys_dir(keys_dir)

    passphrase = env.get(PASSPHRASE_ENV)
    default_locale = r.text("server.default_locale", default=languages[0])
    if default_locale not in SUPPORTED_LOCALES:
        raise ConfigError(f"server.default_locale {default_locale!r} is not available")

    auth = AuthSettings(
        max_failed_logins=r.integer("auth.max_failed_logins", default=5, minimum=1),
        lockout_minutes=r.integer("auth.lockout_minutes", default=15, minimum=1),
        session_hours=r.integer("auth.session_hours", default=8, minimum=1),
    )
    verify = VerifySettings(
        require_login=r.boolean("verify.require_login", default=False),
        rate_limit=r.text("verify.rate_limit", default="120 per minute"),
    )
    documents = r.table_of_int("registration.documents", default=DEFAULT_DOCUMENTS)
    for name in documents:
        if not re.match(r"^[a-z][a-z0-9_]{1,40}$", name):
            raise ConfigError(f"registration.documents: {name!r} is not a category name "
                              "(lower-case letters, digits and _)")
    registration = RegistrationSettings(
        documents=documents,
        points_needed=r.integer("registration.points_needed", default=3, minimum=0),
        fee_waivers=tuple(r.list_of_str("registration.fee_waivers",
                                        default=list(DEFAULT_FEE_WAIVERS))),
        photo_max_bytes=r.integer("registration.photo_max_bytes", default=8_000_000,
                              minimum=100_000),
    )
    cards = CardSettings(
        validity_years=r.integer("cards.validity_years", default=5, minimum=1),
        minor_validity_years=r.integer("cards.minor_validity_years", default=2, minimum=1),
        minor_age=r.integer("cards.minor_age", default=16, minimum=0),
        print_gender=r.boolean("cards.print_gender", default=True),
        renewal_days_before=r.integer("cards.renewal_days_before", default=60, minimum=0),
        renewal_days_after=r.integer("cards.renewal_days_after", default=183, minimum=0),
    )
    if cards.validity_years > 5:
        raise ConfigError("cards.validity_years is at most 5 (signing keys cover 5 years)")
    retention = RetentionSettings(
        days_after_expiry=r.integer("retention.days_after_expiry", default=365, minimum=0),
    )
    mail = MailSettings(
        enabled=r.boolean("mail.enabled", default=False),
        host=r.text("mail.host", default="localhost"),
        port=r.integer("mail.port", default=25, minimum=1),
        starttls=r.boolean("mail.starttls", default=False),
        username=r.text("mail.username", default=""),
        password=env.get("CARDSERVICE_SMTP_PASSWORD", ""),
        sender=r.text("mail.sender", default=""),
    )
    if mail.enabled and "@" not in mail.sender:
        raise ConfigError("mail.sender must be an e-mail address when mail.enabled is true")
    return Settings(
        city=city,
        mail=mail,
        registration=registration,
        cards=cards,
        retention=retention,
        database_url=database_url,
        keys_dir=keys_dir,
        secret_key=secret_key,
        key_passphrase=passphrase.encode() if passphrase else None,
        instance_dir=_resolve(r.text("server.instance_dir", default="instance"), base_dir),
        secure_cookies=r.boolean("server.secure_cookies", default=True),
        trusted_proxies=r.integer("server.trusted_proxies", default=0, minimum=0),
        default_locale=default_locale,
        ratelimit_storage_url=r.text("server.ratelimit_storage_url", default="memory://"),
        auth=auth,
        verify=verify,
        source=source,
    )


def _check_keys_dir(keys_dir: Path) -> None:
    if not keys_dir.exists():
        raise ConfigError(f"keys.dir {keys_dir} does not exist (create it, mode 0700)")
    if not keys_dir.is_dir():
        raise ConfigError(f"keys.dir {keys_dir} is not a directory")
    if not os.access(keys_dir, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"keys.dir {keys_dir} is not readable and writable by this user")
    if keys_dir.stat().st_mode & 0o077:
        raise ConfigError(f"keys.dir {keys_dir} is open to other users: chmod 700 it")


def _resolve(value: str, base_dir: Path) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base_dir / p)


def _resolve_sqlite(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config file, not the working directory."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////"):
        rel = url[len(prefix):]
        if rel and rel != ":memory:":
            return prefix + str(_resolve(rel, base_dir))
    return url


def _read_secret_file(r: _Reader, key: str, base_dir: Path) -> str:
    name = r.text(key, default="")
    if not name:
        return ""
    path = _resolve(name, base_dir)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{key}: cannot read {path}: {exc.strerror}") from None


class _Reader:
    """Typed access to dotted keys, with errors that name the key."""

    _MISSING = object()

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def _get(self, dotted: str, default: Any) -> Any:
        node: Any = self._data
        for part in dotted.split("."):
            if not isinstance(node, Mapping):
                raise ConfigError(f"{dotted}: {part!r} is inside a value that is not a table")
            if part not in node:
                if default is self._MISSING:
                    raise ConfigError(f"{dotted} is missing")
                return default
            node = node[part]
        return node

    def text(self, dotted: str, default: Any = _MISSING) -> str:
        value = self._get(dotted, default)
        if not isinstance(value, str):
            raise ConfigError(f"{dotted} must be a string")
        if default is self._MISSING and not value.strip():
            raise ConfigError(f"{dotted} is empty")
        return value.strip()

    def integer(self, dotted: str, *, default: int, minimum: int | None = None) -> int:
        value = self._get(dotted, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{dotted} must be a whole number")
        if minimum is not None and value < minimum:
            raise ConfigError(f"{dotted} must be at least {minimum}")
        return value

    def boolean(self, dotted: str, *, default: bool) -> bool:
        value = self._get(dotted, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{dotted} must be true or false")
        return value

    def table_of_int(self, dotted: str, *, default: Mapping[str, int]) -> dict[str, int]:
        value = self._get(dotted, default)
        if not isinstance(value, Mapping) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
        ):
            raise ConfigError(f"{dotted} must be a table of category = points (whole numbers)")
        return dict(value)

    def list_of_str(self, dotted: str, *, default: list[str]) -> list[str]:
        value = self._get(dotted, default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{dotted} must be a list of strings")
        return value
