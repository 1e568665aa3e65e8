"""The engine, the unit of work and the UTC column type, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from core import ConfigError
from storage import Database, DatabaseUnavailable, JobLease, parse_database_url

AMSTERDAM_SUMMER = timezone(timedelta(hours=2))


def _lease(name: str, when: datetime) -> JobLease:
    return JobLease(name=name, holder="test", acquired_at=when, expires_at=when)


def test_datetimes_come_back_aware_and_in_utc(db_session):
    local = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=AMSTERDAM_SUMMER)
    db_session.add(_lease("tz", local))
    db_session.flush()
    db_session.expire_all()
    stored = db_session.get(JobLease, "tz")
    assert stored.acquired_at == local
    assert stored.acquired_at.tzinfo is UTC
    assert stored.acquired_at.hour == 12


def test_a_naive_datetime_is_refused_not_guessed(db_session):
    db_session.add(_lease("naive", datetime(2026, 7, 1, 14, 30)))
    with pytest.raises(Exception, match="naive datetime"):
        db_session.flush()


def test_datetimes_compare_in_queries_across_zones(db_session):
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    db_session.add_all([_lease(f"q{i}", base + timedelta(minutes=i)) for i in range(3)])
    db_session.flush()
    # 13:00:30 at UTC+1 is 12:00:30 UTC: between q0 and q1.
    cutoff = datetime(2026, 3, 1, 13, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    later = select(JobLease.name).where(JobLease.expires_at > cutoff)
    assert sorted(db_session.scalars(later)) == ["q1", "q2"]


def test_unit_of_work_commits_once_at_the_end(migrated_database):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with migrated_database.unit_of_work() as session:
        session.add(_lease("committed", now))
    with migrated_database.unit_of_work() as session:
        assert session.get(JobLease, "committed") is not None


def test_unit_of_work_rolls_back_everything_on_error(migrated_database):
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def fail_after_writing() -> None:
        with migrated_database.unit_of_work() as session:
            session.add(_lease("lost", now))
            session.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_after_writing()
    with migrated_database.unit_of_work() as session:
        assert session.get(JobLease, "lost") is None


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_full_sync(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'pragmas.db'}")
    with database.engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("busy_timeout") == 5000
        assert pragma("synchronous") == 2  # FULL
    database.dispose()


def test_sqlite_enforces_foreign_keys(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'fk.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        connection.execute(
            text(
                "CREATE TABLE child (id INTEGER PRIMARY KEY,"
                " parent_id INTEGER REFERENCES parent(id))"
            )
        )
    with pytest.raises(Exception, match="FOREIGN KEY"), database.engine.begin() as connection:
        connection.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 42)"))
    database.dispose()


def test_sqlite_savepoints_roll_back_only_the_inner_work(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'sp.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE item (name TEXT)"))
    with database.unit_of_work() as session:
        session.execute(text("INSERT INTO item VALUES ('kept')"))
        nested = session.begin_nested()
        session.execute(text("INSERT INTO item VALUES ('undone')"))
        nested.rollback()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM item")).scalars().all() == ["kept"]
    database.dispose()


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://root@localhost/wachter", "unsupported database 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "unsupported database 'postgresql+psycopg2'"),
        ("::not a url::", "not a database URL"),
        ("sqlite://", "in-memory SQLite database loses everything"),
        ("sqlite:///:memory:", "in-memory SQLite database loses everything"),
    ],
)
def test_unusable_database_urls_are_config_errors(url, problem):
    with pytest.raises(ConfigError) as caught:
        parse_database_url(url)
    assert caught.value.variable == "WACHTER_DATABASE_URL"
    assert problem in str(caught.value)


def test_plain_postgresql_urls_use_psycopg_3():
    assert parse_database_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert parse_database_url("postgres://u@h/db").drivername == "postgresql+psycopg"


def test_an_unreachable_server_is_reported_without_the_password():
    database = Database.from_url("postgresql://wachter:hunter2-secret@127.0.0.1:1/wachter")
    with pytest.raises(DatabaseUnavailable) as caught:
        database.check_connection()
    message = str(caught.value)
    assert "hunter2-secret" not in message
    assert "***" in message
    assert "Connection refused" in message
    assert "\n" not in message
    database.dispose()


def test_a_sqlite_file_in_a_missing_directory_is_reported(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'missing' / 'wachter.db'}")
    with pytest.raises(DatabaseUnavailable, match="unable to open database file"):
        database.check_connection()
    database.dispose()


def test_sqlite_read_then_write_transactions_do_not_collide(tmp_path):
    """Two read-then-write transactions at once: both succeed, neither sees SQLITE_BUSY."""
    database = Database.from_url(f"sqlite:///{tmp_path / 'rw.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE counter (value INTEGER)"))
        connection.execute(text("INSERT INTO counter VALUES (0)"))
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def increment() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(10):
                with database.unit_of_work() as session:
                    value = session.execute(text("SELECT value FROM counter")).scalar_one()
                    session.execute(text("UPDATE counter SET value = :v"), {"v": value + 1})
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=increment) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT value FROM counter")).scalar_one() == 40
    database.dispose()


def test_sqlite_readers_are_not_blocked_by_a_writer(tmp_path):
    database = Database.from_url(f"sqlite:///{tmp_path / 'readers.db'}")
    with database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE item (name TEXT)"))
    with database.unit_of_work() as writer:
        writer.execute(text("INSERT INTO item VALUES ('uncommitted')"))
        started = time.monotonic()
        database.check_connection()  # would wait the 5 s busy timeout behind the writer
        with database.read_only_connection() as reader:
            assert reader.execute(text("SELECT count(*) FROM item")).scalar_one() == 0
        assert time.monotonic() - started < 1
    database.dispose()
