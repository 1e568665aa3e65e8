"""Wachter's events on the real Elasticsearch 9 and OpenSearch 3 nodes: the index template
and its mappings, idempotent bulk ``create``, a refused event reported with its reason,
search with ``search_after``, purging old daily indices, and the two error kinds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest

from core import Settings
from storage.search import (
    SearchBackend,
    SearchRejected,
    SearchUnavailable,
    backend_for,
    ensure_templates,
    event_document_id,
    events_pattern,
    index_events,
    purge_indices_before,
    search_events,
)
from storage.search.templates import TEMPLATE_VERSION, events_template, events_template_name
from tests.support.postgres import free_port
from tests.support.search_nodes import SearchNode

DAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


@dataclass(frozen=True)
class StoredEvent:
    source: str
    event_key: str
    timestamp: datetime
    document: str


def make_event(number: int, *, at: datetime = DAY, **fields: Any) -> StoredEvent:
    moment = at + timedelta(seconds=number)
    document = {
        "@timestamp": moment.isoformat().replace("+00:00", "Z"),
        "event": {"ingested": "2026-11-30T09:00:00.000Z", "kind": "event", "code": "4625"},
        "message": f"Failed password for user{number}",
        "user": {"name": f"user{number}"},
        "source": {"ip": f"10.0.{number // 250}.{number % 250}", "port": 40000 + number},
        **fields,
    }
    return StoredEvent("test", f"key-{number}", moment, orjson.dumps(document).decode())


def settings_for(url: str, kind: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=Path("/nonexistent"),
        database_url="sqlite://",
        elasticsearch_url=url,
        elasticsearch_kind=kind,
        **extra,
    )


@pytest.fixture(params=["elasticsearch", "opensearch"])
def node(request: pytest.FixtureRequest) -> SearchNode:
    found: SearchNode = request.getfixturevalue(f"{request.param}_node")
    return found


@pytest.fixture
def backend(node: SearchNode) -> SearchBackend:
    kind = "opensearch" if node.distribution.name == "opensearch" else "elasticsearch"
    return backend_for(settings_for(node.url, kind))


def mapping_of(backend: SearchBackend, index: str) -> dict[str, Any]:
    client: Any = backend.client  # type: ignore[attr-defined]
    found = client.indices.get_mapping(index=index)
    body = found.body if hasattr(found, "body") else found
    mappings: dict[str, Any] = body[index]["mappings"]
    return mappings


def test_the_template_types_ips_dates_numbers_and_strings(backend, prefix):
    assert ensure_templates(backend, prefix) is True
    index_events(backend, [make_event(1, host={"name": "ws-01"})], prefix=prefix)

    properties = mapping_of(backend, f"{prefix}-events-2026.11.30")["properties"]
    assert properties["source"]["properties"]["ip"]["type"] == "ip"
    assert properties["source"]["properties"]["port"]["type"] == "long"
    assert properties["@timestamp"]["type"] == "date"
    assert properties["event"]["properties"]["ingested"]["type"] == "date"
    assert properties["event"]["properties"]["code"]["type"] == "keyword"
    assert properties["host"]["properties"]["name"] == {
        "type": "keyword",
        "ignore_above": 1024,
        "normalizer": "wachter_lowercase",  # strings compare without case, as in Sigma
    }
    assert properties["message"]["type"] == "text"
    assert properties["message"]["fields"]["keyword"]["type"] == "keyword"


def test_ensuring_the_template_again_changes_nothing_and_a_newer_one_replaces_an_older(
    backend, prefix
):
    ensure_templates(backend, prefix)
    assert ensure_templates(backend, prefix) is False

    older = events_template(prefix)
    older["version"] = TEMPLATE_VERSION - 1
    backend.put_index_template(events_template_name(prefix), older)
    assert ensure_templates(backend, prefix) is True
    assert backend.index_template(events_template_name(prefix))["version"] == TEMPLATE_VERSION


def test_the_same_hundred_events_sent_twice_are_stored_once(backend, prefix):
    ensure_templates(backend, prefix)
    events = [make_event(number) for number in range(100)]

    first = index_events(backend, events, prefix=prefix)
    again = index_events(backend, events, prefix=prefix)
    backend.refresh(events_pattern(prefix))

    assert (first.indexed, first.duplicates, first.rejected) == (100, 0, ())
    assert (again.indexed, again.duplicates) == (0, 100)
    assert backend.count(events_pattern(prefix)) == 100


def test_events_go_to_the_daily_index_of_their_utc_day_with_the_stored_document(backend, prefix):
    ensure_templates(backend, prefix)
    amsterdam_morning = datetime(2026, 12, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    utc_morning = datetime(2026, 12, 1, 0, 30, tzinfo=UTC)
    events = [make_event(0, at=amsterdam_morning), make_event(1, at=utc_morning)]
    index_events(backend, events, prefix=prefix)

    assert backend.indices(events_pattern(prefix)) == [
        f"{prefix}-events-2026.11.30",
        f"{prefix}-events-2026.12.01",
    ]
    backend.refresh(events_pattern(prefix))
    page = search_events(
        backend, prefix=prefix, query_string=None, start=DAY, end=DAY + timedelta(days=2)
    )
    assert page.total == 2
    newest = page.events[0]
    assert newest["_id"] == event_document_id("test", "key-1")
    assert newest["event"]["ingested"] == "2026-11-30T09:00:00.000Z"


def test_a_refused_event_is_reported_with_its_reason_and_the_rest_are_indexed(backend, prefix):
    ensure_templates(backend, prefix)
    events = [make_event(0), make_event(1, user="not-an-object"), make_event(2)]
    # the first fixes user as an object; an event with a plain string there cannot be stored

    result = index_events(backend, events, prefix=prefix)
    backend.refresh(events_pattern(prefix))

    assert result.indexed == 2
    [refused] = result.rejected
    assert refused.event_key == "key-1"
    assert "user" in refused.reason
    assert "exception" in refused.reason.split(":")[0]
    assert backend.count(events_pattern(prefix)) == 2


def test_a_malformed_ip_is_kept_in_the_document_not_refused(backend, prefix):
    ensure_templates(backend, prefix)
    event = make_event(0, source={"ip": "not-an-ip"})

    result = index_events(backend, [event], prefix=prefix)

    assert (result.indexed, result.rejected) == (1, ())


def test_search_ranges_on_source_ip_and_pages_with_search_after(backend, prefix):
    ensure_templates(backend, prefix)
    index_events(backend, [make_event(number) for number in range(300)], prefix=prefix)
    backend.refresh(events_pattern(prefix))
    window = {"start": DAY, "end": DAY + timedelta(hours=1)}

    first = search_events(
        backend, prefix=prefix, query_string='source.ip:"10.0.1.0/24"', size=30,
        newest_first=False, **window,
    )  # fmt: skip
    rest = search_events(
        backend, prefix=prefix, query_string='source.ip:"10.0.1.0/24"', size=30,
        newest_first=False, search_after=first.after, **window,
    )  # fmt: skip

    names = [event["user"]["name"] for event in first.events + rest.events]
    assert names == [f"user{number}" for number in range(250, 300)]
    assert first.total == 50
    assert rest.after is None


def test_purging_deletes_the_daily_indices_before_the_day_by_name(backend, prefix):
    ensure_templates(backend, prefix)
    days = [DAY - timedelta(days=offset) for offset in (0, 1, 2)]
    index_events(backend, [make_event(0, at=day) for day in days], prefix=prefix)

    deleted = purge_indices_before(backend, prefix, date(2026, 11, 29))

    assert deleted == [f"{prefix}-events-2026.11.28"]
    assert backend.indices(events_pattern(prefix)) == [
        f"{prefix}-events-2026.11.29",
        f"{prefix}-events-2026.11.30",
    ]


def test_a_bad_query_is_rejected_and_a_closed_port_is_unavailable(backend, prefix, node):
    ensure_templates(backend, prefix)
    index_events(backend, [make_event(0)], prefix=prefix)
    backend.refresh(events_pattern(prefix))  # an empty shard answers without parsing
    with pytest.raises(SearchRejected) as refused:
        search_events(
            backend, prefix=prefix, query_string="user.name:(", start=DAY, end=DAY + timedelta(1)
        )
    assert refused.value.status == 400
    assert "user.name:(" in str(refused.value)  # the cluster's reason, not "shards failed"

    kind = "opensearch" if node.distribution.name == "opensearch" else "elasticsearch"
    nowhere = backend_for(settings_for(f"http://127.0.0.1:{free_port()}", kind))
    with pytest.raises(SearchUnavailable):
        nowhere.cluster_health()
