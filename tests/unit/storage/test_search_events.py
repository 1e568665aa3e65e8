"""Splicing the event's SQL id into its stored JSON bytes (``with_event_id``): the key comes
first, the rest is byte for byte the stored document, and an id the document holds itself
never survives beside it."""

from __future__ import annotations

import orjson
import pytest

from storage.search.events import with_event_id


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
