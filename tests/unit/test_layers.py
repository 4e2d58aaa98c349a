"""Dependency direction: web and CLI → application → services → pure modules.

Also: only the application's unit of work commits or rolls back; web views, CLI
commands and services never do.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "cardservice"
PURE = ["pki", "credential", "trust", "vault", "qr", "cardpdf", "photo", "serials", "privacy",
        "securefile", "viscii", "cose", "values", "namecodec", "cardtext", "safejson",
        "slippdf", "locales", "spokenlang"]
# Not pure (the key store reads and writes the keys directory, the sandbox starts child
# processes, the fetcher reaches the network, backupfile packs and checks backup files) but
# framework-free all the same.
FRAMEWORK_FREE = [*PURE, "keystore", "sandbox", "fetcher", "backupfile", "logjson", "verifykit",
                  "verdicts"]
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


def test_application_does_not_import_the_web_layer_or_the_cli():
    for path in sorted((PACKAGE / "application").glob("*.py")):
        bad = {i for i in imports_of(path) if i.startswith(("flask", "cardservice.web",
                                                             "cardservice.cli"))}
        assert bad == set(), f"application/{path.name} imports {bad}"


# Web and CLI reach the database, the services and the models only through the
# application layer (cardservice.application re-exports the results and errors they name).
BELOW_THE_APPLICATION = ("sqlalchemy", "cardservice.services", "cardservice.models",
                         "cardservice.db", "cardservice.schema")


def _shell_files() -> list[Path]:
    return [*sorted((PACKAGE / "web").glob("*.py")), PACKAGE / "cli.py", PACKAGE / "demo.py",
            PACKAGE / "wsgi_server.py", PACKAGE / "__init__.py"]


def test_web_and_cli_call_only_the_application_layer():
    for path in _shell_files():
        bad = {i for i in imports_of(path) if i.startswith(BELOW_THE_APPLICATION)}
        assert bad == set(), f"{path.relative_to(PACKAGE)} imports {bad}"


def _transaction_calls(path: Path) -> list[str]:
    """``x.commit()``, ``x.rollback()`` and ``x.begin()`` calls in a file, as 'line: code'."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("commit", "rollback", "begin", "begin_nested")):
            found.append(f"{node.lineno}: .{node.func.attr}()")
    return found


def test_only_the_unit_of_work_commits():
    files = [*_shell_files(), *sorted((PACKAGE / "services").glob("*.py")),
             *sorted((PACKAGE / "application").glob("*.py"))]
    # schema.py runs Alembic migrations in their own transaction (engine.begin()).
    allowed = {PACKAGE / "application" / "unit.py"}
    offenders = {str(p.relative_to(PACKAGE)): calls for p in files if p not in allowed
                 if (calls := _transaction_calls(p))}
    assert offenders == {}


def test_the_layer_checks_see_a_commit():
    # The check above would pass vacuously if it could not find a commit: show it can.
    assert _transaction_calls(PACKAGE / "application" / "unit.py")
