"""PostgreSQL restarted under a running Wachter: while it is away, readiness says so and a
shipper's batch is refused with a 503 that says why and when to retry (nothing half-stored);
when it is back, the same process serves again without anyone touching it, and the batch
sent again is stored once."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from access_control.tokens import Scope
from core import FixedClock, Settings
from storage import Database, migrate
from storage.events import Event
from tests.conftest import (
    CHEAP_ARGON2,
    TEST_ENCRYPTION_KEY,
    TEST_SECRET_KEY,
    TEST_VAULT_KEYS,
    unavailable,
)
from tests.support.postgres import TemporaryCluster, find_server_binaries
from tests.support.tokens import bearer, issue_token
from web import create_app


@pytest.fixture
def cluster() -> Iterator[TemporaryCluster]:
    """A cluster of this test's own: the suite's shared one must not be stopped."""
    bindir = find_server_binaries()
    if bindir is None:
        unavailable("PostgreSQL server binaries not found; install Debian's postgresql")
    assert bindir is not None
    own = TemporaryCluster(bindir)
    try:
        own.start()
        yield own
    finally:
        own.stop()


def shipper(database: Database, url: str, tmp_path: Path) -> tuple[FlaskClient, dict[str, str]]:
    """The app on the migrated ``database`` and a shipper's headers (token, NDJSON, English)."""
    migrate.upgrade(database)
    settings = Settings(
        data_dir=tmp_path / "data", database_url=url, secret_key=TEST_SECRET_KEY,
        encryption_keys=(TEST_ENCRYPTION_KEY,), vault_keys=TEST_VAULT_KEYS, **CHEAP_ARGON2,
    )  # fmt: skip
    clock = FixedClock()
    client = create_app(settings, database=database, clock=clock).test_client()
    _id, token = issue_token(database, clock, Scope.EVENTS_WRITE)
    headers = {**bearer(token), "Accept-Language": "en", "Content-Type": "application/x-ndjson"}
    return client, headers


def batch(name: str) -> bytes:
    document = {"@timestamp": "2026-01-01T00:00:00Z", "event": {"id": name}, "message": name}
    return orjson.dumps(document)


def test_a_restart_is_reported_refused_clearly_and_recovered_without_hands(cluster, tmp_path):
    url = cluster.create_database(f"wachter_{uuid.uuid4().hex[:8]}")
    database = Database.from_url(url)
    client, headers = shipper(database, url, tmp_path)

    def send(name: str):
        return client.post("/api/v1/events", data=batch(name), headers=headers)

    assert send("before").status_code == 202
    try:
        cluster.halt()
        ready = client.get("/readyz")
        assert (ready.status_code, ready.get_json()["checks"]["database"]) == (503, "failed")
        refused = send("during")
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "10"
        assert refused.get_json()["error"]["message"] == (
            "The database cannot be reached. Nothing was stored; try again in a moment."
        )
    finally:
        cluster.resume()

    assert client.get("/readyz").status_code == 200
    assert send("during").status_code == 202  # the shipper's retry
    assert send("during").get_json()["duplicates"] == 1  # and once more: not stored twice
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2
    database.dispose()


@pytest.fixture
def durable_cluster() -> Iterator[TemporaryCluster]:
    """Its own cluster, committing as production does (the suite's trade durability for
    speed, and a killed server would lose what they acknowledged)."""
    bindir = find_server_binaries()
    if bindir is None:
        unavailable("PostgreSQL server binaries not found; install Debian's postgresql")
    assert bindir is not None
    own = TemporaryCluster(bindir, durable=True)
    try:
        own.start()
        yield own
    finally:
        own.stop()


def numbered(number: int, size: int = 50) -> bytes:
    return b"\n".join(
        orjson.dumps(
            {
                "@timestamp": "2026-01-01T00:00:00Z",
                "message": f"b{number}-e{index}",
                "event": {"id": f"b{number}-e{index}"},
            }
        )
        for index in range(size)
    )


def test_postgresql_killed_mid_write_loses_nothing_acknowledged_and_doubles_nothing(
    durable_cluster, tmp_path
):
    url = durable_cluster.create_database(f"wachter_{uuid.uuid4().hex[:8]}")
    database = Database.from_url(url)
    client, headers = shipper(database, url, tmp_path)

    def send(number: int):
        return client.post("/api/v1/events", data=numbered(number), headers=headers)

    # The first batch before the timer starts: its set-up (the app's first request) took
    # over a second on a loaded CI machine, and the kill then came before any write.
    assert send(0).status_code == 202
    acknowledged, attempted, refused = [0], 1, 0
    killer = threading.Timer(0.5, durable_cluster.crash)  # while batches are being written
    killer.start()
    try:
        while refused < 3 and attempted < 5000:
            answer = send(attempted)
            attempted += 1
            if answer.status_code == 202:
                acknowledged.append(attempted - 1)
            else:
                assert answer.status_code == 503, answer.get_data(as_text=True)
                assert answer.headers["Retry-After"] == "10"
                refused += 1
    finally:
        killer.join()
        durable_cluster.resume()  # crash recovery from the WAL
    assert refused == 3, f"the kill did not stop the writes ({attempted} batches sent)"

    def messages() -> list[str]:
        with database.unit_of_work() as session:
            documents = session.scalars(select(Event.document))
            return [orjson.loads(document)["message"] for document in documents]

    # Every batch acknowledged before the kill survived it (crash recovery from the WAL).
    assert {f"b{n}-e{i}" for n in acknowledged for i in range(50)} <= set(messages())
    for number in range(attempted):  # the shipper re-sends all it is not sure of
        assert send(number).status_code == 202
    after = messages()
    assert len(after) == len(set(after)) == 50 * attempted  # each event once
    database.dispose()
