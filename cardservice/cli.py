"""The ``cardservice`` command: init, serve, users, audit, keys, verify, …

Configuration comes from ``CARDSERVICE_CONFIG``. Errors are one line on stderr
and a non-zero exit, never a traceback. Scripts read results from stdout (for
example ``users token`` prints the token alone on the last line).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from cardservice import schema
from cardservice.clock import utcnow
from cardservice.config import ConfigError, Settings, load_settings
from cardservice.db import Database
from cardservice.errors import DomainError
from cardservice.services import audit, users

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Lazily loaded settings and database for one command."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._db: Database | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def db(self) -> Database:
        if self._db is None:
            self._db = Database(self.settings.database_url)
        return self._db

    def close(self) -> None:
        """Release the database connections."""
        if self._db is not None:
            self._db.dispose()
            self._db = None

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.db.session() as s:
            yield s


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def operator() -> str:
    """The audit actor for command-line actions: the operating-system account."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = str(os.getuid())
    return f"cli:{name}"[:64]


def handle_errors(fn: F) -> F:
    """Print domain and configuration errors as one line and exit 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None
        except DomainError as exc:
            raise click.ClickException(exc.message) from None

    return wrapper  # type: ignore[return-value]


click.ClickException.exit_code = 2


@click.group()
@click.pass_context
def main(click_ctx: click.Context) -> None:
    """Issue and verify local citizenship cards."""
    ctx = click_ctx.ensure_object(Context)
    click_ctx.call_on_close(ctx.close)


@main.command()
@click.option("--admin", "admin_name", default=None, help="Create this admin account if missing.")
@pass_ctx
@handle_errors
def init(ctx: Context, admin_name: str | None) -> None:
    """Create or upgrade the database, create the city's keys and an admin. Safe to repeat."""
    settings = load_settings(check_keys_dir=False)
    keys_dir = settings.keys_dir
    if not keys_dir.exists():
        keys_dir.mkdir(parents=True, mode=0o700)
        click.echo(f"created keys directory {keys_dir}")
    settings = load_settings()  # now the keys directory must be usable
    ctx._settings = settings
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    schema.upgrade(ctx.db)
    click.echo("database schema is up to date")
    for step in INIT_STEPS:
        step(ctx)
    if admin_name:
        with ctx.session() as s:
            try:
                users.get_user(s, admin_name)
                click.echo(f"admin {admin_name} already exists")
            except DomainError:
                _user, password = users.create_user(
                    s, username=admin_name, role="admin", actor=operator(), now=utcnow())
                click.echo(f"created admin {admin_name}; one-time password (change it at "
                           f"first sign-in):")
                click.echo(password)


# Later capabilities (keys, vault) add their own idempotent steps to ``init``.
INIT_STEPS: list[Callable[[Context], None]] = []


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--dev", is_flag=True, help="Flask's development server (auto-reload, one process).")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the city's web application."""
    from cardservice import create_app

    settings = ctx.settings
    if not schema.is_current(ctx.db):
        raise click.ClickException("the database schema is not up to date: run `cardservice init`")
    if dev:
        create_app(settings).run(host=host, port=port, debug=False)
        return
    from cardservice.wsgi_server import run_gunicorn

    run_gunicorn(settings, host=host, port=port, workers=workers)


# ---- users ---------------------------------------------------------------------------------

@main.group("users")
def users_group() -> None:
    """Staff accounts."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "clerk", "agent"]), required=True)
@pass_ctx
@handle_errors
def users_add(ctx: Context, username: str, role: str) -> None:
    """Create an account and print its one-time password."""
    with ctx.session() as s:
        user, password = users.create_user(s, username=username, role=role, actor=operator(),
                                           now=utcnow())
    click.echo(f"created {user.username} ({user.role}); one-time password:")
    click.echo(password)


@users_group.command("list")
@pass_ctx
@handle_errors
def users_list(ctx: Context) -> None:
    """List accounts."""
    with ctx.session() as s:
        rows = users.list_users(s)
        click.echo(f"{'username':<24} {'role':<6} {'state':<9} last sign-in")
        for u in rows:
            state = "disabled" if u.disabled else "active"
            last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
            click.echo(f"{u.username:<24} {u.role:<6} {state:<9} {last}")


@users_group.command("disable")
@click.argument("username")
@pass_ctx
@handle_errors
def users_disable(ctx: Context, username: str) -> None:
    """Disable an account and revoke its API tokens."""
    with ctx.session() as s:
        users.set_disabled(s, username=username, disabled=True, actor=operator(), now=utcnow())
    click.echo(f"{username} is disabled")


@users_group.command("enable")
@click.argument("username")
@pass_ctx
@handle_errors
def users_enable(ctx: Context, username: str) -> None:
    """Enable an account again."""
    with ctx.session() as s:
        users.set_disabled(s, username=username, disabled=False, actor=operator(), now=utcnow())
    click.echo(f"{username} is enabled")


@users_group.command("reset-password")
@click.argument("username")
@pass_ctx
@handle_errors
def users_reset(ctx: Context, username: str) -> None:
    """Give an account a new one-time password (and unlock it)."""
    with ctx.session() as s:
        password = users.reset_password(s, username=username, actor=operator(), now=utcnow())
    click.echo(f"new one-time password for {username}:")
    click.echo(password)


@users_group.command("token")
@click.argument("username")
@pass_ctx
@handle_errors
def users_token(ctx: Context, username: str) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    with ctx.session() as s:
        token = users.create_token(s, username=username, actor=operator(), now=utcnow())
    click.echo(f"API token for {username} (shown only once):", err=True)
    click.echo(token)


# ---- audit ---------------------------------------------------------------------------------

@main.group("audit")
def audit_group() -> None:
    """The audit log."""


@audit_group.command("verify")
@pass_ctx
@handle_errors
def audit_verify(ctx: Context) -> None:
    """Check the hash chain; names the first altered or missing entry."""
    with ctx.session() as s:
        try:
            report = audit.verify_chain(s)
        except audit.AuditChainError as exc:
            click.echo(f"audit log BROKEN: entry {exc.seq} {exc.reason}", err=True)
            sys.exit(1)
    click.echo(f"audit log intact: {report.entries} entries, head {report.head_hash[:16]}…")




if __name__ == "__main__":  # pragma: no cover
    main()


