"""The histogram above the event search: how many matching events fall in each time bucket.

    find_event_histogram(session, settings=…, query=…, since=…, until=…, now=…) -> Histogram | None

The buckets are chosen from the searched range (``plan_buckets``): the smallest of
minute, 5 and 10 minutes, half an hour, hour, 3 and 12 hours, day and week that gives at
most ``MAX_BARS`` bars (a longer range gets whole days, as many as needed). Buckets are
aligned to whole multiples of their size since 1970-01-01 UTC, as Elasticsearch's
``fixed_interval`` aligns them, so the SQL store and the cluster draw the same bars.

On SQL it is one statement counting each bucket over its own range of the indexed
``event.timestamp``, always bounded on both sides (an open side takes the first or last
stored event, read from the index's ends), so the database walks that index range only.
In scale-out mode the cluster answers with a ``date_histogram`` (``ingest.search.cluster``).
The same query language and errors as the search itself; the caller audits the search
once for both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Integer, func, literal, select, union_all
from sqlalchemy.orm import Session

from core import Settings
from ingest.search import sql
from ingest.search.cluster import cluster_event_times, count_cluster_events_by_time
from ingest.search.conditions import Condition
from ingest.search.language import parse_query
from ingest.search.service import time_range
from storage.events import Event
from storage.search import SearchBackend, backend_for
from storage.types import UTCDateTime

MAX_BARS = 60
STEPS = tuple(
    timedelta(minutes=minutes)
    for minutes in (1, 5, 10, 30, 60, 3 * 60, 12 * 60, 24 * 60, 7 * 24 * 60)
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime.max.replace(tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Bar:
    """Matching events with ``start <= time < end`` (the first and last bar are cut to the
    searched range)."""

    start: datetime
    end: datetime
    count: int

    @property
    def last_moment(self) -> datetime:
        """The bar's last microsecond: the search's ``until`` is inclusive."""
        return self.end - ONE_MICROSECOND


@dataclass(frozen=True, slots=True)
class Buckets:
    """Where the bars go: ``count`` buckets of ``step`` from ``first`` (aligned), cut to
    ``start`` to ``end``."""

    start: datetime
    end: datetime
    first: datetime
    step: timedelta
    count: int

    @property
    def first_second(self) -> int:
        return (self.first - EPOCH) // timedelta(seconds=1)

    @property
    def step_seconds(self) -> int:
        return self.step // timedelta(seconds=1)

    def bars(self, counts: dict[int, int]) -> tuple[Bar, ...]:
        """A bar per bucket, numbered from 0, with its count (0 when absent)."""
        found = []
        for number in range(self.count):
            begin = self.first + number * self.step
            # (compared as spans: begin + step may be past the last datetime)
            finish = self.end if self.end - begin <= self.step else begin + self.step
            found.append(Bar(max(begin, self.start), finish, counts.get(number, 0)))
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Histogram:
    step: timedelta
    bars: tuple[Bar, ...]

    @property
    def total(self) -> int:
        return sum(bar.count for bar in self.bars)

    @property
    def highest(self) -> int:
        return max((bar.count for bar in self.bars), default=0)

    @property
    def start(self) -> datetime:
        return self.bars[0].start

    @property
    def end(self) -> datetime:
        return self.bars[-1].end


def plan_buckets(start: datetime, end: datetime) -> Buckets | None:
    """The buckets for ``start <= time < end``; None for an empty range."""
    if end <= start:
        return None
    for step in STEPS:
        buckets = _aligned(start, end, step)
        if buckets.count <= MAX_BARS:
            return buckets
    span_days = (end - start) / timedelta(days=1)
    # One bar less than the most: aligning the first bucket down may add one.
    return _aligned(start, end, timedelta(days=math.ceil(span_days / (MAX_BARS - 1))))


def _aligned(start: datetime, end: datetime, step: timedelta) -> Buckets:
    try:
        first = EPOCH + ((start - EPOCH) // step) * step
    except OverflowError:  # within a step of year 1: start there, unaligned
        first = start
    return Buckets(start, end, first, step, math.ceil((end - first) / step))


def find_event_histogram(
    session: Session,
    *,
    settings: Settings,
    backend: SearchBackend | None = None,
    query: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    now: datetime,
) -> Histogram | None:
    """Matching events per bucket over the searched range (None: no events, empty range).

    Embedded: SQL (``sql_event_histogram``); scale-out: the cluster's ``date_histogram``.
    """
    if settings.is_embedded:
        return sql_event_histogram(session, query=query, since=since, until=until, now=now)
    client = backend or backend_for(settings)
    prefix = settings.elasticsearch_index_prefix
    start, end = time_range(since, until, now=now)
    if start is None or end is None:
        earliest, latest = cluster_event_times(client, prefix=prefix)
        start, end = _closed(start, end, earliest, latest, now=now)
    buckets = plan_buckets(start, end) if start and end else None
    if buckets is None:
        return None
    counts = count_cluster_events_by_time(
        client,
        prefix=prefix,
        query=query,
        start=buckets.start,
        end=buckets.end,
        first_second=buckets.first_second,
        step_seconds=buckets.step_seconds,
        now=now,
    )
    return Histogram(buckets.step, buckets.bars(counts))


def sql_event_histogram(
    session: Session,
    *,
    query: str,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    now: datetime,
) -> Histogram | None:
    """The matching events per bucket, counted on the ``event.timestamp`` index."""
    condition = parse_query(query, now=now)
    start, end = time_range(since, until, now=now)
    if start is None or end is None:
        earliest = session.scalar(select(func.min(Event.timestamp)))
        latest = session.scalar(select(func.max(Event.timestamp)))  # two: SQLite optimises one
        start, end = _closed(start, end, earliest, latest, now=now)
    buckets = plan_buckets(start, end) if start and end else None
    if buckets is None:
        return None
    counts = _count_per_bucket(session, condition, buckets.bars({}))
    return Histogram(buckets.step, buckets.bars(counts))


def _count_per_bucket(
    session: Session, condition: Condition | None, bars: tuple[Bar, ...]
) -> dict[int, int]:
    """One statement: per bar, a count over its own range of the ``event.timestamp`` index.

    Walking the index in order costs what counting does; GROUP BY on a computed bucket
    made SQLite compute every row's bucket and sort a million rows into a temporary B-tree
    (1M events over a day, bench DB: 60 ms against 560 ms; PostgreSQL 190 against 900).
    """
    bounds = union_all(
        *(
            select(
                literal(number, Integer()).label("number"),
                literal(bar.start, UTCDateTime()).label("start"),
                literal(bar.end, UTCDateTime()).label("end"),
            )
            for number, bar in enumerate(bars)
        )
    ).cte("bucket")
    matching = (
        select(func.count())
        .select_from(Event)
        .where(Event.timestamp >= bounds.c.start, Event.timestamp < bounds.c.end)
        .where(sql.where(condition))
        .scalar_subquery()
    )
    rows = session.execute(select(bounds.c.number, matching))
    return {int(number): int(count) for number, count in rows}


def _closed(
    start: datetime | None,
    end: datetime | None,
    earliest: datetime | None,
    latest: datetime | None,
    *,
    now: datetime,
) -> tuple[datetime | None, datetime | None]:
    """An open side of the range closed by the stored events (the end at least ``now``)."""
    if earliest is None or latest is None:
        return None, None  # nothing stored
    if start is None:
        start = earliest
    if end is None:
        end = max(now, latest + ONE_MICROSECOND) if latest < LATEST else LATEST
    return start, end
