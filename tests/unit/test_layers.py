"""Dependency direction: web and CLI → services → pure modules, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cardservice"
PURE = ["pki", "credential", "trust", "vault", "qr", "cardpdf", "photo", "serials", "privacy",
        "securefile", "viscii"]
FORBIDDEN_IN_PURE = ("flask", "sqlalchemy", "cardservice.services", "cardservice.web",
                     "cardservice.models", "cardservice.db", "cardservice.cli", "os.environ")


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_pure_modules_import_no_framework():
    for name in PURE:
        path = PACKAGE / f"{name}.py"
        if not path.exists():
            continue
        bad = {i for i in imports_of(path) if i.startswith(FORBIDDEN_IN_PURE[:-1])}
        assert bad == set(), f"{name} imports {bad}"
        assert "os.environ" not in path.read_text(encoding="utf-8"), f"{name} reads the env"


def test_services_do_not_import_the_web_layer():
    for path in (PACKAGE / "services").glob("*.py"):
        bad = {i for i in imports_of(path) if i.startswith(("flask", "cardservice.web",
                                                             "cardservice.cli"))}
        assert bad == set(), f"{path.name} imports {bad}"
