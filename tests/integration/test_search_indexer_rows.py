"""The delivery loop's light-row path, which the search indexer takes: a ``RowConsumer`` gets
the events after its cursor as a stream of ``EventRow`` (no ORM objects) and the cursor moves
to the last row it took; a plain consumer (the detection engine) still gets ``Event``
objects. On the real Elasticsearch 9 and OpenSearch 3 nodes: a batch of several bulk
requests, read while they are in flight, arrives once, complete, with every SQL id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import FixedClock
from ingest import pipeline
from ingest.batches import Batch
from ingest.search_indexer import SearchIndexer
from storage import Database
from storage.events import Event
from storage.search import event_document_id, events_pattern
from storage.search.events import MAX_BATCH_DOCUMENTS
from tests.support.search_backends import drop_prefix

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def store_events(database: Database, count: int) -> list[int]:
    with database.unit_of_work() as session:
        batch = Batch(receiver="test", source="test", ingested=NOW)
        for number in range(count):
            moment = NOW - timedelta(hours=1) + timedelta(milliseconds=number)
            document = {"@timestamp": moment, "message": f"event {number}"}
            batch.add(document, event_key=f"{uuid.uuid4().hex}-{number}", raw=str(number))
        batch.store(session)
    with database.unit_of_work() as session:
        return list(session.scalars(select(Event.id).order_by(Event.id)))


class TakesThree:
    """A row consumer that pulls only the first three rows of each delivery."""

    name = "takes-three"

    def __init__(self) -> None:
        self.rows: list[pipeline.EventRow] = []

    def consume_rows(self, session: Session, rows: Iterator[pipeline.EventRow]) -> None:
        self.rows.extend(islice(rows, 3))


class KeepsObjects:
    name = "keeps-objects"

    def __init__(self) -> None:
        self.events: list[Any] = []

    def consume(self, session: Session, events: Sequence[Event]) -> None:
        self.events.extend(events)


def test_a_row_consumer_gets_light_rows_and_its_cursor_moves_to_the_last_it_took(
    rollback_database,
):
    ids = store_events(rollback_database, 10)
    consumer = TakesThree()

    with rollback_database.unit_of_work() as session:
        assert pipeline.deliver(session, consumer, now=NOW, limit=10) == 3
    with rollback_database.unit_of_work() as session:
        assert pipeline.cursor_position(session, consumer.name) == ids[2]
        assert pipeline.deliver(session, consumer, now=NOW, limit=10) == 3

    assert [row.id for row in consumer.rows] == ids[:6]
    assert all(type(row) is pipeline.EventRow for row in consumer.rows)
    assert consumer.rows[0].document.startswith('{"@timestamp":')
    assert consumer.rows[0].timestamp.tzinfo is not None


def test_a_plain_consumer_still_gets_event_objects(rollback_database):
    ids = store_events(rollback_database, 4)
    consumer = KeepsObjects()

    with rollback_database.unit_of_work() as session:
        assert pipeline.deliver(session, consumer, now=NOW, limit=10) == 4

    assert all(isinstance(event, Event) for event in consumer.events)
    assert [event.id for event in consumer.events] == ids


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_a_batch_of_several_requests_is_indexed_once_with_every_sql_id(rollback_database, backend):
    count = MAX_BATCH_DOCUMENTS * 2 + 500  # three requests, read while earlier ones are out
    ids = store_events(rollback_database, count)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    indexer = SearchIndexer(backend, prefix=prefix, clock=FixedClock(NOW))
    try:
        with rollback_database.unit_of_work() as session:
            assert pipeline.deliver(session, indexer, now=NOW, limit=count + 10) == count
            assert pipeline.cursor_position(session, indexer.name) == ids[-1]
            keys = list(session.scalars(select(Event.event_key).order_by(Event.id)))
        backend.refresh(events_pattern(prefix))
        body = {
            "size": count,
            "sort": [{"wachter.event_id": "asc"}],
            "_source": ["wachter.event_id"],
        }
        hits = backend.search(events_pattern(prefix), body)["hits"]["hits"]
        assert [hit["_source"]["wachter.event_id"] for hit in hits] == ids
        assert [hit["_id"] for hit in hits] == [event_document_id("test", key) for key in keys]
    finally:
        drop_prefix(backend, prefix)
