"""The dashboard's figures on the collection side: events per hour per source over the last
24 hours, and the rejected input (dead letters) kept.

Hours are counted on the event's own time (``event.timestamp``), the indexed time column:
the arrival time is not indexed (one index fewer on the ingest hot path), and with a million
events only an indexed range stays fast. The SQL groups by the UTC hour (``utc_hour``:
``substr`` of the stored text on SQLite, ``date_trunc`` on PostgreSQL), which costs less per
row than a ``CASE`` over 24 boundaries; whole UTC hours are whole hours in every zone
Wachter runs in. Sources beyond the busiest few are summed as "other" so
a chart stays readable. Reads only; the console view records the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.dashboard import hour_key, utc_hour
from ingest.models import DeadLetter
from storage.events import Event

HOURS = 24
MAX_SOURCES = 6  # sources shown by name; the rest together as OTHER
OTHER = "other"


@dataclass(frozen=True)
class IngestRate:
    hours: tuple[datetime, ...]  # the start of each hour (UTC), oldest first
    sources: tuple[str, ...]  # busiest first; OTHER last when there are more
    counts: tuple[tuple[int, ...], ...]  # counts[source][hour]

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.counts)

    def totals(self) -> tuple[tuple[str, int], ...]:
        return tuple(
            (source, sum(row)) for source, row in zip(self.sources, self.counts, strict=True)
        )


def ingest_rate(session: Session, *, now: datetime, hours: int = HOURS) -> IngestRate:
    """Events per hour and source, the current hour last (its count is still growing)."""
    current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    starts = [current - timedelta(hours=hours - 1 - offset) for offset in range(hours)]
    index_of = {hour_key(start): index for index, start in enumerate(starts)}
    rows = (
        select(Event.source, utc_hour(session, Event.timestamp).label("hour"))
        .where(Event.timestamp >= starts[0], Event.timestamp < current + timedelta(hours=1))
        .subquery()
    )
    # Grouping on the subquery's columns: the planner keeps to the timestamp index (grouping
    # on ``event.source`` directly lets SQLite walk the whole (source, event_key) index).
    counted = session.execute(
        select(rows.c.source, rows.c.hour, func.count()).group_by(rows.c.source, rows.c.hour)
    )
    table: dict[str, list[int]] = {}
    for source, hour, count in counted:
        if (index := index_of.get(hour_key(hour))) is not None:
            table.setdefault(source, [0] * hours)[index] += count
    ranked = sorted(table, key=lambda source: (-sum(table[source]), source))
    shown, rest = ranked[:MAX_SOURCES], ranked[MAX_SOURCES:]
    series = [(source, table[source]) for source in shown]
    if rest:
        others = [sum(table[source][index] for source in rest) for index in range(hours)]
        series.append((OTHER, others))
    return IngestRate(
        hours=tuple(starts),
        sources=tuple(source for source, _counts in series),
        counts=tuple(tuple(counts) for _source, counts in series),
    )


@dataclass(frozen=True)
class DeadLetterSummary:
    kept: int  # entries in the store (it keeps the newest dead_letters.MAX_ENTRIES)
    last_day: int  # received in the last 24 hours
    latest_at: datetime | None


def dead_letter_summary(session: Session, *, now: datetime) -> DeadLetterSummary:
    """How much rejected input is kept, how much arrived in the last day, and the latest."""
    kept, last_day, latest = session.execute(
        select(
            func.count(),
            func.count().filter(DeadLetter.received_at >= now - timedelta(hours=HOURS)),
            func.max(DeadLetter.received_at),
        ).select_from(DeadLetter)
    ).one()
    return DeadLetterSummary(kept=int(kept), last_day=int(last_day), latest_at=latest)
