"""Statistics of aggression reports in the national monitors' categories, and their CSV export.

Counted are submitted reports and the tombstones of purged ones (``ReportTombstone``), so a
purge never changes history. Each report counts once, in the month (``YYYY-MM``, in the
organisation's time zone) it was submitted, by category, channel and location; the shares
are the reports reported to the police (the decision was that the victim or the employer
files, or a filing was recorded) and the aftercare uptake: reports where aftercare contact
was made, out of all reports, because the ELA process offers aftercare on every report.

The CSV export (``statistics_csv``) holds no personal data: no pseudonyms, numbers or free
text, only counts per category, channel, location and month. Small cells are suppressed:

* every count from 1 to 4 is written ``<5`` (primary suppression); 0 is written as 0;
* secondary suppression: cells that add up to a published number form a group (each table,
  whose cells add up to the total; and the locations of one channel, which add up to that
  channel). A group with exactly one suppressed cell could give that cell away by
  subtraction, so its smallest other non-zero cell is withheld too, written ``x``, until no
  group has exactly one. A channel with one location is the same cell in both tables;
* the police and aftercare counts are suppressed (``<5``, or ``x`` when the count is large
  but the reports *not* in it are 1 to 4, which the total would give away);
* a percentage of a suppressed cell, or of a suppressed total, is written ``x``.

Someone who knows these rules learns bounds for a suppressed cell, not its value. Cells are
also guarded against CSV injection (#48): a value starting with ``= + - @``, a tab or a
carriage return is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from staff_safety.models import (
    CHANNEL_OF,
    Category,
    Channel,
    Location,
    PoliceDecision,
    ReportStatus,
    ReportTombstone,
    StaffCase,
    StaffReport,
)

MAX_MONTHS: Final = 120
SMALL: Final = range(1, 5)  # counts written as "<5"
PRIMARY: Final = "<5"
SECONDARY: Final = "x"
_MONTH: Final = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])", re.ASCII)
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
FILED_DECISIONS: Final = frozenset(
    {PoliceDecision.VICTIM_WITH_SUPPORT.value, PoliceDecision.EMPLOYER_ON_BEHALF.value}
)


@dataclass(frozen=True)
class Period:
    """Whole months, ``first`` to ``last`` inclusive (``YYYY-MM``)."""

    first: str
    last: str

    def __post_init__(self) -> None:
        for value in (self.first, self.last):
            if not _MONTH.fullmatch(value):
                raise InvalidInput(N_("Give a month like 2026-03."), field="period")
        if self.first > self.last:
            raise InvalidInput(N_("The period ends before it starts."), field="period")
        if len(self.months()) > MAX_MONTHS:
            raise InvalidInput(
                N_("A period is at most %(limit)d months."), field="period", limit=MAX_MONTHS
            )

    @classmethod
    def year(cls, year: int) -> Period:
        if not 2000 <= year <= 2999:
            raise InvalidInput(N_("Give a year like 2026."), field="year")
        return cls(f"{year:04d}-01", f"{year:04d}-12")

    def months(self) -> list[str]:
        year, month = int(self.first[:4]), int(self.first[5:])
        found: list[str] = []
        while (text := f"{year:04d}-{month:02d}") <= self.last and len(found) <= MAX_MONTHS:
            found.append(text)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return found


@dataclass(frozen=True)
class Fact:
    """One report, as statistics see it: no one in it, nothing it says."""

    month: str
    category: str | None
    location: str | None
    reported_to_police: bool
    aftercare_taken: bool


@dataclass(frozen=True)
class Statistics:
    period: Period
    total: int
    by_category: tuple[tuple[str, int], ...]
    by_channel: tuple[tuple[str, int], ...]
    by_location: tuple[tuple[str, int], ...]
    by_month: tuple[tuple[str, int], ...]
    reported_to_police: int
    aftercare_taken: int

    def percent(self, count: int) -> float | None:
        return None if self.total == 0 else round(100 * count / self.total, 1)


def month_of(moment: datetime, timezone: str) -> str:
    """``YYYY-MM`` of ``moment`` in the organisation's time zone (how reports are counted)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m")


def is_reported_to_police(case: StaffCase | None) -> bool:
    if case is None:
        return False
    return case.police_decision in FILED_DECISIONS or case.police_filed_at is not None


def is_aftercare_taken(case: StaffCase | None) -> bool:
    return case is not None and case.aftercare_contact_at is not None


def report_statistics(session: Session, *, period: Period, timezone: str) -> Statistics:
    """The counts of ``period``: live reports and tombstones alike."""
    return summarise(
        period, [*_live_facts(session, period, timezone), *_tombstone_facts(session, period)]
    )


def summarise(period: Period, facts: Sequence[Fact]) -> Statistics:
    categories = Counter(fact.category or "unknown" for fact in facts)
    locations = Counter(fact.location or "unknown" for fact in facts)
    channels = Counter(_channel(fact.location) for fact in facts)
    months = Counter(fact.month for fact in facts)
    return Statistics(
        period=period,
        total=len(facts),
        by_category=_ordered(categories, [value.value for value in Category]),
        by_channel=_ordered(channels, [value.value for value in Channel]),
        by_location=_ordered(locations, [value.value for value in Location]),
        by_month=tuple((month, months[month]) for month in period.months()),
        reported_to_police=sum(fact.reported_to_police for fact in facts),
        aftercare_taken=sum(fact.aftercare_taken for fact in facts),
    )


def _ordered(counts: Counter[str], known: list[str]) -> tuple[tuple[str, int], ...]:
    """Every known value (zeros too) in its order, then stored values no longer known."""
    extra = sorted(value for value in counts if value not in known)
    return tuple((value, counts[value]) for value in [*known, *extra])


def _channel(location: str | None) -> str:
    try:
        return CHANNEL_OF[Location(location)].value if location else "unknown"
    except ValueError:
        return "unknown"


def _live_facts(session: Session, period: Period, timezone: str) -> Iterable[Fact]:
    zone = ZoneInfo(timezone)
    start = _month_start(period.first, zone)
    end = _month_start(_next_month(period.last), zone)
    query = (
        select(StaffReport, StaffCase)
        .outerjoin(StaffCase, StaffCase.report_id == StaffReport.id)
        .where(
            StaffReport.status == ReportStatus.SUBMITTED.value,
            StaffReport.submitted_at >= start,
            StaffReport.submitted_at < end,
        )
    )
    for report, case in session.execute(query):
        assert report.submitted_at is not None  # the query asks for it
        yield Fact(
            month=month_of(report.submitted_at, timezone),
            category=report.category,
            location=report.location,
            reported_to_police=is_reported_to_police(case),
            aftercare_taken=is_aftercare_taken(case),
        )


def _tombstone_facts(session: Session, period: Period) -> Iterable[Fact]:
    query = select(ReportTombstone).where(
        ReportTombstone.month >= period.first, ReportTombstone.month <= period.last
    )
    for stone in session.scalars(query):
        yield Fact(
            month=stone.month or "",
            category=stone.category,
            location=stone.location,
            reported_to_police=bool(stone.reported_to_police),
            aftercare_taken=bool(stone.aftercare_taken),
        )


def _month_start(month: str, zone: ZoneInfo) -> datetime:
    local = datetime(int(month[:4]), int(month[5:]), 1, tzinfo=zone)
    return local.astimezone(UTC)


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + 1:04d}-01" if number == 12 else f"{year:04d}-{number + 1:02d}"


def years_with_reports(session: Session, *, today: date) -> list[int]:
    """The years the year selector offers: from the first report (or tombstone) to today."""
    first_report = session.scalar(
        select(StaffReport.submitted_at)
        .where(StaffReport.submitted_at.is_not(None))
        .order_by(StaffReport.submitted_at)
        .limit(1)
    )
    first_stone = session.scalar(
        select(ReportTombstone.month)
        .where(ReportTombstone.month.is_not(None))
        .order_by(ReportTombstone.month)
        .limit(1)
    )
    years = [today.year]
    if first_report is not None:
        years.append(first_report.year)
    if first_stone:
        years.append(int(first_stone[:4]))
    return list(range(today.year, min(years) - 1, -1))


# --- the CSV export with small-cell suppression ---------------------------------------------


@dataclass
class _Cell:
    count: int
    mark: str = ""

    @property
    def suppressed(self) -> bool:
        return bool(self.mark)


@dataclass
class _Table:
    rows: list[tuple[str, str, _Cell]] = field(default_factory=list)  # (table, value, cell)
    groups: list[list[_Cell]] = field(default_factory=list)


def statistics_csv(stats: Statistics) -> str:
    """The CSV export (header ``table,value,count,percent``), suppressed as the module says."""
    table = _suppressed_table(stats)
    total = table.rows[0][2]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["table", "value", "count", "percent"])
    for name, value, cell in table.rows:
        writer.writerow(
            [_safe(name), _safe(value), cell.mark or str(cell.count), _percent(stats, cell, total)]
        )
    return out.getvalue()


def _suppressed_table(stats: Statistics) -> _Table:
    table = _Table()
    total = _Cell(stats.total)
    table.rows.append(("total", "reports", total))
    location_cells = {value: _Cell(count) for value, count in stats.by_location}
    single = _single_location_channels()
    channel_cells = {
        value: location_cells[single[value]] if value in single else _Cell(count)
        for value, count in stats.by_channel
    }
    category_cells = [_Cell(count) for _value, count in stats.by_category]
    month_cells = [_Cell(count) for _month, count in stats.by_month]
    table.rows += [
        ("category", value, cell)
        for (value, _), cell in zip(stats.by_category, category_cells, strict=True)
    ]
    table.rows += [("channel", value, cell) for value, cell in channel_cells.items()]
    table.rows += [("location", value, cell) for value, cell in location_cells.items()]
    table.rows += [
        ("month", month, cell) for (month, _), cell in zip(stats.by_month, month_cells, strict=True)
    ]
    table.groups = [
        category_cells,
        list(channel_cells.values()),
        list(location_cells.values()),
        month_cells,
        *_location_groups(location_cells),
    ]
    for cell in [
        total,
        *category_cells,
        *channel_cells.values(),
        *location_cells.values(),
        *month_cells,
    ]:
        if cell.count in SMALL:
            cell.mark = PRIMARY
    _complete_groups(table.groups)
    table.rows.append(("police", "reported", _share_cell(stats.reported_to_police, stats.total)))
    table.rows.append(
        ("aftercare", "contact_made", _share_cell(stats.aftercare_taken, stats.total))
    )
    return table


def _single_location_channels() -> dict[str, str]:
    """Channels reached through one location only: their cell is that location's cell."""
    by_channel: dict[str, list[str]] = {}
    for location, channel in CHANNEL_OF.items():
        by_channel.setdefault(channel.value, []).append(location.value)
    return {
        channel: locations[0] for channel, locations in by_channel.items() if len(locations) == 1
    }


def _location_groups(cells: dict[str, _Cell]) -> list[list[_Cell]]:
    """The locations of each channel with several (they add up to the channel's cell)."""
    by_channel: dict[Channel, list[_Cell]] = {}
    for location, channel in CHANNEL_OF.items():
        if location.value in cells:
            by_channel.setdefault(channel, []).append(cells[location.value])
    return [group for group in by_channel.values() if len(group) > 1]


def _complete_groups(groups: list[list[_Cell]]) -> None:
    """Withhold the smallest other non-zero cell of every group with one suppressed cell."""
    changed = True
    while changed:
        changed = False
        for group in groups:
            if sum(cell.suppressed for cell in group) != 1:
                continue
            others = [cell for cell in group if not cell.suppressed and cell.count > 0]
            if others:
                min(others, key=lambda cell: cell.count).mark = SECONDARY
                changed = True


def _share_cell(count: int, total: int) -> _Cell:
    cell = _Cell(count)
    if count in SMALL:
        cell.mark = PRIMARY
    elif total - count in SMALL:
        cell.mark = SECONDARY  # the total minus this count would be a small cell
    return cell


def _percent(stats: Statistics, cell: _Cell, total: _Cell) -> str:
    if cell.suppressed or total.suppressed:
        return SECONDARY
    share = stats.percent(cell.count)
    return "" if share is None else f"{share:.1f}"


def _safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (#48)."""
    return f"'{value}" if value.startswith(_FORMULA_START) else value
