"""Hostile HTTP bodies: whatever arrives, the intake either refuses the body as a whole or
accounts for every item (stored or rejected with a reason); it never raises anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.batches import Batch
from ingest.http_intake import BodyError, receive_body

NOW = datetime(2026, 1, 1, tzinfo=UTC)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(["event", "@timestamp", "source", "host", "wachter", "labels", "x"])
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


def account_for(body: bytes) -> None:
    batch = Batch(receiver="http", source="fuzz", ingested=NOW)
    try:
        receive_body(body, batch=batch)
    except BodyError:
        assert batch.records == []
        return
    for rejection in batch.rejections:
        assert rejection.reason
        assert len(rejection.reason) <= 200


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_break_the_intake(body):
    account_for(body)


@settings(max_examples=300, deadline=None)
@given(st.lists(JSON_VALUES, max_size=8))
def test_every_ndjson_item_is_stored_or_rejected(values):
    lines = []
    for value in values:
        try:
            lines.append(orjson.dumps(value))
        except TypeError:
            lines.append(b"{}")
    batch = Batch(receiver="http", source="fuzz", ingested=NOW)
    receive_body(b"\n".join(lines), batch=batch, ndjson=True)
    assert len(batch.records) + len(batch.rejections) == len(lines)


@settings(max_examples=200, deadline=None)
@given(st.lists(JSON_VALUES, max_size=8))
def test_a_json_array_is_accounted_item_by_item(values):
    try:
        body = orjson.dumps(values)
    except TypeError:
        return
    batch = Batch(receiver="http", source="fuzz", ingested=NOW)
    receive_body(body, batch=batch)
    assert len(batch.records) + len(batch.rejections) == len(values)


def test_a_duplicated_key_is_stored_as_detection_and_search_read_it():
    # SECURITY_CASES #60: one reader must not see "success" where another sees "failure".
    # The last value wins in the parser; the stored document and its indexed columns are
    # written from that one parse, so every later reader sees the same thing.
    body = b'{"event":{"outcome":"success"},"event":{"outcome":"failure"},"user":{"name":"a"}}'
    batch = Batch(receiver="http", source="fuzz", ingested=NOW)
    receive_body(body, batch=batch, ndjson=True)

    [record] = batch.records
    assert record.outcome == "failure"
    stored = orjson.loads(record.document)
    assert stored["event"]["outcome"] == "failure"
    assert record.document.count('"outcome"') == 1
