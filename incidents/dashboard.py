"""The dashboard's figures on the response side: alerts per day, open incidents, deadline
breaches with MTTA/MTTR, and the rules that fired most.

Every figure is aggregated in SQL over indexed time columns (``alert.created_at``,
``incident.closed_at``/``created_at``), never by loading rows, so the dashboard stays fast with
10,000 alerts and 2,000 incidents. Days are the organisation's days (``timezone``, Europe/
Amsterdam): the SQL counts per UTC hour (``utc_hour``; neither database has to know the
time zone) and each hour goes to its local day here.
The monthly figures are ``deadlines.monthly_metrics`` (UTC months), reused. Reads only; the
console view records the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, case, func, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Session

from detection_rules.models import DetectionRule
from incidents.alerts.models import SEVERITIES, Alert
from incidents.cases.models import Incident
from incidents.deadlines.escalation import is_open
from incidents.deadlines.metrics import MonthMetrics, monthly_metrics
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.sla import DEADLINE_KINDS

ALERT_DAYS = 30
TREND_MONTHS = 6
TOP_RULES = 10


def day_boundaries(now: datetime, timezone: str, days: int) -> list[datetime]:
    """The UTC starts of the last ``days`` local days (today included), and tomorrow's start."""
    zone = ZoneInfo(timezone)
    first = now.astimezone(zone).date() - timedelta(days=days - 1)
    return [
        datetime.combine(first + timedelta(days=offset), time(), tzinfo=zone).astimezone(UTC)
        for offset in range(days + 1)
    ]


def utc_hour(session: Session, column: InstrumentedAttribute[datetime]) -> ColumnElement[Any]:
    """The UTC hour of ``column``, computed by the database in its cheapest form: the stored
    text's first 13 characters on SQLite, ``date_trunc`` on PostgreSQL (``to_char`` costs
    twice as much per row). ``hour_key`` turns either into the same text."""
    if session.get_bind().dialect.name == "sqlite":
        # UTCDateTime is stored as UTC text "YYYY-MM-DD HH:MM:SS.ffffff" on SQLite.
        return type_coerce(func.substr(column, 1, 13), String)
    return func.date_trunc("hour", func.timezone("UTC", column))


def hour_key(hour: datetime | str) -> str:
    """``YYYY-MM-DD HH`` (UTC) of a moment, or of what ``utc_hour`` returned."""
    if isinstance(hour, str):
        return hour
    if hour.tzinfo is not None:
        hour = hour.astimezone(UTC)
    return f"{hour.year:04d}-{hour.month:02d}-{hour.day:02d} {hour.hour:02d}"


# --- alerts per day by severity ----------------------------------------------------------


@dataclass(frozen=True)
class AlertsPerDay:
    days: tuple[date, ...]  # local days, oldest first
    severities: tuple[str, ...]  # lowest first (the order they stack in)
    counts: tuple[tuple[int, ...], ...]  # counts[severity][day]

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.counts)


def alerts_per_day(
    session: Session, *, now: datetime, timezone: str, days: int = ALERT_DAYS
) -> AlertsPerDay:
    """Alerts raised per local day over the last ``days`` days, by severity."""
    boundaries = day_boundaries(now, timezone, days)
    # Whole UTC hours fall in one local day (the zone's offsets are whole hours), so the SQL
    # counts per UTC hour and each hour is given to its local day here.
    day_of: dict[str, int] = {}
    for index, (start, end) in enumerate(pairwise(boundaries)):
        hour = start
        while hour < end:
            day_of[hour_key(hour)] = index
            hour += timedelta(hours=1)
    rows = (
        select(utc_hour(session, Alert.created_at).label("hour"), Alert.severity)
        .where(Alert.created_at >= boundaries[0], Alert.created_at < boundaries[-1])
        .subquery()
    )
    # Grouping on the subquery's columns: PostgreSQL would not see two renderings of the
    # expression (with their own bound parameters) as the same.
    counts = session.execute(
        select(rows.c.hour, rows.c.severity, func.count()).group_by(rows.c.hour, rows.c.severity)
    )
    known = [severity.value for severity in SEVERITIES]
    table = {severity: [0] * days for severity in known}
    for hour, severity, count in counts:
        if (day := day_of.get(hour_key(hour))) is not None:
            table.setdefault(severity, [0] * days)[day] += count
    first = boundaries[0].astimezone(ZoneInfo(timezone)).date()
    return AlertsPerDay(
        days=tuple(first + timedelta(days=offset) for offset in range(days)),
        severities=tuple(table),
        counts=tuple(tuple(values) for values in table.values()),
    )


# --- open incidents by state and age -----------------------------------------------------


class AgeBucket(StrEnum):
    DAY = "day"  # opened less than a day ago
    WEEK = "week"  # one to seven days ago
    OLDER = "older"  # more than seven days ago


AGE_BUCKETS: tuple[AgeBucket, ...] = tuple(AgeBucket)


@dataclass(frozen=True)
class OpenIncidents:
    states: tuple[str, ...]  # states with open incidents, the most crowded first
    counts: tuple[tuple[int, ...], ...]  # counts[age bucket][state], buckets as AGE_BUCKETS

    @property
    def total(self) -> int:
        return sum(sum(row) for row in self.counts)

    def by_age(self) -> tuple[tuple[str, int], ...]:
        return tuple(
            (age.value, sum(row)) for age, row in zip(AGE_BUCKETS, self.counts, strict=True)
        )


def open_incidents(session: Session, *, now: datetime) -> OpenIncidents:
    """Incidents still open (not closed, not merged) by state and by how long they are open."""
    age = case(
        (Incident.created_at >= now - timedelta(days=1), AgeBucket.DAY.value),
        (Incident.created_at >= now - timedelta(days=7), AgeBucket.WEEK.value),
        else_=AgeBucket.OLDER.value,
    )
    rows = select(Incident.state, age.label("age")).where(*is_open()).subquery()
    counted = session.execute(
        select(rows.c.state, rows.c.age, func.count()).group_by(rows.c.state, rows.c.age)
    )
    by_state: dict[str, dict[str, int]] = {}
    for state, bucket, count in counted:
        by_state.setdefault(state, {})[bucket] = count
    states = sorted(by_state, key=lambda state: (-sum(by_state[state].values()), state))
    return OpenIncidents(
        states=tuple(states),
        counts=tuple(
            tuple(by_state[state].get(bucket.value, 0) for state in states)
            for bucket in AGE_BUCKETS
        ),
    )


# --- deadlines: breaches now, per month, MTTA/MTTR -----------------------------------------


@dataclass(frozen=True)
class DeadlineFigures:
    open_breaches: tuple[tuple[str, int], ...]  # (deadline kind, breaches) on open incidents
    months: tuple[MonthMetrics, ...]  # oldest first

    @property
    def open_breach_total(self) -> int:
        return sum(count for _kind, count in self.open_breaches)

    @property
    def has_history(self) -> bool:
        return any(
            month.acknowledged or month.resolved or month.breach_total for month in self.months
        )


def deadline_figures(
    session: Session, *, now: datetime, months: int = TREND_MONTHS
) -> DeadlineFigures:
    """Recorded breaches of incidents still open (by kind), and the monthly metrics."""
    query = (
        select(DeadlineBreach.kind, func.count())
        .join(Incident, Incident.id == DeadlineBreach.incident_id)
        .where(*is_open())
        .group_by(DeadlineBreach.kind)
    )
    counted: dict[str, int] = dict(session.execute(query).all())
    return DeadlineFigures(
        open_breaches=tuple((kind.value, counted.get(kind.value, 0)) for kind in DEADLINE_KINDS),
        months=tuple(monthly_metrics(session, now=now, months=months)),
    )


# --- top firing rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleActivity:
    rule_key: str
    title: str  # the rule's title in the registry, else the key
    alerts: int  # alerts raised in the period
    detections: int  # detections folded into those alerts


def top_rules(
    session: Session, *, now: datetime, days: int = ALERT_DAYS, limit: int = TOP_RULES
) -> tuple[RuleActivity, ...]:
    """The rules that raised the most alerts in the last ``days`` days, most first."""
    alerts = func.count(Alert.id)
    query = (
        select(Alert.rule_key, DetectionRule.title, alerts, func.sum(Alert.count))
        .outerjoin(DetectionRule, DetectionRule.key == Alert.rule_key)
        .where(Alert.created_at >= now - timedelta(days=days), Alert.created_at <= now)
        .group_by(Alert.rule_key, DetectionRule.title)
        .order_by(alerts.desc(), Alert.rule_key)
        .limit(limit)
    )
    return tuple(
        RuleActivity(rule_key=key, title=title or key, alerts=count, detections=int(total or 0))
        for key, title, count, total in session.execute(query)
    )
