"""The dashboard's staff-safety figures: aggression reports of the last months by category,
channel and location, per month, and the police-report and aftercare rates.

The figures are ``statistics``' own: the same facts (submitted reports and the tombstones of
purged ones, each counted once in the month it was submitted, in the organisation's time
zone) summarised by the same ``summarise``, once for the whole period and once per month, so
the dashboard and the statistics page can never disagree. The facts are read in two queries
(reports with their case, tombstones) whatever the number of months. Only for readers with
REPORTS_READ (the console decides); reads only, the view records the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

# The private readers are report_statistics' own: the same facts, read once for all months.
from staff_safety.statistics import (
    Period,
    Statistics,
    _live_facts,
    _tombstone_facts,
    month_of,
    summarise,
)

REPORT_MONTHS = 6


@dataclass(frozen=True)
class ReportFigures:
    overall: Statistics  # the whole period: totals, rates, categories, channels, locations
    months: tuple[Statistics, ...]  # one per month, oldest first

    @property
    def police_rate(self) -> float | None:
        """Percent of the period's reports reported to the police; None without reports."""
        return self.overall.percent(self.overall.reported_to_police)

    @property
    def aftercare_rate(self) -> float | None:
        return self.overall.percent(self.overall.aftercare_taken)


def last_months(now: datetime, timezone: str, months: int = REPORT_MONTHS) -> Period:
    """The ``months`` whole local months up to and including ``now``'s."""
    current = month_of(now, timezone)
    index = int(current[:4]) * 12 + int(current[5:]) - 1 - (months - 1)
    return Period(f"{index // 12:04d}-{index % 12 + 1:02d}", current)


def report_figures(
    session: Session, *, now: datetime, timezone: str, months: int = REPORT_MONTHS
) -> ReportFigures:
    """The last ``months`` months of reports, as a whole and month by month."""
    period = last_months(now, timezone, months)
    facts = [*_live_facts(session, period, timezone), *_tombstone_facts(session, period)]
    return ReportFigures(
        overall=summarise(period, facts),
        months=tuple(
            summarise(Period(month, month), [fact for fact in facts if fact.month == month])
            for month in period.months()
        ),
    )
