"""The staff-safety deadline job, with an injected clock: a report on Friday 24 April 2026 at
16:00, before King's Day (Monday 27 April), is due at the police by the end of the second
working day: Tuesday is the first, so the end of Wednesday 29 April, local time; a breach
escalates once (one breach row, one notification, an audit and a timeline entry), and the
aftercare deadlines count real hours and the two weeks after a decline.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from incidents.cases.timeline import entries
from incidents.notifications.models import Notification
from staff_safety.aftercare import record_aftercare
from staff_safety.calendar import WorkingDays
from staff_safety.deadline_job import escalate_staff_deadlines, met_at, recipients
from staff_safety.models import StaffDeadlineBreach
from staff_safety.police import record_decision
from staff_safety.workflow import set_responsible_manager
from tests.factories import make_user
from tests.unit.staff_safety.test_workflow import NOW, audited, make_case, officer

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CALENDAR = WorkingDays("Europe/Amsterdam")


def local(*parts):
    return datetime(*parts, tzinfo=AMSTERDAM).astimezone(UTC)


@pytest.fixture
def manager(db_session):
    return officer(db_session, "manager")


@pytest.fixture
def case(db_session, manager):
    incident, staff_case = make_case(db_session)  # Friday 24 April 2026, 16:00 local
    set_responsible_manager(
        db_session, incident_id=incident.id, user_id=manager.user_id, actor=manager, now=NOW
    )
    return incident, staff_case


def run(session, now):
    return escalate_staff_deadlines(session, calendar=CALENDAR, now=now)


def breaches(session):
    return list(session.scalars(select(StaffDeadlineBreach).order_by(StaffDeadlineBreach.id)))


def notifications(session):
    return list(session.scalars(select(Notification).where(Notification.kind == "deadline_breach")))


def test_the_police_deadline_skips_the_weekend_and_kings_day(db_session, case, manager):
    incident, _ = case
    contact = NOW + timedelta(hours=1)
    record_aftercare(
        db_session, incident_id=incident.id, step="contact", at=contact, actor=manager, now=contact
    )
    assert run(db_session, local(2026, 4, 28, 23, 0)) == 0  # Tuesday evening
    assert run(db_session, local(2026, 4, 29, 23, 0)) == 0  # Wednesday evening
    assert breaches(db_session) == []
    assert run(db_session, local(2026, 4, 30, 0, 1)) == 1
    (breach,) = breaches(db_session)
    assert breach.kind == "police_report"
    assert breach.due_at == local(2026, 4, 29, 23, 59, 59, 999999)
    (sent,) = notifications(db_session)
    assert sent.recipient_user_id == manager.user_id
    assert json.loads(sent.payload)["deadline"] == "police_report"
    assert len(audited(db_session, "staff_case.deadline_breached")) == 1
    assert [e.kind for e in entries(db_session, incident.id)].count("deadline_breached") == 1
    assert run(db_session, local(2026, 4, 30, 0, 2)) == 0
    assert len(breaches(db_session)) == 1
    assert len(notifications(db_session)) == 1


def test_a_decision_without_filing_meets_the_police_deadline(db_session, case, manager):
    incident, _ = case
    record_decision(
        db_session,
        incident_id=incident.id,
        decision="notification_only",
        actor=manager,
        now=NOW + timedelta(hours=1),
    )
    run(db_session, local(2026, 4, 30, 0, 1))
    assert "police_report" not in {breach.kind for breach in breaches(db_session)}


def test_aftercare_contact_is_due_within_72_real_hours(db_session, case):
    assert run(db_session, NOW + timedelta(hours=71)) == 0
    assert run(db_session, NOW + timedelta(hours=73)) == 1
    assert [breach.kind for breach in breaches(db_session)] == ["aftercare_contact"]


def test_after_a_decline_aftercare_is_offered_again_two_weeks_later(db_session, case, manager):
    incident, _ = case
    declined = NOW + timedelta(hours=2)
    record_aftercare(
        db_session,
        incident_id=incident.id,
        step="declined",
        at=declined,
        actor=manager,
        now=declined,
    )
    record_decision(
        db_session,
        incident_id=incident.id,
        decision="none",
        reason="Geen aangifte gewenst.",
        actor=manager,
        now=declined,
    )
    assert run(db_session, declined + timedelta(days=14) - timedelta(minutes=1)) == 0
    assert run(db_session, declined + timedelta(days=14, minutes=1)) == 1
    assert [breach.kind for breach in breaches(db_session)] == ["aftercare_reoffer"]


def test_a_closed_case_is_not_escalated(db_session, case):
    incident, _ = case
    incident.state, incident.closed_at = "closed", NOW
    db_session.flush()
    assert run(db_session, NOW + timedelta(days=200)) == 0


def test_without_a_manager_the_assignee_else_every_officer_is_told(db_session):
    incident, staff_case = make_case(db_session, number="MEL-2026-00002")
    first = officer(db_session, "een")
    second = officer(db_session, "twee")
    make_user(db_session, role="security_officer", is_active=False)
    assert recipients(db_session, incident, staff_case) == sorted([first.user_id, second.user_id])
    incident.assignee_id = second.user_id
    assert recipients(db_session, incident, staff_case) == [second.user_id]


def test_a_time_recorded_after_now_does_not_count_yet(db_session, case):
    _, staff_case = case
    staff_case.aftercare_contact_at = NOW + timedelta(days=1)
    assert met_at(staff_case, now=NOW) == {}
