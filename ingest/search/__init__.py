"""Event search: Lucene query syntax (as Elasticsearch reads it) over the stored events.

    find_events(session, settings=…, query=…, now=…, …) -> EventPage   SQL or the cluster
    search_events(session, query=…, since=…, until=…, before=…, limit=…) -> EventPage
    search_cluster_events(backend, prefix=…, query=…, …) -> EventPage
    parse_query(text, now=…) -> Condition | None    the query's meaning, without a database

The console, the API and the cluster take the same syntax, so a query means the same
wherever it is typed (docs/scale-out.md lists where the cluster cannot). Refused queries
raise ``ingest.errors.InvalidQuery`` (with the position where reading stopped); bad times
raise ``InvalidTimeRange``; a cluster that cannot answer raises ``EventSearchUnavailable``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from core import Settings
from ingest.search.cluster import EventSearchUnavailable, search_cluster_events
from ingest.search.conditions import Condition
from ingest.search.language import MAX_NESTING, MAX_QUERY_LENGTH, MAX_TERMS, parse_query
from ingest.search.service import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    EventPage,
    FoundEvent,
    search_events,
)
from storage.search import SearchBackend, backend_for

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_NESTING",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "Condition",
    "EventPage",
    "EventSearchUnavailable",
    "FoundEvent",
    "find_events",
    "parse_query",
    "search_cluster_events",
    "search_events",
]


def find_events(
    session: Session,
    *,
    settings: Settings,
    backend: SearchBackend | None = None,
    query: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    now: datetime,
) -> EventPage:
    """Embedded: ``search_events`` on the SQL event table. Scale-out: the same search on
    ``<prefix>-events-*`` through ``backend`` (by default ``backend_for(settings)``)."""
    if settings.is_embedded:
        return search_events(
            session, query=query, since=since, until=until, before=before, limit=limit, now=now
        )
    return search_cluster_events(
        backend or backend_for(settings),
        prefix=settings.elasticsearch_index_prefix,
        query=query,
        since=since,
        until=until,
        before=before,
        limit=limit,
        now=now,
    )
