"""The ``wachter`` command line.

Every command builds its settings once; a configuration or database problem ends the
command with one line on stderr that names the variable, and exit code 2.
"""

from __future__ import annotations

import os
from importlib.metadata import version as package_version
from typing import Any

import click

from core import ConfigError, Settings, SystemClock
from core.datadir import prepare
from storage import Database, DatabaseUnavailable, migrate
from wachter.jobs import JOBS, BackgroundJobs
from wachter.logs import configure_logging
from wachter.schema import metadata
from wachter.server import running, serve_http, wait_for_signal
from web import create_app

EXIT_CONFIG = 2


class StartupFailed(click.ClickException):
    exit_code = EXIT_CONFIG


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            raise StartupFailed(str(error)) from None
        except DatabaseUnavailable as error:
            raise StartupFailed(f"WACHTER_DATABASE_URL: {error}") from None


@click.group(cls=_Group)
def cli() -> None:
    """Wachter: threat monitoring and staff safety for one organisation."""


def _prepare() -> tuple[Settings, Database]:
    os.umask(0o077)  # the database, keys and evidence are readable by this account only
    settings = prepare(Settings.from_env())
    configure_logging(settings.log_level)
    database = Database.from_url(settings.database_url)
    database.check_connection()
    return settings, database


@cli.command()
@click.option("--host", help="Address to listen on [default: WACHTER_HTTP_HOST or 127.0.0.1].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="Port [default: WACHTER_HTTP_PORT or 8080; 0 picks a free one].",
)
def serve(host: str | None, port: int | None) -> None:
    """Run everything in one process: web console, API, collectors and background jobs."""
    settings, database = _prepare()
    migrate.upgrade(database)
    app = create_app(settings, database=database)

    def announce(base_url: str) -> None:
        click.echo(f"Wachter is running at {base_url}/")
        click.echo(
            f"Sign in at {base_url}/login · readiness at {base_url}/readyz · stop with Ctrl+C"
        )

    with running(BackgroundJobs(database, JOBS, clock=SystemClock())):
        serve_http(
            app,
            settings,
            host=host or settings.http_host,
            port=settings.http_port if port is None else port,
            announce=announce,
        )
    database.dispose()


@cli.command()
def worker() -> None:
    """Run the collectors and background jobs only (add as many as you need)."""
    _settings, database = _prepare()
    if not migrate.is_up_to_date(database):
        raise StartupFailed("the database schema is not up to date; run `wachter db upgrade` first")
    with running(BackgroundJobs(database, JOBS, clock=SystemClock())):
        click.echo("Wachter worker running; stop with Ctrl+C")
        wait_for_signal()
    database.dispose()


@cli.command()
def version() -> None:
    """Show the version of Wachter and of its database schema."""
    click.echo(f"wachter {package_version('wachter')} (schema {migrate.head_revision()})")


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema (to the latest revision unless one is given)."""
    _settings, database = _prepare()
    migrate.upgrade(database, revision)
    click.echo(f"Database schema at {migrate.current_revision(database)} ({database.display_url})")


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def downgrade(revision: str, yes: bool) -> None:
    """Downgrade the schema to REVISION ("base" removes every table: data is lost)."""
    _settings, database = _prepare()
    if not yes:
        click.confirm(
            f"Downgrade {database.display_url} to {revision}? Data in removed tables is lost",
            abort=True,
        )
    migrate.downgrade(database, revision)
    click.echo(f"Database schema at {migrate.current_revision(database) or 'base'}")


@db.command()
def current() -> None:
    """Show the schema revision of the database and whether it is up to date."""
    _settings, database = _prepare()
    revision, head = migrate.current_revision(database), migrate.head_revision()
    state = "up to date" if revision == head else f"behind (latest is {head})"
    click.echo(f"{revision or 'empty'}: {state}")


@db.command()
@click.option("-m", "--message", required=True, help="What the revision changes.")
def revision(message: str) -> None:
    """Write a new migration from the models (for developers)."""
    _settings, database = _prepare()
    migrate.make_revision(database, metadata(), message)


def main() -> None:
    cli(prog_name="wachter")
