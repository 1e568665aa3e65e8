"""The scheduled-search runner on Wachter's own search backend, on real Elasticsearch 9 and
OpenSearch 3 nodes: the backends are the runner's ``SearchClient`` as they are (mypy agrees),
over events indexed with Wachter's template by ``index_events``.

A converted rule finds exactly its documents; paging by two inside a point in time returns
every hit once, in ``event.ingested`` order, across two daily indices; a pattern with no
index finds nothing (OpenSearch: no PIT at all); an OpenSearch PIT over more indices than
fit a request line is made over the pattern; a closed PIT is gone and closing it again is
no error; a refused PIT search is ``SearchRejected`` and an unreachable cluster
``SearchUnavailable``, with the checkpoint left as it was.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from mypy import api as mypy_api
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from detection_rules.search import SearchHit, query_for, run_rule
from detection_rules.search.models import SearchCheckpoint
from storage.search import (
    OpenSearchBackend,
    SearchBackend,
    SearchRejected,
    SearchUnavailable,
    ensure_templates,
    event_document_id,
    events_pattern,
    index_events,
    opensearch_backend,
)
from storage.search.templates import events_template_name
from tests.support.postgres import free_port
from tests.support.search_backends import backend_of
from tests.support.search_nodes import SearchNode

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)  # just past midnight: two daily indices
LOOKBACK = timedelta(minutes=5)
RULE_KEY = "0e5c7d1a-0000-4000-8000-00000000000b"
FAILED_ADMIN = f"""
title: Failed sign-in of admin
id: {RULE_KEY}
logsource: {{category: authentication}}
detection:
  sel:
    User: admin
    Outcome: failure
  condition: sel
"""


@dataclass(frozen=True)
class StoredEvent:
    source: str
    event_key: str
    timestamp: datetime
    document: str


@dataclass(frozen=True)
class Rule:
    key: str
    version: int


def make_event(
    key: str, seconds_ago: float, *, user: str = "admin", outcome: str = "failure"
) -> StoredEvent:
    ingested = NOW - timedelta(seconds=seconds_ago)
    moment = ingested - timedelta(seconds=5)
    document = {
        "@timestamp": moment.isoformat().replace("+00:00", "Z"),
        "event": {
            "category": ["authentication"],
            "outcome": outcome,
            "ingested": ingested.isoformat().replace("+00:00", "Z"),
        },
        "user": {"name": user},
    }
    return StoredEvent("test", key, moment, orjson.dumps(document).decode())


@pytest.fixture(params=["elasticsearch", "opensearch"])
def backend(request: pytest.FixtureRequest) -> SearchBackend:
    node: SearchNode = request.getfixturevalue(f"{request.param}_node")
    return backend_of(request.param, node.url)


def store(backend: SearchBackend, prefix: str, events: list[StoredEvent]) -> None:
    ensure_templates(backend, prefix)
    result = index_events(backend, events, prefix=prefix)
    assert (result.indexed, result.rejected) == (len(events), ())
    backend.refresh(events_pattern(prefix))


def run(
    session: Session, backend: SearchBackend, pattern: str, *, page_size: int = 500
) -> list[SearchHit]:
    return run_rule(
        session,
        backend,
        rule=Rule(RULE_KEY, 1),
        query=query_for(FAILED_ADMIN, pipelines=["wachter"], lists={}),
        index_pattern=pattern,
        now=NOW,
        lookback=LOOKBACK,
        page_size=page_size,
    )


def test_both_backends_are_search_clients_to_mypy(tmp_path: Path) -> None:
    snippet = tmp_path / "clients.py"
    snippet.write_text(
        "from detection_rules.search import SearchClient\n"
        "from storage.search import ElasticsearchBackend, OpenSearchBackend, SearchBackend\n"
        "def clients(a: ElasticsearchBackend, b: OpenSearchBackend, c: SearchBackend)"
        " -> list[SearchClient]:\n"
        "    return [a, b, c]\n"
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the project's configuration and cache
        report, errors, status = mypy_api.run(["--strict", "--follow-imports=silent", str(snippet)])

    assert status == 0, report + errors


def test_a_converted_rule_finds_exactly_its_documents(
    backend: SearchBackend, prefix: str, db_session: Session
) -> None:
    store(
        backend,
        prefix,
        [
            make_event("hit-1", 100),
            make_event("other-user", 90, user="piet"),
            make_event("success", 80, outcome="success"),
            make_event("hit-2", 70),
            make_event("too-old", 600),
        ],
    )

    hits = run(db_session, backend, events_pattern(prefix))

    assert [hit.doc_id for hit in hits] == [
        event_document_id("test", "hit-1"),
        event_document_id("test", "hit-2"),
    ]
    assert [hit.index for hit in hits] == [f"{prefix}-events-2026.11.30"] * 2
    assert hits[0].source["user"] == {"name": "admin"}
    saved = db_session.get(SearchCheckpoint, (RULE_KEY, events_pattern(prefix)))
    assert saved is not None
    assert saved.reached == NOW - timedelta(seconds=70)


def test_paging_by_two_returns_every_hit_once_in_ingested_order_across_days(
    backend: SearchBackend, prefix: str, db_session: Session
) -> None:
    # Ingested around midnight, so the events fall in two daily indices; ties on
    # event.ingested must still be told apart.
    ages = {"a": 200, "b": 120, "c": 120, "d": 60, "e": 10, "f": 10, "g": 10}
    store(backend, prefix, [make_event(key, age) for key, age in ages.items()])
    store(backend, prefix, [make_event("miss", 30, user="piet")])

    hits = run(db_session, backend, events_pattern(prefix), page_size=2)

    assert sorted(hit.doc_id for hit in hits) == sorted(
        event_document_id("test", key) for key in ages
    )
    assert [hit.ingested for hit in hits] == sorted(
        NOW - timedelta(seconds=age) for age in ages.values()
    )
    assert {hit.index for hit in hits} == {
        f"{prefix}-events-2026.11.30",
        f"{prefix}-events-2026.12.01",
    }


def test_a_pattern_with_no_index_finds_nothing(
    backend: SearchBackend, prefix: str, db_session: Session
) -> None:
    pattern = events_pattern(prefix)  # nothing indexed under this prefix

    if isinstance(backend, OpenSearchBackend):
        assert backend.open_point_in_time(pattern, "1m") is None
    hits = run(db_session, backend, pattern)

    assert hits == []
    saved = db_session.get(SearchCheckpoint, (RULE_KEY, pattern))
    assert saved is not None
    assert (saved.reached, saved.ran_at) == (None, NOW)


def test_an_opensearch_pit_over_a_long_index_list_is_made_over_the_pattern(
    opensearch_node: SearchNode, db_session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = backend_of("opensearch", opensearch_node.url)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    try:
        store(backend, prefix, [make_event("a", 200), make_event("b", 10)])
        monkeypatch.setattr(opensearch_backend, "MAX_PIT_INDEX_LIST", 10)

        hits = run(db_session, backend, events_pattern(prefix))
    finally:
        for index in backend.indices(events_pattern(prefix)):
            backend.delete_index(index)
        backend.client.indices.delete_index_template(name=events_template_name(prefix))

    assert len(hits) == 2


def test_a_closed_point_in_time_is_gone_and_closing_it_again_is_no_error(
    backend: SearchBackend, prefix: str
) -> None:
    store(backend, prefix, [make_event("one", 10)])
    pit_id = backend.open_point_in_time(events_pattern(prefix), "1m")
    assert pit_id is not None
    body = {"query": {"match_all": {}}, "pit": {"id": pit_id, "keep_alive": "1m"}}
    assert len(backend.search(None, body)["hits"]["hits"]) == 1

    backend.close_point_in_time(pit_id)
    backend.close_point_in_time(pit_id)

    with pytest.raises(SearchRejected) as gone:
        backend.search(None, body)
    assert gone.value.status == 404


def test_a_refused_pit_search_is_rejected_and_writes_nothing(
    backend: SearchBackend, prefix: str, db_session: Session
) -> None:
    store(backend, prefix, [make_event("one", 10)])
    broken = {"query": {"query_string": {"query": "user.name:("}}}

    with pytest.raises(SearchRejected) as refused:
        run_rule(
            db_session,
            backend,
            rule=Rule(RULE_KEY, 1),
            query=broken,
            index_pattern=events_pattern(prefix),
            now=NOW,
            lookback=LOOKBACK,
        )

    assert refused.value.status == 400
    assert db_session.scalar(select(func.count()).select_from(SearchCheckpoint)) == 0


def test_an_unreachable_cluster_is_unavailable_and_writes_nothing(
    backend: SearchBackend, db_session: Session
) -> None:
    gone = backend_of(backend.kind, f"http://127.0.0.1:{free_port()}", max_retries=0)

    with pytest.raises(SearchUnavailable):
        run(db_session, gone, "wachter-events-*")

    assert db_session.scalar(select(func.count()).select_from(SearchCheckpoint)) == 0
