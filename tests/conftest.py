"""Shared fixtures: settings, the database on SQLite and PostgreSQL, the app and its client.

``database`` is parametrised over both backends and migrated once per test session;
``db_session`` and ``app`` run each test inside a transaction that is rolled back, so
tests see committed-looking data and leave nothing behind. Tests that need real,
separate commits (concurrency, migrations) take ``empty_database`` instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from core import FixedClock, Settings
from storage import Database, migrate
from tests.support.postgres import TemporaryCluster, find_server_binaries
from tests.support.search_nodes import (
    ELASTICSEARCH,
    OPENSEARCH,
    Distribution,
    NodeUnavailable,
    SearchNode,
)
from web import create_app

IN_CI = os.environ.get("CI") == "true"
TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
TEST_ENCRYPTION_KEY = "dGVzdC1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISE="  # 32 bytes, base64
# The identity vault's test key (public: never use it anywhere else).
TEST_VAULT_KEYS = "ktest:dGVzdC12YXVsdC1rZXktMzItYnl0ZXMtbG9uZyEhISE="
# argon2id at its cheapest: tests hash many passwords; production cost is in core.Settings.
CHEAP_ARGON2 = {"argon2_memory_kib": 8, "argon2_time_cost": 1, "argon2_parallelism": 1}
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules marked ``one_backend`` render pages whose queries are tested on both backends
    elsewhere: their PostgreSQL copies would test the templates twice (the suite's time)."""
    twice = [
        item
        for item in items
        if item.get_closest_marker("one_backend") and item.get_closest_marker("postgresql")
    ]
    if twice:
        config.hook.pytest_deselected(items=twice)
        items[:] = [item for item in items if item not in twice]


def unavailable(reason: str) -> None:
    """Skip on a developer's machine; under CI a missing service is a failure."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def _search_node(distribution: Distribution) -> Iterator[SearchNode]:
    node = SearchNode(distribution)
    try:
        node.start()
    except NodeUnavailable as reason:
        unavailable(f"{distribution.name} test node: {reason} (make test fetches it)")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="session")
def elasticsearch_node() -> Iterator[SearchNode]:
    """A real single-node Elasticsearch 9 on loopback for this test process."""
    yield from _search_node(ELASTICSEARCH)


@pytest.fixture(scope="session")
def opensearch_node() -> Iterator[SearchNode]:
    """A real single-node OpenSearch 3 on loopback for this test process."""
    yield from _search_node(OPENSEARCH)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[TemporaryCluster]:
    bindir = find_server_binaries()
    if bindir is None:
        unavailable(
            "PostgreSQL server binaries not found; install Debian's postgresql (make test does)"
        )
    assert bindir is not None
    cluster = TemporaryCluster(bindir)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _new_database_url(backend: str, request: pytest.FixtureRequest, directory: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{directory / f'{uuid.uuid4().hex}.db'}"
    cluster: TemporaryCluster = request.getfixturevalue("postgres_cluster")
    name = f"wachter_{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: cluster.drop_database(name))
    return cluster.create_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    """A migrated database per backend, shared by the session (use ``db_session``)."""
    url = _new_database_url(request.param, request, tmp_path_factory.mktemp("db"))
    shared = Database.from_url(url)
    migrate.upgrade(shared)
    yield shared
    shared.dispose()


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A brand-new, unmigrated database of its own for this test."""
    fresh = Database.from_url(_new_database_url(request.param, request, tmp_path))
    yield fresh
    fresh.dispose()


@pytest.fixture
def migrated_database(empty_database: Database) -> Database:
    migrate.upgrade(empty_database)
    return empty_database


@pytest.fixture
def rollback_database(database: Database) -> Iterator[Database]:
    """``database`` whose sessions all live in one transaction, rolled back after the test."""
    connection = database.engine.connect()
    outer = connection.begin()
    bound = Database(database.engine)
    bound.sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield bound
    outer.rollback()
    connection.close()


@pytest.fixture
def db_session(rollback_database: Database) -> Iterator[Session]:
    session = rollback_database.sessions()
    yield session
    session.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database.engine.url.render_as_string(hide_password=False),
        secret_key=TEST_SECRET_KEY,
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        vault_keys=TEST_VAULT_KEYS,
        **CHEAP_ARGON2,
    )


@pytest.fixture
def app(settings: Settings, rollback_database: Database, clock: FixedClock) -> Flask:
    return create_app(settings, database=rollback_database, clock=clock)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
