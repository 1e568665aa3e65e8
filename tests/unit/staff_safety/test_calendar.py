"""Dutch working days: holidays, the organisation's choices, local dates and DST, bad input."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from staff_safety.calendar import WorkingDays, easter_sunday

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def end_of_local_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, 999_999, tzinfo=AMSTERDAM)


@pytest.fixture
def calendar() -> WorkingDays:
    return WorkingDays()


def test_weekends_are_not_working_days(calendar: WorkingDays) -> None:
    assert calendar.is_working_day(date(2026, 11, 27))  # Friday
    assert not calendar.is_working_day(date(2026, 11, 28))
    assert not calendar.is_working_day(date(2026, 11, 29))
    assert calendar.is_working_day(date(2026, 11, 30))


def test_kings_day_on_a_sunday_moves_to_saturday_the_26th(calendar: WorkingDays) -> None:
    # 27 April 2025 was a Sunday: King's Day was Saturday 26 April (the library's rule).
    assert calendar.holidays_in(2025)[date(2025, 4, 26)] == "King's Day"
    assert date(2025, 4, 27) not in calendar.holidays_in(2025)
    # 27 April 2026 is a Monday: a day off.
    assert not calendar.is_working_day(date(2026, 4, 27))


def test_ascension_thursday_is_off_and_the_friday_after_is_a_working_day(
    calendar: WorkingDays,
) -> None:
    assert not calendar.is_working_day(date(2026, 5, 14))
    assert calendar.is_working_day(date(2026, 5, 15))
    report = local(2026, 5, 13, 10, 0)  # Wednesday before Ascension Day
    assert calendar.add_working_days(report, 2) == end_of_local_day(date(2026, 5, 18))
    assert calendar.working_days_between(date(2026, 5, 13), date(2026, 5, 15)) == 1


def test_an_organisation_bridge_day_after_ascension_is_an_extra_holiday() -> None:
    calendar = WorkingDays(extra_holidays=[date(2026, 5, 15)])
    assert not calendar.is_working_day(date(2026, 5, 15))
    assert calendar.holidays_in(2026)[date(2026, 5, 15)] == "Organisation day off"
    report = local(2026, 5, 13, 10, 0)
    assert calendar.add_working_days(report, 2) == end_of_local_day(date(2026, 5, 19))


def test_a_report_on_friday_afternoon_is_due_at_the_end_of_tuesday(
    calendar: WorkingDays,
) -> None:
    due = calendar.add_working_days(local(2026, 11, 27, 16, 0), 2)
    assert due == end_of_local_day(date(2026, 12, 1))
    assert due == datetime(2026, 12, 1, 22, 59, 59, 999_999, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_a_report_on_friday_before_a_monday_holiday_is_due_at_the_end_of_wednesday(
    calendar: WorkingDays,
) -> None:
    # Pentecost Monday 25 May 2026.
    due = calendar.add_working_days(local(2026, 5, 22, 16, 0), 2)
    assert due == end_of_local_day(date(2026, 5, 27))


def test_good_friday_is_a_working_day_unless_the_organisation_gives_it_off() -> None:
    thursday_before_easter = local(2026, 4, 2, 10, 0)
    default = WorkingDays()
    assert default.is_working_day(date(2026, 4, 3))
    assert date(2026, 4, 3) not in default.holidays_in(2026)
    assert default.add_working_days(thursday_before_easter, 2) == end_of_local_day(date(2026, 4, 7))
    generous = WorkingDays(good_friday_off=True)
    assert not generous.is_working_day(date(2026, 4, 3))
    assert generous.add_working_days(thursday_before_easter, 2) == end_of_local_day(
        date(2026, 4, 8)
    )


def test_christmas_week_skips_both_christmas_days_and_new_years_day(
    calendar: WorkingDays,
) -> None:
    christmas_eve = local(2025, 12, 24, 11, 0)  # Wednesday; 25 and 26 December are off
    assert calendar.add_working_days(christmas_eve, 2) == end_of_local_day(date(2025, 12, 30))
    assert calendar.working_days_between(date(2025, 12, 24), date(2026, 1, 2)) == 4


def test_liberation_day_is_off_only_in_lustrum_years_by_default(calendar: WorkingDays) -> None:
    assert not calendar.is_working_day(date(2025, 5, 5))  # Monday, lustrum year
    assert calendar.is_working_day(date(2026, 5, 5))  # Tuesday
    assert calendar.is_working_day(date(2027, 5, 5))  # Wednesday


def test_liberation_day_every_year_makes_5_may_always_a_day_off() -> None:
    calendar = WorkingDays(liberation_day_every_year=True)
    assert not calendar.is_working_day(date(2026, 5, 5))
    assert not calendar.is_working_day(date(2027, 5, 5))
    assert calendar.holidays_in(2026)[date(2026, 5, 5)] == "Liberation Day"


def test_counting_across_the_spring_dst_weekend_ends_at_local_midnight(
    calendar: WorkingDays,
) -> None:
    # Clocks go forward on Sunday 29 March 2026; Tuesday's end is 21:59:59.999999 UTC.
    due = calendar.add_working_days(local(2026, 3, 27, 16, 0), 2)
    assert due == datetime(2026, 3, 31, 21, 59, 59, 999_999, tzinfo=UTC)


def test_counting_across_the_autumn_dst_weekend_ends_at_local_midnight(
    calendar: WorkingDays,
) -> None:
    # Clocks go back on Sunday 25 October 2026; Tuesday's end is 22:59:59.999999 UTC.
    due = calendar.add_working_days(local(2026, 10, 23, 16, 0), 2)
    assert due == datetime(2026, 10, 27, 22, 59, 59, 999_999, tzinfo=UTC)


def test_the_local_date_counts_not_the_utc_date(calendar: WorkingDays) -> None:
    # 23:30 UTC on Sunday is 00:30 on Monday in Amsterdam: Monday is the report day.
    moment = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert calendar.local_date(moment) == date(2026, 11, 30)
    assert calendar.add_working_days(moment, 2) == end_of_local_day(date(2026, 12, 2))
    in_utc = WorkingDays("UTC")
    assert in_utc.add_working_days(moment, 2) == datetime(
        2026, 12, 1, 23, 59, 59, 999_999, tzinfo=UTC
    )


def test_zero_working_days_is_today_or_the_next_working_day(calendar: WorkingDays) -> None:
    assert calendar.add_working_days(local(2026, 11, 27, 9, 0), 0) == end_of_local_day(
        date(2026, 11, 27)
    )
    assert calendar.add_working_days(local(2026, 11, 28, 9, 0), 0) == end_of_local_day(
        date(2026, 11, 30)
    )


def test_working_days_between_is_the_inverse_of_adding_them(calendar: WorkingDays) -> None:
    start = local(2025, 12, 19, 16, 0)
    for days in range(1, 40):
        assert calendar.working_days_between(start, calendar.add_working_days(start, days)) == days
    assert calendar.working_days_between(start, start) == 0


def test_calendar_months_clamp_to_the_end_of_a_shorter_month(calendar: WorkingDays) -> None:
    assert calendar.add_calendar_months(local(2026, 11, 30, 10, 0), 3) == local(2027, 2, 28, 10, 0)
    assert calendar.add_calendar_months(local(2027, 11, 30, 10, 0), 3) == local(2028, 2, 29, 10, 0)
    assert calendar.add_calendar_months(local(2026, 8, 31, 10, 0), 3) == local(2026, 11, 30, 10, 0)


def test_calendar_days_keep_the_local_time_across_a_dst_switch(calendar: WorkingDays) -> None:
    later = calendar.add_calendar_days(local(2026, 3, 2, 16, 0), 42)
    assert later == datetime(2026, 4, 13, 14, 0, tzinfo=UTC)  # 16:00 CEST
    assert later.tzinfo is UTC


def test_easter_sunday_matches_known_dates() -> None:
    assert easter_sunday(2024) == date(2024, 3, 31)
    assert easter_sunday(2025) == date(2025, 4, 20)
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2038) == date(2038, 4, 25)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.add_working_days(datetime(2026, 11, 27, 16, 0), 2),
        lambda c: c.local_date(datetime(2026, 11, 27, 16, 0)),
        lambda c: c.working_days_between(datetime(2026, 11, 27), date(2026, 12, 1)),
        lambda c: c.working_days_between(date(2026, 11, 27), datetime(2026, 12, 1)),
        lambda c: c.add_calendar_days(datetime(2026, 11, 27, 16, 0), 42),
        lambda c: c.add_calendar_months(datetime(2026, 11, 27, 16, 0), 3),
    ],
    ids=["add", "local_date", "between_start", "between_end", "calendar_days", "months"],
)
def test_naive_datetimes_are_rejected(calendar: WorkingDays, call: object) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(calendar)  # type: ignore[operator]


@pytest.mark.parametrize("days", [-1, -10])
def test_negative_day_counts_are_rejected(calendar: WorkingDays, days: int) -> None:
    moment = local(2026, 11, 27, 16, 0)
    with pytest.raises(ValueError, match="zero or more"):
        calendar.add_working_days(moment, days)
    with pytest.raises(ValueError, match="zero or more"):
        calendar.add_calendar_days(moment, days)
    with pytest.raises(ValueError, match="zero or more"):
        calendar.add_calendar_months(moment, days)


def test_a_bool_or_float_day_count_is_rejected(calendar: WorkingDays) -> None:
    moment = local(2026, 11, 27, 16, 0)
    with pytest.raises(ValueError, match="must be an int"):
        calendar.add_working_days(moment, True)
    with pytest.raises(ValueError, match="must be an int"):
        calendar.add_working_days(moment, 2.0)  # type: ignore[arg-type]


def test_is_working_day_rejects_a_datetime(calendar: WorkingDays) -> None:
    with pytest.raises(ValueError, match="takes a date"):
        calendar.is_working_day(datetime(2026, 11, 27, 23, 30, tzinfo=UTC))


def test_an_end_before_the_start_is_rejected(calendar: WorkingDays) -> None:
    with pytest.raises(ValueError, match="before start"):
        calendar.working_days_between(date(2026, 12, 1), date(2026, 11, 27))


def test_a_start_that_is_not_a_date_is_rejected(calendar: WorkingDays) -> None:
    with pytest.raises(ValueError, match="date or an aware datetime"):
        calendar.working_days_between("2026-11-27", date(2026, 12, 1))  # type: ignore[arg-type]


def test_an_unknown_time_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingDays("Europe/Atlantis")
    with pytest.raises(ValueError, match="unknown time zone"):
        WorkingDays("../etc/passwd")


@pytest.mark.parametrize("bad", [datetime(2026, 5, 15, tzinfo=UTC), "2026-05-15"])
def test_extra_holidays_must_be_dates(bad: object) -> None:
    with pytest.raises(ValueError, match="extra_holidays must hold dates"):
        WorkingDays(extra_holidays=[bad])  # type: ignore[list-item]
