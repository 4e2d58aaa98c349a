"""The offline verification kit: one self-contained HTML file that checks cards.

For a partner (a clinic, a city) without a server of its own: opened from disk
(``file://``) in a browser, with no network, it checks a card's code, pasted, typed by a
scanner or read from a photo, against the trust data written into it. The rules:

- The same checks as the verify page, by the same code: trust-documents.js checks every
  signed document against the roots pinned in the file (by SHA-256 fingerprint), and
  card-offline.js checks the card. They are ES modules, written into the file as they
  are served (each a ``data:`` URL named in an import map; their imports renamed to
  those names), so nothing is fetched from anywhere.
- The documents are the signed COSE documents as published, not a summary: editing
  them in the file breaks their signature, and a city whose documents fail is left out
  (its cards read "unknown city", never valid).
- The QR decoder (zxing-wasm, ~1 MB of WebAssembly) is written in as Base64, so the file
  can read a photo of a card; without it (``include_decoder=False``) only a pasted or
  typed code is checked.
- The file says how old its data is, and past the city's limit that it may be out of date.

Framework-free: Jinja2 and Babel, no Flask; public data only.
"""

from __future__ import annotations

import base64
import json
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from babel.dates import format_datetime

from cardservice import verdicts
from cardservice.labels import translations
from cardservice.locales import text_direction

PACKAGE = Path(__file__).resolve().parent
STATIC = PACKAGE / "static"
TEMPLATES = PACKAGE.parent / "templates"
ENTRY = "js/kit.js"
WASM = "vendor/zxing-wasm/reader/zxing_reader.wasm"
STYLESHEET = "css/app.css"
# A relative import or re-export in a module: `from "./x.js"`, `import "./x.js"`.
_RELATIVE_IMPORT = re.compile(r"""(\bfrom\s*|\bimport\s*)(["'])(\.{1,2}/[^"'\s]+)\2""")
_MODULE_PREFIX = "cardkit/"


class KitBuildError(Exception):
    """The kit's own code could not be put together (a module is missing)."""


@dataclass(frozen=True)
class OfflineKit:
    """The trust data a kit carries: signed documents and the roots they chain to."""

    city_id: str
    city_name: str
    generated_at: datetime
    max_age_hours: int
    #: {id, name, own, suspended, root_sha256} per recognised city (Verifier.offline_pins)
    pins: Sequence[Mapping[str, Any]]
    #: {id, bundle, revocations} per city: the published COSE documents, Base64url
    documents: Sequence[Mapping[str, Any]]


def _module_graph(entry: str) -> dict[str, str]:
    """Every module reachable from ``entry`` (paths under static/), imports renamed."""
    out: dict[str, str] = {}
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in out:
            continue
        file = STATIC / path
        if not file.is_file() or ".." in Path(path).parts:
            raise KitBuildError(f"module {path} is missing")
        found: list[str] = []

        def rename(match: re.Match[str], here: str = path, found: list[str] = found) -> str:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(here), match[3]))
            if target.startswith("../"):
                raise KitBuildError(f"{here} imports {match[3]}, outside static/")
            found.append(target)
            return f"{match[1]}{match[2]}{_MODULE_PREFIX}{target}{match[2]}"

        out[path] = _RELATIVE_IMPORT.sub(rename, file.read_text(encoding="utf-8"))
        todo.extend(found)
    return out


@cache
def _code() -> tuple[str, str]:
    """The import map (JSON) and the entry module's name: the kit's code, once a process."""
    modules = _module_graph(ENTRY)
    imports = {_MODULE_PREFIX + path: "data:text/javascript;base64,"
               + base64.b64encode(text.encode("utf-8")).decode("ascii")
               for path, text in sorted(modules.items())}
    return json.dumps({"imports": imports}), _MODULE_PREFIX + ENTRY


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no "</" or "<!--" can close or confuse it."""
    return (json.dumps(value, ensure_ascii=False, sort_keys=True)
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def _environment(locale: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             extensions=["jinja2.ext.i18n"], undefined=jinja2.StrictUndefined)
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    return env


def render_kit(kit: OfflineKit, *, locale: str, include_decoder: bool = True) -> bytes:
    """The kit as one HTML file (UTF-8), in ``locale``'s words."""
    gettext = translations(locale).gettext
    import_map, entry = _code()
    data = {
        "city": {"id": kit.city_id, "name": kit.city_name},
        "generated_at": kit.generated_at.isoformat().replace("+00:00", "Z"),
        "max_age_hours": kit.max_age_hours,
        "pins": [dict(p) for p in kit.pins],
        "documents": [dict(d) for d in kit.documents],
    }
    strings = {
        "titles": {k: gettext(v) for k, v in verdicts.TITLES.items()},
        "reasons": {k: gettext(v) for k, v in verdicts.REASONS.items()},
        "warnings": {k: gettext(v) for k, v in verdicts.WARNINGS.items()},
    }
    wasm = (base64.b64encode((STATIC / WASM).read_bytes()).decode("ascii")
            if include_decoder else "")
    template = _environment(locale).get_template("verify/kit.html")
    html = template.render(
        locale=locale, direction=text_direction(locale), kit=kit, max_age_hours=kit.max_age_hours,
        generated=format_datetime(kit.generated_at, "long", locale=locale),
        stylesheet=(STATIC / STYLESHEET).read_text(encoding="utf-8").replace("</", "<\\/"),
        import_map=import_map, entry=entry, wasm=wasm,
        data_json=_script_json(data), strings_json=_script_json(strings))
    return html.encode("utf-8")
