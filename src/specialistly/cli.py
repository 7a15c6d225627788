"""The `specialistly` command line."""

import asyncio
from typing import Annotated

import typer
import uvicorn

from specialistly import db
from specialistly.config import ConfigurationError, Settings, load_settings
from specialistly.logs import configure_logging

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Specialistly: Zoom scheduling.")
db_app = typer.Typer(no_args_is_help=True, help="Database commands.")
app.add_typer(db_app, name="db")
jobs_app = typer.Typer(no_args_is_help=True, help="Background jobs.")
app.add_typer(jobs_app, name="jobs")


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        typer.secho("Configuration problems:", fg=typer.colors.RED, err=True)
        for problem in error.problems:
            typer.secho(f"  - {problem}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface (default HOST or 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default PORT or 8000)")] = None,
) -> None:
    """Serve the app (and, in sandbox mode, the Zoom sandbox at /zoom-sandbox)."""
    settings = _settings()
    configure_logging()
    from specialistly.app import create_app
    from zoom_sandbox import UvicornConnectionDropper

    web = UvicornConnectionDropper(create_app(settings, run_jobs=True))
    uvicorn.run(
        web,
        host=host or settings.host,
        port=port or settings.port,
        http="h11",
        log_config=None,
        timeout_graceful_shutdown=20,
    )


@app.command("zoom-sandbox")
def zoom_sandbox(
    port: Annotated[int, typer.Option(help="Port to serve the sandbox on")] = 9000,
    host: Annotated[str, typer.Option(help="Interface to serve on")] = "127.0.0.1",
) -> None:
    """Serve the Zoom sandbox alone, configured from the same variables as the app."""
    settings = _settings()
    configure_logging()
    from specialistly.sandbox import standalone_sandbox
    from zoom_sandbox import UvicornConnectionDropper

    uvicorn.run(
        UvicornConnectionDropper(standalone_sandbox(settings)),
        host=host,
        port=port,
        http="h11",
        log_config=None,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Migrate the database to the newest revision (or REVISION)."""
    settings = _settings()
    db.upgrade(settings.async_database_url, revision)
    typer.echo(f"database at {revision}")


@jobs_app.command("run-once")
def jobs_run_once(
    name: Annotated[str, typer.Argument(help="keepalive, meetings or outbox")],
) -> None:
    """Run one job once, now, and print what it did."""
    from specialistly.context import build_context
    from specialistly.jobs import JOBS, run_once

    if name not in JOBS:
        typer.secho(f"Unknown job {name!r}; jobs: {', '.join(JOBS)}", err=True)
        raise typer.Exit(2)
    settings = _settings()
    configure_logging()

    async def go() -> dict[str, object]:
        ctx = build_context(settings)
        try:
            return await run_once(ctx, name)
        finally:
            await ctx.close()

    result = asyncio.run(go())
    typer.echo(" ".join(f"{key}={value}" for key, value in result.items()))


def main() -> None:
    app(prog_name="specialistly")


if __name__ == "__main__":
    main()
