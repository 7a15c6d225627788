"""The `specialistly` command line."""

import asyncio
import gc
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import uvicorn

from specialistly import db
from specialistly.config import ConfigurationError, Settings, load_settings, read_settings
from specialistly.logs import configure_logging

if TYPE_CHECKING:
    from specialistly.context import AppContext
    from specialistly.notifications.outbox import OutboxEntry
    from specialistly.ops import TokenStatus

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Specialistly: Zoom scheduling.")
db_app = typer.Typer(no_args_is_help=True, help="Database commands.")
app.add_typer(db_app, name="db")
jobs_app = typer.Typer(no_args_is_help=True, help="Background jobs.")
app.add_typer(jobs_app, name="jobs")
tokens_app = typer.Typer(
    no_args_is_help=True, help="Specialists' Zoom connections (never the tokens)."
)
app.add_typer(tokens_app, name="tokens")
keys_app = typer.Typer(no_args_is_help=True, help="Token encryption keys.")
app.add_typer(keys_app, name="keys")
outbox_app = typer.Typer(no_args_is_help=True, help="The email outbox (never a body or a token).")
app.add_typer(outbox_app, name="outbox")
YOUNG_COLLECTION_EVERY = 20_000  # allocations; Python's default is 700


def _exit_cleanly_on_sigterm() -> None:
    """uvicorn re-raises SIGTERM after its graceful shutdown; make that a plain exit 0."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def _settings(read: Callable[[], Settings] = load_settings) -> Settings:
    try:
        return read()
    except ConfigurationError as error:
        typer.secho("Configuration problems:", fg=typer.colors.RED, err=True)
        for problem in error.problems:
            typer.secho(f"  - {problem}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT or 8000)")] = None,
    jobs: Annotated[
        bool, typer.Option("--jobs/--no-jobs", help="Also run the background jobs")
    ] = True,
) -> None:
    """Serve the app (and, in sandbox mode, the Zoom sandbox at /zoom-sandbox); unless
    --no-jobs, run the background jobs too (one process at a time across the cluster)."""
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    from specialistly.app import create_app
    from zoom_sandbox import UvicornConnectionDropper

    web = UvicornConnectionDropper(create_app(settings, run_jobs=jobs, keep_sandbox_state=True))
    _exit_cleanly_on_sigterm()
    _run_http(web, host or settings.host, port or settings.port, timeout_graceful_shutdown=20)


def _run_http(web: Callable[..., Any], host: str, port: int, **options: Any) -> None:
    """Serve `web` with uvicorn until stopped, tuned for a long-lived server process."""
    # What is loaded by now (modules, the app, its routes and models) lives as long as the
    # process: out of the garbage collector's sight, each full collection under load stops
    # walking a few hundred thousand objects that can never be garbage.
    gc.collect()
    gc.freeze()
    # A request allocates thousands of short-lived objects (rows, models, ASGI messages) that
    # reference counting frees; collecting the young generation every 700 allocations, the
    # default, spent 3 % of a booking's CPU finding almost nothing. Every 20 000 keeps a
    # young collection well under a millisecond.
    gc.set_threshold(YOUNG_COLLECTION_EVERY, *gc.get_threshold()[1:])
    # httptools parses HTTP in C: a request's parsing costs a fraction of h11's.
    uvicorn.run(web, host=host, port=port, http="httptools", log_config=None, **options)


@app.command()
def worker() -> None:
    """Run only the background jobs (no HTTP), with any number of `serve --no-jobs` processes."""
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    if settings.sandbox:
        typer.secho(
            "A worker needs live mode (the ZOOM_* variables) or a standalone sandbox: in sandbox "
            "mode the sandbox lives inside `specialistly serve`, which runs the jobs itself.",
            err=True,
        )
        raise typer.Exit(2)
    from specialistly.jobs import work

    asyncio.run(work(settings))


@app.command("zoom-sandbox")
def zoom_sandbox(
    port: Annotated[int, typer.Option(help="Port to serve the sandbox on")] = 9000,
    host: Annotated[str, typer.Option(help="Interface to serve on")] = "127.0.0.1",
    state: Annotated[
        Path | None,
        typer.Option(help="Keep users, grants and meetings in this SQLite file (default: memory)"),
    ] = None,
) -> None:
    """Serve the Zoom sandbox alone, configured from the same variables as the app."""
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)
    from specialistly.sandbox import standalone_sandbox
    from zoom_sandbox import UvicornConnectionDropper

    _exit_cleanly_on_sigterm()
    _run_http(UvicornConnectionDropper(standalone_sandbox(settings, state_file=state)), host, port)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database to the newest revision (or REVISION); needs only DATABASE_URL."""
    db.upgrade(_settings(read_settings).async_database_url, revision)
    typer.echo(f"database at {revision}")


@jobs_app.command("run-once")
def jobs_run_once(
    name: Annotated[
        str, typer.Argument(help="keepalive, meetings, reminders, outbox or housekeeping")
    ],
) -> None:
    """Run one job once, now, and print what it did (not while another process runs it)."""
    from specialistly.context import build_context
    from specialistly.jobs import JOBS, Scheduler, describe

    if name not in JOBS:
        typer.secho(f"Unknown job {name!r}; jobs: {', '.join(JOBS)}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    configure_logging(settings.log_format, settings.log_level)

    async def go() -> dict[str, object] | None:
        ctx = build_context(settings)
        try:
            ran, result = await Scheduler(ctx).turn(name, JOBS[name], due_only=False)
            return describe(result) if ran else None
        finally:
            await ctx.close()

    result = asyncio.run(go())
    if result is None:
        typer.secho(f"Job {name} is running in another process now; try again later.", err=True)
        raise typer.Exit(1)
    typer.echo(" ".join(f"{key}={value}" for key, value in result.items()))


@app.command()
def doctor() -> None:
    """Check the configuration, the database and Zoom; exit non-zero on any problem."""
    import httpx
    from rich.console import Console
    from rich.table import Table

    from specialistly.config import with_generated_secrets
    from specialistly.ops import Check
    from specialistly.ops import doctor as run_checks

    given = _settings(read_settings)
    filled = with_generated_secrets(given) if not given.problems() else given

    async def go() -> list[Check]:
        async with httpx.AsyncClient(timeout=10) as http:
            return await run_checks(given, filled, http)

    checks = asyncio.run(go())
    table = Table(title="specialistly doctor")
    for column in ("", "check", "detail"):
        table.add_column(column)
    failed = 0
    for check in checks:
        ok = check.ok
        failed += not ok
        table.add_row("✓" if ok else "✗", check.name, check.detail)
    for problem in given.problems():
        failed += 1
        table.add_row("✗", "configuration", problem)
    Console(width=120).print(table)
    if failed:
        typer.secho(f"{failed} problem(s) found", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    typer.secho("all checks passed", fg=typer.colors.GREEN)


def _context() -> "AppContext":
    from specialistly.context import build_context

    settings = _settings()
    configure_logging(settings.log_format, "WARNING")
    return build_context(settings)


def _print_statuses(statuses: list["TokenStatus"]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in (
        "id",
        "specialist",
        "status",
        "zoom",
        "minutes left",
        "last refresh",
        "errors",
        "last error",
    ):
        table.add_column(column)
    for s in statuses:
        table.add_row(
            str(s.specialist_id),
            s.email,
            s.status,
            s.zoom_email or "—",
            "—" if s.minutes_left is None else str(s.minutes_left),
            s.last_refreshed_at.isoformat(timespec="seconds") if s.last_refreshed_at else "—",
            str(s.refresh_error_count),
            s.last_error or "—",
        )
    Console(width=160).print(table)


@tokens_app.command("list")
def tokens_list() -> None:
    """Every specialist's connection status, minutes left, last refresh and errors."""
    from specialistly.ops import token_statuses

    async def go() -> None:
        ctx = _context()
        try:
            _print_statuses(await token_statuses(ctx))
        finally:
            await ctx.close()

    asyncio.run(go())


@tokens_app.command("show")
def tokens_show(specialist: Annotated[str, typer.Argument(help="id or email")]) -> None:
    """One specialist's connection."""
    from specialistly.ops import token_statuses

    async def go() -> int:
        ctx = _context()
        try:
            found = await token_statuses(ctx, specialist)
            _print_statuses(found)
            return len(found)
        finally:
            await ctx.close()

    if not asyncio.run(go()):
        typer.secho(f"No specialist {specialist}", err=True)
        raise typer.Exit(1)


@tokens_app.command("refresh")
def tokens_refresh(specialist: Annotated[str, typer.Argument(help="id or email")]) -> None:
    """Refresh one specialist's Zoom token now and show the result."""
    from specialistly.connections.errors import ZoomNotConnected, ZoomReauthorizationRequired
    from specialistly.ops import refresh_now, token_statuses
    from specialistly.zoom.errors import ZoomError

    async def go() -> str | None:
        ctx = _context()
        try:
            found = await token_statuses(ctx, specialist)
            if not found:
                return f"No specialist {specialist}"
            try:
                await refresh_now(ctx, found[0].specialist_id)
            except (ZoomNotConnected, ZoomReauthorizationRequired, ZoomError) as failed:
                _print_statuses(await token_statuses(ctx, specialist))
                return f"Not refreshed: {type(failed).__name__}: {failed}"
            _print_statuses(await token_statuses(ctx, specialist))
            return None
        finally:
            await ctx.close()

    problem = asyncio.run(go())
    if problem:
        typer.secho(problem, err=True)
        raise typer.Exit(1)


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every stored token under the newest key (safe to interrupt and rerun)."""
    from rich.progress import Progress

    from specialistly.ops import rotate_keys

    async def go() -> int:
        ctx = _context()
        try:
            with Progress() as bar:
                task = bar.add_task("re-encrypting", total=None)
                return await rotate_keys(
                    ctx.db,
                    ctx.cipher,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        finally:
            await ctx.close()

    changed = asyncio.run(go())
    typer.echo(f"{changed} value(s) re-encrypted; every token is under the newest key")


def _print_emails(emails: list["OutboxEntry"]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("id", "to", "subject", "status", "attempts", "next attempt", "last error"):
        table.add_column(column, overflow="fold")
    for e in emails:
        table.add_row(
            str(e.id),
            e.to,
            e.subject,
            e.status,
            str(e.attempts),
            e.next_attempt_at.isoformat(timespec="seconds") if e.next_attempt_at else "—",
            e.last_error or "—",
        )
    Console(width=200).print(table)


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed", help="Only emails that failed")] = False,
) -> None:
    """The newest emails: recipient, subject, status, attempts, next attempt, last error."""
    from specialistly.notifications.outbox import entries

    async def go() -> None:
        ctx = _context()
        try:
            _print_emails(await entries(ctx.db, failed_only=failed))
        finally:
            await ctx.close()

    asyncio.run(go())


@outbox_app.command("retry")
def outbox_retry(email_id: Annotated[int, typer.Argument(help="the email's id")]) -> None:
    """Make an unsent (e.g. failed) email due again and try it now; non-zero unless it went."""
    from specialistly.notifications.outbox import EmailAlreadySent, UnknownEmail, retry_now

    async def go() -> str | None:
        ctx = _context()
        try:
            try:
                entry = await retry_now(ctx.db, ctx.email, ctx.clock, ctx.cipher, email_id)
            except UnknownEmail:
                return f"No email {email_id} in the outbox"
            except EmailAlreadySent:
                return f"Email {email_id} was sent already; not sending it twice"
            _print_emails([entry])
            return None if entry.status == "sent" else f"Email {email_id} not sent"
        finally:
            await ctx.close()

    problem = asyncio.run(go())
    if problem:
        typer.secho(problem, err=True)
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="specialistly")


if __name__ == "__main__":
    main()
