"""Statistics of reports: the counts (live reports and tombstones, months in the organisation's
time zone), and the CSV export with small cells suppressed, compared as exact tables."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from core import InvalidInput, Settings
from staff_safety.models import ReportStatus, ReportTombstone, StaffReport
from staff_safety.statistics import Fact, Period, report_statistics, statistics_csv, summarise
from tests.unit.staff_safety.test_dossier import submitted_report

YEAR = Period.year(2026)


def facts(count: int, **values: object) -> list[Fact]:
    base: dict[str, object] = {
        "month": "2026-01",
        "category": "verbal_abuse",
        "location": "counter",
        "reported_to_police": False,
        "aftercare_taken": False,
    }
    return [Fact(**{**base, **values}) for _ in range(count)]


def test_counts_are_made_per_category_channel_location_and_month() -> None:
    stats = summarise(
        YEAR,
        [
            *facts(2, reported_to_police=True, aftercare_taken=True),
            *facts(1, category="doxing", location="social_media", month="2026-03"),
            *facts(1, category="threat_phone", location="phone", month="2026-03"),
        ],
    )

    assert stats.total == 4
    assert dict(stats.by_category) == {
        "verbal_abuse": 2,
        "threat_in_person": 0,
        "threat_phone": 1,
        "threat_letter": 0,
        "threat_email": 0,
        "threat_online": 0,
        "intimidation": 0,
        "physical_violence": 0,
        "vandalism": 0,
        "discrimination": 0,
        "sexual_intimidation": 0,
        "doxing": 1,
        "online_harassment": 0,
    }
    assert stats.by_channel == (
        ("in_person", 2),
        ("phone", 1),
        ("letter", 0),
        ("email", 0),
        ("online", 1),
    )
    assert dict(stats.by_location)["social_media"] == 1
    assert [count for _month, count in stats.by_month] == [2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    assert (stats.reported_to_police, stats.aftercare_taken) == (2, 2)
    assert stats.percent(stats.reported_to_police) == 50.0


EXPECTED_CSV = """\
table,value,count,percent
total,reports,12,100.0
category,verbal_abuse,9,75.0
category,threat_in_person,0,0.0
category,threat_phone,0,0.0
category,threat_letter,0,0.0
category,threat_email,<5,x
category,threat_online,0,0.0
category,intimidation,0,0.0
category,physical_violence,<5,x
category,vandalism,0,0.0
category,discrimination,0,0.0
category,sexual_intimidation,0,0.0
category,doxing,0,0.0
category,online_harassment,0,0.0
channel,in_person,x,x
channel,phone,0,0.0
channel,letter,0,0.0
channel,email,<5,x
channel,online,0,0.0
location,counter,x,x
location,office,<5,x
location,phone,0,0.0
location,letter,0,0.0
location,email,<5,x
location,social_media,0,0.0
location,home_visit,0,0.0
location,elsewhere,0,0.0
month,2026-01,x,x
month,2026-02,<5,x
month,2026-03,0,0.0
month,2026-04,0,0.0
month,2026-05,0,0.0
month,2026-06,0,0.0
month,2026-07,0,0.0
month,2026-08,0,0.0
month,2026-09,0,0.0
month,2026-10,0,0.0
month,2026-11,0,0.0
month,2026-12,0,0.0
police,reported,x,x
aftercare,contact_made,5,41.7
"""


def test_the_csv_suppresses_small_cells_and_what_would_give_them_away() -> None:
    # 12 reports. Verbal abuse in January: 6 at the counter and 3 in the office, all
    # reported, 5 with aftercare; by e-mail in February: 1 threat and 2 violence. Every 1-4
    # is "<5"; a group with one "<5" loses its smallest other non-zero cell too ("x"): the
    # counter (office is the only small in-person location), the in-person channel (e-mail
    # is the only small channel), January; 9 reported of 12 would give away 3 not reported.
    stats = summarise(
        YEAR,
        [
            *facts(5, reported_to_police=True, aftercare_taken=True),
            *facts(1, reported_to_police=True),
            *facts(3, location="office", reported_to_police=True),
            *facts(1, category="threat_email", location="email", month="2026-02"),
            *facts(2, category="physical_violence", location="email", month="2026-02"),
        ],
    )
    assert statistics_csv(stats).replace("\r\n", "\n") == EXPECTED_CSV


def test_a_total_under_five_suppresses_every_percentage() -> None:
    stats = summarise(YEAR, facts(3, reported_to_police=True))

    rows = statistics_csv(stats).splitlines()

    assert rows[1] == "total,reports,<5,x"
    assert all(row.endswith(",x") or row.endswith(",percent") for row in rows if ",0," not in row)
    assert "police,reported,<5,x" in rows


def test_no_reports_give_zeros_and_no_percentages() -> None:
    rows = statistics_csv(summarise(YEAR, [])).splitlines()

    assert rows[1] == "total,reports,0,"
    assert "police,reported,0," in rows


def test_a_stored_value_that_looks_like_a_formula_is_written_as_text() -> None:
    stats = summarise(YEAR, facts(6, category='=HYPERLINK("https://evil.example")'))

    text = statistics_csv(stats)

    assert "'=HYPERLINK" in text
    assert "\n=HYPERLINK" not in text
    assert ',"\'=HYPERLINK(""https://evil.example"")",6,100.0' in text


@pytest.mark.parametrize("start", ["+", "-", "@", "\t", "\r"])
def test_every_character_a_spreadsheet_starts_a_formula_with_is_neutralised(start: str) -> None:
    # SECURITY_CASES #48: not only "=": +cmd, -1+1, @SUM, a leading tab or carriage return.
    value = f"{start}SUM(1+1)*cmd|' /C calc'!A0"
    stats = summarise(YEAR, facts(6, category=value))

    text = statistics_csv(stats)

    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert f"'{value}" in cells  # shown as text
    assert value not in cells


def test_live_reports_and_tombstones_are_counted_in_the_local_month(
    db_session: Session, settings: Settings
) -> None:
    # 23:30 UTC on 31 January is already February in Amsterdam.
    late = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)
    report, _incident, case = submitted_report(db_session, settings, submitted_at=late)
    case.police_decision = "victim_with_support"
    case.aftercare_contact_at = late
    submitted_report(db_session, settings, submitted_at=datetime(2025, 12, 31, 12, tzinfo=UTC))
    db_session.add(
        StaffReport(
            status=ReportStatus.DRAFT.value,
            reporter_pseudonym="P-AAAA-AAAA",
            category="doxing",
            created_at=late,
            updated_at=late,
        )
    )
    db_session.add(
        ReportTombstone(
            report_id=999,
            number="MEL-2026-00999",
            category="doxing",
            location="social_media",
            month="2026-05",
            reported_to_police=True,
            purged_at=late,
            purged_by="system",
            reason="retention",
        )
    )
    db_session.flush()

    stats = report_statistics(db_session, period=YEAR, timezone=settings.timezone)

    assert stats.total == 2
    assert dict(stats.by_month)["2026-02"] == 1
    assert dict(stats.by_month)["2026-05"] == 1
    assert dict(stats.by_month)["2026-01"] == 0
    assert dict(stats.by_category)["doxing"] == 1
    assert (stats.reported_to_police, stats.aftercare_taken) == (2, 1)
    assert report.victim_pseudonym not in statistics_csv(stats)


@pytest.mark.parametrize(
    ("first", "last"),
    [("2026-13", "2026-12"), ("2026-1", "2026-12"), ("2026-05", "2026-04"), ("2000-01", "2020-12")],
)
def test_a_bad_period_is_refused(first: str, last: str) -> None:
    with pytest.raises(InvalidInput):
        Period(first, last)


def test_a_year_gives_its_twelve_months() -> None:
    assert Period.year(2026).months()[0] == "2026-01"
    assert len(Period.year(2026).months()) == 12
    with pytest.raises(InvalidInput):
        Period.year(1999)
