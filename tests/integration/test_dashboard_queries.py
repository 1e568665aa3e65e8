"""The dashboard's figures on known data, on SQLite and PostgreSQL: alerts per local day by
severity, open incidents by state and age, breaches on open incidents, the top rules, events
per hour and source, dead letters, and the staff-safety figures (live reports and tombstones)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from core import Settings
from incidents.dashboard import alerts_per_day, deadline_figures, open_incidents, top_rules
from incidents.deadlines.models import DeadlineBreach
from ingest.dashboard import OTHER, dead_letter_summary, ingest_rate
from ingest.dead_letters import Rejection, record_dead_letters
from staff_safety.dashboard import report_figures
from staff_safety.models import ReportTombstone
from storage.events import EventRecord, append_events
from tests.support.incident_factories import make_alert, make_incident
from tests.unit.staff_safety.test_dossier import submitted_report

# 14:00 in Amsterdam (summer time, UTC+2).
NOW = datetime(2026, 4, 10, 12, 0, tzinfo=UTC)
ZONE = "Europe/Amsterdam"


def test_alerts_are_counted_per_local_day_and_severity_over_30_days(db_session: Session) -> None:
    make_alert(db_session, severity="high", created_at=NOW - timedelta(hours=1))
    # 22:30 UTC on 9 April is 00:30 on 10 April in Amsterdam: today.
    make_alert(db_session, severity="critical", created_at=datetime(2026, 4, 9, 22, 30, tzinfo=UTC))
    make_alert(db_session, severity="low", created_at=datetime(2026, 4, 9, 21, 30, tzinfo=UTC))
    # The first day shown is 12 March (local); 23:30 local on 11 March is outside.
    make_alert(db_session, severity="low", created_at=datetime(2026, 3, 11, 23, 30, tzinfo=UTC))
    make_alert(db_session, severity="medium", created_at=datetime(2026, 3, 11, 22, 30, tzinfo=UTC))

    figures = alerts_per_day(db_session, now=NOW, timezone=ZONE)

    assert (figures.days[0], figures.days[-1], len(figures.days)) == (
        date(2026, 3, 12),
        date(2026, 4, 10),
        30,
    )
    counts = dict(zip(figures.severities, figures.counts, strict=True))
    assert figures.severities == ("informational", "low", "medium", "high", "critical")
    assert counts["high"][-1] == 1
    assert counts["critical"][-1] == 1
    assert counts["low"][-2] == 1  # 23:30 on 9 April
    assert counts["low"][0] == 1  # 00:30 on 12 March
    assert figures.total == 4


def test_open_incidents_are_counted_by_state_and_age_and_closed_or_merged_left_out(
    db_session: Session,
) -> None:
    make_incident(db_session, state="new", created_at=NOW - timedelta(hours=3))
    make_incident(db_session, state="new", created_at=NOW - timedelta(days=3))
    make_incident(db_session, state="triage", created_at=NOW - timedelta(days=30))
    make_incident(db_session, state="closed", created_at=NOW, closed_at=NOW)
    target = make_incident(db_session, state="triage", created_at=NOW)
    make_incident(db_session, state="merged", created_at=NOW, merged_into_id=target.id)

    figures = open_incidents(db_session, now=NOW)

    assert figures.states == ("new", "triage")
    assert figures.counts == ((1, 1), (1, 0), (0, 1))  # < 1 day, 1-7 days, > 7 days
    assert figures.by_age() == (("day", 2), ("week", 1), ("older", 1))
    assert figures.total == 4


def test_breaches_now_count_only_open_incidents_and_months_come_from_monthly_metrics(
    db_session: Session,
) -> None:
    still_open = make_incident(db_session, created_at=NOW - timedelta(days=2))
    closed = make_incident(
        db_session,
        created_at=NOW - timedelta(days=40),
        acknowledged_at=NOW - timedelta(days=40) + timedelta(minutes=30),
        closed_at=NOW - timedelta(days=30),
        state="closed",
    )
    for incident, kind in (
        (still_open, "acknowledge"),
        (still_open, "contain"),
        (closed, "resolve"),
    ):
        db_session.add(
            DeadlineBreach(
                incident_id=incident.id,
                kind=kind,
                due_at=incident.created_at + timedelta(hours=1),
                breached_at=incident.created_at + timedelta(hours=1, seconds=20),
            )
        )
    db_session.flush()

    figures = deadline_figures(db_session, now=NOW)

    assert figures.open_breaches == (("acknowledge", 1), ("contain", 1), ("resolve", 0))
    assert figures.open_breach_total == 2
    assert [month.month for month in figures.months][-1] == date(2026, 4, 1)
    assert sum(month.breach_total for month in figures.months) == 3
    march = figures.months[-2]
    assert march.mean_time_to_resolve == timedelta(days=10)
    assert figures.has_history


def test_top_rules_rank_rules_by_alerts_in_30_days_with_their_detections(
    db_session: Session,
) -> None:
    for _ in range(3):
        make_alert(db_session, rule_key="busy", created_at=NOW - timedelta(days=1), count=4)
    make_alert(db_session, rule_key="quiet", created_at=NOW - timedelta(days=2))
    make_alert(db_session, rule_key="old", created_at=NOW - timedelta(days=31))

    found = top_rules(db_session, now=NOW)

    assert [(rule.rule_key, rule.alerts, rule.detections) for rule in found] == [
        ("busy", 3, 12),
        ("quiet", 1, 1),
    ]
    assert found[0].title == "Rule busy"


def _event(source: str, key: str, timestamp: datetime) -> EventRecord:
    return EventRecord(
        source=source, event_key=key, timestamp=timestamp, ingested=NOW, document="{}"
    )


def test_events_are_counted_per_hour_and_source_with_the_quietest_sources_as_other(
    db_session: Session,
) -> None:
    records = [_event("syslog", f"s{n}", NOW - timedelta(minutes=5 + n)) for n in range(3)]
    records.append(_event("syslog", "old", NOW - timedelta(hours=24, minutes=1)))
    records.append(_event("syslog", "future", NOW + timedelta(hours=2)))
    records += [
        _event(f"http:{n}", f"h{n}", NOW - timedelta(hours=2, minutes=10)) for n in range(8)
    ]
    append_events(db_session, records)

    rate = ingest_rate(db_session, now=NOW)

    assert len(rate.hours) == 24
    assert rate.hours[-1] == NOW.replace(minute=0)
    totals = dict(rate.totals())
    assert rate.sources[0] == "syslog"
    assert totals["syslog"] == 3
    assert rate.counts[0][-2] == 3  # 11:55 to 11:53: the hour before the current one
    assert len(rate.sources) == 7
    assert rate.sources[-1] == OTHER
    assert totals[OTHER] == 3  # eight single-event sources: five by name, three as other
    assert rate.total == 11


def test_dead_letters_are_summarised_with_the_last_day_and_the_latest(
    db_session: Session,
) -> None:
    empty = dead_letter_summary(db_session, now=NOW)
    assert (empty.kept, empty.last_day, empty.latest_at) == (0, 0, None)
    for received_at in (NOW - timedelta(days=3), NOW - timedelta(hours=1)):
        record_dead_letters(
            db_session,
            [Rejection("not syslog", b"garbage")],
            receiver="syslog-udp",
            source="192.0.2.1",
            received_at=received_at,
        )

    summary = dead_letter_summary(db_session, now=NOW)

    assert (summary.kept, summary.last_day, summary.latest_at) == (
        2,
        1,
        NOW - timedelta(hours=1),
    )


def test_report_figures_cover_six_local_months_with_live_reports_and_tombstones(
    db_session: Session, settings: Settings
) -> None:
    _report, _incident, case = submitted_report(
        db_session, settings, category="verbal_abuse", location="counter", submitted_at=NOW
    )
    case.police_decision = "victim_with_support"
    case.aftercare_contact_at = NOW
    submitted_report(db_session, settings, submitted_at=datetime(2026, 1, 15, tzinfo=UTC))
    submitted_report(db_session, settings, submitted_at=datetime(2025, 10, 1, tzinfo=UTC))
    db_session.add(
        ReportTombstone(
            report_id=999,
            category="doxing",
            location="social_media",
            month="2025-11",
            aftercare_taken=True,
            purged_at=NOW,
            purged_by="system",
            reason="retention",
        )
    )
    db_session.flush()

    figures = report_figures(db_session, now=NOW, timezone=ZONE)

    assert [stats.period.first for stats in figures.months] == [
        "2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04",
    ]  # fmt: skip
    assert figures.overall.total == 3
    assert [stats.total for stats in figures.months] == [1, 0, 1, 0, 0, 1]
    assert dict(figures.months[-1].by_category)["verbal_abuse"] == 1
    assert dict(figures.months[0].by_channel)["online"] == 1
    assert (figures.overall.reported_to_police, figures.overall.aftercare_taken) == (1, 2)
    assert figures.police_rate == 33.3
    assert figures.aftercare_rate == 66.7
