"""The search language as query DSL, without a node: what each condition asks of each field
type, the escaping of wildcards, the millisecond rounding of times, a hit shown as the SQL
store shows the event, and how cluster answers become the user's errors (a fake backend
at the seam; what the nodes really do is tests/integration/test_search_cluster.py's job).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.errors import InvalidQuery
from ingest.search import EventSearchUnavailable, parse_query, search_cluster_events
from ingest.search.cluster import bounded, cluster_time, to_query, wildcard_pattern
from ingest.search.conditions import Wildcard
from ingest.search.service import found_in_document
from storage.search import SearchRejected, SearchUnavailable

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TYPES: dict[str, dict[str, list[str] | None]] = {
    "user.name": {"keyword": None},
    "source.port": {"long": None},
    "source.ip": {"ip": None},
    "labels.on": {"boolean": None},
    "event.created": {"date": None},
    "labels.count": {"long": ["w-events-2026.02.20"], "keyword": ["w-events-2026.02.21"]},
    "message": {"text": None},
    "message.keyword": {"keyword": None},
    "event.original": {"text": None},
}


def dsl(text: str) -> dict[str, Any]:
    condition = parse_query(text, now=NOW)
    assert condition is not None
    return to_query(condition, TYPES)


def term(field: str, value: object) -> dict[str, Any]:
    return {"term": {field: value}}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("user.name:Root", term("user.name", {"value": "Root", "case_insensitive": True})),
        ("source.port:22", term("source.port", 22)),
        ("source.port:22.5", {"match_none": {}}),  # no whole number equals it
        ("source.port:abc", {"match_none": {}}),
        ("labels.on:TRUE", term("labels.on", "true")),
        ("source.ip:10.0.0.5", term("source.ip", "10.0.0.5")),
        ('source.ip:"10.0.0.0/8"', term("source.ip", "10.0.0.0/8")),
        ("source.ip:10.0.*", term("source.ip", "10.0.0.0/16")),
        ("source.ip:nothing", {"match_none": {}}),
        ("no.such.field:x", {"match_none": {}}),
        ("user.name:*", {"exists": {"field": "user.name"}}),
        ("@timestamp:*", {"match_all": {}}),
    ],
)
def test_a_value_is_asked_as_its_field_type_holds_it(query, expected):
    assert dsl(query) == expected


def test_a_field_with_two_types_asks_each_type_on_its_own_indices():
    def on(index: str, clause: dict[str, Any]) -> dict[str, Any]:
        return {"bool": {"filter": [{"terms": {"_index": [index]}}, clause]}}

    as_text = term("labels.count", {"value": "5", "case_insensitive": True})
    assert dsl("labels.count:5") == {
        "bool": {
            "should": [
                on("w-events-2026.02.20", term("labels.count", 5)),
                on("w-events-2026.02.21", as_text),
            ],
            "minimum_should_match": 1,
        }
    }
    only_text = term("labels.count", {"value": "five", "case_insensitive": True})
    assert dsl("labels.count:five") == on("w-events-2026.02.21", only_text)


def test_message_words_are_a_case_blind_substring_of_its_keyword_copy():
    assert dsl("message:fail*ed") == {
        "wildcard": {"message.keyword": {"value": "*fail*ed*", "case_insensitive": True}}
    }
    assert dsl('event.original:"closed by"') == {"match_phrase": {"event.original": "closed by"}}


def test_free_text_asks_keyword_fields_and_whole_numbers_and_addresses():
    should = dsl("22")["bool"]["should"]
    assert {"wildcard": {"user.name": {"value": "*22*", "case_insensitive": True}}} in should
    assert {"wildcard": {"message.keyword": {"value": "*22*", "case_insensitive": True}}} in should
    assert term("source.port", 22) in should
    assert not any("message" in str(part) and "match_phrase" in part for part in should)


@pytest.mark.parametrize("query", ["source.port:2*", "labels.on:t?ue", "source.ip:10.*.5"])
def test_wildcards_on_numbers_booleans_and_non_prefix_addresses_are_refused(query):
    with pytest.raises(InvalidQuery) as refused:
        dsl(query)
    assert "wildcards work only on text" in str(refused.value)


def test_boolean_operators_become_bool_queries():
    query = dsl("user.name:a AND NOT (source.port:1 OR source.port:2)")
    first, negated = query["bool"]["filter"]
    assert first == term("user.name", {"value": "a", "case_insensitive": True})
    assert negated["bool"]["must_not"][0]["bool"]["minimum_should_match"] == 1


def test_wildcard_patterns_escape_what_the_user_wrote_literally():
    pieces = ("a*b?c\\", Wildcard.ANY, "d", Wildcard.ONE)
    assert wildcard_pattern(pieces) == "a\\*b\\?c\\\\*d?"


@pytest.mark.parametrize(
    ("moment", "up", "expected"),
    [
        (datetime(2026, 2, 28, 10, 0, 0, 1, tzinfo=UTC), True, "2026-02-28T10:00:00.001Z"),
        (datetime(2026, 2, 28, 10, 0, 0, 1, tzinfo=UTC), False, "2026-02-28T10:00:00.000Z"),
        (datetime(2026, 2, 28, 10, 0, 0, 5000, tzinfo=UTC), True, "2026-02-28T10:00:00.005Z"),
        (datetime(1, 1, 1, tzinfo=UTC), True, "0001-01-01T00:00:00.000Z"),
    ],
)
def test_times_are_rounded_to_the_clusters_millisecond_toward_the_right_side(moment, up, expected):
    assert cluster_time(moment, up=up) == expected


def test_a_hit_is_shown_as_the_sql_store_shows_the_event():
    source = {
        "wachter.event_id": 42,
        "@timestamp": "2026-02-28T10:00:00Z",
        "event": {"ingested": "2026-03-01T00:00:00Z", "dataset": "system.auth"},
        "user": {"name": "x" * 300 + "\x00"},
        "source": {"ip": "10.0.0.5"},
        "wachter": {"flags": ["clock_skew"]},
        "message": "hello",
    }
    found = found_in_document(source, event_id_field="wachter.event_id")
    assert found.id == 42
    assert "wachter.event_id" not in found.document
    assert found.timestamp == datetime(2026, 2, 28, 10, tzinfo=UTC)
    assert found.ingested == datetime(2026, 3, 1, tzinfo=UTC)
    assert (found.dataset, found.source_ip, found.flags) == (
        "system.auth",
        "10.0.0.5",
        ("clock_skew",),
    )
    assert found.user_name == "x" * 255
    assert found.summary == "hello"


class FakeBackend:
    """Answers field_caps and search as told (the seam; the nodes are the integration tests)."""

    kind = "elasticsearch"

    def __init__(self, answer: dict[str, Any] | Exception) -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []

    def field_caps(self, index: str, fields: Sequence[str]) -> dict[str, Any]:
        return {"fields": {}}

    def search(self, index: str, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def search(backend: FakeBackend, query: str = "", **arguments: Any):
    return search_cluster_events(
        backend, prefix="w", query=query, since=arguments.get("since"), until=None,  # type: ignore[arg-type]
        before=arguments.get("before"), limit=arguments.get("limit", 2), now=NOW,
    )  # fmt: skip


MOMENT_MS = 1_772_272_800_000  # 2026-02-28T10:00:00Z


def hit(event_id: int) -> dict[str, Any]:
    return {
        "_source": {"wachter.event_id": event_id, "@timestamp": "2026-02-28T10:00:00Z"},
        "sort": [MOMENT_MS, event_id],
    }


def test_a_page_asks_one_more_than_it_shows_newest_first_after_the_cursor():
    backend = FakeBackend({"_shards": {"failed": 0}, "hits": {"hits": [hit(9), hit(7), hit(4)]}})
    page = search(backend, before=f"{MOMENT_MS * 1000 + 999}-10", limit=2)
    assert [event.id for event in page.events] == [9, 7]
    assert page.next_before == f"{MOMENT_MS * 1000}-7"  # the cluster's milliseconds
    [body] = backend.bodies
    assert body["size"] == 3
    assert body["sort"] == [
        {"@timestamp": {"order": "desc"}},
        {"wachter.event_id": {"order": "desc", "unmapped_type": "long"}},
    ]
    assert body["search_after"] == [MOMENT_MS, 10]


def test_the_page_size_is_capped_at_five_hundred():
    backend = FakeBackend({"_shards": {"failed": 0}, "hits": {"hits": []}})
    search(backend, limit=10_000)
    assert backend.bodies[0]["size"] == 501


@pytest.mark.parametrize(
    ("answer", "error", "text"),
    [
        (SearchUnavailable("refused"), EventSearchUnavailable, "cannot be reached"),
        (SearchRejected("HTTP 403: security_exception: no", status=403), EventSearchUnavailable,
         "cannot be reached"),
        (SearchRejected("HTTP 400: parse_exception: " + "x" * 500, status=400), InvalidQuery,
         "refused the query: parse_exception: xxx"),
        ({"_shards": {"failed": 1, "failures": [{"status": 400, "reason": {
            "type": "parse_exception", "reason": "failed to parse date field [x]"}}]},
          "hits": {"hits": []}}, InvalidQuery, "failed to parse date field [x]"),
        ({"_shards": {"failed": 1, "failures": [{"status": 503, "reason": {
            "type": "no_shard_available_action_exception", "reason": "?"}}]},
          "hits": {"hits": [hit(1)]}}, EventSearchUnavailable, "cannot be reached"),
    ],
)  # fmt: skip
def test_cluster_failures_become_the_users_errors(answer, error, text):
    with pytest.raises(error) as raised:
        search(FakeBackend(answer), "user.name:x")
    assert text in str(raised.value)
    assert len(str(raised.value)) < 300


def test_free_text_over_too_many_fields_is_refused_before_the_cluster_says_500():
    many: dict[str, dict[str, list[str] | None]] = {
        f"f.k{i}": {"keyword": None} for i in range(150)
    }
    one_word = to_query(parse_query("v1", now=NOW), many)  # type: ignore[arg-type]
    assert bounded(one_word) is one_word
    with pytest.raises(InvalidQuery) as refused:
        bounded(to_query(parse_query("w0 w1 w2 w3 w4 w5 w6 w7", now=NOW), many))  # type: ignore[arg-type]
    assert "name fields (such as message:word) or use fewer words" in str(refused.value)
