"""The event's SQL id in every indexed document, on the real Elasticsearch 9 and OpenSearch 3
nodes: the indexer splices ``"wachter.event_id"`` into the stored bytes; the node accepts it
beside Wachter's own ``wachter`` object, maps it ``long``, finds and sorts by it, and
``_source`` keeps it as one flat key, whatever the stored document held."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from core import FixedClock
from ingest import pipeline
from ingest.batches import Batch
from ingest.search_indexer import SearchIndexer
from ingest.timestamps import Flag
from storage import Database
from storage.events import Event
from storage.search import SearchBackend, events_pattern
from tests.support.search_backends import drop_prefix

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
START = NOW - timedelta(hours=1)


@pytest.fixture
def indexer(backend: SearchBackend) -> Iterator[SearchIndexer]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    yield SearchIndexer(backend, prefix=prefix, clock=FixedClock(NOW))
    drop_prefix(backend, prefix)


def store_and_index(database: Database, indexer: SearchIndexer, *documents: Any) -> list[int]:
    """Store ``documents`` (each ``(document, flags)``), index them; their SQL ids in order."""
    with database.unit_of_work() as session:
        batch = Batch(receiver="test", source="test", ingested=NOW)
        for number, (document, flags) in enumerate(documents):
            stamped = {"@timestamp": START + timedelta(seconds=number), **document}
            batch.add(stamped, event_key=uuid.uuid4().hex, raw=str(number), flags=flags)
        batch.store(session)
    with database.unit_of_work() as session:
        assert pipeline.deliver(session, indexer, now=NOW, limit=100) == len(documents)
        ids = list(session.scalars(select(Event.id).order_by(Event.id)))
    indexer.backend.refresh(events_pattern(indexer.prefix))
    return ids


def search(indexer: SearchIndexer, body: dict[str, Any]) -> list[dict[str, Any]]:
    found = indexer.backend.search(events_pattern(indexer.prefix), {"size": 50, **body})
    return [hit["_source"] for hit in found["hits"]["hits"]]


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_indexed_event_carries_its_sql_id_searchable_and_sortable(rollback_database, indexer):
    ids = store_and_index(
        rollback_database,
        indexer,
        ({"message": "flagged", "user": {"name": "a"}}, [Flag.TIMEZONE_ASSUMED]),
        ({}, []),
        ({"message": "plain"}, []),
    )

    newest_first = search(indexer, {"sort": [{"wachter.event_id": "desc"}]})
    assert [source["wachter.event_id"] for source in newest_first] == ids[::-1]
    flagged = newest_first[-1]
    assert flagged["wachter"] == {"flags": ["timezone_assumed"]}  # beside the flat key
    [by_term] = search(indexer, {"query": {"term": {"wachter.event_id": ids[1]}}})
    assert by_term["wachter.event_id"] == ids[1]
    by_range = search(indexer, {"query": {"range": {"wachter.event_id": {"gt": ids[0]}}}})
    assert sorted(source["wachter.event_id"] for source in by_range) == ids[1:]
    [by_lucene] = search(
        indexer, {"query": {"query_string": {"query": f"wachter.event_id:{ids[2]}"}}}
    )
    assert by_lucene["message"] == "plain"
    mapping = indexer.backend.client.indices.get_mapping(  # type: ignore[attr-defined]
        index=events_pattern(indexer.prefix)
    )
    [index_mapping] = [body["mappings"] for body in dict(mapping).values()]
    event_id = index_mapping["properties"]["wachter"]["properties"]["event_id"]
    assert event_id["type"] == "long"


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_an_event_id_the_document_holds_gives_way_to_the_sql_id(rollback_database, indexer):
    # Outside input cannot write ``wachter.*`` (it is quarantined), but a flat dotted key
    # is not the ``wachter`` object: the indexer must still send exactly one id.
    [event_id] = store_and_index(
        rollback_database, indexer, ({"wachter.event_id": 999999, "message": "forged"}, [])
    )

    [source] = search(indexer, {"query": {"term": {"wachter.event_id": event_id}}})
    assert source["wachter.event_id"] == event_id
    assert source["message"] == "forged"
    assert search(indexer, {"query": {"term": {"wachter.event_id": 999999}}}) == []
