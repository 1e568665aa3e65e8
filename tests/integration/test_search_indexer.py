"""The search indexer on the real Elasticsearch 9 and OpenSearch 3 nodes: the SQL event table
is its outbox. The cursor moves only with a successful bulk; a refused event becomes a dead
letter with the cluster's reason; and when the node is down the events wait in SQL and are
indexed exactly once, in order, when it is back."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from core import FixedClock, Settings
from ingest import pipeline
from ingest.batches import Batch
from ingest.dead_letters import list_dead_letters
from ingest.search_indexer import SearchIndexer
from storage import Database
from storage.events import Event
from storage.search import (
    SearchBackend,
    SearchUnavailable,
    backend_for,
    event_document_id,
    events_pattern,
    search_events,
)
from storage.search.templates import events_template_name
from tests.support.postgres import free_port
from tests.support.search_nodes import SearchNode
from wachter.jobs import event_consumers

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=3)


def settings_for(url: str | None, kind: str = "elasticsearch") -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"),
        database_url="sqlite://",
        elasticsearch_url=url,
        elasticsearch_kind=kind,
    )


def kind_of(node: SearchNode) -> str:
    return "opensearch" if node.distribution.name == "opensearch" else "elasticsearch"


@pytest.fixture(params=["elasticsearch", "opensearch"])
def node(request: pytest.FixtureRequest) -> SearchNode:
    found: SearchNode = request.getfixturevalue(f"{request.param}_node")
    return found


@pytest.fixture
def backend(node: SearchNode) -> SearchBackend:
    return backend_for(settings_for(node.url, kind_of(node)))


@pytest.fixture
def indexer(backend: SearchBackend) -> Iterator[SearchIndexer]:
    """An indexer with a prefix of its own; its indices and template go by exact name."""
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield SearchIndexer(backend, prefix=prefix, clock=FixedClock(NOW))
    for index in backend.indices(events_pattern(prefix)):
        backend.delete_index(index)
    client: Any = backend.client  # type: ignore[attr-defined]
    client.indices.delete_index_template(name=events_template_name(prefix))


def store_events(database: Database, count: int, *, first: int = 0, **extra: Any) -> None:
    with database.unit_of_work() as session:
        batch = Batch(receiver="test", source="test", ingested=NOW)
        for number in range(first, first + count):
            document = {
                "@timestamp": START + timedelta(seconds=number),
                "message": f"event {number}",
                "user": {"name": f"user{number}"},
                **extra,
            }
            batch.add(document, event_key=f"{uuid.uuid4().hex}-{number}", raw=str(number))
        batch.store(session)


def deliver(database: Database, indexer: SearchIndexer) -> int:
    with database.unit_of_work() as session:
        return pipeline.deliver(session, indexer, now=NOW)


def cursor_of(database: Database) -> int:
    with database.unit_of_work() as session:
        return pipeline.cursor_position(session, "search_index")


def stored_ids(database: Database) -> list[str]:
    with database.unit_of_work() as session:
        events = session.scalars(select(Event).order_by(Event.id))
        return [event_document_id(event.source, event.event_key) for event in events]


def indexed_ids(indexer: SearchIndexer) -> list[str]:
    indexer.backend.refresh(events_pattern(indexer.prefix))
    page = search_events(
        indexer.backend,
        prefix=indexer.prefix,
        query_string=None,
        start=START,
        end=NOW,
        size=1000,
        newest_first=False,
    )
    return [event["_id"] for event in page.events]


def test_the_cursor_moves_only_after_a_successful_bulk(rollback_database, node, indexer):
    store_events(rollback_database, 20)
    nowhere = backend_for(settings_for(f"http://127.0.0.1:{free_port()}", kind_of(node)))
    unreachable = SearchIndexer(nowhere, prefix=indexer.prefix)

    with pytest.raises(SearchUnavailable):
        deliver(rollback_database, unreachable)
    assert cursor_of(rollback_database) == 0

    assert deliver(rollback_database, indexer) == 20
    assert cursor_of(rollback_database) == max_event_id(rollback_database)
    assert indexed_ids(indexer) == stored_ids(rollback_database)


def max_event_id(database: Database) -> int:
    with database.unit_of_work() as session:
        return session.scalar(select(func.max(Event.id))) or 0


def test_a_refused_event_becomes_a_dead_letter_with_its_reason_and_the_rest_are_indexed(
    rollback_database, indexer
):
    store_events(rollback_database, 2, custom={"shape": "object"})
    store_events(rollback_database, 1, first=2, custom="a plain value where an object was mapped")
    store_events(rollback_database, 2, first=3, custom={"shape": "object"})

    assert deliver(rollback_database, indexer) == 5

    assert len(indexed_ids(indexer)) == 4
    with rollback_database.unit_of_work() as session:
        [letter] = list_dead_letters(session)
        assert letter.receiver == "search-index"
        assert letter.source == "test"
        assert letter.reason.startswith("search index refused it: ")
        assert "custom" in letter.reason
        assert "a plain value where an object was mapped" in letter.raw
    assert cursor_of(rollback_database) == max_event_id(rollback_database)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_events_accepted_during_an_outage_are_indexed_once_in_order_when_it_ends(
    rollback_database, node, indexer
):
    store_events(rollback_database, 150)
    assert deliver(rollback_database, indexer) == 150
    indexed_before = cursor_of(rollback_database)
    store_events(rollback_database, 150, first=150)

    node.stop_process()
    try:
        with pytest.raises(SearchUnavailable):
            deliver(rollback_database, indexer)
        assert cursor_of(rollback_database) == indexed_before
        assert len(stored_ids(rollback_database)) == 300
    finally:
        node.restart()

    assert deliver(rollback_database, indexer) == 150
    assert deliver(rollback_database, indexer) == 0
    assert indexed_ids(indexer) == stored_ids(rollback_database)


def test_the_indexer_consumes_the_stream_only_in_scale_out_mode():
    embedded = [consumer.name for consumer in event_consumers(settings_for(None))]
    scale_out = [
        consumer.name for consumer in event_consumers(settings_for("http://search.example:9200"))
    ]

    assert "search_index" not in embedded
    assert scale_out == [*embedded, "search_index"]
