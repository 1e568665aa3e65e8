"""Schema migrations: ``wachter db upgrade|downgrade|current|revision``; ``wachter version``."""

from __future__ import annotations

from importlib.metadata import version as package_version

import click

from storage import migrate
from wachter.cli.base import cli, prepare_command
from wachter.schema import metadata


@cli.group()
def db() -> None:
    """Database schema migrations."""


@db.command()
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Upgrade the schema (to the latest revision unless one is given)."""
    _settings, database = prepare_command()
    migrate.upgrade(database, revision)
    click.echo(f"Database schema at {migrate.current_revision(database)} ({database.display_url})")


@db.command()
@click.argument("revision")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def downgrade(revision: str, yes: bool) -> None:
    """Downgrade the schema to REVISION ("base" removes every table: data is lost)."""
    _settings, database = prepare_command()
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
    _settings, database = prepare_command()
    revision, head = migrate.current_revision(database), migrate.head_revision()
    state = "up to date" if revision == head else f"behind (latest is {head})"
    click.echo(f"{revision or 'empty'}: {state}")


@db.command()
@click.option("-m", "--message", required=True, help="What the revision changes.")
def revision(message: str) -> None:
    """Write a new migration from the models (for developers)."""
    _settings, database = prepare_command()
    migrate.make_revision(database, metadata(), message)


@cli.command()
def version() -> None:
    """Show the version of Wachter and of its database schema."""
    click.echo(f"wachter {package_version('wachter')} (schema {migrate.head_revision()})")
