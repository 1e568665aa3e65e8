"""A busy, full or unreachable database is named from the driver's own code and answered
with a 503 that says so and when to try again (never "internal error"), from real errors:
SQLite's write lock held by another connection, SQLite's page limit reached, PostgreSQL on a
port where nothing listens."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError

from storage import DatabaseFault, database_fault
from tests.support.postgres import free_port
from web.errors import handle_error


def raised(engine, *statements: str) -> DBAPIError:
    """The driver error the last statement raised, as SQLAlchemy hands it on."""
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
    except DBAPIError as error:
        return error
    raise AssertionError("no database error")


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "faults.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE t (x BLOB)")
    setup.commit()
    setup.close()
    return path


def busy_error(sqlite_file) -> DBAPIError:
    """What a writer gets while another connection holds SQLite's write lock (no waiting)."""
    holder = sqlite3.connect(sqlite_file, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        engine = create_engine(f"sqlite:///{sqlite_file}", connect_args={"timeout": 0})
        return raised(engine, "BEGIN IMMEDIATE")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_the_write_lock_held_elsewhere_is_busy(sqlite_file):
    assert database_fault(busy_error(sqlite_file)) is DatabaseFault.BUSY


def test_a_full_database_is_full(sqlite_file):
    engine = create_engine(f"sqlite:///{sqlite_file}")
    with engine.begin() as connection:
        pages = connection.exec_driver_sql("PRAGMA page_count").scalar()
    error = raised(
        engine,
        f"PRAGMA max_page_count = {pages + 2}",
        "INSERT INTO t VALUES (zeroblob(1000000))",
    )
    assert database_fault(error) is DatabaseFault.FULL


def test_postgresql_where_nothing_listens_is_unreachable():
    engine = create_engine(f"postgresql+psycopg://wachter@127.0.0.1:{free_port()}/wachter")
    error = raised(engine, "SELECT 1")
    assert database_fault(error) is DatabaseFault.UNREACHABLE


def test_a_mistake_in_a_statement_is_no_fault(sqlite_file):
    engine = create_engine(f"sqlite:///{sqlite_file}")
    assert database_fault(raised(engine, "SELECT * FROM no_such_table")) is None
    assert database_fault(ValueError("not a database error")) is None


@pytest.mark.one_backend
@pytest.mark.parametrize(("path", "wants"), [("/api/v1/events", "json"), ("/alerts", "html")])
def test_a_busy_database_is_a_503_that_says_so_and_when_to_try_again(app, sqlite_file, path, wants):
    error = busy_error(sqlite_file)
    headers = {"Accept-Language": "en"}
    with app.test_request_context(path, method="POST", headers=headers):
        app.preprocess_request()  # the request's own hooks (request id, identity)
        response = handle_error(error)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    said = "The database is busy. Nothing was stored; try again in a moment."
    if wants == "json":
        body = response.get_json()["error"]
        assert (body["code"], body["message"]) == ("unavailable", said)
    else:
        assert said in response.get_data(as_text=True)
        assert "Traceback" not in response.get_data(as_text=True)
