"""Scheduled Sigma searches on real Elasticsearch 9 and OpenSearch 3 nodes.

A converted rule finds only its documents; a document that arrives late, inside the
look-back, is reported exactly once; ``search_after`` paging inside a point in time
returns every hit in ``event.ingested`` order (ties included); a run with nothing new
returns nothing; a new rule version may report the same documents again; Lucene's special
characters and CIDR lists work on the node as converted; a node that is unreachable, or
answers for only some shards, raises and leaves the checkpoint and dedup rows as they were.

The two adapters below are thin wrappers over the official clients, implementing the
``SearchClient`` protocol the way ``storage`` does for the service.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import ConnectionError as ElasticConnectionError
from elasticsearch import Elasticsearch
from opensearchpy import ConnectionError as OpenSearchConnectionError
from opensearchpy import OpenSearch
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detection_rules.search import (
    SearchFailed,
    SearchHit,
    prune_seen,
    query_for,
    run_rule,
)
from detection_rules.search.models import SearchCheckpoint, SearchHitSeen
from tests.support.postgres import free_port
from tests.support.search_nodes import SearchNode

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LOOKBACK = timedelta(minutes=2)
MAPPINGS = {
    "dynamic_templates": [
        {"strings": {"match_mapping_type": "string", "mapping": {"type": "keyword"}}}
    ],
    "properties": {
        "event": {"properties": {"ingested": {"type": "date"}}},
        "source": {"properties": {"ip": {"type": "ip"}}},
    },
}
FAILED_ADMIN = """
title: Failed sign-in of admin
id: 0e5c7d1a-0000-4000-8000-00000000000a
logsource: {category: authentication}
detection:
  sel:
    User: admin
    Outcome: failure
  condition: sel
"""


class ElasticsearchAdapter:
    def __init__(self, client: Elasticsearch) -> None:
        self.client = client

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None:
        return str(self.client.open_point_in_time(index=index, keep_alive=keep_alive)["id"])

    def search(self, index: str | None, body: Mapping[str, Any]) -> Mapping[str, Any]:
        return self.client.search(index=index, body=dict(body)).body

    def close_point_in_time(self, pit_id: str) -> None:
        self.client.close_point_in_time(id=pit_id)


class OpenSearchAdapter:
    def __init__(self, client: OpenSearch) -> None:
        self.client = client

    def open_point_in_time(self, index: str, keep_alive: str) -> str | None:
        # OpenSearch refuses a PIT over a pattern that matches no index ("invalid id").
        names = self.client.indices.get(
            index=index, params={"allow_no_indices": "true", "ignore_unavailable": "true"}
        )
        if not names:
            return None
        created = self.client.create_pit(
            index=",".join(sorted(names)), params={"keep_alive": keep_alive}
        )
        return str(created["pit_id"])

    def search(self, index: str | None, body: Mapping[str, Any]) -> Mapping[str, Any]:
        result: Mapping[str, Any] = self.client.search(index=index, body=dict(body))
        return result

    def close_point_in_time(self, pit_id: str) -> None:
        self.client.delete_pit(body={"pit_id": [pit_id]})


@dataclass(frozen=True)
class Rule:
    key: str
    version: int


@dataclass
class Node:
    kind: str
    raw: Any
    adapter: ElasticsearchAdapter | OpenSearchAdapter
    indices: list[str]

    def create_index(self, shards: int = 2, **settings: Any) -> str:
        name = f"wachter-search-test-{uuid.uuid4().hex[:10]}"
        settings |= {"number_of_shards": shards, "number_of_replicas": 0}
        body = {"settings": settings, "mappings": MAPPINGS}
        if self.kind == "elasticsearch":
            self.raw.indices.create(index=name, **body)
        else:
            self.raw.indices.create(index=name, body=body)
        self.indices.append(name)
        return name

    def index(self, index: str, documents: dict[str, dict[str, Any]]) -> None:
        lines: list[dict[str, Any]] = []
        for doc_id, document in documents.items():
            lines += [{"create": {"_index": index, "_id": doc_id}}, document]
        if self.kind == "elasticsearch":
            result = self.raw.bulk(operations=lines, refresh=True)
        else:
            result = self.raw.bulk(body=lines, refresh=True)
        assert not result["errors"], result


@pytest.fixture(params=["elasticsearch", "opensearch"])
def node(request: pytest.FixtureRequest) -> Iterator[Node]:
    server: SearchNode = request.getfixturevalue(f"{request.param}_node")
    raw: Any
    if request.param == "elasticsearch":
        raw = Elasticsearch(server.url, request_timeout=30)
        made = Node("elasticsearch", raw, ElasticsearchAdapter(raw), [])
    else:
        raw = OpenSearch([server.url], timeout=30)
        made = Node("opensearch", raw, OpenSearchAdapter(raw), [])
    yield made
    for name in made.indices:  # by exact name: deleting by wildcard is refused
        raw.indices.delete(index=name, ignore_unavailable=True)


def event(ingested: datetime, user: str = "admin", outcome: str = "failure") -> dict[str, Any]:
    return {
        "@timestamp": (ingested - timedelta(seconds=5)).isoformat(),
        "event": {
            "category": "authentication",
            "outcome": outcome,
            "ingested": ingested.isoformat(),
        },
        "user": {"name": user},
    }


def failed_admin_query() -> dict[str, Any]:
    return query_for(FAILED_ADMIN, pipelines=["wachter"], lists={})


def run(
    session: Session,
    node: Node,
    index: str,
    *,
    now: datetime = NOW,
    rule: Rule | None = None,
    query: dict[str, Any] | None = None,
    page_size: int = 500,
) -> list[SearchHit]:
    return run_rule(
        session,
        node.adapter,
        rule=rule or Rule("0e5c7d1a-0000-4000-8000-00000000000a", 1),
        query=query or failed_admin_query(),
        index_pattern=index,
        now=now,
        lookback=LOOKBACK,
        page_size=page_size,
    )


def checkpoint(session: Session, index: str) -> SearchCheckpoint | None:
    return session.get(SearchCheckpoint, ("0e5c7d1a-0000-4000-8000-00000000000a", index))


def test_a_rule_reports_only_the_documents_it_matches(node: Node, db_session: Session) -> None:
    index = node.create_index()
    node.index(
        index,
        {
            "hit-1": event(NOW - timedelta(seconds=50)),
            "other-user": event(NOW - timedelta(seconds=40), user="piet"),
            "success": event(NOW - timedelta(seconds=30), outcome="success"),
            "hit-2": event(NOW - timedelta(seconds=20)),
            "too-old": event(NOW - timedelta(minutes=3)),
            "future": event(NOW + timedelta(seconds=10)),
        },
    )

    hits = run(db_session, node, index)

    assert [(hit.index, hit.doc_id) for hit in hits] == [(index, "hit-1"), (index, "hit-2")]
    assert hits[0].rule_key == "0e5c7d1a-0000-4000-8000-00000000000a"
    assert hits[0].rule_version == 1
    assert hits[0].ingested == NOW - timedelta(seconds=50)
    assert hits[1].source["user"] == {"name": "admin"}
    # The checkpoint is the newest event.ingested in the window (any document), never
    # the future one past now.
    saved = checkpoint(db_session, index)
    assert saved is not None
    assert (saved.reached, saved.ran_at) == (NOW - timedelta(seconds=20), NOW)


def test_a_late_document_inside_the_lookback_is_reported_exactly_once(
    node: Node, db_session: Session
) -> None:
    index = node.create_index()
    node.index(index, {"first": event(NOW - timedelta(seconds=10))})
    assert [hit.doc_id for hit in run(db_session, node, index)] == ["first"]
    # Became searchable only after that run, though ingested before its checkpoint: one
    # inside the look-back, one before it (missed: the look-back is the allowed lag).
    node.index(
        index,
        {
            "late": event(NOW - timedelta(seconds=70)),
            "too-late": event(NOW - timedelta(minutes=5)),
        },
    )

    second = run(db_session, node, index, now=NOW + timedelta(minutes=1))
    third = run(db_session, node, index, now=NOW + timedelta(minutes=2))

    assert [hit.doc_id for hit in second] == ["late"]
    assert third == []
    assert db_session.scalar(select(func.count()).select_from(SearchHitSeen)) == 2


def test_paging_by_two_returns_all_seven_hits_in_ingested_order(
    node: Node, db_session: Session
) -> None:
    index = node.create_index(shards=3)
    # Ties on event.ingested across shards: _shard_doc must tell them apart.
    times = [NOW - timedelta(seconds=s) for s in (60, 50, 50, 50, 40, 30, 30)]
    node.index(index, {f"doc-{n}": event(moment) for n, moment in enumerate(times)})
    node.index(index, {"miss": event(NOW - timedelta(seconds=45), user="piet")})

    hits = run(db_session, node, index, page_size=2)

    assert len(hits) == 7
    assert {hit.doc_id for hit in hits} == {f"doc-{n}" for n in range(7)}
    assert [hit.ingested for hit in hits] == sorted(times)


def test_a_second_run_with_nothing_new_returns_nothing(node: Node, db_session: Session) -> None:
    index = node.create_index()
    node.index(index, {"one": event(NOW - timedelta(seconds=30))})
    run(db_session, node, index)

    again = run(db_session, node, index, now=NOW + timedelta(seconds=30))

    assert again == []
    saved = checkpoint(db_session, index)
    assert saved is not None
    assert saved.reached == NOW - timedelta(seconds=30)
    assert saved.ran_at == NOW + timedelta(seconds=30)


def test_a_new_rule_version_may_report_the_same_documents_again(
    node: Node, db_session: Session
) -> None:
    index = node.create_index()
    node.index(index, {"one": event(NOW - timedelta(seconds=30))})
    key = "0e5c7d1a-0000-4000-8000-00000000000a"
    first = run(db_session, node, index, rule=Rule(key, 1))

    later = NOW + timedelta(seconds=30)
    old_version = run(db_session, node, index, now=later, rule=Rule(key, 1))
    new_version = run(db_session, node, index, now=later, rule=Rule(key, 2))

    assert [hit.doc_id for hit in first] == ["one"]
    assert old_version == []
    assert [(hit.doc_id, hit.rule_version) for hit in new_version] == [("one", 2)]


def test_lucene_specials_and_a_network_list_match_on_the_node(
    node: Node, db_session: Session
) -> None:
    index = node.create_index()
    tricky = 'C:\\Temp\\a+b (c) "d" /e:f'
    moment = NOW - timedelta(seconds=30)
    node.index(
        index,
        {
            "tricky": {**event(moment), "process": {"command_line": tricky}},
            "near-miss": {**event(moment), "process": {"command_line": "C:\\Temp\\a+b (c)"}},
            "office": {**event(moment), "source": {"ip": "10.20.3.4"}},
            "outside": {**event(moment), "source": {"ip": "10.21.0.1"}},
        },
    )
    exact = "title: t\nlogsource: {product: x}\ndetection:\n  sel:\n    process.command_line: "
    exact += "'C:\\Temp\\a+b (c) \"d\" /e:f'\n  condition: sel\n"
    networks = "title: n\nlogsource: {product: x}\ndetection:\n  sel:\n"
    networks += "    source.ip|expand: '%office%'\n  condition: sel\n"

    by_value = run(
        db_session,
        node,
        index,
        rule=Rule("exact", 1),
        query=query_for(exact, pipelines=[], lists={}),
    )
    by_network = run(
        db_session,
        node,
        index,
        rule=Rule("networks", 1),
        query=query_for(networks, pipelines=[], lists={"office": ["10.20.0.0/16", "192.0.2.5"]}),
    )

    assert [hit.doc_id for hit in by_value] == ["tricky"]
    assert [hit.doc_id for hit in by_network] == ["office"]


def test_a_pattern_that_matches_no_index_finds_nothing(node: Node, db_session: Session) -> None:
    pattern = f"wachter-search-none-{uuid.uuid4().hex[:8]}-*"

    assert run(db_session, node, pattern) == []
    saved = checkpoint(db_session, pattern)
    assert saved is not None
    assert (saved.reached, saved.ran_at) == (None, NOW)


def test_an_unreachable_node_raises_and_leaves_the_checkpoint(
    node: Node, db_session: Session
) -> None:
    index = node.create_index()
    node.index(index, {"one": event(NOW - timedelta(seconds=30))})
    run(db_session, node, index)
    node.index(index, {"two": event(NOW + timedelta(seconds=20))})
    url = f"http://127.0.0.1:{free_port()}"
    if node.kind == "elasticsearch":
        gone = Node(node.kind, None, ElasticsearchAdapter(Elasticsearch(url, max_retries=0)), [])
    else:
        gone = Node(node.kind, None, OpenSearchAdapter(OpenSearch([url], max_retries=0)), [])

    with pytest.raises((ElasticConnectionError, OpenSearchConnectionError)):
        run(db_session, gone, index, now=NOW + timedelta(seconds=30))

    saved = checkpoint(db_session, index)
    assert saved is not None
    assert (saved.reached, saved.ran_at) == (NOW - timedelta(seconds=30), NOW)
    assert db_session.scalar(select(func.count()).select_from(SearchHitSeen)) == 1
    # When the node is back, the next run picks up where the last one was.
    back = run(db_session, node, index, now=NOW + timedelta(minutes=1))
    assert [hit.doc_id for hit in back] == ["two"]


def test_a_search_that_fails_on_some_shards_raises_and_writes_nothing(
    node: Node, db_session: Session
) -> None:
    # One index allows shorter regular expressions than the rule's: its shard fails, the
    # other answers, and the node replies 200 with a partial result. Trusting it would
    # move the checkpoint past documents never searched.
    lenient = node.create_index(shards=1)
    strict = node.create_index(shards=1, **{"index.max_regex_length": 2})
    for index in (lenient, strict):
        node.index(index, {"w": {**event(NOW - timedelta(seconds=30)), "code": "ab1"}})
    regex = "title: r\nlogsource: {product: x}\ndetection:\n  sel:\n    code|re: 'ab.*'\n"
    query = query_for(regex + "  condition: sel\n", pipelines=[], lists={})

    with pytest.raises(SearchFailed, match="1 of 2 shards"):
        run(db_session, node, f"{lenient},{strict}", rule=Rule("regex", 1), query=query)

    assert db_session.scalar(select(func.count()).select_from(SearchHitSeen)) == 0
    assert db_session.scalar(select(func.count()).select_from(SearchCheckpoint)) == 0


def test_pruning_forgets_documents_ingested_before_the_given_time(db_session: Session) -> None:
    for number, age in enumerate((10, 5, 1)):
        db_session.add(
            SearchHitSeen(
                rule_key="r",
                rule_version=1,
                index_name="i",
                doc_id=f"d{number}",
                ingested=NOW - timedelta(hours=age),
                seen_at=NOW,
            )
        )
    db_session.flush()

    removed = prune_seen(db_session, NOW - timedelta(hours=3))

    assert removed == 2
    assert list(db_session.scalars(select(SearchHitSeen.doc_id))) == ["d2"]
