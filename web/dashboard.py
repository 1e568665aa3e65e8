"""The dashboard a signed-in user sees: each panel they may see, its figures and its chart.

A panel appears only with the permission its figures come from (alerts: ALERTS_READ;
incidents, deadlines, MTTA/MTTR: INCIDENTS_READ; ingest: EVENTS_READ; aggression reports:
REPORTS_READ), and only its queries run, so a role without a permission neither sees nor
costs that panel. The figures come from the domains (``incidents.dashboard``,
``ingest.dashboard``, ``staff_safety.dashboard``); here they become chart geometry
(``web.charts``) with labels in the organisation's time zone. About ten aggregate queries
for a security officer, each over an indexed time column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from access_control import Permission
from incidents.dashboard import (
    AGE_BUCKETS,
    AlertsPerDay,
    DeadlineFigures,
    OpenIncidents,
    RuleActivity,
    alerts_per_day,
    deadline_figures,
    open_incidents,
    top_rules,
)
from ingest.dashboard import (
    OTHER,
    DeadLetterSummary,
    IngestRate,
    dead_letter_summary,
    ingest_rate,
)
from staff_safety.dashboard import ReportFigures, report_figures
from web.charts import (
    COMPACT,
    SMALL,
    BarChart,
    Frame,
    HorizontalBar,
    LineChart,
    horizontal_bars,
    line_chart,
    stacked_bars,
)

REFRESH_SECONDS = 30
# A chart's palette has eight colours (web/static/css/dashboard.css: series-0…7); series 6
# is grey, for "other": six series by name and the rest together, as ingest.dashboard does.
MAX_NAMED = 6
TREND = Frame(width=340, height=150, left=36, right=334, bottom=122, max_labels=6)


@dataclass(frozen=True)
class AlertsPanel:
    figures: AlertsPerDay
    chart: BarChart


@dataclass(frozen=True)
class IncidentsPanel:
    figures: OpenIncidents
    chart: BarChart  # a bar per state, stacked by age


@dataclass(frozen=True)
class DeadlinesPanel:
    figures: DeadlineFigures
    breaches_chart: BarChart  # breaches per month
    # MTTA and MTTR per month, in hours, each on its own scale: on one axis an MTTA of
    # minutes lies flat on the zero line under an MTTR of days.
    mtta_chart: LineChart
    mttr_chart: LineChart

    @property
    def trend_is_empty(self) -> bool:
        return self.mtta_chart.is_empty and self.mttr_chart.is_empty


@dataclass(frozen=True)
class RulesPanel:
    rules: tuple[RuleActivity, ...]
    bars: tuple[HorizontalBar, ...]


@dataclass(frozen=True)
class IngestPanel:
    figures: IngestRate
    chart: BarChart
    dead_letters: DeadLetterSummary


@dataclass(frozen=True)
class ReportsPanel:
    figures: ReportFigures
    category_chart: BarChart
    channel_chart: BarChart
    location_chart: BarChart


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    alerts: AlertsPanel | None = None
    incidents: IncidentsPanel | None = None
    deadlines: DeadlinesPanel | None = None
    rules: RulesPanel | None = None
    ingest: IngestPanel | None = None
    reports: ReportsPanel | None = None

    @property
    def panels(self) -> tuple[str, ...]:
        """The names of the panels shown (the audit entry lists them)."""
        names = ("alerts", "incidents", "deadlines", "rules", "ingest", "reports")
        return tuple(name for name in names if getattr(self, name) is not None)


def build_dashboard(
    session: Session, *, permissions: Permission, now: datetime, timezone: str
) -> Dashboard:
    """Every panel ``permissions`` allow, as it stands at ``now``."""
    zone = ZoneInfo(timezone)
    alerts = rules = incidents = deadlines = ingest = reports = None
    if Permission.ALERTS_READ in permissions:
        alerts = _alerts_panel(alerts_per_day(session, now=now, timezone=timezone))
        found = top_rules(session, now=now)
        rules = RulesPanel(found, horizontal_bars([(rule.title, rule.alerts) for rule in found]))
    if Permission.INCIDENTS_READ in permissions:
        incidents = _incidents_panel(open_incidents(session, now=now))
        deadlines = _deadlines_panel(deadline_figures(session, now=now))
    if Permission.EVENTS_READ in permissions:
        rate = ingest_rate(session, now=now)
        hours = [start.astimezone(zone).strftime("%H:00") for start in rate.hours]
        ingest = IngestPanel(
            rate,
            stacked_bars(hours, list(zip(rate.sources, rate.counts, strict=True))),
            dead_letter_summary(session, now=now),
        )
    if Permission.REPORTS_READ in permissions:
        reports = _reports_panel(report_figures(session, now=now, timezone=timezone))
    return Dashboard(now, alerts, incidents, deadlines, rules, ingest, reports)


def _alerts_panel(figures: AlertsPerDay) -> AlertsPanel:
    days = [day.strftime("%d-%m") for day in figures.days]
    series = list(zip(figures.severities, figures.counts, strict=True))
    return AlertsPanel(figures, stacked_bars(days, series))


def _incidents_panel(figures: OpenIncidents) -> IncidentsPanel:
    series = [(age.value, row) for age, row in zip(AGE_BUCKETS, figures.counts, strict=True)]
    return IncidentsPanel(figures, stacked_bars(figures.states, series, COMPACT))


def _deadlines_panel(figures: DeadlineFigures) -> DeadlinesPanel:
    months = [month.month.strftime("%Y-%m") for month in figures.months]
    breaches = stacked_bars(
        months, [("breaches", [m.breach_total for m in figures.months])], COMPACT
    )
    mtta = [_hours(m.mean_time_to_acknowledge) for m in figures.months]
    mttr = [_hours(m.mean_time_to_resolve) for m in figures.months]
    return DeadlinesPanel(
        figures,
        breaches,
        line_chart(months, [("mtta", mtta)], TREND),
        line_chart(months, [("mttr", mttr)], TREND),
    )


def fold_series(
    series: list[tuple[str, list[int]]], keep: int = MAX_NAMED
) -> list[tuple[str, list[int]]]:
    """At most ``keep`` + 1 series: the ``keep`` largest by name (in their own order) and the
    rest summed as ``OTHER`` on top, so that no two series share a colour and "other" is
    the grey one, as in the events panel. The statistics page has every value by name."""
    if len(series) <= keep + 1:
        return series
    ranked = sorted(series, key=lambda item: -sum(item[1]))  # stable: ties keep their order
    largest = {name for name, _values in ranked[:keep]}
    kept = [item for item in series if item[0] in largest]
    rest = [values for name, values in series if name not in largest]
    return [*kept, (OTHER, [sum(column) for column in zip(*rest, strict=True)])]


def _hours(duration: timedelta | None) -> float | None:
    return None if duration is None else round(duration.total_seconds() / 3600, 2)


def _reports_panel(figures: ReportFigures) -> ReportsPanel:
    months = [stats.period.first for stats in figures.months]

    def by(dimension: str) -> BarChart:
        # Only the values that occur in the period: thirteen categories of zeros say nothing.
        overall = getattr(figures.overall, f"by_{dimension}")
        present = [value for value, count in overall if count > 0]
        series = [
            (
                value,
                [dict(getattr(stats, f"by_{dimension}")).get(value, 0) for stats in figures.months],
            )
            for value in present
        ]
        return stacked_bars(months, fold_series(series), SMALL)

    return ReportsPanel(figures, by("category"), by("channel"), by("location"))
