"""Dutch working days: the calendar the staff-safety deadlines are counted in.

The issue's deadlines ("a police report within two working days") skip weekends and Dutch
public holidays. Public holidays come from the ``holidays`` library (``holidays.NL``, the
Algemene termijnenwet list), adjusted to what a Dutch government employer actually gives off:

- Good Friday is *not* a day off by default: the CAO Rijk does not make it one, although many
  organisations do (``good_friday_off=True``).
- Liberation Day (5 May) is a day off only in lustrum years (2025, 2030, ...), as in the CAO
  Rijk and in ``holidays.NL``; ``liberation_day_every_year=True`` makes it one every year.
- ``extra_holidays`` adds the organisation's own days (a bridge day, the Friday after
  Ascension Day) without touching code.

Dates are local dates in the organisation's time zone (``Europe/Amsterdam`` by default), so
a report at 00:30 local time on a Saturday (22:30 UTC on Friday) counts from Saturday.
Every ``datetime`` in and out is aware; results are in UTC.

"Within N working days" means: by the end of the Nth working day after the local date of the
moment, i.e. 23:59:59.999999 local time on that day. A report on Friday 16:00 is due at the
end of Tuesday; the day of the report itself never counts, even if it is a working day.
"""

from __future__ import annotations

import calendar as gregorian
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from dateutil.easter import easter

__all__ = ["WorkingDays", "easter_sunday"]

END_OF_DAY = time(23, 59, 59, 999_999)
SATURDAY = 5
LIBERATION_DAY = (5, 5)


def easter_sunday(year: int) -> date:
    """Easter Sunday (western, Gregorian), from python-dateutil (a dependency of ``holidays``).

    Good Friday is found by date, not by the library's (translated) holiday name.
    """
    found: date = easter(year)
    return found


def _require_aware(moment: datetime, name: str) -> None:
    if not isinstance(moment, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (got naive {moment.isoformat()})")


def _require_count(value: int, name: str) -> None:
    # bool is an int subclass; True as "one day" is always a caller's mistake.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be zero or more, got {value}")


class WorkingDays:
    """Working days of a Dutch organisation: Monday to Friday, minus the days off."""

    def __init__(
        self,
        timezone: str = "Europe/Amsterdam",
        *,
        extra_holidays: Iterable[date] = (),
        good_friday_off: bool = False,
        liberation_day_every_year: bool = False,
    ) -> None:
        try:
            self._zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {timezone!r}") from error
        extra = tuple(extra_holidays)
        for day in extra:
            # A datetime is a date too; accepting one would silently drop its time and zone.
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"extra_holidays must hold dates, got {day!r}")
        self.timezone = timezone
        self.extra_holidays = frozenset(extra)
        self.good_friday_off = good_friday_off
        self.liberation_day_every_year = liberation_day_every_year
        self._years: dict[int, dict[date, str]] = {}

    def holidays_in(self, year: int) -> dict[date, str]:
        """The days off in ``year`` that are not weekends by rule, with their names, by date.

        Holidays falling on a weekend (Easter Sunday, King's Day on the 26th) are listed too.
        """
        return dict(self._years_holidays(year))

    def _compute_year(self, year: int) -> dict[date, str]:
        days = {
            day: str(name)
            for day, name in holidays.country_holidays("NL", years=year, language="en_US").items()
        }
        if not self.good_friday_off:
            days.pop(easter_sunday(year) - timedelta(days=2), None)
        if self.liberation_day_every_year:
            days[date(year, *LIBERATION_DAY)] = "Liberation Day"
        for day in self.extra_holidays:
            if day.year == year:
                days.setdefault(day, "Organisation day off")
        return dict(sorted(days.items()))

    def local_date(self, moment: datetime) -> date:
        """The date of an aware moment in the organisation's time zone."""
        _require_aware(moment, "moment")
        return moment.astimezone(self._zone).date()

    def is_working_day(self, day: date) -> bool:
        """True from Monday to Friday unless the day is a day off. Takes a local date."""
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValueError(f"is_working_day takes a date (see local_date), got {day!r}")
        return day.weekday() < SATURDAY and day not in self._years_holidays(day.year)

    def _years_holidays(self, year: int) -> dict[date, str]:
        if year not in self._years:
            self._years[year] = self._compute_year(year)
        return self._years[year]

    def end_of_day(self, day: date) -> datetime:
        """23:59:59.999999 local time on ``day``, in UTC (no Dutch DST switch happens then)."""
        return datetime.combine(day, END_OF_DAY, tzinfo=self._zone).astimezone(UTC)

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """The end of the ``days``-th working day after the moment's local date, in UTC.

        ``days=0`` is the end of the moment's own day if that is a working day, else the end
        of the next working day: "today, or the first working day after it".
        """
        _require_aware(moment, "moment")
        _require_count(days, "days")
        day = self.local_date(moment)
        if days == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return self.end_of_day(day)
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return self.end_of_day(day)

    def working_days_between(self, start: date | datetime, end: date | datetime) -> int:
        """Working days after ``start``'s local date, up to and including ``end``'s.

        The inverse of ``add_working_days``: ``working_days_between(m, add_working_days(m, n))``
        is ``n`` for every ``n >= 1``. Aware datetimes are converted to local dates first.
        """
        first, last = self._as_local_date(start, "start"), self._as_local_date(end, "end")
        if last < first:
            raise ValueError(f"end ({last}) is before start ({first})")
        count = 0
        day = first
        while day < last:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count

    def _as_local_date(self, value: date | datetime, name: str) -> date:
        if isinstance(value, datetime):
            _require_aware(value, name)
            return value.astimezone(self._zone).date()
        if not isinstance(value, date):
            raise ValueError(f"{name} must be a date or an aware datetime, got {value!r}")
        return value

    def add_calendar_days(self, moment: datetime, days: int) -> datetime:
        """The same local wall-clock time ``days`` calendar days later, in UTC.

        Check-ins "in six weeks" keep the hour of day across a DST switch (16:00 stays 16:00).
        """
        _require_aware(moment, "moment")
        _require_count(days, "days")
        local = moment.astimezone(self._zone)
        # Aware arithmetic within one zone is wall-clock arithmetic; the offset is recomputed.
        return (local + timedelta(days=days)).astimezone(UTC)

    def add_calendar_months(self, moment: datetime, months: int) -> datetime:
        """The same local wall-clock time ``months`` calendar months later, in UTC.

        A day the target month lacks is clamped to its last day: 30 November + 3 months is
        28 (or 29) February.
        """
        _require_aware(moment, "moment")
        _require_count(months, "months")
        local = moment.astimezone(self._zone)
        year, month_index = divmod(local.month - 1 + months, 12)
        year += local.year
        month = month_index + 1
        day = min(local.day, gregorian.monthrange(year, month)[1])
        return local.replace(year=year, month=month, day=day).astimezone(UTC)
