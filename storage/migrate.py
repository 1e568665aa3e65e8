"""Alembic migrations, driven from code (``wachter db …`` and ``serve``), not an ini file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData
from sqlalchemy.exc import DBAPIError

from storage.database import Database, first_line
from storage.errors import DatabaseUnavailable

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def _config(database: Database | None = None, metadata: MetaData | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["database"] = database
    config.attributes["target_metadata"] = metadata
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(database: Database) -> str | None:
    try:
        with database.read_only_connection() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except DBAPIError as error:
        raise DatabaseUnavailable(
            f"cannot reach {database.display_url}: {first_line(error.orig)}"
        ) from None


def is_up_to_date(database: Database) -> bool:
    return current_revision(database) == head_revision()


def upgrade(database: Database, revision: str = "head") -> None:
    _run(lambda config: command.upgrade(config, revision), database)


def downgrade(database: Database, revision: str) -> None:
    _run(lambda config: command.downgrade(config, revision), database)


def make_revision(database: Database, metadata: MetaData, message: str) -> None:
    """Autogenerate a new revision from the models (developers only), numbered after head."""
    next_id = f"{int(head_revision() or 0) + 1:04d}"
    _run(
        lambda config: command.revision(config, message=message, autogenerate=True, rev_id=next_id),
        database,
        metadata,
    )


def _run(
    action: Callable[[Config], object], database: Database, metadata: MetaData | None = None
) -> None:
    try:
        action(_config(database, metadata))
    except DBAPIError as error:
        raise DatabaseUnavailable(
            f"migration on {database.display_url} failed: {first_line(error.orig)}"
        ) from None
