"""MTTA, MTTR and deadline breaches per calendar month (UTC), for the last N months.

- MTTA (mean time to acknowledge): the mean of ``acknowledged_at - created_at`` over the
  incidents acknowledged in that month.
- MTTR (mean time to resolve): the mean of ``closed_at - created_at`` over the incidents
  closed in that month.
- Breaches: ``DeadlineBreach`` rows per kind whose deadline fell due in that month.

Each figure belongs to the month its event happened in, so a month's figures stop
changing once it is over. Incidents merged into another are left out: their work is
counted on the incident they were merged into. Months are UTC months, the same on every
server and in every report; the SQL only selects rows in the period (portable to SQLite and
PostgreSQL), the grouping and the means are computed here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from core import InvalidInput
from core.i18n import N_
from incidents.cases.models import Incident, IncidentType
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.sla import DEADLINE_KINDS, DeadlineKind

MAX_MONTHS = 36


@dataclass(frozen=True)
class MonthMetrics:
    month: date  # the first day of the month (UTC)
    acknowledged: int  # incidents acknowledged in the month
    mean_time_to_acknowledge: timedelta | None  # None when none were
    resolved: int  # incidents closed in the month
    mean_time_to_resolve: timedelta | None
    breaches: MappingProxyType[DeadlineKind, int]

    @property
    def breach_total(self) -> int:
        return sum(self.breaches.values())


def month_start(moment: datetime) -> date:
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def monthly_metrics(
    session: Session, *, now: datetime, months: int = 6, incident_type: str | None = None
) -> list[MonthMetrics]:
    """The last ``months`` calendar months up to and including ``now``'s, oldest first."""
    if not 1 <= months <= MAX_MONTHS:
        raise InvalidInput(N_("Choose 1 to %(limit)d months."), field="months", limit=MAX_MONTHS)
    if incident_type is not None and incident_type not in set(IncidentType):
        raise InvalidInput(N_("Choose an incident type from the list."), field="type")
    first = _add_months(month_start(now), -(months - 1))
    periods = [_add_months(first, offset) for offset in range(months)]
    start, end = _midnight(first), _midnight(_add_months(periods[-1], 1))
    of_type = (Incident.type == incident_type,) if incident_type else ()
    acknowledged = _durations_by_month(
        session, Incident.acknowledged_at, start=start, end=end, conditions=of_type
    )
    resolved = _durations_by_month(
        session, Incident.closed_at, start=start, end=end, conditions=of_type
    )
    breaches = _breaches_by_month(session, start=start, end=end, conditions=of_type)
    return [
        MonthMetrics(
            month=month,
            acknowledged=len(acknowledged.get(month, ())),
            mean_time_to_acknowledge=_mean(acknowledged.get(month, ())),
            resolved=len(resolved.get(month, ())),
            mean_time_to_resolve=_mean(resolved.get(month, ())),
            breaches=MappingProxyType(
                {kind: breaches[(month, kind.value)] for kind in DEADLINE_KINDS}
            ),
        )
        for month in periods
    ]


def _durations_by_month(
    session: Session,
    reached: InstrumentedAttribute[datetime | None],
    *,
    start: datetime,
    end: datetime,
    conditions: Iterable[ColumnElement[bool]],
) -> dict[date, list[timedelta]]:
    query = select(Incident.created_at, reached).where(
        reached.is_not(None),
        reached >= start,
        reached < end,
        Incident.merged_into_id.is_(None),
        *conditions,
    )
    grouped: dict[date, list[timedelta]] = {}
    for created_at, reached_at in session.execute(query):
        if reached_at is None:  # excluded by the query; keeps the type checker informed
            continue
        grouped.setdefault(month_start(reached_at), []).append(reached_at - created_at)
    return grouped


def _breaches_by_month(
    session: Session, *, start: datetime, end: datetime, conditions: Iterable[ColumnElement[bool]]
) -> Counter[tuple[date, str]]:
    query = (
        select(DeadlineBreach.due_at, DeadlineBreach.kind)
        .join(Incident, Incident.id == DeadlineBreach.incident_id)
        .where(
            DeadlineBreach.due_at >= start,
            DeadlineBreach.due_at < end,
            Incident.merged_into_id.is_(None),
            *conditions,
        )
    )
    return Counter((month_start(due_at), kind) for due_at, kind in session.execute(query))


def _mean(durations: Sequence[timedelta]) -> timedelta | None:
    if not durations:
        return None
    total = sum(durations, timedelta())
    # Whole seconds: the console and reports show minutes; microseconds are noise.
    return timedelta(seconds=round(total.total_seconds() / len(durations)))
