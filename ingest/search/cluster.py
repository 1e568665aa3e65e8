"""Event search on the cluster (scale-out): the console's query language as query DSL.

``search_cluster_events`` answers what ``ingest.search.search_events`` answers on SQL, over
Wachter's own indices ``<prefix>-events-*``: the same ``parse_query`` conditions, the same
``EventPage`` (newest first by ``@timestamp``, ties by the SQL event id every document
carries as ``wachter.event_id``, paged by the same ``before`` cursor through
``search_after``) and the same errors for bad input.

This module sends the requests: the types of the fields a condition names (the cluster's
``_field_caps``), then the search, and turns hits into ``FoundEvent``. The condition becomes
query DSL per field type in ``ingest.search.cluster_query``, which also lists what cannot
mean the same as on SQL (docs/scale-out.md, "Searching events").

Cluster errors: unreachable (or refusing Wachter's credentials) is
``EventSearchUnavailable`` (the web answers 503); a query it refuses is ``InvalidQuery``
with its reason, cut short (400).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from core import DomainError
from core.i18n import N_
from ingest.errors import InvalidQuery
from ingest.search.cluster_query import (
    Query,
    Types,
    bounded,
    cluster_time,
    named_fields,
    to_query,
    wildcard_pattern,
)
from ingest.search.conditions import TIMESTAMP_FIELD, Condition
from ingest.search.cursor import EventCursor
from ingest.search.language import parse_query
from ingest.search.service import EventPage, found_in_document, page_size, time_range
from storage.search import SearchBackend, SearchRejected, SearchUnavailable, events_pattern

# The query translation's names stay importable from here (tests, earlier callers).
__all__ = [
    "EventSearchUnavailable",
    "bounded",
    "cluster_event_times",
    "cluster_time",
    "count_cluster_events_by_time",
    "search_cluster_events",
    "to_query",
    "wildcard_pattern",
]

EVENT_ID_FIELD = "wachter.event_id"
MAX_REASON = 200
# Shard failures that are the query's fault, in case a node leaves out the status.
QUERY_ERRORS = frozenset({"query_shard_exception", "parse_exception", "illegal_argument_exception"})

UNAVAILABLE = N_("Event search is unavailable: the search cluster cannot be reached. Try later.")

log = logging.getLogger("wachter.ingest.search")


class EventSearchUnavailable(DomainError):
    """The search cluster cannot answer now: the page or the API says so (503)."""


def search_cluster_events(
    backend: SearchBackend,
    *,
    prefix: str,
    query: str,
    since: datetime | str | None,
    until: datetime | str | None,
    before: str | None,
    limit: int,
    now: datetime,
) -> EventPage:
    """One page of events in ``<prefix>-events-*`` matching ``query``, newest first."""
    size = page_size(limit)
    cursor = EventCursor.parse(before) if before is not None else None
    condition = parse_query(query, now=now)
    start, end = time_range(since, until, now=now)
    pattern = events_pattern(prefix)
    with _cluster_errors():
        filters = _filters(backend, pattern, condition, start, end)
        body: Query = {
            "query": {"bool": {"filter": filters}},
            "sort": [
                {TIMESTAMP_FIELD: {"order": "desc"}},
                {EVENT_ID_FIELD: {"order": "desc", "unmapped_type": "long"}},
            ],
            "size": size + 1,
            "track_total_hits": False,
        }
        if cursor is not None:  # the cluster's times are milliseconds
            body["search_after"] = [cursor.micros // 1000, cursor.event_id]
        found = backend.search(pattern, body)
    _check_shards(found)
    hits = found["hits"]["hits"]
    events = tuple(
        found_in_document(hit["_source"], event_id_field=EVENT_ID_FIELD) for hit in hits[:size]
    )
    if len(hits) <= size:
        return EventPage(events=events, next_before=None)
    millis, event_id = hits[size - 1]["sort"]
    return EventPage(events=events, next_before=str(EventCursor(int(millis) * 1000, event_id)))


def count_cluster_events_by_time(
    backend: SearchBackend,
    *,
    prefix: str,
    query: str,
    start: datetime,
    end: datetime,
    first_second: int,
    step_seconds: int,
    now: datetime,
) -> dict[int, int]:
    """Events matching ``query`` with ``start <= @timestamp < end`` per bucket of
    ``step_seconds`` counted from ``first_second`` (seconds since 1970): number → count.

    A ``date_histogram`` with ``fixed_interval`` (aligned to 1970 plus ``offset``), no hits;
    empty buckets are left out (``ingest.search.histogram`` draws them)."""
    condition = parse_query(query, now=now)
    pattern = events_pattern(prefix)
    offset = first_second % step_seconds
    histogram: Query = {"field": TIMESTAMP_FIELD, "fixed_interval": f"{step_seconds}s"}
    if offset:
        histogram["offset"] = f"{offset}s"
    with _cluster_errors():
        filters = _filters(backend, pattern, condition, start, end)
        body = {
            "query": {"bool": {"filter": filters}},
            "aggs": {"over_time": {"date_histogram": {**histogram, "min_doc_count": 1}}},
            "size": 0,
            "track_total_hits": False,
        }
        found = backend.search(pattern, body)
    _check_shards(found)
    counts: dict[int, int] = {}
    for bucket in found.get("aggregations", {}).get("over_time", {}).get("buckets", []):
        number = (int(bucket["key"]) // 1000 - first_second) // step_seconds
        counts[number] = counts.get(number, 0) + int(bucket["doc_count"])
    return counts


def cluster_event_times(
    backend: SearchBackend, *, prefix: str
) -> tuple[datetime | None, datetime | None]:
    """The first and last ``@timestamp`` of Wachter's events (None, None: none stored)."""
    pattern = events_pattern(prefix)
    body = {
        "query": {"bool": {"filter": [{"exists": {"field": EVENT_ID_FIELD}}]}},
        "aggs": {
            "first": {"min": {"field": TIMESTAMP_FIELD}},
            "last": {"max": {"field": TIMESTAMP_FIELD}},
        },
        "size": 0,
        "track_total_hits": False,
    }
    with _cluster_errors():
        found = backend.search(pattern, body)
    _check_shards(found)
    aggregations = found.get("aggregations", {})
    moments = [aggregations.get(name, {}).get("value") for name in ("first", "last")]
    if any(moment is None for moment in moments):
        return None, None
    first, last = (datetime.fromtimestamp(float(moment) / 1000, UTC) for moment in moments)
    return first, last


def _filters(
    backend: SearchBackend,
    pattern: str,
    condition: Condition | None,
    start: datetime | None,
    end: datetime | None,
) -> list[Query]:
    """Wachter's events (they carry the SQL id) in the time range matching ``condition``."""
    filters: list[Query] = [{"exists": {"field": EVENT_ID_FIELD}}]
    if start is not None or end is not None:
        filters.append(_time_filter(start, end))
    if condition is not None:
        filters.append(bounded(to_query(condition, _field_types(backend, pattern, condition))))
    return filters


@contextmanager
def _cluster_errors() -> Iterator[None]:
    try:
        yield
    except SearchUnavailable as error:
        log.warning("event search: the cluster is unavailable: %s", error)
        raise EventSearchUnavailable(UNAVAILABLE) from None
    except SearchRejected as error:
        if error.status != 400:  # credentials, permissions: not the query's fault
            log.error("event search: the cluster refused Wachter: %s", error)
            raise EventSearchUnavailable(UNAVAILABLE) from None
        reason = str(error).removeprefix("HTTP 400: ")
        raise InvalidQuery(
            N_("The search cluster refused the query: %(reason)s"), reason=reason[:MAX_REASON]
        ) from None


def _check_shards(found: Mapping[str, Any]) -> None:
    """Some shards failed (the others answered 200): no page that may miss events.

    A query one index cannot read (a date field asked for "yesterday") fails only on the
    shards of the indices that have the field: the reason is the query's.
    """
    shards = found.get("_shards", {})
    if not shards.get("failed"):
        return
    failure = (shards.get("failures") or [{}])[0]
    reason = failure.get("reason", {})
    text = f"{reason.get('type', 'error')}: {reason.get('reason', '')}"
    if failure.get("status") == 400 or reason.get("type") in QUERY_ERRORS:
        raise InvalidQuery(
            N_("The search cluster refused the query: %(reason)s"), reason=text[:MAX_REASON]
        )
    log.warning("event search: %d shards failed: %s", shards["failed"], text[:MAX_REASON])
    raise EventSearchUnavailable(UNAVAILABLE)


def _time_filter(start: datetime | None, end: datetime | None) -> Query:
    bounds = {}
    if start is not None:
        bounds["gte"] = cluster_time(start, up=True)
    if end is not None:
        bounds["lt"] = cluster_time(end, up=True)
    return {"range": {TIMESTAMP_FIELD: bounds}}


def _field_types(backend: SearchBackend, pattern: str, condition: Condition) -> Types:
    """Each field ``condition`` names → its searchable types → their indices (None: all)."""
    names, free_text = named_fields(condition)
    fields = ["*"] if free_text else sorted(names - {TIMESTAMP_FIELD})
    if not fields:
        return {}
    found = backend.field_caps(pattern, fields)
    types: Types = {}
    for field, by_type in found.get("fields", {}).items():
        if field.startswith("_"):
            continue  # metadata fields (_id, _index, …) are not the event's
        types[field] = {
            kind: caps.get("indices") for kind, caps in by_type.items() if caps.get("searchable")
        }
    return types
