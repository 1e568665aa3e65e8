"""The deadlines of an aggression report and which were breached, with an injected ``now``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from staff_safety.calendar import WorkingDays
from staff_safety.deadlines import (
    Breach,
    Deadline,
    DeadlineKind,
    StaffSafetyDeadlines,
    breached,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CALENDAR = WorkingDays()
FRIDAY_AFTERNOON = datetime(2026, 11, 27, 16, 0, tzinfo=AMSTERDAM)
POLICE, CONTACT, REOFFER = (
    DeadlineKind.POLICE_REPORT,
    DeadlineKind.AFTERCARE_CONTACT,
    DeadlineKind.AFTERCARE_REOFFER,
)


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def for_report(reported_at: datetime = FRIDAY_AFTERNOON, **options: object) -> StaffSafetyDeadlines:
    return StaffSafetyDeadlines.for_report(reported_at, calendar=CALENDAR, **options)  # type: ignore[arg-type]


def test_a_report_gets_four_deadlines_in_due_order_without_a_declined_aftercare() -> None:
    deadlines = for_report()
    assert [deadline.kind for deadline in deadlines] == [
        DeadlineKind.AFTERCARE_CONTACT,  # Monday 30 November 16:00
        DeadlineKind.POLICE_REPORT,  # Tuesday 1 December, end of day
        DeadlineKind.CHECK_IN_6_WEEKS,
        DeadlineKind.CHECK_IN_3_MONTHS,
    ]
    assert deadlines.get(REOFFER) is None
    assert all(deadline.due_at.tzinfo is UTC for deadline in deadlines)


def test_each_deadline_follows_its_rule() -> None:
    deadlines = for_report()
    assert deadlines.due_at(POLICE) == datetime(2026, 12, 1, 22, 59, 59, 999_999, tzinfo=UTC)
    assert deadlines.due_at(CONTACT) == local(2026, 11, 30, 16, 0)
    assert deadlines.due_at(DeadlineKind.CHECK_IN_6_WEEKS) == local(2027, 1, 8, 16, 0)
    assert deadlines.due_at(DeadlineKind.CHECK_IN_3_MONTHS) == local(2027, 2, 27, 16, 0)
    assert deadlines.reported_at == FRIDAY_AFTERNOON.astimezone(UTC)


def test_the_police_report_deadline_skips_a_monday_holiday() -> None:
    # Friday before Pentecost Monday (25 May 2026): due at the end of Wednesday.
    deadlines = for_report(local(2026, 5, 22, 16, 0))
    assert deadlines.due_at(POLICE) == local(2026, 5, 27, 23, 59) + timedelta(
        seconds=59, microseconds=999_999
    )


def test_aftercare_contact_is_72_real_hours_across_a_dst_switch() -> None:
    reported = local(2026, 3, 27, 16, 0)  # clocks go forward on Sunday 29 March
    due = for_report(reported).due_at(CONTACT)
    assert due - reported == timedelta(hours=72)
    assert due.astimezone(AMSTERDAM).hour == 17  # one hour later on the wall clock
    reported = local(2026, 10, 23, 16, 0)  # clocks go back on Sunday 25 October
    due = for_report(reported).due_at(CONTACT)
    assert due - reported == timedelta(hours=72)
    assert due.astimezone(AMSTERDAM).hour == 15


def test_the_three_month_check_in_from_30_november_is_the_end_of_february() -> None:
    assert for_report(local(2026, 11, 30, 10, 0)).due_at(DeadlineKind.CHECK_IN_3_MONTHS) == local(
        2027, 2, 28, 10, 0
    )
    assert for_report(local(2027, 11, 30, 10, 0)).due_at(DeadlineKind.CHECK_IN_3_MONTHS) == local(
        2028, 2, 29, 10, 0
    )


def test_declined_aftercare_is_offered_again_two_weeks_later() -> None:
    declined = local(2026, 11, 30, 11, 0)
    deadlines = for_report(aftercare_declined_at=declined)
    assert deadlines.due_at(REOFFER) == local(2026, 12, 14, 11, 0)
    assert len(deadlines.deadlines) == 5


def test_a_missing_deadline_kind_raises_key_error() -> None:
    with pytest.raises(KeyError):
        for_report().due_at(REOFFER)


def test_nothing_is_breached_before_anything_is_due() -> None:
    assert breached(for_report(), met={}, now=FRIDAY_AFTERNOON + timedelta(hours=1)) == []


def test_an_unmet_deadline_past_due_is_an_open_breach() -> None:
    deadlines = for_report()
    now = local(2026, 12, 2, 9, 0)
    found = breached(deadlines, met={}, now=now)
    assert [breach.deadline.kind for breach in found] == [CONTACT, POLICE]
    assert all(breach.is_still_open and breach.met_at is None for breach in found)


def test_a_deadline_met_in_time_is_not_breached_even_when_met_exactly_at_due() -> None:
    deadlines = for_report()
    met = {POLICE: deadlines.due_at(POLICE), CONTACT: local(2026, 11, 28, 10, 0)}
    assert breached(deadlines, met=met, now=local(2026, 12, 10, 9, 0)) == []


def test_the_moment_of_due_itself_is_not_yet_a_breach() -> None:
    deadlines = for_report()
    due = deadlines.due_at(CONTACT)
    assert breached(deadlines, met={}, now=due) == []
    assert breached(deadlines, met={}, now=due + timedelta(microseconds=1))[0].deadline.kind == (
        CONTACT
    )


def test_a_deadline_met_late_is_reported_as_breached_then_met() -> None:
    deadlines = for_report()
    late = local(2026, 12, 3, 10, 0)
    found = breached(deadlines, met={POLICE: late, CONTACT: late}, now=local(2026, 12, 10, 9, 0))
    assert found == [
        Breach(Deadline(CONTACT, deadlines.due_at(CONTACT)), late.astimezone(UTC)),
        Breach(Deadline(POLICE, deadlines.due_at(POLICE)), late.astimezone(UTC)),
    ]
    assert not any(breach.is_still_open for breach in found)


def test_a_deadline_is_normalised_to_utc() -> None:
    deadline = Deadline(POLICE, local(2026, 12, 1, 12, 0))
    assert deadline.due_at.tzinfo is UTC
    assert deadline == Deadline(POLICE, datetime(2026, 12, 1, 11, 0, tzinfo=UTC))


def test_a_deadline_with_a_naive_due_at_or_unknown_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Deadline(POLICE, datetime(2026, 12, 1, 12, 0))
    with pytest.raises(ValueError, match="DeadlineKind"):
        Deadline("police", datetime(2026, 12, 1, 12, 0, tzinfo=UTC))  # type: ignore[arg-type]


def test_a_naive_report_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="reported_at must be timezone-aware"):
        for_report(datetime(2026, 11, 27, 16, 0))


def test_a_naive_declined_time_is_rejected() -> None:
    with pytest.raises(ValueError, match="aftercare_declined_at must be timezone-aware"):
        for_report(aftercare_declined_at=datetime(2026, 11, 30, 11, 0))


def test_aftercare_declined_before_the_report_is_rejected() -> None:
    with pytest.raises(ValueError, match="before reported_at"):
        for_report(aftercare_declined_at=FRIDAY_AFTERNOON - timedelta(minutes=1))


def test_breached_rejects_a_naive_now_or_met_time() -> None:
    deadlines = for_report()
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        breached(deadlines, met={}, now=datetime(2026, 12, 10, 9, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        breached(deadlines, met={POLICE: datetime(2026, 11, 30, 9, 0)}, now=local(2026, 12, 10))


def test_breached_rejects_a_met_time_after_now() -> None:
    with pytest.raises(ValueError, match="after now"):
        breached(for_report(), met={POLICE: local(2026, 12, 11)}, now=local(2026, 12, 10))


def test_breached_rejects_a_met_kind_the_report_has_no_deadline_for() -> None:
    with pytest.raises(ValueError, match="not among the deadlines"):
        breached(for_report(), met={REOFFER: local(2026, 12, 1)}, now=local(2026, 12, 10))


def test_breached_rejects_the_same_kind_twice() -> None:
    twice = [Deadline(POLICE, local(2026, 12, 1)), Deadline(POLICE, local(2026, 12, 2))]
    with pytest.raises(ValueError, match="same kind twice"):
        breached(twice, met={}, now=local(2026, 12, 10))


def test_deadlines_are_computed_in_the_calendars_time_zone() -> None:
    in_utc = StaffSafetyDeadlines.for_report(
        datetime(2026, 11, 29, 23, 30, tzinfo=UTC), calendar=WorkingDays("UTC")
    )
    in_amsterdam = for_report(datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    assert in_utc.due_at(POLICE).date() == date(2026, 12, 1)
    assert in_amsterdam.due_at(POLICE).astimezone(AMSTERDAM).date() == date(2026, 12, 2)
