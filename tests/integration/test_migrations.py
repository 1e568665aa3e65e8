"""Every migration upgrades and downgrades cleanly, and head matches the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from storage import migrate
from storage.migrate import _config
from wachter.schema import metadata


def _tables(database):
    return set(inspect(database.engine).get_table_names()) - {"alembic_version"}


def _revisions_in_order():
    script = ScriptDirectory.from_config(_config())
    return [revision.revision for revision in reversed(list(script.walk_revisions()))]


def test_the_revision_history_is_one_straight_line():
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1


def test_head_matches_the_models_exactly(migrated_database):
    with migrated_database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata())
    assert differences == []
    assert migrate.is_up_to_date(migrated_database)


def test_every_revision_upgrades_and_downgrades_step_by_step(empty_database):
    revisions = _revisions_in_order()
    assert revisions, "no migrations found"
    seen_tables = []
    for revision in revisions:
        migrate.upgrade(empty_database, revision)
        assert migrate.current_revision(empty_database) == revision
        seen_tables.append(_tables(empty_database))
    for index in range(len(revisions) - 1, -1, -1):
        assert _tables(empty_database) == seen_tables[index]
        migrate.downgrade(empty_database, "-1")
    assert migrate.current_revision(empty_database) is None
    assert _tables(empty_database) == set()


def test_upgrade_after_a_full_downgrade_rebuilds_the_same_schema(migrated_database):
    before = _tables(migrated_database)
    migrate.downgrade(migrated_database, "base")
    assert _tables(migrated_database) == set()
    migrate.upgrade(migrated_database)
    assert _tables(migrated_database) == before == set(metadata().tables)


def test_upgrading_twice_is_harmless(migrated_database):
    migrate.upgrade(migrated_database)
    assert migrate.is_up_to_date(migrated_database)


def test_an_empty_database_is_not_up_to_date(empty_database):
    assert migrate.current_revision(empty_database) is None
    assert not migrate.is_up_to_date(empty_database)
