"""``search_events``: one page of events matching a query, newest first by the event's time.

Paging is by keyset: a page ends with ``next_before``, the cursor (``ingest.search.cursor``)
to pass as ``before`` for the page after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from ingest.errors import InvalidTimeRange
from ingest.search import sql
from ingest.search.cursor import EventCursor
from ingest.search.language import parse_query
from ingest.search.values import end_of_day, parse_time
from storage.events import COLUMN_LIMITS, Event

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
SUMMARY_LENGTH = 300
# What the results table shows for an event, in this order of preference.
SUMMARY_FIELDS = (("message",), ("event", "original"), ("event", "action"))


@dataclass(frozen=True, slots=True)
class FoundEvent:
    """One stored event: its indexed fields and the whole ECS document."""

    id: int
    timestamp: datetime
    ingested: datetime
    dataset: str | None
    host_name: str | None
    user_name: str | None
    source_ip: str | None
    outcome: str | None
    flags: tuple[str, ...]
    document: dict[str, Any]

    @property
    def summary(self) -> str:
        """The message (or the original line, or the action), cut for a table cell."""
        for path in SUMMARY_FIELDS:
            value: Any = self.document
            for name in path:
                value = value.get(name) if isinstance(value, dict) else None
            if value not in (None, "") and not isinstance(value, dict | list):
                return str(value)[:SUMMARY_LENGTH]
        return ""


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[FoundEvent, ...]
    next_before: str | None  # ``before`` for the next, older page; None on the last


def search_events(
    session: Session,
    *,
    query: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    before: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
    now: datetime | None = None,
) -> EventPage:
    """Events matching ``query`` (Lucene syntax, see ``ingest.search.language``).

    ``since`` and ``until`` bound the event's own time, both inclusive; as text they are
    ISO 8601 or ``now-24h``-style, and a bare date for ``until`` takes that whole day.
    ``limit`` above ``MAX_PAGE_SIZE`` is cut to it. ``now`` defaults to the current time.
    """
    now = now or datetime.now(UTC)
    size = page_size(limit)
    cursor = EventCursor.parse(before) if before is not None else None
    statement = select(Event).where(sql.where(parse_query(query, now=now)))
    start, end = time_range(since, until, now=now)
    if start is not None:
        statement = statement.where(Event.timestamp >= start)
    if end is not None:
        statement = statement.where(Event.timestamp < end)
    if cursor is not None:
        moment = cursor.moment
        statement = statement.where(
            Event.timestamp <= moment,  # the index range; the pair below decides the tie
            or_(Event.timestamp < moment, Event.id < cursor.event_id),
        )
    newest_first = (Event.timestamp.desc(), Event.id.desc())
    rows = list(session.scalars(statement.order_by(*newest_first).limit(size + 1)))
    found = tuple(_found(row) for row in rows[:size])
    last = found[-1] if len(rows) > size else None
    return EventPage(
        events=found,
        next_before=str(EventCursor.of(last.timestamp, last.id)) if last else None,
    )


def page_size(limit: int) -> int:
    """How many events a page holds: ``limit``, at most ``MAX_PAGE_SIZE``."""
    if limit < 1:
        raise InvalidInput(
            N_("The page size must be at least 1 (at most %(limit)d are shown)."),
            field="limit",
            limit=MAX_PAGE_SIZE,
        )
    return min(limit, MAX_PAGE_SIZE)


def time_range(
    since: datetime | str | None, until: datetime | str | None, *, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """``since`` as an inclusive start, ``until`` as an exclusive end (its instant or day)."""
    start = _moment(since, "since", now=now)
    end = _moment(until, "until", now=now)
    if start is not None and end is not None and start[0] > end[0]:
        raise InvalidTimeRange(N_("The start of the time range is after its end."), field="since")
    end_time = None
    if end is not None:
        moment, whole_day = end
        end_time = end_of_day(moment) if whole_day else _just_after(moment)
    return (start[0] if start else None), end_time


def _moment(
    value: datetime | str | None, field: str, *, now: datetime
) -> tuple[datetime, bool] | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError(f"{field} must be an aware datetime")
        return value.astimezone(UTC), False
    parsed = parse_time(value, now=now)
    if parsed is None:
        raise InvalidTimeRange(
            N_(
                "“%(value)s” is not a time: use ISO 8601 such as 2026-01-31 or "
                "2026-01-31T14:00:00Z, or now-24h, now-7d."
            ),
            field=field,
            value=value[:40],
        )
    return parsed


def _just_after(moment: datetime) -> datetime | None:
    # The column holds microseconds: "up to and including" is "before the next one".
    try:
        return moment + timedelta(microseconds=1)
    except OverflowError:
        return None


def _found(row: Event) -> FoundEvent:
    document = orjson.loads(row.document)
    return FoundEvent(
        id=row.id,
        timestamp=row.timestamp,
        ingested=row.ingested,
        dataset=row.dataset,
        host_name=row.host_name,
        user_name=row.user_name,
        source_ip=row.source_ip,
        outcome=row.outcome,
        flags=tuple(row.flags.split(",")) if row.flags else (),
        document=document if isinstance(document, dict) else {"value": document},
    )


def found_in_document(source: Mapping[str, Any], *, event_id_field: str) -> FoundEvent:
    """An event as the cluster returns it (``_source``, the id under ``event_id_field``),
    shown as the SQL store shows the same event: its columns taken and cut the same way."""
    document = {key: value for key, value in source.items() if key != event_id_field}
    event = _object(document.get("event"))
    timestamp = _time(document.get("@timestamp"))
    flags = _object(document.get("wachter")).get("flags")
    return FoundEvent(
        id=int(source[event_id_field]),
        timestamp=timestamp,
        ingested=_time(event.get("ingested"), default=timestamp),
        dataset=_column("dataset", event.get("dataset")),
        host_name=_column("host_name", _object(document.get("host")).get("name")),
        user_name=_column("user_name", _object(document.get("user")).get("name")),
        source_ip=_column("source_ip", _object(document.get("source")).get("ip")),
        outcome=_column("outcome", event.get("outcome")),
        flags=tuple(str(flag) for flag in flags) if isinstance(flags, list) else (),
        document=document,
    )


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(value: Any, default: datetime | None = None) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        if default is None:
            raise
        return default
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _column(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)[: COLUMN_LIMITS[name]].replace("\x00", "\ufffd")
