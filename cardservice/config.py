"""Configuration: a TOML file in, a validated frozen ``Settings`` object out.

The file is named by ``CARDSERVICE_CONFIG``. A few values may come from the
environment instead, because they are secrets or differ per deployment:
``CARDSERVICE_SECRET_KEY``, ``CARDSERVICE_KEY_PASSPHRASE`` and
``CARDSERVICE_DATABASE_URL``. Relative paths are resolved against the directory
of the configuration file.

Every problem is reported as one ``ConfigError`` whose message names the key,
so an operator sees one line, never a traceback. There is no default secret.

Each default is written once, as the default of a dataclass field below; the
parser reads the fields (``dataclasses.fields``) to know which keys exist, what
type each has and what to use when it is absent. A sub-settings class is read
from the table of the same name, one key per field (``cards.validity_years``);
a top-level ``Settings`` field names its key in ``metadata["key"]``. An unknown
table or key is refused, naming the closest known one, so a typo cannot
silently leave a default in force.
"""

from __future__ import annotations

import difflib
import functools
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, get_type_hints

from cardservice import branding as _branding
from cardservice.cardtext import DEFAULT_FONT_DIRS
from cardservice.values import is_city_id

CONFIG_ENV = "CARDSERVICE_CONFIG"
SECRET_KEY_ENV = "CARDSERVICE_SECRET_KEY"  # noqa: S105 - the variable's name, not a secret
PASSPHRASE_ENV = "CARDSERVICE_KEY_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret
DATABASE_URL_ENV = "CARDSERVICE_DATABASE_URL"
SMTP_PASSWORD_ENV = "CARDSERVICE_SMTP_PASSWORD"  # noqa: S105 - the variable's name, not a secret
METRICS_TOKEN_ENV = "CARDSERVICE_METRICS_TOKEN"  # noqa: S105 - the variable's name, not a secret
INSTANCE_DIR_ENV = "CARDSERVICE_INSTANCE_DIR"
LOG_FORMATS = ("text", "json")

# The interface and card-label languages; each has a catalog in cardservice/translations.
SUPPORTED_LOCALES = ("en", "fr", "pt", "es", "ar")
_MIN_SECRET_LEN = 32
# Read by hand in settings_from_mapping: it names where a value is, not the value.
_SECRET_KEY_FILE = "server.secret_key_file"  # noqa: S105 - a key's name, not a secret


class ConfigError(Exception):
    """The configuration is missing or invalid; the message names the key."""


@dataclass(frozen=True)
class CitySettings:
    """Who this city is."""

    id: str
    name: str
    base_url: str
    languages: tuple[str, ...] = ("en",)
    # Printed on the renewal slip when set; "\n" separates lines.
    desk_address: str = ""
    desk_hours: str = ""


@dataclass(frozen=True)
class AuthSettings:
    """Staff sign-in rules."""

    max_failed_logins: int = field(default=5, metadata={"minimum": 1})
    lockout_minutes: int = field(default=15, metadata={"minimum": 1})
    session_hours: int = field(default=8, metadata={"minimum": 1})


@dataclass(frozen=True)
class VerifySettings:
    """Card verification rules."""

    require_login: bool = False
    rate_limit: str = "120 per minute"
    #: A valid partner card carries the warning revocations_stale when the partner's
    #: revocation list held here was issued longer ago than this (or is past next_update).
    revocations_max_age_hours: int = field(default=48, metadata={"minimum": 1})


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
    points_needed: int = field(default=3, metadata={"minimum": 0})
    fee_waivers: tuple[str, ...] = DEFAULT_FEE_WAIVERS
    photo_max_bytes: int = field(default=8_000_000, metadata={"minimum": 100_000})


@dataclass(frozen=True)
class CardSettings:
    """How cards are issued and printed."""

    validity_years: int = field(default=5, metadata={"minimum": 1})
    minor_validity_years: int = field(default=2, metadata={"minimum": 1})
    minor_age: int = field(default=16, metadata={"minimum": 0})
    print_gender: bool = True
    renewal_days_before: int = field(default=60, metadata={"minimum": 0})
    renewal_days_after: int = field(default=183, metadata={"minimum": 0})
    # Directories searched for the fonts of non-Latin scripts (cardservice.cardtext).
    font_dirs: tuple[str, ...] = DEFAULT_FONT_DIRS


@dataclass(frozen=True)
class MailSettings:
    """Optional e-mail notices to residents who gave an address (off by default)."""

    enabled: bool = False
    host: str = "localhost"
    port: int = field(default=25, metadata={"minimum": 1})
    starttls: bool = False
    username: str = ""
    # Never in the file: a secret comes from the environment only.
    password: str = field(default="", repr=False, metadata={"key": None, "env": SMTP_PASSWORD_ENV})
    sender: str = ""


@dataclass(frozen=True)
class MetricsSettings:
    """The Prometheus endpoint ``/metrics`` (off by default).

    When enabled, a scraper must send ``Authorization: Bearer <token>`` with the token
    from the environment (never from the file); ``/metrics`` answers 404 when disabled.
    """

    enabled: bool = False
    token: str = field(default="", repr=False,
                       metadata={"key": None, "env": METRICS_TOKEN_ENV})


@dataclass(frozen=True)
class UploadSettings:
    """How uploaded files (pictures and PDFs of cards, photos) are decoded.

    Each is decoded in a child process under these limits, at most ``concurrent_decodes``
    at once per server process; ``waiting_decodes`` more may wait ``wait_ms`` for a turn,
    any other is answered "busy" (503) at once. A waiting upload holds a server thread:
    keep ``concurrent_decodes + waiting_decodes`` below ``serve --threads``.
    """

    concurrent_decodes: int = field(default=2, metadata={"minimum": 1})
    waiting_decodes: int = field(default=1, metadata={"minimum": 0})
    wait_ms: int = field(default=500, metadata={"minimum": 0})
    cpu_seconds: int = field(default=5, metadata={"minimum": 1})
    memory_mb: int = field(default=512, metadata={"minimum": 256})
    wall_seconds: int = field(default=15, metadata={"minimum": 1})


@dataclass(frozen=True)
class BrandingSettings:
    """How the city's card and pages look (see cardservice/branding.py for the checks)."""

    #: A PNG or JPEG, at most 256 KB and 1024 pixels a side, printed on the card's band.
    emblem: Path | None = None
    colour: str = _branding.DEFAULT_COLOUR
    #: Optional "If found, return to …" line on the card's back (at most 80 characters).
    return_to: str = ""


@dataclass(frozen=True)
class RetentionSettings:
    """How long personal data is kept after a resident's last card expired."""

    days_after_expiry: int = field(default=365, metadata={"minimum": 0})


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one city instance.

    A field whose type is a sub-settings class is read from the table of its name;
    a field with ``metadata["key"]`` from that key (``metadata["env"]`` names an
    environment variable that takes its place); the others are set by the parser.
    """

    city: CitySettings
    database_url: str = field(metadata={"key": "database.url", "env": DATABASE_URL_ENV})
    keys_dir: Path = field(metadata={"key": "keys.dir"})
    secret_key: str = field(repr=False)  # CARDSERVICE_SECRET_KEY or server.secret_key_file
    key_passphrase: bytes | None = field(repr=False, default=None)  # CARDSERVICE_KEY_PASSPHRASE
    instance_dir: Path = field(default=Path("instance"),
                               metadata={"key": "server.instance_dir", "env": INSTANCE_DIR_ENV})
    secure_cookies: bool = field(default=True, metadata={"key": "server.secure_cookies"})
    trusted_proxies: int = field(default=0,
                                 metadata={"key": "server.trusted_proxies", "minimum": 0})
    #: The keys page warns this many days before a signing key stops signing.
    key_expiry_warning_days: int = field(default=30, metadata={"key": "keys.expiry_warning_days",
                                                               "minimum": 1})
    # When absent from the file: the first of city.languages (set by the parser).
    default_locale: str = field(default="en", metadata={"key": "server.default_locale"})
    # memory:// counts in each process apart; redis://… shares the counts between them.
    ratelimit_storage_url: str = field(default="memory://",
                                       metadata={"key": "server.ratelimit_storage_url"})
    #: "text" (one line per event) or "json" (one JSON object per line, for log shippers).
    log_format: str = field(default="text", metadata={"key": "server.log_format"})
    auth: AuthSettings = AuthSettings()
    verify: VerifySettings = VerifySettings()
    registration: RegistrationSettings = RegistrationSettings()
    cards: CardSettings = CardSettings()
    uploads: UploadSettings = UploadSettings()
    retention: RetentionSettings = RetentionSettings()
    mail: MailSettings = MailSettings()
    metrics: MetricsSettings = MetricsSettings()
    branding: BrandingSettings = BrandingSettings()
    source: Path | None = None

    @property
    def limits_shared(self) -> bool:
        """Whether rate limits are counted in one place for every process (e.g. Redis)."""
        return not self.ratelimit_storage_url.startswith("memory://")


def per_process_limits_warning(settings: Settings, *, processes: int) -> str | None:
    """The start-up warning when several processes would each count rate limits apart.

    Sign-in throttling lives in the database and is shared anyway; rate limits (verify,
    renewal attempts, sign-in posts) are shared only through a common storage.
    """
    if processes <= 1 or settings.limits_shared:
        return None
    return (f"warning: server.ratelimit_storage_url is {settings.ratelimit_storage_url!r}: "
            f"each of the {processes} worker processes counts rate limits apart, so a limit "
            f"of 5 an hour lets up to {5 * processes} through. Set "
            "server.ratelimit_storage_url = \"redis://HOST:6379/0\" to share them, or serve "
            "with --workers 1.")


def _file_fields(cls: type, section: str | None) -> Iterator[tuple[Field[Any], str | None]]:
    """Each field of ``cls`` with the dotted key it is read from (None: not from the file)."""
    for f in fields(cls):
        if "key" in f.metadata:
            yield f, f.metadata["key"]
        else:
            yield f, f"{section}.{f.name}" if section else None


def _sections() -> dict[str, type]:
    """The tables read into a sub-settings class: ``Settings`` field name -> class."""
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings) if is_dataclass(hints[f.name])}


def _file_keys() -> frozenset[str]:
    """Every key the file may hold, dotted."""
    keys = {_SECRET_KEY_FILE}
    for section, cls in [(None, Settings), *_sections().items()]:
        keys.update(key for _, key in _file_fields(cls, section) if key is not None)
    return frozenset(keys)


def _env_only_keys() -> dict[str, str]:
    """Keys someone may write in the file whose value only the environment gives."""
    keys = {"server.secret_key": SECRET_KEY_ENV, "keys.passphrase": PASSPHRASE_ENV}
    for section, cls in _sections().items():
        for f, key in _file_fields(cls, section):
            if key is None and "env" in f.metadata:
                keys[f"{section}.{f.name}"] = f.metadata["env"]
    return keys


FILE_KEYS = _file_keys()
"""Every key a configuration file may hold, dotted (``cards.validity_years``)."""
_ENV_ONLY_KEYS = _env_only_keys()


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
    _refuse_unknown_keys(data)
    r = _Reader(data, base_dir=base_dir, environ=env)

    city = CitySettings(**r.fields(CitySettings, "city"))
    if not is_city_id(city.id):
        raise ConfigError(
            f"city.id {city.id!r} is not a UN/LOCODE without the space (e.g. PTLIS, FRLYS)"
        )
    city = replace(city, base_url=city.base_url.rstrip("/"))
    if not re.match(r"^https?://[^/\s]+", city.base_url):
        raise ConfigError(f"city.base_url {city.base_url!r} must be an http(s) URL")
    if not 1 <= len(city.languages) <= 2:
        raise ConfigError("city.languages must list one or two languages for the card labels")
    for lang in city.languages:
        if lang not in SUPPORTED_LOCALES:
            raise ConfigError(
                f"city.languages: {lang!r} has no translation yet "
                f"(available: {', '.join(SUPPORTED_LOCALES)})"
            )
    if len(set(city.languages)) != len(city.languages):
        raise ConfigError("city.languages names the same language twice")

    top = r.fields(Settings, None)
    top["database_url"] = _resolve_sqlite(top["database_url"], base_dir)

    secret_key = env.get(SECRET_KEY_ENV) or _read_secret_file(r, base_dir)
    if not secret_key:
        raise ConfigError(
            f"server secret key is missing: set {SECRET_KEY_ENV} or {_SECRET_KEY_FILE}"
        )
    if len(secret_key) < _MIN_SECRET_LEN:
        raise ConfigError(
            f"server secret key is too short: use at least {_MIN_SECRET_LEN} random characters"
        )

    if check_keys_dir:
        _check_keys_dir(top["keys_dir"])

    passphrase = env.get(PASSPHRASE_ENV)
    top.setdefault("default_locale", city.languages[0])
    if top["default_locale"] not in SUPPORTED_LOCALES:
        raise ConfigError(f"server.default_locale {top['default_locale']!r} is not available")

    settings = Settings(
        city=city,
        secret_key=secret_key,
        key_passphrase=passphrase.encode() if passphrase else None,
        source=source,
        **top,
        **{name: cls(**r.fields(cls, name))
           for name, cls in _sections().items() if name != "city"},
    )
    for name in settings.registration.documents:
        if not re.match(r"^[a-z][a-z0-9_]{1,40}$", name):
            raise ConfigError(f"registration.documents: {name!r} is not a category name "
                              "(lower-case letters, digits and _)")
    if settings.cards.validity_years > 5:
        raise ConfigError("cards.validity_years is at most 5 (signing keys cover 5 years)")
    if settings.log_format not in LOG_FORMATS:
        raise ConfigError(f"server.log_format must be one of {', '.join(LOG_FORMATS)}")
    if settings.metrics.enabled and len(settings.metrics.token) < _MIN_SECRET_LEN:
        raise ConfigError(f"metrics.enabled is true: set {METRICS_TOKEN_ENV} to at least "
                          f"{_MIN_SECRET_LEN} random characters (scrapers send it as a "
                          "Bearer token)")
    if settings.mail.enabled and "@" not in settings.mail.sender:
        raise ConfigError("mail.sender must be an e-mail address when mail.enabled is true")
    load_branding(settings.branding)
    return settings


RETURN_TO_MAX = 80


def load_branding(b: BrandingSettings) -> _branding.Branding:
    """The checked branding, the emblem read from its file; a problem is a ConfigError."""
    try:
        _branding.parse_colour(b.colour)
    except _branding.BrandingError as exc:
        raise ConfigError(f"branding.colour: {exc}") from None
    if len(b.return_to) > RETURN_TO_MAX or any(c in b.return_to for c in "\r\n\t"):
        raise ConfigError(f"branding.return_to must be one line of at most {RETURN_TO_MAX} "
                          "characters")
    emblem = emblem_type = None
    if b.emblem is not None:
        try:
            with b.emblem.open("rb") as fh:
                emblem = fh.read(_branding.EMBLEM_MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"branding.emblem: cannot read {b.emblem}: "
                              f"{exc.strerror}") from None
        try:
            emblem_type = _branding.check_emblem(emblem)
        except _branding.BrandingError as exc:
            raise ConfigError(f"branding.emblem {b.emblem}: {exc}") from None
    return _branding.Branding(colour=b.colour.lower(), emblem=emblem, emblem_type=emblem_type,
                              return_to=b.return_to)


@functools.cache
def city_branding(b: BrandingSettings) -> _branding.Branding:
    """:func:`load_branding`, read once per process (the emblem is printed on every card)."""
    return load_branding(b)


def _refuse_unknown_keys(data: Mapping[str, Any]) -> None:
    """Refuse a table or key the parser does not know, naming the closest known one."""
    tables = {key.split(".")[0] for key in FILE_KEYS}
    problems = []
    for name, value in data.items():
        if name not in tables:
            problems.append(_unknown(name, "table" if isinstance(value, Mapping) else "key",
                                     sorted(tables) + sorted(FILE_KEYS)))
        elif not isinstance(value, Mapping):
            problems.append(f"{name} must be a table ([{name}])")
        else:
            for key in value:
                dotted = f"{name}.{key}"
                if dotted in _ENV_ONLY_KEYS:
                    problems.append(f"{dotted}: a secret is never read from the file "
                                    f"(set {_ENV_ONLY_KEYS[dotted]})")
                elif dotted not in FILE_KEYS:
                    problems.append(_unknown(dotted, "key", sorted(FILE_KEYS)))
    if problems:
        raise ConfigError("; ".join(problems))


def _unknown(dotted: str, what: str, known: list[str]) -> str:
    """``cards.validty_years: unknown key (did you mean cards.validity_years?)``."""
    close = difflib.get_close_matches(dotted, known, n=1)
    if not close:  # a known key in the wrong table: compare the last part alone
        leaf = dotted.rsplit(".", 1)[-1]
        close = [k for k in known if k.rsplit(".", 1)[-1] in
                 difflib.get_close_matches(leaf, [k.rsplit(".", 1)[-1] for k in known], n=1)]
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{dotted}: unknown {what}{hint}"


def _check_keys_dir(keys_dir: Path) -> None:
    if not keys_dir.exists():
        raise ConfigError(f"keys.dir {keys_dir} does not exist (create it, mode 0700)")
    if not keys_dir.is_dir():
        raise ConfigError(f"keys.dir {keys_dir} is not a directory")
    if not os.access(keys_dir, os.R_OK | os.W_OK | os.X_OK):
        raise ConfigError(f"keys.dir {keys_dir} is not readable and writable by this user")
    if keys_dir.stat().st_mode & 0o077:
        raise ConfigError(f"keys.dir {keys_dir} is open to other users: chmod 700 it")


def _resolve(value: str | Path, base_dir: Path) -> Path:
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


def _read_secret_file(r: _Reader, base_dir: Path) -> str:
    name = r.value(_SECRET_KEY_FILE, str, required=False)
    if name is _Reader.ABSENT or not name:
        return ""
    path = _resolve(name, base_dir)
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{_SECRET_KEY_FILE}: cannot read {path}: {exc.strerror}") from None


class _Reader:
    """Typed access to dotted keys, with errors that name the key."""

    ABSENT: Any = object()  # what value() returns for an absent optional key

    def __init__(self, data: Mapping[str, Any], *, base_dir: Path,
                 environ: Mapping[str, str]) -> None:
        self._data = data
        self._base_dir = base_dir
        self._env = environ

    def fields(self, cls: type, section: str | None) -> dict[str, Any]:
        """The keyword arguments for ``cls`` found in the file or the environment.

        An absent optional key is left out, so the field's own default applies;
        a relative path default is resolved like a path from the file.
        """
        hints = get_type_hints(cls)
        values: dict[str, Any] = {}
        for f, key in _file_fields(cls, section):
            required = f.default is MISSING and f.default_factory is MISSING
            from_env = self._env.get(f.metadata["env"], "") if "env" in f.metadata else ""
            if from_env:
                # A path from the environment is relative to the working directory.
                values[f.name] = Path(from_env).resolve() if hints[f.name] is Path else from_env
            elif key is not None:
                value = self.value(key, hints[f.name], required=required,
                                   minimum=f.metadata.get("minimum"),
                                   env=f.metadata.get("env"))
                if value is not self.ABSENT:
                    values[f.name] = value
                elif isinstance(f.default, Path):
                    values[f.name] = _resolve(f.default, self._base_dir)
        return values

    def value(self, dotted: str, kind: Any, *, required: bool, minimum: int | None = None,
              env: str | None = None) -> Any:
        """The value at ``dotted`` checked against ``kind``, or ``ABSENT``."""
        value = self._get(dotted)
        if value is self.ABSENT:
            if required:
                raise ConfigError(f"{dotted} is missing" + (f" (or set {env})" if env else ""))
            return value
        if kind == (Path | None):  # an optional file: "" means none
            if isinstance(value, str) and not value.strip():
                return None
            kind = Path
        if kind is str or kind is Path:
            if not isinstance(value, str):
                raise ConfigError(f"{dotted} must be a string")
            if required and not value.strip():
                raise ConfigError(f"{dotted} is empty")
            return _resolve(value.strip(), self._base_dir) if kind is Path else value.strip()
        if kind is bool:
            if not isinstance(value, bool):
                raise ConfigError(f"{dotted} must be true or false")
            return value
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{dotted} must be a whole number")
            if minimum is not None and value < minimum:
                raise ConfigError(f"{dotted} must be at least {minimum}")
            return value
        if kind == tuple[str, ...]:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{dotted} must be a list of strings")
            return tuple(value)
        if kind == Mapping[str, int]:
            if not isinstance(value, Mapping) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
            ):
                raise ConfigError(f"{dotted} must be a table of category = points (whole numbers)")
            return dict(value)
        raise TypeError(f"{dotted}: no reader for {kind!r}")  # a new field type: add a reader

    def _get(self, dotted: str) -> Any:
        node: Any = self._data
        for part in dotted.split("."):
            if not isinstance(node, Mapping):
                raise ConfigError(f"{dotted}: {part!r} is inside a value that is not a table")
            if part not in node:
                return self.ABSENT
            node = node[part]
        return node
