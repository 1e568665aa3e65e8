"""Splicing the event's SQL id into its stored JSON bytes (``with_event_id``): the key comes
first, the rest is byte for byte the stored document, and an id the document holds itself
never survives beside it. And ``index_events`` on a lazy stream of rows (what the indexer
gets from the database): the stream is read while requests are in flight, and no further
once the cluster is found away."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from storage.search import SearchUnavailable, index_events
from storage.search.events import IN_FLIGHT, MAX_BATCH_DOCUMENTS, with_event_id


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (b"{}", b'{"wachter.event_id":7}'),
        (b"{ }", b'{"wachter.event_id":7}'),
        (b' {"a":1}', b'{"wachter.event_id":7,"a":1}'),
        (
            b'{"@timestamp":"2026-11-30T08:00:00.000Z","wachter":{"flags":["clock_skew"]}}',
            b'{"wachter.event_id":7,"@timestamp":"2026-11-30T08:00:00.000Z",'
            b'"wachter":{"flags":["clock_skew"]}}',
        ),
    ],
)
def test_the_id_goes_in_front_of_the_stored_bytes(stored, expected):
    assert with_event_id(stored, 7) == expected


def test_the_rest_of_the_document_is_sent_byte_for_byte():
    stored = '{"message":"caf\u00e9 \\u0000 \\"q\\"","n":1.50,"big":18446744073709551615}'
    spliced = with_event_id(stored.encode(), 12)

    assert spliced == b'{"wachter.event_id":12,' + stored.encode()[1:]


@pytest.mark.parametrize(
    "stored",
    [
        {"wachter.event_id": 5, "message": "m"},
        {"wachter": {"event_id": 5, "flags": ["truncated"]}, "message": "m"},
    ],
)
def test_an_event_id_inside_the_document_is_replaced_by_the_sql_id(stored):
    spliced = orjson.loads(with_event_id(orjson.dumps(stored), 12))

    assert spliced.pop("wachter.event_id") == 12
    assert "event_id" not in spliced.get("wachter", {})
    assert spliced["message"] == "m"


def test_a_document_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="JSON object"):
        with_event_id(b"[1]", 1)


@dataclass(frozen=True)
class Row:
    id: int
    source: str
    event_key: str
    timestamp: datetime
    document: str


class Recorder:
    """A backend whose bulk calls run ``on_bulk`` first, then answer every item 201."""

    def __init__(self, on_bulk: Callable[[int], None]) -> None:
        self.on_bulk = on_bulk
        self.calls = 0
        self.lock = threading.Lock()

    def bulk(self, ndjson: bytes) -> list[dict[str, Any]]:
        with self.lock:
            self.calls += 1
            call = self.calls
        self.on_bulk(call)
        return [{"create": {"status": 201}}] * (ndjson.count(b"\n") // 2)


def stream(count: int, pulled: list[int]) -> Iterator[Row]:
    moment = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    for number in range(1, count + 1):
        pulled.append(number)
        yield Row(number, "test", f"k{number}", moment, f'{{"n":{number}}}')


def test_the_stream_is_read_while_the_first_request_is_in_flight():
    pulled: list[int] = []
    read_on = threading.Event()

    def first_waits_for_the_reading(call: int) -> None:
        if call == 1:
            assert read_on.wait(10), "the stream was not read while a request was out"

    def watched() -> Iterator[Row]:
        for row in stream(MAX_BATCH_DOCUMENTS * 4, pulled):
            if row.id == MAX_BATCH_DOCUMENTS * 3:
                read_on.set()
            yield row

    backend = Recorder(first_waits_for_the_reading)
    result = index_events(backend, watched(), prefix="w")  # type: ignore[arg-type]

    assert result.indexed == MAX_BATCH_DOCUMENTS * 4
    assert backend.calls == 4


def test_when_the_cluster_is_away_the_rest_of_the_stream_is_not_read():
    pulled: list[int] = []

    def away(_call: int) -> None:
        raise SearchUnavailable("connection refused")

    with pytest.raises(SearchUnavailable):
        index_events(Recorder(away), stream(MAX_BATCH_DOCUMENTS * 20, pulled), prefix="w")  # type: ignore[arg-type]

    # At most the requests in flight and the one being built were read.
    assert len(pulled) <= MAX_BATCH_DOCUMENTS * (IN_FLIGHT + 1) + 1
