"""Event search: Lucene query syntax (as Elasticsearch reads it) over the SQL event store.

    search_events(session, query=…, since=…, until=…, before=…, limit=…) -> EventPage
    parse_query(text, now=…) -> Condition | None    the query's meaning, without a database

The console, the API and (later) the Elasticsearch store take the same syntax, so a query
means the same wherever it is typed. Refused queries raise ``ingest.errors.InvalidQuery``
(with the position where reading stopped); bad times raise ``InvalidTimeRange``.
"""

from ingest.search.conditions import Condition
from ingest.search.language import MAX_NESTING, MAX_QUERY_LENGTH, MAX_TERMS, parse_query
from ingest.search.service import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    EventPage,
    FoundEvent,
    search_events,
)

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_NESTING",
    "MAX_PAGE_SIZE",
    "MAX_QUERY_LENGTH",
    "MAX_TERMS",
    "Condition",
    "EventPage",
    "FoundEvent",
    "parse_query",
    "search_events",
]
