"""The event search's histogram on real Elasticsearch 9 and OpenSearch 3 against SQL.

The same events go into a SQLite event store and (as the indexer sends them) into a test
prefix's daily indices; the cluster's ``date_histogram`` must draw the bars SQL draws,
for a query over a closed range and over an open one (whose ends come from the stored
events' first and last time).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from core import Settings
from ingest.normalise import finish
from ingest.search.histogram import find_event_histogram, sql_event_histogram
from storage import Database, migrate
from storage.events import Event, append_events
from storage.search import SearchBackend, ensure_templates, events_pattern, index_events

NOW = datetime(2026, 3, 1, tzinfo=UTC)
TIMES = [  # over two daily indices, with a millisecond on a bucket's edge
    ("root", "2026-02-20T22:05:00.000Z"),
    ("root", "2026-02-20T22:34:59.999Z"),
    ("root", "2026-02-20T22:35:00.000Z"),
    ("alice", "2026-02-20T23:10:00Z"),
    ("root", "2026-02-21T01:59:00Z"),
    ("root", "2026-02-21T07:00:00Z"),
]


@pytest.fixture
def stored(tmp_path: Path, backend: SearchBackend, prefix: str) -> Iterator[Database]:
    """``TIMES`` in a SQLite event store of its own and in ``prefix``'s indices."""
    database = Database.from_url(f"sqlite:///{tmp_path / 'events.db'}")
    migrate.upgrade(database)
    with database.unit_of_work() as session:
        records = [
            finish(
                {"@timestamp": at, "user": {"name": user}},
                source="t",
                event_key=str(n),
                ingested=NOW,
            )
            for n, (user, at) in enumerate(TIMES)
        ]
        append_events(session, records)
    with database.unit_of_work() as session:
        rows = list(session.scalars(select(Event).order_by(Event.id)))
    ensure_templates(backend, prefix)
    result = index_events(backend, rows, prefix=prefix)
    assert (result.indexed, result.rejected) == (len(rows), ())
    backend.refresh(events_pattern(prefix))
    yield database
    database.dispose()


@pytest.mark.parametrize(
    ("query", "since", "until"),
    [
        ("user.name:root", "2026-02-20T22:00:00Z", "2026-02-21T02:00:00Z"),  # 5 minutes
        ("", None, None),  # from the first stored event to now: days
    ],
)
def test_the_cluster_draws_the_bars_sql_draws(stored, backend, prefix, query, since, until):
    scaled = Settings(
        data_dir=Path("/nonexistent"),
        database_url="sqlite://",
        elasticsearch_url="http://127.0.0.1:9",
        elasticsearch_index_prefix=prefix,
    )
    asked = {"query": query, "since": since, "until": until, "now": NOW}
    with stored.unit_of_work() as session:
        on_sql = sql_event_histogram(session, **asked)
        on_cluster = find_event_histogram(session, settings=scaled, backend=backend, **asked)
    assert on_cluster == on_sql
    assert on_sql.total == (4 if query else 6)
    assert [bar.count for bar in on_sql.bars if bar.count] == ([1, 1, 1, 1] if query else [4, 2])
