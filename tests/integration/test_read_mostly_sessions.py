"""A console page view's session on SQLite: its reads take no write lock, its first write (or
locking read) takes it in a new transaction, and a read-then-write never fails because
another writer committed in between (bench/console found every page view queued on the lock).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from access_control import Actor, record_audit
from access_control.audit import verify_chain
from access_control.models import AuditEntry
from storage import Database, migrate

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sqlite_database(tmp_path_factory) -> Database:
    path = tmp_path_factory.mktemp("read-mostly") / "wachter.db"
    database = Database.from_url(f"sqlite:///{path}")
    migrate.upgrade(database)
    yield database
    database.dispose()


def can_write_at_once(database: Database) -> bool:
    """Whether another connection gets the write lock without waiting."""
    other = sqlite3.connect(database.engine.url.database, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def audit(session, action: str) -> None:
    record_audit(
        session, actor=Actor.system(), action=action, target="t", outcome="success", now=NOW
    )


def test_reads_take_no_lock_and_the_first_write_takes_it(sqlite_database):
    session = sqlite_database.read_mostly_session()
    try:
        session.scalar(select(func.count()).select_from(AuditEntry))
        assert can_write_at_once(sqlite_database)  # reading: others write meanwhile
        audit(session, "test.first_write")
        assert not can_write_at_once(sqlite_database)  # writing: the lock is held
        session.commit()
    finally:
        session.close()
    assert can_write_at_once(sqlite_database)


def test_a_write_after_another_writers_commit_extends_the_chain_without_error(sqlite_database):
    session = sqlite_database.read_mostly_session()
    try:
        before = session.scalar(select(func.count()).select_from(AuditEntry))  # snapshot
        with sqlite_database.unit_of_work() as other:
            audit(other, "test.meanwhile")
        audit(session, "test.after")  # a deferred transaction would fail here: stale snapshot
        session.commit()
    finally:
        session.close()
    with sqlite_database.snapshot() as check:
        assert check.scalar(select(func.count()).select_from(AuditEntry)) == before + 2
        assert verify_chain(check).is_intact
