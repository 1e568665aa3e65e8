"""The console's event search on real Elasticsearch 9 and OpenSearch 3 against the SQL store.

The same events go into a SQLite event store (as log collection stores them) and, with
their SQL ids as ``wachter.event_id``, into a test prefix's daily indices on each node.
Every construct of the language is asked of both and must find the same ids, newest
first; the places where the cluster cannot mean the same (docs/scale-out.md) are tested
for what they are documented to do. Errors: a query the cluster refuses is a 400 with its
reason, an unreachable cluster is ``EventSearchUnavailable``.
"""

from __future__ import annotations

import contextlib
import copy
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core import InvalidInput, Settings
from ingest.errors import InvalidQuery
from ingest.normalise import finish
from ingest.search import EventSearchUnavailable, find_events, search_cluster_events
from ingest.search import search_events as search_sql
from ingest.search.cursor import EventCursor
from storage import Database, migrate
from storage.events import Event, append_events
from storage.search import SearchBackend, ensure_templates, events_pattern, index_events
from tests.integration.test_event_search import EVENTS, NEWEST_FIRST
from tests.support.postgres import free_port
from tests.support.search_backends import backend_of, drop_prefix

NOW = datetime(2026, 3, 1, tzinfo=UTC)
# Beyond the SQL search's own events: a field that is a number one day and text the next
# (dynamic mapping differs per daily index), a date field, IPv6, words in event.original.
MORE_EVENTS = {
    "count_number": {
        "@timestamp": "2026-02-20T08:00:00Z",
        "labels": {"count": 5},
        "event": {"created": "2026-02-20T07:59:00Z"},
        "error": {"message": "Disk quota exceeded on /srv"},
    },
    "count_text": {
        "@timestamp": "2026-02-21T08:00:00Z",
        "labels": {"count": "Five"},
        "source": {"ip": "2001:db8::7"},
        "event": {"original": "<34>Feb 21 sshd: Connection closed by peer"},
    },
}
ALL_EVENTS = {**MORE_EVENTS, **EVENTS}  # stored in this order: MORE_EVENTS get the lower ids
EVERYTHING = [*NEWEST_FIRST, "count_text", "count_number"]


@pytest.fixture(scope="module")
def sql_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, dict]]:
    """A SQLite event store of its own holding ``ALL_EVENTS``; yields it and id → name."""
    path = tmp_path_factory.mktemp("cluster-search") / "events.db"
    database = Database.from_url(f"sqlite:///{path}")
    migrate.upgrade(database)
    with database.unit_of_work() as session:
        records = [
            finish(copy.deepcopy(document), source="test", event_key=name, ingested=NOW)
            for name, document in ALL_EVENTS.items()
        ]
        append_events(session, records)
    with database.unit_of_work() as session:
        rows = list(session.scalars(select(Event).order_by(Event.id)))
        session.expunge_all()
    yield database, rows
    database.dispose()


def index_rows(backend: SearchBackend, prefix: str, rows: list[Event]) -> None:
    """The stored events through the indexer's own path (their SQL ids spliced in)."""
    result = index_events(backend, rows, prefix=prefix)
    assert (result.indexed, result.rejected) == (len(rows), ())
    backend.refresh(events_pattern(prefix))


@pytest.fixture(scope="module", params=["elasticsearch", "opensearch"])
def cluster(request: pytest.FixtureRequest, sql_store) -> Iterator[tuple[SearchBackend, str]]:
    node = request.getfixturevalue(f"{request.param}_node")
    backend = backend_of(request.param, node.url, max_retries=0)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    ensure_templates(backend, prefix)
    index_rows(backend, prefix, sql_store[1])
    yield backend, prefix
    drop_prefix(backend, prefix)


@pytest.fixture(scope="module")
def names_on(sql_store, cluster):
    """``names_on(where, query, **arguments)``: names found on "sql" or "cluster"."""
    database, rows = sql_store
    backend, prefix = cluster
    by_id = {row.id: row.event_key for row in rows}

    def names_on(where: str, query: str = "", **arguments) -> list[str]:
        if where == "sql":
            with database.unit_of_work() as session:
                page = search_sql(session, query=query, now=NOW, **arguments)
        else:
            page = search_cluster_events(
                backend,
                prefix=prefix,
                query=query,
                since=arguments.get("since"),
                until=arguments.get("until"),
                before=arguments.get("before"),
                limit=arguments.get("limit", 50),
                now=NOW,
            )
        return [by_id[event.id] for event in page.events]

    return names_on


SAME_ON_BOTH = [
    # field:value, whole values without case, on keywords, numbers, booleans and IPs
    "user.name:root", "user.name:ROOT", "user.name:alice", 'user.name:"x\' OR 1=1 --"',
    "user.name:x'", "event.dataset:system.auth", "event.outcome:failure", "source.ip:10.0.0.5",
    "process.name:SSHD", "event.code:4625", "labels.enabled:true", "labels.enabled:TRUE",
    "source.port:22", "source.port:abc", 'source.ip:"2001:db8::7"', "labels.count:5",
    "labels.count:five", "error.message:quota",
    # wildcards, and SQL's LIKE characters taken literally
    "host.name:web-*", "host.name:web-?", "host.name:WEB*", "host.name:*-1", 'host.name:"web-*"',
    "host.name:web\\-\\*", "user.name:a*", "user.name:%", "user.name:_", "user.name:a%b_c",
    "user.name:a_b%c", "user.name:a?b?c", "user.name:?%?_c", "user.name:*!*",
    "host.name:back\\\\slash", "host.name:back*slash", "source.ip:10.0.*", "source.ip:192.*",
    # phrases and free text
    "%", '"100%"', "full_now", "full?now", '"back\\\\slash"', '"1=1 --"', "failed",
    '"Failed password"', '"password failed"', "message:password", "message:PUBLICKEY",
    "message:accept*alice", '"INFO user=admin login ok"', '"\x1b[2J"', '"\u202eevil"',
    "windows.security", "*", "", "quota", "10.0.0.5", "error.message:*quota*",
    "event.original:connection", 'event.original:"closed by peer"',
    # existence, AND/OR/NOT and grouping
    "process.name:*", "user.name:*", "NOT user.name:*", "no.such.field:*", "@timestamp:*",
    "event.dataset:system.auth AND event.outcome:failure",
    "event.dataset:system.auth -event.outcome:failure",
    "event.dataset:system.auth NOT event.outcome:failure",
    "(user.name:root OR user.name:alice) AND host.name:web-2", "user.name:(root OR alice)",
    "NOT user.name:root", "-event.dataset:system.auth", "user.name:root user.name:alice",
    "+host.name:web* -user.name:root", "NOT (labels.count:5 OR source.port:22)",
    # ranges: numbers, keyword text, IPs, times
    "source.port:{22 TO 100]", "source.port:>=1024", "event.code:[4600 TO 4700]",
    "host.name:[db TO web-1]", "host.name:[DB TO WEB-1]", "source.ip:[10.0.0.0 TO 10.255.255.255]",
    "@timestamp:[2026-02-27 TO 2026-02-28]", "@timestamp:{2026-02-27 TO *]",
    "@timestamp:2026-02-26", '@timestamp:"2026-02-28T10:00:00Z"', "@timestamp:[now-3d TO now]",
    "@timestamp:<2026-02-26T12:00:00Z", "@timestamp:[* TO 9999-12-31]",
    "event.created:[2026-02-20 TO 2026-02-21]",
]  # fmt: skip


@pytest.mark.parametrize("query", SAME_ON_BOTH)
def test_every_construct_finds_the_same_events_on_the_cluster_as_on_sql(names_on, query):
    assert names_on("cluster", query) == names_on("sql", query)


@pytest.mark.parametrize(
    "arguments",
    [
        {"since": "2026-02-28"},
        {"until": "2026-02-26"},
        {"since": "now-2d"},
        {"until": "2026-02-28T10:00:00Z"},
        {"since": "2026-02-26T12:00:00Z", "until": "2026-02-27T09:00:00Z"},
        {"since": datetime(2026, 2, 28, 10, 30, tzinfo=UTC)},
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
    ],
)
def test_the_time_bounds_find_the_same_events_on_the_cluster(names_on, arguments):
    assert names_on("cluster", "", **arguments) == names_on("sql", "", **arguments)


def test_everything_is_found_newest_first_by_the_events_time(names_on):
    assert names_on("cluster") == EVERYTHING
    assert names_on("sql") == EVERYTHING


@pytest.mark.parametrize("limit", [1, 2, 3])
def test_pages_follow_each_other_by_time_then_sql_id_as_on_sql(sql_store, cluster, limit):
    backend, prefix = cluster
    _database, rows = sql_store
    seen, before = [], None
    while True:
        page = search_cluster_events(
            backend, prefix=prefix, query="", since=None, until=None, before=before,
            limit=limit, now=NOW,
        )  # fmt: skip
        assert len(page.events) <= limit
        seen.extend(event.id for event in page.events)
        before = page.next_before
        if before is None:
            break
        last = page.events[-1]
        assert before == str(EventCursor.of(last.timestamp, last.id))  # whole milliseconds
    assert seen == [row.id for row in sorted(rows, key=lambda r: (r.timestamp, r.id), reverse=True)]


# Documented differences ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "on_sql", "on_cluster"),
    [
        # A number sent as text is a number in a number field (SQL ranges take JSON numbers).
        ("source.port:[1 TO 100]", ["root_fail"], ["root_fail", "hostile"]),
        ("source.port:<50022", ["root_fail"], ["root_fail", "hostile"]),
        # CIDR works on IP fields; SQL reads it as text.
        ('source.ip:"10.0.0.0/8"', [], ["root_fail"]),
        ('source.ip:"2001:db8::/32"', [], ["count_text"]),
        # Free text finds values, not field names.
        ("dataset", ["alice_ok", "root_fail", "quiet"], []),
    ],
)
def test_where_the_cluster_differs_it_does_what_the_docs_say(names_on, query, on_sql, on_cluster):
    assert names_on("sql", query) == on_sql
    assert names_on("cluster", query) == on_cluster


@pytest.mark.parametrize("query", ["source.port:2*", "labels.enabled:t*", "source.ip:10.*.5"])
def test_wildcards_on_numbers_booleans_and_odd_ip_patterns_are_refused_with_a_reason(
    names_on, query
):
    with pytest.raises(InvalidQuery) as refused:
        names_on("cluster", query)
    assert "wildcards work only on text" in str(refused.value)
    assert refused.value.field == "q"


def test_a_query_the_cluster_refuses_is_a_bad_query_with_its_reason_cut(names_on):
    with pytest.raises(InvalidQuery) as refused:
        names_on("cluster", "event.created:[yesterday TO *]")
    message = str(refused.value)
    assert message.startswith("The search cluster refused the query: ")
    assert "yesterday" in message
    assert len(message) <= len("The search cluster refused the query: ") + 200


def test_bad_input_is_refused_before_the_cluster_is_asked(cluster):
    backend, prefix = cluster
    arguments = {"prefix": prefix, "since": None, "until": None, "now": NOW}
    for query, before, limit, field in (("user.name:roo~", None, 5, "q"), ("", "0", 5, "before"),
                                        ("", None, 0, "limit")):  # fmt: skip
        with pytest.raises(InvalidInput) as refused:
            search_cluster_events(backend, query=query, before=before, limit=limit, **arguments)
        assert refused.value.field == field


@pytest.mark.parametrize("kind", ["elasticsearch", "opensearch"])
def test_an_unreachable_cluster_is_event_search_unavailable(kind):
    backend = backend_of(kind, f"http://127.0.0.1:{free_port()}", max_retries=0, timeout=2.0)
    with pytest.raises(EventSearchUnavailable) as raised:
        search_cluster_events(
            backend, prefix="wachter", query="user.name:root", since=None, until=None,
            before=None, limit=5, now=NOW,
        )  # fmt: skip
    assert "cannot be reached" in str(raised.value)


def test_find_events_searches_sql_when_embedded_and_the_cluster_otherwise(sql_store, cluster):
    backend, prefix = cluster
    database, _rows = sql_store
    embedded = Settings(data_dir=Path("/nonexistent"), database_url="sqlite://")
    scaled = Settings(
        data_dir=Path("/nonexistent"),
        database_url="sqlite://",
        elasticsearch_url="http://127.0.0.1:9",
        elasticsearch_index_prefix=prefix,
    )
    with database.unit_of_work() as session:
        on_sql = find_events(session, settings=embedded, backend=backend, query="root", now=NOW)
        on_cluster = find_events(session, settings=scaled, backend=backend, query="root", now=NOW)
    assert [event.id for event in on_sql.events] == [event.id for event in on_cluster.events]
    assert on_cluster.events[0].document == on_sql.events[0].document


def test_a_found_event_is_shown_as_the_sql_store_shows_it(sql_store, cluster):
    backend, prefix = cluster
    database, _rows = sql_store
    for query in ("user.name:root", 'user.name:"x\' OR 1=1 --"', "labels.count:five"):
        with database.unit_of_work() as session:
            [expected] = search_sql(session, query=query, now=NOW).events
        [found] = search_cluster_events(
            backend, prefix=prefix, query=query, since=None, until=None, before=None,
            limit=5, now=NOW,
        ).events  # fmt: skip
        assert found == expected
        assert found.summary == expected.summary


QUERY_PARTS = st.sampled_from(
    ['user.name', 'source.port', 'source.ip', 'labels.count', 'event.created', 'message',
     '@timestamp', 'x.y', ':', '"', '(', ')', '[', ']', ' TO ', ' AND ', ' OR ', 'NOT ', '-',
     '*', '?', ' ', 'root', '22', '10.0.', '2026-02-28', 'now-1d', "'", '%', '_', '\\\\',
     '\x1b', 'é', '1e308', '-5', '::1', '/8']
)  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(text=st.lists(QUERY_PARTS, max_size=16).map("".join))
def test_no_query_makes_the_cluster_search_fail(names_on, text):
    # A page or a refusal with a reason; never a cluster error passed through as it is.
    with contextlib.suppress(InvalidQuery):
        names_on("cluster", text)
