"""The ``cardservice`` command: init, serve, users, audit, keys, verify, …

Configuration comes from ``CARDSERVICE_CONFIG``. Errors are one line on stderr
and a non-zero exit, never a traceback. Scripts read results from stdout (for
example ``users token`` prints the token alone on the last line).
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from cardservice import pki, securefile, serials, vault, verifykit
from cardservice.application import Application, AuditChainError
from cardservice.clock import utcnow
from cardservice.config import SUPPORTED_LOCALES, ConfigError, Settings, load_settings
from cardservice.errors import DomainError

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """The command's settings and application layer, loaded on first use."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._app: Application | None = None

    @property
    def settings(self) -> Settings:
        """The city's settings (``CARDSERVICE_CONFIG``)."""
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = value

    @property
    def app(self) -> Application:
        """The application layer: every use case a command may run."""
        if self._app is None:
            self._app = Application(self.settings)
        return self._app

    def close(self) -> None:
        """Release the database connections."""
        if self._app is not None:
            self._app.close()
            self._app = None


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
    ctx.settings = settings
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    ctx.app.upgrade_schema()
    click.echo("database schema is up to date")
    for step in INIT_STEPS:
        step(ctx)
    if admin_name:
        new = ctx.app.staff.ensure_admin(username=admin_name, actor=operator())
        if new is None:
            click.echo(f"admin {admin_name} already exists")
        else:
            click.echo(f"created admin {admin_name}; one-time password (change it at "
                       f"first sign-in):")
            click.echo(new.password)


def _init_keys(ctx: Context) -> None:
    for line in ctx.app.city.init() or ["keys are in place"]:
        click.echo(line)


# Idempotent steps of ``init`` after the schema.
INIT_STEPS: list[Callable[[Context], None]] = [_init_keys]


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="processes")
@click.option("--threads", default=4, show_default=True, type=int, help="threads per process")
@click.option("--dev", is_flag=True, help="Flask's development server (auto-reload, one process).")
@pass_ctx
@handle_errors
def serve(ctx: Context, host: str, port: int, workers: int, threads: int, dev: bool) -> None:
    """Serve the city's web application."""
    from cardservice import create_app

    settings = ctx.settings
    if not ctx.app.schema_is_current():
        raise click.ClickException("the database schema is not up to date: run `cardservice init`")
    if dev:
        create_app(settings).run(host=host, port=port, debug=False)
        return
    from cardservice.wsgi_server import run_gunicorn

    run_gunicorn(settings, host=host, port=port, workers=workers, threads=threads)


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
    new = ctx.app.staff.create(username=username, role=role, actor=operator())
    click.echo(f"created {new.member.username} ({new.member.role}); one-time password:")
    click.echo(new.password)


@users_group.command("list")
@pass_ctx
@handle_errors
def users_list(ctx: Context) -> None:
    """List accounts."""
    click.echo(f"{'username':<24} {'role':<6} {'state':<9} last sign-in")
    for u in ctx.app.staff.all():
        state = "disabled" if u.disabled else "active"
        last = u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "never"
        click.echo(f"{u.username:<24} {u.role:<6} {state:<9} {last}")


@users_group.command("disable")
@click.argument("username")
@pass_ctx
@handle_errors
def users_disable(ctx: Context, username: str) -> None:
    """Disable an account and revoke its API tokens."""
    ctx.app.staff.set_disabled(username, disabled=True, actor=operator())
    click.echo(f"{username} is disabled")


@users_group.command("enable")
@click.argument("username")
@pass_ctx
@handle_errors
def users_enable(ctx: Context, username: str) -> None:
    """Enable an account again."""
    ctx.app.staff.set_disabled(username, disabled=False, actor=operator())
    click.echo(f"{username} is enabled")


@users_group.command("reset-password")
@click.argument("username")
@pass_ctx
@handle_errors
def users_reset(ctx: Context, username: str) -> None:
    """Give an account a new one-time password (and unlock it)."""
    password = ctx.app.staff.reset_password(username, actor=operator())
    click.echo(f"new one-time password for {username}:")
    click.echo(password)


@users_group.command("token")
@click.argument("username")
@pass_ctx
@handle_errors
def users_token(ctx: Context, username: str) -> None:
    """Create an API token; it is printed once, alone on the last line."""
    token = ctx.app.staff.create_token(username, actor=operator())
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
    try:
        report = ctx.app.staff.verify_audit()
    except AuditChainError as exc:
        click.echo(f"audit log BROKEN: entry {exc.seq} {exc.reason}", err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {report.entries} entries, head {report.head_hash[:16]}…")




# ---- backup and restore --------------------------------------------------------------------

class _Progress:
    """Progress of a backup or restore on stderr: one line per table, counts only."""

    def __init__(self) -> None:
        self._step: str | None = None

    def __call__(self, step: str, done: int, total: int) -> None:
        if step != self._step:
            self._step = step
            click.echo(f"  {step}: {total} " + ("file(s)" if step == "keys" else "row(s)"),
                       err=True)
        elif total >= 10_000 and done % 10_000 == 0:
            click.echo(f"  {step}: {done}/{total}", err=True)


@main.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def backup_cmd(ctx: Context, out: Path) -> None:
    """Back up the database and keys/ into one file OUT (mode 0600).

    Private keys stay encrypted under the key passphrase, which is never written into
    the backup: keep the passphrase apart from the backup.
    """
    click.echo(f"backing up city {ctx.settings.city.id}", err=True)
    report = ctx.app.backup.create(out, actor=operator(), progress=_Progress())
    click.echo(f"wrote {report.path}: schema {report.schema_revision}, "
               f"{sum(report.rows.values())} database rows, {report.key_files} key files")


@main.command("restore")
@click.argument("source", metavar="IN",
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace a database and keys/ that already hold a city.")
@click.option("--yes", is_flag=True, help="With --force: do not ask for confirmation.")
@pass_ctx
@handle_errors
def restore_cmd(ctx: Context, source: Path, force: bool, yes: bool) -> None:
    """Restore the database and keys/ from the backup file IN; checks every byte first.

    Refuses a database or keys directory that already holds a city unless --force. Stop
    the app servers first and start them again afterwards.
    """
    settings = load_settings(check_keys_dir=False)
    settings.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    ctx.settings = load_settings()
    if force and not yes and not ctx.app.backup.target_is_empty() and not click.confirm(
            f"Replace city {ctx.settings.city.id}'s database and keys/ by the backup? "
            "Everything since that backup is lost.", err=True):
        raise click.ClickException("nothing restored")
    report = ctx.app.backup.restore(source, force=force, actor=operator(),
                                    progress=_Progress())
    click.echo(f"restored city {report.city_id} from the backup of "
               f"{report.created_at:%Y-%m-%d %H:%M} UTC: {sum(report.rows.values())} "
               f"database rows, {report.key_files} key files; the schema is up to date")
    click.echo("next: `cardservice audit verify`, then start the app servers", err=True)


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
    st = ctx.app.city.status()
    click.echo(f"city            {st.city_id} ({st.city_name})")
    click.echo(f"fingerprint     {st.root_fingerprint}")
    click.echo(f"root valid      {st.root_not_before:%Y-%m-%d} .. {st.root_not_after:%Y-%m-%d}")
    click.echo(f"master key      {'present' if ctx.app.city.master_key_present() else 'ABSENT'}")
    for s in st.signing:
        click.echo(f"signing {s.kid}  {s.state:<11} signs {s.signs_from:%Y-%m-%d}.."
                   f"{s.signs_until:%Y-%m-%d}  valid until {s.not_after:%Y-%m-%d}")


@keys_group.command("rotate")
@pass_ctx
@handle_errors
def keys_rotate(ctx: Context) -> None:
    """Make a new signing certificate; the old one only verifies from now on."""
    kid = ctx.app.city.rotate_signing_key(actor=operator())
    click.echo(f"new signing certificate {kid} signs from now; earlier ones verify only")


@keys_group.command("rotate-root")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def keys_rotate_root(ctx: Context, yes: bool) -> None:
    """Replace the city root; the next trust bundle is signed by the old and the new root."""
    if not yes and not click.confirm(
            "Rotate the city root? Partners follow automatically at their next sync; "
            "read the new fingerprint to them as well.", err=True):
        raise click.ClickException("nothing changed")
    rotation = ctx.app.city.rotate_root(actor=operator())
    click.echo(f"new city root; fingerprint {rotation.fingerprint}")
    click.echo(f"published trust bundle v{rotation.bundle_version}, signed by the old and the "
               "new root")


# ---- cards ---------------------------------------------------------------------------------

@main.group("cards")
def cards_group() -> None:
    """Printing cards in bulk; a new renewal code for a card."""


@cards_group.command("sheet")
@click.option("--from", "start", type=click.DateTime(formats=["%Y-%m-%d"]), required=True,
              help="First day of issue (UTC), YYYY-MM-DD.")
@click.option("--to", "end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of issue (UTC), inclusive; default: --from.")
@click.option("--unprinted", is_flag=True, help="Only cards not printed yet.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_ctx
@handle_errors
def cards_sheet(ctx: Context, start: Any, end: Any, unprinted: bool, output: Path) -> None:
    """Every active card issued in a date range on A4 sheets with crop marks (duplex)."""
    first = start.replace(tzinfo=UTC)
    last = (end or start).replace(tzinfo=UTC) + timedelta(days=1)
    expected = len(ctx.app.cards.issued_between(start=first, end=last,
                                                only_unprinted=unprinted))
    if not expected:
        raise click.ClickException("no card was issued in that range")
    with click.progressbar(length=expected, label=f"rendering {expected} cards",
                           file=sys.stderr, show_pos=True) as bar:
        done = [0]

        def progress(n: int, total: int) -> None:
            bar.update(n - done[0])
            done[0] = n

        sheet = ctx.app.cards.sheet(start=first, end=last, only_unprinted=unprinted,
                                    actor=operator(), progress=progress)
    if not sheet.serials:
        raise click.ClickException("no card was issued in that range")
    # Names, birth dates and renewal codes: readable by the operator only, and never
    # half-written under the real name.
    securefile.write_atomically(output, sheet.pdf, mode=0o600, overwrite=True)
    click.echo(f"wrote {len(sheet.serials)} cards to {output}")


@cards_group.command("new-slip")
@click.argument("serial")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def cards_new_slip(ctx: Context, serial: str, yes: bool) -> None:
    """A new renewal code for a card in force (the old one stops working), printed once.

    The code goes alone on the last line of stdout; write it on a renewal slip (or print
    the slip from the clerk's page) and hand it to the resident.
    """
    if not yes and not click.confirm(
            f"Draw a new renewal code for card {serial}? The old code stops working at once.",
            err=True):
        raise click.ClickException("nothing changed")
    code = ctx.app.cards.new_renewal_code(serial, actor=operator())
    click.echo("new renewal code (shown once, not kept in clear):", err=True)
    click.echo(serials.format_renewal_code(code))


# ---- residents -----------------------------------------------------------------------------

@main.group("residents")
def residents_group() -> None:
    """The register of residents."""


@residents_group.command("reindex")
@click.option("--all", "everything", is_flag=True,
              help="Recompute every resident's indexes, not only the missing ones.")
@pass_ctx
@handle_errors
def residents_reindex(ctx: Context, everything: bool) -> None:
    """Fill the search indexes of residents registered before version 0008 (after upgrading).

    Decrypts each live record in batches (one transaction per batch; a run cut short
    can be started again) and stores its blind indexes. Prints counts, never a name.
    """
    todo = ctx.app.residents.count_to_reindex(everything=everything)
    if not todo:
        click.echo("every resident is indexed: nothing to do")
        return
    with click.progressbar(length=todo, label=f"indexing {todo} residents", file=sys.stderr,
                           show_pos=True) as bar:
        done = ctx.app.residents.reindex(everything=everything,
                                         progress=lambda _rid: bar.update(1))
    click.echo(f"indexed {done} resident(s)")


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
    if everything:
        _purge_all(ctx, dry_run=dry_run, confirm=confirm)
        return
    plan = ctx.app.residents.plan_purge()
    n = len(plan.resident_ids)
    if dry_run:
        click.echo(f"dry run: {n} resident(s) whose last card expired before "
                   f"{plan.cutoff:%Y-%m-%d} would be forgotten")
        for rid in plan.resident_ids:
            click.echo(f"  {rid}")
        return
    with click.progressbar(length=n, label="forgetting", file=sys.stderr,
                           show_pos=True) as bar:
        ctx.app.residents.purge_expired(plan, actor=operator(), progress=lambda _rid: bar.update(1))
    click.echo(f"forgot {n} resident(s): their data keys are destroyed; their cards still "
               "verify")


def _purge_all(ctx: Context, *, dry_run: bool, confirm: str | None) -> None:
    settings = ctx.settings
    path = ctx.app.keys.master_key_path
    if not ctx.app.city.master_key_present():
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
    ctx.app.residents.destroy_register(confirm=confirm, actor=operator())
    click.echo("the master key is destroyed: the register can no longer be read")


# ---- partners and trust --------------------------------------------------------------------

@main.group("partners")
def partners_group() -> None:
    """Partner cities whose cards verify here."""


def _print_partner(view: Any) -> None:
    click.echo(f"{view.city_id}  {view.name}  [{view.status}]  bundle v{view.bundle_version}  "
               f"last sync {view.last_sync_at:%Y-%m-%d %H:%M} {view.last_sync_result}"
               if view.last_sync_at else f"{view.city_id}  {view.name}  [{view.status}]")
    click.echo(f"      {view.fingerprint}  {view.base_url}")


@partners_group.command("add")
@click.argument("url")
@click.option("--fingerprint", required=True, help="As the partner's officials gave it.")
@pass_ctx
@handle_errors
def partners_add(ctx: Context, url: str, fingerprint: str) -> None:
    """Fetch a partner's bundle from URL and pin it if the fingerprint matches."""
    view = ctx.app.partners.add(url=url, fingerprint=fingerprint, actor=operator())
    click.echo("recognised:")
    _print_partner(view)


@partners_group.command("import")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--revocations", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fingerprint", default=None, help="Needed for a new partner.")
@pass_ctx
@handle_errors
def partners_import(ctx: Context, bundle: Path, revocations: Path | None,
                    fingerprint: str | None) -> None:
    """Offline exchange: add a partner, or update one, from its bundle file."""
    rev = revocations.read_bytes() if revocations else None
    view = ctx.app.partners.import_documents(bundle=bundle.read_bytes(), revocations=rev,
                                             fingerprint=fingerprint, actor=operator())
    _print_partner(view)


@partners_group.command("list")
@pass_ctx
@handle_errors
def partners_list(ctx: Context) -> None:
    """Partners, fingerprints, last sync."""
    views = ctx.app.partners.all()
    if not views:
        click.echo("no partner city")
    for v in views:
        _print_partner(v)


@partners_group.command("sync")
@click.argument("cities", nargs=-1)
@pass_ctx
@handle_errors
def partners_sync(ctx: Context, cities: tuple[str, ...]) -> None:
    """Fetch every partner's (or the named partners') bundle and revocation list; for cron."""
    failed = 0
    for result in ctx.app.partners.sync_many(cities, actor=operator()):
        if result.view is not None:
            click.echo(f"{result.city_id}: ok (bundle v{result.view.bundle_version}, "
                       f"revocations #{result.view.revocations_sequence})")
        else:
            failed += 1
            message = result.error.message if result.error is not None else "failed"
            click.echo(f"{result.city_id}: REFUSED or unreachable: {message}", err=True)
    if failed:
        sys.exit(1)


def _partner_status(ctx: Context, city: str, *, suspended: bool) -> None:
    _print_partner(ctx.app.partners.set_suspended(city, suspended=suspended, actor=operator()))


@partners_group.command("suspend")
@click.argument("city")
@pass_ctx
@handle_errors
def partners_suspend(ctx: Context, city: str) -> None:
    """Suspend recognition of a partner's cards."""
    _partner_status(ctx, city, suspended=True)


@partners_group.command("resume")
@click.argument("city")
@pass_ctx
@handle_errors
def partners_resume(ctx: Context, city: str) -> None:
    """Resume recognition of a partner's cards."""
    _partner_status(ctx, city, suspended=False)


@partners_group.command("remove")
@click.argument("city")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
@handle_errors
def partners_remove(ctx: Context, city: str, yes: bool) -> None:
    """Forget a partner's keys (its cards then read unknown_issuer)."""
    if not yes and not click.confirm(f"Remove partner {city}?", err=True):
        raise click.ClickException("nothing removed")
    ctx.app.partners.remove(city, actor=operator())
    click.echo(f"{city} removed")


@partners_group.command("request")
@click.argument("url")
@pass_ctx
@handle_errors
def partners_request(ctx: Context, url: str) -> None:
    """Send our signed recognition request to another city."""
    ctx.app.partners.send_request(url)
    click.echo("sent; read our fingerprint to their officials: " + ctx.app.city.fingerprint())


@main.group("trust")
def trust_group() -> None:
    """This city's published trust documents."""


@trust_group.command("export")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def trust_export(ctx: Context, directory: Path) -> None:
    """Write our signed bundle and revocation list for an offline exchange."""
    directory.mkdir(parents=True, exist_ok=True)
    export = ctx.app.city.export()
    city = export.city_id
    (directory / f"{city}-trust-bundle.cose").write_bytes(export.bundle.data)
    (directory / f"{city}-revocations.cose").write_bytes(export.revocations.data)
    click.echo(f"wrote {city}-trust-bundle.cose (v{export.bundle.version}) and "
               f"{city}-revocations.cose (#{export.revocations.version}) to {directory}")
    click.echo("fingerprint: " + export.fingerprint)


@trust_group.command("kit")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--locale", type=click.Choice(SUPPORTED_LOCALES), default=None,
              help="The page's language (default: server.default_locale).")
@click.option("--no-decoder", is_flag=True,
              help="Leave out the QR decoder (~1.3 MB): the file then checks pasted or "
                   "typed codes only, not photos.")
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@pass_ctx
@handle_errors
def trust_kit(ctx: Context, out: Path, locale: str | None, no_decoder: bool, force: bool) -> None:
    """Write the offline verification kit: one HTML file that checks cards with no server.

    It holds every recognised city's signed trust documents and pinned root fingerprints,
    and checks them in the browser before each card. Public data only; give it to
    partners without a server, and a new one before its data is older than
    verify.revocations_max_age_hours.
    """
    kit = ctx.app.verifier.offline_kit(now=utcnow())
    html = verifykit.render_kit(kit, locale=locale or ctx.settings.default_locale,
                                include_decoder=not no_decoder)
    try:
        securefile.write_atomically(out, html, mode=0o644, overwrite=force)
    except FileExistsError:
        raise click.ClickException(f"{out} exists: pass --force to replace it") from None
    except OSError as exc:
        raise click.ClickException(f"{out}: {exc.strerror or exc}") from None
    cities = ", ".join(p["id"] for p in kit.pins)
    click.echo(f"wrote {out} ({len(html) // 1024} KB): the trust data of {cities}, "
               f"exported {kit.generated_at:%Y-%m-%d %H:%M} UTC")
    if no_decoder:
        click.echo("without the QR decoder: codes are pasted or typed, photos are not read")


@trust_group.command("fingerprint")
@pass_ctx
@handle_errors
def trust_fingerprint(ctx: Context) -> None:
    """Print this city's fingerprint (SHA-256 of the root certificate)."""
    click.echo(ctx.app.city.fingerprint())


# ---- verify (offline) ----------------------------------------------------------------------

@main.command("verify")
@click.argument("card")
@click.option("--json", "as_json", is_flag=True, help="Print the SPEC §6 JSON result.")
@pass_ctx
@handle_errors
def verify_cmd(ctx: Context, card: str, as_json: bool) -> None:
    """Verify a card offline from the local trust store: QR text, or an image/PDF file."""
    text = card
    if not card.startswith("LC") and Path(card).exists():
        # Read in the sandbox like an upload: a card file may come from anyone.
        try:
            data = Path(card).read_bytes()
            text = ctx.app.verifier.read_upload(data)
        except OSError as exc:
            raise click.ClickException(f"{card}: {exc.strerror or exc}") from None
        except DomainError as exc:
            raise click.ClickException(f"{card}: {exc.message}") from None
    result = ctx.app.verifier.verify(text, now=utcnow())
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False))
    else:
        mark = "VALID" if result.valid else "NOT VALID"
        click.echo(f"{mark}: {result.status}")
        if result.holder_name:
            click.echo(f"  name           {result.holder_name}")
            click.echo(f"  date of birth  {result.holder_date_of_birth}")
        if result.issuer:
            click.echo(f"  issued by      {result.issuer.name} ({result.issuer.id})")
        if result.expires_at:
            click.echo(f"  expires        {result.expires_at:%Y-%m-%d}")
        if result.trust_data_age_seconds is not None:
            click.echo(f"  trust data age {result.trust_data_age_seconds} s")
        for warning in result.warnings:
            click.echo(f"  warning        {warning}")
    sys.exit(0 if result.valid else 1)


# ---- alliances (SPEC §5b) ------------------------------------------------------------------

@main.group("alliances")
def alliances_group() -> None:
    """Alliances: member lists signed by a threshold of member cities. No prompts."""


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc.strerror or exc}") from None


def _print_draft(view: Any) -> None:
    held = f"v{view.held_version} -> " if view.held_version is not None else "new, "
    click.echo(f"draft {view.id}: {view.alliance_id} {held}v{view.version}  [{view.status}]  "
               f"expires {view.expires_at:%Y-%m-%d}")
    if view.name_change:
        click.echo(f"  name: {view.name_change[0]} -> {view.name_change[1]}")
    if view.held_threshold is not None and view.held_threshold != view.threshold:
        click.echo(f"  threshold: {view.held_threshold} -> {view.threshold}")
    else:
        click.echo(f"  threshold: {view.threshold}")
    for c in view.changes:
        click.echo(f"  {c.kind:8} {c.city_id}  {c.name}  {c.base_url}")
        if c.old_fingerprint:
            click.echo(f"           fingerprint was {c.old_fingerprint}")
        click.echo(f"           fingerprint {c.fingerprint}")
    signed = ", ".join(view.signed_by) or "nobody"
    click.echo(f"  signed by {signed} ({len(view.signed_by)} of {view.signatures_needed} "
               f"needed){' - ready to publish' if view.ready else ''}")
    if view.unverifiable:
        click.echo(f"  signatures not checked (root unknown here): {', '.join(view.unverifiable)}")
    click.echo(str(view.id))  # alone on the last line, for scripts


def _print_alliance(view: Any) -> None:
    click.echo(f"{view.alliance_id}  {view.name}  v{view.version}  threshold {view.threshold} "
               f"of {len(view.members)}  expires {view.expires_at:%Y-%m-%d}  "
               f"signed by {', '.join(view.signers)}")
    for m in view.members:
        state = ("this city" if m.own else "SUSPENDED" if m.suspended
                 else f"bundle v{m.bundle_version}" if m.bundle_version else "not synced")
        click.echo(f"  {m.city_id}  {m.name}  [{state}]  {m.base_url}")
        click.echo(f"      {m.listed_fingerprint}")
        if not m.own and m.last_sync_result and m.last_sync_result != "ok":
            click.echo(f"      last sync: {m.last_sync_result}")


def _pairs(values: tuple[tuple[str, str], ...]) -> list[tuple[str, str]]:
    return [(a, b) for a, b in values]


def _bundle_pairs(values: tuple[tuple[str, str], ...]) -> list[tuple[bytes, str]]:
    return [(_read(Path(path)), fp) for path, fp in values]


@alliances_group.command("create")
@click.argument("alliance_id")
@click.option("--name", required=True, help="The alliance's name.")
@click.option("--threshold", type=int, required=True, help="Signatures (k >= 2) to change it.")
@click.option("--member", "members", nargs=2, multiple=True, metavar="URL FINGERPRINT",
              help="Another member: its base URL and the fingerprint its officials gave.")
@click.option("--member-bundle", "bundles", nargs=2, multiple=True, metavar="FILE FINGERPRINT",
              help="Another member from its bundle file (offline) and fingerprint.")
@click.option("--valid-days", type=int, default=90, show_default=True)
@pass_ctx
@handle_errors
def alliances_create(ctx: Context, alliance_id: str, name: str, threshold: int,
                     members: tuple[tuple[str, str], ...], bundles: tuple[tuple[str, str], ...],
                     valid_days: int) -> None:
    """Draft version 1 of a new alliance with this city as a member, signed by this city."""
    _print_draft(ctx.app.alliances.create(
        alliance_id=alliance_id, name=name, threshold=threshold, members=_pairs(members),
        member_bundles=_bundle_pairs(bundles), valid_days=valid_days, actor=operator()))


@alliances_group.command("propose")
@click.argument("alliance_id")
@click.option("--add", nargs=2, multiple=True, metavar="URL FINGERPRINT",
              help="A city to add: its base URL and the fingerprint its officials gave.")
@click.option("--add-bundle", nargs=2, multiple=True, metavar="FILE FINGERPRINT",
              help="A city to add from its bundle file (offline) and fingerprint.")
@click.option("--remove", multiple=True, metavar="CITY", help="A member to remove.")
@click.option("--threshold", type=int, default=None, help="A new threshold.")
@click.option("--name", default=None, help="A new name.")
@click.option("--valid-days", type=int, default=90, show_default=True)
@pass_ctx
@handle_errors
def alliances_propose(ctx: Context, alliance_id: str, add: tuple[tuple[str, str], ...],
                      add_bundle: tuple[tuple[str, str], ...], remove: tuple[str, ...],
                      threshold: int | None, name: str | None, valid_days: int) -> None:
    """Draft the next version of a held list, signed by this city."""
    _print_draft(ctx.app.alliances.propose(
        alliance_id, add=_pairs(add), add_bundles=_bundle_pairs(add_bundle), remove=remove,
        threshold=threshold, name=name, valid_days=valid_days, actor=operator()))


@alliances_group.command("renew")
@click.argument("alliance_id")
@click.option("--valid-days", type=int, default=90, show_default=True)
@pass_ctx
@handle_errors
def alliances_renew(ctx: Context, alliance_id: str, valid_days: int) -> None:
    """Draft the next version with the same members, to extend its validity."""
    _print_draft(ctx.app.alliances.renew(alliance_id, valid_days=valid_days, actor=operator()))


@alliances_group.command("drafts")
@click.argument("alliance_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def alliances_drafts(ctx: Context, alliance_id: str | None, as_json: bool) -> None:
    """Pending drafts: exactly what each changes, and who has signed."""
    views = ctx.app.alliances.drafts(alliance_id)
    if as_json:
        click.echo(json.dumps([v.as_json() for v in views], ensure_ascii=False))
        return
    if not views:
        click.echo("no pending draft")
    for v in views:
        _print_draft(v)


@alliances_group.command("show-draft")
@click.argument("draft_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def alliances_show_draft(ctx: Context, draft_id: int, as_json: bool) -> None:
    """One draft: its changes against the version held, every member, who signed."""
    view = ctx.app.alliances.draft(draft_id)
    if as_json:
        click.echo(json.dumps(view.as_json(), ensure_ascii=False))
        return
    _print_draft(view)


@alliances_group.command("export-draft")
@click.argument("draft_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def alliances_export_draft(ctx: Context, draft_id: int, out: Path) -> None:
    """Write a draft, with every signature gathered here, to a file for other members."""
    out.write_bytes(ctx.app.alliances.draft_document(draft_id))
    click.echo(f"wrote {out}")


@alliances_group.command("cosign")
@click.argument("draft_id", type=int)
@pass_ctx
@handle_errors
def alliances_cosign(ctx: Context, draft_id: int) -> None:
    """Sign a draft with this city's root (read it first with show-draft)."""
    _print_draft(ctx.app.alliances.cosign(draft_id, actor=operator()))


@alliances_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def alliances_import(ctx: Context, file: Path) -> None:
    """Keep a draft from a file (its signatures join those of a copy held here)."""
    _print_draft(ctx.app.alliances.import_document(_read(file), actor=operator()))


@alliances_group.command("fetch-draft")
@click.argument("url")
@click.argument("alliance_id")
@pass_ctx
@handle_errors
def alliances_fetch_draft(ctx: Context, url: str, alliance_id: str) -> None:
    """Fetch the draft a member circulates (from its base URL) and keep it."""
    _print_draft(ctx.app.alliances.fetch_draft(url, alliance_id, actor=operator()))


@alliances_group.command("publish")
@click.argument("draft_id", type=int)
@click.option("--confirm", multiple=True, metavar="FINGERPRINT",
              help="For version 1: a signing member's fingerprint read with its officials.")
@pass_ctx
@handle_errors
def alliances_publish(ctx: Context, draft_id: int, confirm: tuple[str, ...]) -> None:
    """Hold a draft that gathered its signatures, and serve it to the other members."""
    _print_alliance(ctx.app.alliances.publish(draft_id, confirm=confirm, actor=operator()))


@alliances_group.command("join")
@click.argument("alliance_id")
@click.option("--url", default=None, help="A member's base URL to fetch the list from.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The list as a file (offline).")
@click.option("--confirm", multiple=True, metavar="FINGERPRINT", required=True,
              help="A signing member's fingerprint read with its officials (k of them).")
@pass_ctx
@handle_errors
def alliances_join(ctx: Context, alliance_id: str, url: str | None, file: Path | None,
                   confirm: tuple[str, ...]) -> None:
    """Hold an alliance's member list for the first time (k fingerprints confirmed)."""
    data = _read(file) if file is not None else None
    _print_alliance(ctx.app.alliances.join(alliance_id, url=url, data=data, confirm=confirm,
                                           actor=operator()))


@alliances_group.command("apply")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def alliances_apply(ctx: Context, file: Path) -> None:
    """Offline update: accept a newer version of a held list from a file, by the rules."""
    _print_alliance(ctx.app.alliances.apply(_read(file), actor=operator()))


@alliances_group.command("sync")
@click.argument("alliance_id", required=False)
@pass_ctx
@handle_errors
def alliances_sync(ctx: Context, alliance_id: str | None) -> None:
    """Fetch members' lists and trust documents; for cron. Exit 1 if anything failed."""
    failed = 0
    for r in ctx.app.alliances.sync(alliance_id, actor=operator()):
        if r.ok:
            click.echo(f"{r.alliance_id} {r.city_id} {r.what}: {r.message}")
        else:
            failed += 1
            click.echo(f"{r.alliance_id} {r.city_id} {r.what}: REFUSED or unreachable: "
                       f"{r.message}", err=True)
    if failed:
        sys.exit(1)


@alliances_group.command("list")
@pass_ctx
@handle_errors
def alliances_list(ctx: Context) -> None:
    """Alliances held, their members and last syncs."""
    views = ctx.app.alliances.all()
    if not views:
        click.echo("no alliance")
    for v in views:
        _print_alliance(v)


@alliances_group.command("show")
@click.argument("alliance_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
@handle_errors
def alliances_show(ctx: Context, alliance_id: str, as_json: bool) -> None:
    """One alliance held."""
    view = ctx.app.alliances.get(alliance_id)
    if as_json:
        click.echo(json.dumps(view.as_json(), ensure_ascii=False))
    else:
        _print_alliance(view)


@alliances_group.command("export")
@click.argument("alliance_id")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def alliances_export(ctx: Context, alliance_id: str, out: Path) -> None:
    """Write the list held, as signed, for an offline exchange."""
    out.write_bytes(ctx.app.alliances.held_document(alliance_id))
    click.echo(f"wrote {out}")


@alliances_group.command("import-member")
@click.argument("alliance_id")
@click.argument("city")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--revocations", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
@handle_errors
def alliances_import_member(ctx: Context, alliance_id: str, city: str, bundle: Path,
                            revocations: Path | None) -> None:
    """Offline: a member's bundle (and revocation list) from files, checked by the list."""
    rev = _read(revocations) if revocations is not None else None
    _print_alliance(ctx.app.alliances.import_member_documents(
        alliance_id, city, bundle=_read(bundle), revocations=rev, actor=operator()))


def _member_status(ctx: Context, alliance_id: str, city: str, *, suspended: bool) -> None:
    _print_alliance(ctx.app.alliances.set_member_suspended(alliance_id, city,
                                                           suspended=suspended,
                                                           actor=operator()))


@alliances_group.command("suspend")
@click.argument("alliance_id")
@click.argument("city")
@pass_ctx
@handle_errors
def alliances_suspend(ctx: Context, alliance_id: str, city: str) -> None:
    """Stop recognising one member's cards here (the alliance is unchanged)."""
    _member_status(ctx, alliance_id, city, suspended=True)


@alliances_group.command("resume")
@click.argument("alliance_id")
@click.argument("city")
@pass_ctx
@handle_errors
def alliances_resume(ctx: Context, alliance_id: str, city: str) -> None:
    """Recognise a suspended member's cards again."""
    _member_status(ctx, alliance_id, city, suspended=False)


if __name__ == "__main__":  # pragma: no cover
    main()


