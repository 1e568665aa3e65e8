"""Elasticsearch killed under a running ``wachter serve`` in scale-out mode (marker ``long``:
it stops the session's node, which nothing else may use meanwhile).

Shippers go on sending while the node is away: every batch is acknowledged (the database
is the outbox), the event search says the cluster is unavailable (503) instead of showing
a partial answer, and when the node is back the indexer replays what it missed: the index
holds every stored event exactly once, without anyone touching Wachter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from sqlalchemy import select

from storage import Database
from storage.events import Event
from tests.support.processes import clean_env, run_wachter, started, wait_until
from tests.support.search_backends import backend_of

pytestmark = pytest.mark.long

BATCH = 100


@pytest.fixture
def cluster(elasticsearch_node) -> Iterator[tuple[Any, Any, str]]:
    backend = backend_of("elasticsearch", elasticsearch_node.url)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield elasticsearch_node, backend, prefix
    for name in backend.indices(f"{prefix}-*"):
        backend.delete_index(name)


def batch_body(number: int) -> bytes:
    return b"\n".join(
        orjson.dumps({"@timestamp": "2026-11-30T10:00:00Z", "message": f"b{number}-e{index}"})
        for index in range(BATCH)
    )


def indexed(backend: Any, prefix: str) -> tuple[int, int]:
    """(documents, distinct event ids) in this test's indices."""
    pattern = f"{prefix}-*"
    if not backend.indices(pattern):
        return 0, 0
    backend.client.indices.refresh(index=pattern)
    answer = backend.client.search(
        index=pattern,
        size=0,
        track_total_hits=True,
        aggs={"ids": {"cardinality": {"field": "wachter.event_id", "precision_threshold": 40000}}},
    )
    return answer["hits"]["total"]["value"], answer["aggregations"]["ids"]["value"]


def test_an_outage_of_the_cluster_loses_and_doubles_nothing_and_heals_by_itself(
    tmp_path: Path, cluster
) -> None:
    node, backend, prefix = cluster
    env = clean_env(
        WACHTER_DATA_DIR=str(tmp_path / "var"),
        WACHTER_ELASTICSEARCH_URL=node.url,
        WACHTER_ELASTICSEARCH_INDEX_PREFIX=prefix,
        WACHTER_INGEST_RATE_LIMIT="999999",
    )
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    created = run_wachter(
        "token", "add", "--name", "shipper", "--scope", "events:write,events:read",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {created.stdout.strip()}", "Accept-Language": "en"}
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")

    def send(base: str, numbers: range) -> None:
        for number in numbers:
            answer = requests.post(
                f"{base}/api/v1/events", data=batch_body(number), headers=headers, timeout=30
            )
            assert answer.status_code == 202, answer.text

    try:
        with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
            base = server.wait_for_line("Wachter is running at ").split(" at ")[1].rstrip("/")
            send(base, range(10))
            wait_until(lambda: indexed(backend, prefix) == (1000, 1000), "the first 1,000 indexed")

            node.stop_process()
            try:
                send(base, range(10, 30))  # the shippers notice nothing
                search = requests.get(f"{base}/api/v1/events", headers=headers, timeout=30)
                assert search.status_code == 503
                assert search.json()["error"]["code"] == "unavailable"
            finally:
                node.restart()

            wait_until(lambda: indexed(backend, prefix) == (3000, 3000), "the replay", 180)
            found = requests.get(
                f"{base}/api/v1/events", params={"q": "message:b29-e99"}, headers=headers,
                timeout=30,
            )  # fmt: skip
            assert found.status_code == 200
            assert [event["event"]["message"] for event in found.json()["events"]] == ["b29-e99"]
            assert server.stop() == 0
        with database.snapshot() as session:
            assert len(session.scalars(select(Event.id)).all()) == 3000
    finally:
        database.dispose()
