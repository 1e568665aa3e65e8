"""Upper and lower case on Wachter's event indices, on the real Elasticsearch 9 and OpenSearch 3
nodes: Sigma compares strings without case, so the template's keywords carry a lowercase
normalizer. The queries ``detection_rules.search.query_for`` makes (``query_string`` terms,
wildcards for contains/startswith/endswith, phrases) find ``Admin`` for ``admin``;
``_source`` keeps the original, aggregations show the lowercase value; ``|re`` patterns are
lowercased too; and an index made with the older template keeps its mapping while the next
day's index gets the new one."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from detection_rules.search import pipelines_for, query_for
from storage.search import (
    SearchBackend,
    ensure_templates,
    events_index,
    events_pattern,
    events_template,
    index_events,
)
from storage.search.templates import TEMPLATE_VERSION, events_template_name

DAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SYSMON = {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1}
SHOUTING = {
    **SYSMON,
    "Image": "C:\\Windows\\System32\\CMD.EXE",
    "User": "Admin",
    "CommandLine": "cmd.exe /c WHOAMI /ALL",
}
QUIET = {**SYSMON, "Image": "C:\\Tools\\notepad.exe", "User": "bob", "CommandLine": "foo Bar"}


@dataclass(frozen=True)
class Row:
    id: int
    source: str
    event_key: str
    timestamp: datetime
    document: str


def row(event_id: int, fields: dict[str, Any], *, at: datetime = DAY) -> Row:
    document = {"@timestamp": at.isoformat(), **fields}
    return Row(event_id, "test", f"key-{event_id}", at, orjson.dumps(document).decode())


def sigma_hits(backend: SearchBackend, prefix: str, detection: str) -> list[int]:
    """The event ids the single-selection rule ``detection`` finds, as the runner asks."""
    rule = (
        "title: case\nid: 5b4e1e0a-0000-4000-8000-000000000001\n"
        "logsource: {product: windows, category: process_creation}\n"
        f"detection:\n  sel:\n    {detection}\n  condition: sel\n"
    )
    body = query_for(rule, pipelines=pipelines_for("wachter"), lists={})
    found = backend.search(events_pattern(prefix), body)
    return sorted(hit["_source"]["wachter.event_id"] for hit in found["hits"]["hits"])


def indexed(backend: SearchBackend, prefix: str, *rows: Row) -> None:
    ensure_templates(backend, prefix)
    assert index_events(backend, rows, prefix=prefix).indexed == len(rows)
    backend.refresh(events_pattern(prefix))


@pytest.mark.parametrize(
    "detection",
    [
        "User: admin",
        "User: ADMIN",
        "Image|endswith: '\\cmd.exe'",
        "Image|startswith: 'c:\\windows\\system32\\'",
        "CommandLine|contains: 'whoami /all'",
        "CommandLine|contains|all: ['Whoami', '/All']",
        "User|contains: dmi",
    ],
)
def test_sigma_queries_find_values_whatever_their_case(backend, prefix, detection):
    indexed(backend, prefix, row(1, SHOUTING), row(2, QUIET))

    assert sigma_hits(backend, prefix, detection) == [1]


def test_phrases_keep_the_original_in_source_and_aggregate_in_lowercase(backend, prefix):
    indexed(backend, prefix, row(1, {**SHOUTING, "event": {"code": "ABC"}}), row(2, QUIET))

    phrase = {"query_string": {"query": 'User:"ADMIN" AND event.code:"abc"'}}
    [hit] = backend.search(events_pattern(prefix), {"query": phrase})["hits"]["hits"]
    assert hit["_source"]["User"] == "Admin"
    aggregated = backend.search(
        events_pattern(prefix), {"size": 0, "aggs": {"users": {"terms": {"field": "User"}}}}
    )
    assert [bucket["key"] for bucket in aggregated["aggregations"]["users"]["buckets"]] == [
        "admin",
        "bob",
    ]


def test_a_regex_is_lowercased_like_the_values_so_uppercase_classes_change_meaning(backend, prefix):
    indexed(backend, prefix, row(1, SHOUTING), row(2, QUIET))

    # Sigma's ``|re`` is case-sensitive; on a normalized keyword it no longer is.
    assert sigma_hits(backend, prefix, "CommandLine|re: 'foo BAR'") == [2]
    # ``\S`` (not a space) becomes ``\s`` (a space): the pattern means something else.
    assert sigma_hits(backend, prefix, "CommandLine|re: 'foo\\SBar'") == [2]
    assert sigma_hits(backend, prefix, "CommandLine|re: 'cmd\\.exe /c \\D+'") == []


def test_an_index_made_by_the_older_template_keeps_its_mapping_the_next_day_gets_the_new(
    backend, prefix
):
    older = _without_normalizer(events_template(prefix))
    backend.put_index_template(events_template_name(prefix), older)
    yesterday, today = DAY - timedelta(days=1), DAY
    assert index_events(backend, [row(1, SHOUTING, at=yesterday)], prefix=prefix).indexed == 1

    assert ensure_templates(backend, prefix) is True  # the upgrade
    assert index_events(backend, [row(2, SHOUTING, at=today)], prefix=prefix).indexed == 1
    backend.refresh(events_pattern(prefix))

    assert sigma_hits(backend, prefix, "User: admin") == [2]
    assert sigma_hits(backend, prefix, "User: Admin") == [1, 2]
    client: Any = backend.client  # type: ignore[attr-defined]
    mappings = client.indices.get_mapping(index=events_pattern(prefix))
    old_user = mappings[events_index(prefix, yesterday)]["mappings"]["properties"]["User"]
    new_user = mappings[events_index(prefix, today)]["mappings"]["properties"]["User"]
    assert "normalizer" not in old_user
    assert new_user["normalizer"] == "wachter_lowercase"


def _without_normalizer(template: dict[str, Any]) -> dict[str, Any]:
    """The template as version ``TEMPLATE_VERSION - 1`` wrote it: keywords compared exactly."""
    older = copy.deepcopy(template)
    older["version"] = older["_meta"]["wachter_template_version"] = TEMPLATE_VERSION - 1
    body = older["template"]
    del body["settings"]["analysis"]
    body["mappings"]["dynamic_templates"][0]["strings_as_keywords"]["mapping"].pop("normalizer")
    properties = body["mappings"]["properties"]
    properties["message"]["fields"]["keyword"].pop("normalizer")
    for name in ("code", "kind"):
        properties["event"]["properties"][name].pop("normalizer")
    return older
