"""The real search nodes the scale-out tests run against, and the two official clients.

Elasticsearch 9 answers only the 9.x ``elasticsearch`` client (its product check); OpenSearch
needs ``opensearch-py``. Both nodes are the projects' minimal test distributions: these tests
pin down what Wachter may rely on there (index templates with keyword, date and ip fields,
idempotent ``create``, ``query_string``, ``search_after``) — the Elasticsearch one has no
``GET /`` and few modules (no ``wildcard`` or ``match_only_text`` field types).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from opensearchpy import OpenSearch

from tests.support.search_nodes import SearchNode

TEMPLATE = {
    "index_patterns": ["probe-*"],
    "template": {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "dynamic_templates": [
                {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
            ],
            "properties": {
                "@timestamp": {"type": "date"},
                "source": {"properties": {"ip": {"type": "ip"}}},
            },
        },
    },
}
EVENTS = [
    {"@timestamp": f"2026-11-30T10:0{n}:00Z", "user": {"name": f"user{n}"}, "source": {"ip": ip}}
    for n, ip in enumerate(["10.0.0.1", "10.0.0.2", "192.0.2.7"])
]


@pytest.fixture(params=["elasticsearch", "opensearch"])
def client(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "elasticsearch":
        node: SearchNode = request.getfixturevalue("elasticsearch_node")
        es = Elasticsearch(node.url, request_timeout=30)
        es.indices.put_index_template(name="probe", **TEMPLATE)
        yield es
        es.indices.delete(index="probe-2026.11.30", ignore_unavailable=True)
        es.indices.delete_index_template(name="probe")
    else:
        node = request.getfixturevalue("opensearch_node")
        opensearch = OpenSearch([node.url], timeout=30)
        opensearch.indices.put_index_template(name="probe", body=TEMPLATE)
        yield opensearch
        opensearch.indices.delete(index="probe-2026.11.30", ignore_unavailable=True)
        opensearch.indices.delete_index_template(name="probe")


def _bulk_create(client: Any) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for number, event in enumerate(EVENTS):
        lines += [{"create": {"_index": "probe-2026.11.30", "_id": f"event-{number}"}}, event]
    result: dict[str, Any] = (
        client.bulk(operations=lines, refresh=True)
        if isinstance(client, Elasticsearch)
        else client.bulk(body=lines, refresh=True)
    )
    return [item["create"] for item in result["items"]]


def test_a_resent_document_with_the_same_id_is_refused_not_doubled(client: Any) -> None:
    first = _bulk_create(client)
    again = _bulk_create(client)

    assert [item["status"] for item in first] == [201, 201, 201]
    assert [item["status"] for item in again] == [409, 409, 409]
    assert client.count(index="probe-*")["count"] == 3


def test_query_string_ip_ranges_and_search_after_work(client: Any) -> None:
    _bulk_create(client)
    query = {"query_string": {"query": 'source.ip:"10.0.0.0/8" AND user.name:user*'}}

    first = (
        client.search(index="probe-*", query=query, sort=[{"@timestamp": "asc"}], size=1)
        if isinstance(client, Elasticsearch)
        else client.search(
            index="probe-*", body={"query": query, "sort": [{"@timestamp": "asc"}], "size": 1}
        )
    )
    hits = first["hits"]["hits"]
    assert [hit["_source"]["user"]["name"] for hit in hits] == ["user0"]
    after = hits[-1]["sort"]
    body = {"query": query, "sort": [{"@timestamp": "asc"}], "size": 5, "search_after": after}
    rest = (
        client.search(index="probe-*", **body)
        if isinstance(client, Elasticsearch)
        else client.search(index="probe-*", body=body)
    )
    assert [hit["_source"]["user"]["name"] for hit in rest["hits"]["hits"]] == ["user1"]
