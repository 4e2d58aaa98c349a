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
from typing import Any, TypeVar

import click
from sqlalchemy.orm import Session

from cardservice import pki, schema, vault
from cardservice.clock import utcnow
from cardservice.config import ConfigError, Settings, load_settings
from cardservice.db import Database
from cardservice.errors import DomainError
from cardservice.services import audit, users
from cardservice.services.citykeys import CityKeys

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """Lazily loaded settings and database for one command."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._db: Database | None = None
        self._keys: CityKeys | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @property
    def keys(self) -> CityKeys:
        if self._keys is None:
            self._keys = CityKeys(self.settings)
        return self._keys

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
    """Print domain, key and configuration errors as one line and exit 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            raise click.ClickException(f"configuration: {exc}") from None
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        except (pki.PKIError, vault.VaultError) as exc:
            raise click.ClickException(f"keys: {exc}") from None

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


def _init_keys(ctx: Context) -> None:
    for line in ctx.keys.init(now=utcnow()) or ["keys are in place"]:
        click.echo(line)


# Idempotent steps of ``init`` after the schema.
INIT_STEPS: list[Callable[[Context], None]] = [_init_keys]


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




# ---- keys ----------------------------------------------------------------------------------

@main.group("keys")
def keys_group() -> None:
    """The city root and signing keys in keys/."""


@keys_group.command("init")
@pass_ctx
@handle_errors
def keys_init(ctx: Context) -> None:
    """Create the city root, a signing key and the master key unless they exist."""
    _init_keys(ctx)


@keys_group.command("status")
@pass_ctx
@handle_errors
def keys_status(ctx: Context) -> None:
    """Show the city fingerprint and every signing certificate's state."""
    st = ctx.keys.store.status(now=utcnow())
    click.echo(f"city            {st.city_id} ({st.city_name})")
    click.echo(f"fingerprint     {st.root_fingerprint}")
    click.echo(f"root valid      {st.root_not_before:%Y-%m-%d} .. {st.root_not_after:%Y-%m-%d}")
    click.echo(f"master key      {'present' if ctx.keys.master_key_path.exists() else 'ABSENT'}")
    for s in st.signing:
        click.echo(f"signing {s.kid}  {s.state:<11} signs {s.signs_from:%Y-%m-%d}.."
                   f"{s.signs_until:%Y-%m-%d}  valid until {s.not_after:%Y-%m-%d}")


@keys_group.command("rotate")
@pass_ctx
@handle_errors
def keys_rotate(ctx: Context) -> None:
    """Make a new signing certificate; the old one only verifies from now on."""
    now = utcnow()
    new = ctx.keys.store.rotate(now=now)
    with ctx.session() as s:
        audit.record(s, actor=operator(), action="keys.rotate", target_type="signing_key",
                     target_id=new.kid, now=now)
        s.commit()
    click.echo(f"new signing certificate {new.kid} signs from now; earlier ones verify only")


# ---- purge ---------------------------------------------------------------------------------

@main.command()
@click.option("--dry-run", is_flag=True, help="List who would be forgotten; change nothing.")
@click.option("--all", "everything", is_flag=True,
              help="Destroy the master key: the whole register becomes unreadable.")
@click.option("--confirm", default=None, help="With --all: the city id, typed to confirm.")
@pass_ctx
@handle_errors
def purge(ctx: Context, dry_run: bool, everything: bool, confirm: str | None) -> None:
    """Forget residents past the retention period by destroying their data keys."""
    from cardservice.services import residents

    settings = ctx.settings
    now = utcnow()
    if everything:
        _purge_all(ctx, dry_run=dry_run, confirm=confirm)
        return
    with ctx.session() as s:
        plan = residents.plan_purge(s, now=now,
                                    days_after_expiry=settings.retention.days_after_expiry)
        n = len(plan.resident_ids)
        if dry_run:
            click.echo(f"dry run: {n} resident(s) whose last card expired before "
                       f"{plan.cutoff:%Y-%m-%d} would be forgotten")
            for rid in plan.resident_ids:
                click.echo(f"  {rid}")
            return
        with click.progressbar(plan.resident_ids, label="forgetting", file=sys.stderr,
                               show_pos=True) as bar:
            for rid in bar:
                residents.purge_resident(s, rid, actor=operator(), now=now, reason="retention")
    click.echo(f"forgot {n} resident(s): their data keys are destroyed; their cards still "
               "verify")


def _purge_all(ctx: Context, *, dry_run: bool, confirm: str | None) -> None:
    settings = ctx.settings
    path = ctx.keys.master_key_path
    if not path.exists():
        raise click.ClickException("the master key is already gone: nothing left to destroy")
    if dry_run:
        click.echo(f"dry run: would destroy {path}; no resident's data could be read again")
        return
    click.echo("This destroys the master key. Every resident's personal data becomes "
               "unreadable, for ever, here and in every backup that lacks keys/. Cards keep "
               "verifying.", err=True)
    if confirm is None:
        if not sys.stdin.isatty():
            raise click.ClickException(
                f"refusing without confirmation: pass --confirm {settings.city.id}")
        confirm = click.prompt(f"Type the city id ({settings.city.id}) to confirm", err=True)
    if confirm.strip() != settings.city.id:
        raise click.ClickException("confirmation does not match the city id: nothing destroyed")
    vault.destroy_master_key(path)
    ctx.keys.forget_vault()
    now = utcnow()
    with ctx.session() as s:
        audit.record(s, actor=operator(), action="register.destroy", target_type="register",
                     target_id=settings.city.id, now=now)
        s.commit()
    click.echo("the master key is destroyed: the register can no longer be read")


if __name__ == "__main__":  # pragma: no cover
    main()


