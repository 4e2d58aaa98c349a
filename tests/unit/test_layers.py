"""Dependency direction: web and CLI → services → pure modules, never the other way."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cardservice"
PURE = ["pki", "credential", "trust", "vault", "qr", "cardpdf", "photo", "serials", "privacy",
        "securefile", "viscii", "cose", "values"]
# Not pure (it reads and writes the keys directory) but framework-free all the same.
FRAMEWORK_FREE = [*PURE, "keystore"]
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


def module_files(name: str) -> list[Path]:
    """The files of module ``name``: ``name.py``, or every file of the package ``name/``."""
    single = PACKAGE / f"{name}.py"
    files = [single] if single.exists() else sorted((PACKAGE / name).glob("**/*.py"))
    assert files, f"no module or package {name}"
    return files


def test_pure_modules_import_no_framework():
    for name in FRAMEWORK_FREE:
        for path in module_files(name):
            bad = {i for i in imports_of(path) if i.startswith(FORBIDDEN_IN_PURE[:-1])}
            assert bad == set(), f"{path.name} imports {bad}"
            text = path.read_text(encoding="utf-8")
            assert "os.environ" not in text, f"{path.name} reads the env"


def test_services_do_not_import_the_web_layer():
    for path in (PACKAGE / "services").glob("*.py"):
        bad = {i for i in imports_of(path) if i.startswith(("flask", "cardservice.web",
                                                             "cardservice.cli"))}
        assert bad == set(), f"{path.name} imports {bad}"
