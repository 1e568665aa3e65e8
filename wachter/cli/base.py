"""The ``wachter`` group, the start of every command, and its error handling.

Every command builds its settings once; a configuration or database problem ends the
command with one line on stderr that names the variable, and exit code 2.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

import click

from core import ConfigError, DomainError, Settings
from core.datadir import prepare
from storage import Database, DatabaseUnavailable, migrate
from wachter.logs import configure_logging

EXIT_CONFIG = 2


class StartupFailed(click.ClickException):
    exit_code = EXIT_CONFIG


# Each command's module, imported only when that command runs (``_Group.get_command``):
# importing every module made each invocation spend two seconds loading Flask, pySigma,
# stix2 and fpdf that most commands never use. tests/cli/test_cli_startup.py keeps this
# table equal to what the modules register.
COMMAND_MODULES = {
    "alerts": "alerts_export",
    "audit": "audit",
    "db": "db",
    "demo": "demo",
    "detect": "detect",
    "ingest": "ingest",
    "keys": "keys",
    "lists": "rules",
    "parse": "ingest",
    "playbooks": "incidents",
    "rules": "rules",
    "serve": "service",
    "token": "tokens",
    "user": "users",
    "vault": "vault",
    "version": "db",
    "worker": "service",
}


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(f"wachter.cli.{COMMAND_MODULES[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigError as error:
            raise StartupFailed(str(error)) from None
        except DatabaseUnavailable as error:
            raise StartupFailed(f"WACHTER_DATABASE_URL: {error}") from None
        except DomainError as error:
            raise click.ClickException(error.message) from None


@click.group(cls=_Group)
def cli() -> None:
    """Wachter: threat monitoring and staff safety for one organisation."""


def prepare_command() -> tuple[Settings, Database]:
    """Settings, logging and a reachable database: the start of every command."""
    os.umask(0o077)  # the database, keys and evidence are readable by this account only
    settings = prepare(Settings.from_env())
    configure_logging(settings.log_level)
    database = Database.from_url(settings.database_url)
    database.check_connection()
    return settings, database


def prepare_migrated_command() -> tuple[Settings, Database]:
    """``prepare_command`` for commands that need the tables: the schema must be current."""
    settings, database = prepare_command()
    if not migrate.is_up_to_date(database):
        raise StartupFailed("the database schema is not up to date; run `wachter db upgrade` first")
    return settings, database
