"""On PostgreSQL the feed's commit-order lock is taken once per transaction, however many
alert changes the transaction records, and again in the next transaction."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event

from incidents.feeds.changes import record_alert_change
from storage import Database, migrate
from tests.support.incident_factories import SEEN, make_alert


@pytest.fixture
def postgresql_database(postgres_cluster):
    """SQLite needs no lock (its writers take turns for whole transactions): PostgreSQL only."""
    name = f"wachter_{uuid.uuid4().hex[:12]}"
    database = Database.from_url(postgres_cluster.create_database(name))
    migrate.upgrade(database)
    yield database
    database.dispose()
    postgres_cluster.drop_database(name)


@pytest.mark.postgresql
def test_the_lock_is_taken_once_per_transaction(postgresql_database):
    locks: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "pg_advisory_xact_lock" in statement:
            locks.append(statement)

    event.listen(postgresql_database.engine, "before_cursor_execute", count)
    try:
        session = postgresql_database.sessions()
        try:
            alert = make_alert(session)
            for change in ("created", "updated", "status"):
                record_alert_change(session, alert, change=change, now=SEEN)
            assert len(locks) == 1
            session.commit()
            record_alert_change(session, alert, change="updated", now=SEEN)
            session.commit()
        finally:
            session.close()
    finally:
        event.remove(postgresql_database.engine, "before_cursor_execute", count)
    assert len(locks) == 2
