"""Alembic environment: the connection comes from ``storage.migrate``, never from an ini file."""

from __future__ import annotations

from alembic import context

database = context.config.attributes["database"]
target_metadata = context.config.attributes.get("target_metadata")

with database.engine.connect() as connection:
    is_sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=is_sqlite,  # SQLite ALTERs need batch mode
        # storage.Database makes SQLite transactions explicit, so a failed migration
        # rolls back whole on both backends instead of leaving half a schema.
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
