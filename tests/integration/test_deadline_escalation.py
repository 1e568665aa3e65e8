"""The escalation job with an injected clock: a breach is recorded, audited, put on the
timeline and notified exactly once; met deadlines, closed and merged incidents never
breach; recipients are the assignee and reviewer, or every active officer. SQLite and
PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import func, select

from access_control.models import AuditEntry
from core import ConfigError
from incidents.cases.models import TimelineEntry
from incidents.deadlines.escalation import _record_breach, escalate_breaches, escalation_run
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.sla import DEFAULT_TABLE, DeadlineKind, deadlines_of
from incidents.notifications.models import Notification
from tests.factories import make_user
from tests.support.incident_factories import SEEN, make_incident
from wachter.jobs import jobs_for

T = SEEN


def count(session, model, **where) -> int:
    query = select(func.count()).select_from(model)
    for name, value in where.items():
        query = query.where(getattr(model, name) == value)
    return session.scalar(query)


def breach_audits(session) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == "incident.deadline_breached")
    return list(session.scalars(query))


@pytest.fixture
def officer(db_session):
    return make_user(db_session, role="security_officer", email="officer@example.nl")


def test_a_breach_escalates_once_at_the_moment_the_deadline_passes(db_session, officer):
    incident = make_incident(db_session, severity="critical", created_at=T, assignee_id=officer.id)

    assert escalate_breaches(db_session, now=T + timedelta(minutes=14), table=DEFAULT_TABLE) == 0
    assert count(db_session, DeadlineBreach) == 0

    assert escalate_breaches(db_session, now=T + timedelta(minutes=16), table=DEFAULT_TABLE) == 1
    breach = db_session.scalars(select(DeadlineBreach)).one()
    assert (breach.incident_id, breach.kind) == (incident.id, "acknowledge")
    assert breach.due_at == T + timedelta(minutes=15)
    assert breach.breached_at == T + timedelta(minutes=16)
    [audit] = breach_audits(db_session)
    assert (audit.actor, audit.target, audit.outcome) == (
        "system",
        f"incident:{incident.id}",
        "success",
    )
    assert orjson.loads(audit.details)["deadline"] == "acknowledge"
    [entry] = db_session.scalars(
        select(TimelineEntry).where(TimelineEntry.kind == "deadline_breached")
    ).all()
    assert (entry.incident_id, entry.actor) == (incident.id, "system")
    assert orjson.loads(entry.details)["due_at"] == (T + timedelta(minutes=15)).isoformat()
    [notification] = db_session.scalars(select(Notification)).all()
    assert notification.kind == "deadline_breach"
    assert notification.channel == "email"
    assert notification.recipient_user_id == officer.id
    assert notification.incident_id == incident.id
    assert orjson.loads(notification.payload)["deadline"] == "acknowledge"

    assert escalate_breaches(db_session, now=T + timedelta(minutes=20), table=DEFAULT_TABLE) == 0
    assert count(db_session, DeadlineBreach) == 1
    assert len(breach_audits(db_session)) == 1
    assert count(db_session, TimelineEntry, kind="deadline_breached") == 1
    assert count(db_session, Notification) == 1


def test_met_deadlines_never_breach(db_session, officer):
    make_incident(
        db_session,
        severity="critical",
        created_at=T,
        assignee_id=officer.id,
        acknowledged_at=T + timedelta(minutes=10),
        contained_at=T + timedelta(hours=3),
    )
    much_later = T + timedelta(days=2)
    assert escalate_breaches(db_session, now=much_later, table=DEFAULT_TABLE) == 0
    assert count(db_session, DeadlineBreach) == 0


def test_every_kind_breaches_on_its_own_once(db_session, officer):
    make_incident(db_session, severity="critical", created_at=T, assignee_id=officer.id)
    assert escalate_breaches(db_session, now=T + timedelta(days=4), table=DEFAULT_TABLE) == 3
    kinds = db_session.scalars(select(DeadlineBreach.kind).order_by(DeadlineBreach.due_at)).all()
    assert kinds == ["acknowledge", "contain", "resolve"]
    assert escalate_breaches(db_session, now=T + timedelta(days=5), table=DEFAULT_TABLE) == 0


def test_closed_merged_and_informational_incidents_are_not_escalated(db_session, officer):
    target = make_incident(db_session, severity="high", created_at=T, acknowledged_at=T)
    make_incident(db_session, severity="critical", created_at=T, merged_into_id=target.id)
    make_incident(
        db_session,
        severity="critical",
        created_at=T,
        state="closed",
        closed_at=T + timedelta(hours=1),
    )
    make_incident(db_session, severity="informational", created_at=T)
    escalated = escalate_breaches(db_session, now=T + timedelta(hours=2), table=DEFAULT_TABLE)
    assert escalated == 0


def test_the_assignee_and_reviewer_are_told(db_session, officer):
    reviewer = make_user(db_session, role="security_officer", email="reviewer@example.nl")
    bystander = make_user(db_session, role="security_officer", email="other@example.nl")
    make_incident(
        db_session,
        severity="critical",
        created_at=T,
        assignee_id=officer.id,
        reviewer_id=reviewer.id,
    )
    escalate_breaches(db_session, now=T + timedelta(minutes=16), table=DEFAULT_TABLE)
    recipients = set(db_session.scalars(select(Notification.recipient_user_id)))
    assert recipients == {officer.id, reviewer.id}
    assert bystander.id not in recipients


def test_while_nobody_is_assigned_every_active_officer_is_told(db_session, officer):
    second = make_user(db_session, role="security_officer", email="second@example.nl")
    make_user(db_session, role="security_officer", email="gone@example.nl", is_active=False)
    make_user(db_session, role="staff", email="staff@example.nl")
    make_user(db_session, role="security_officer")  # no address: nothing to send
    make_incident(db_session, severity="critical", created_at=T)
    escalate_breaches(db_session, now=T + timedelta(minutes=16), table=DEFAULT_TABLE)
    recipients = sorted(db_session.scalars(select(Notification.recipient_user_id)))
    assert recipients == sorted([officer.id, second.id])


def test_a_breach_another_worker_recorded_first_is_not_escalated_again(db_session, officer):
    incident = make_incident(db_session, severity="critical", created_at=T, assignee_id=officer.id)
    now = T + timedelta(minutes=16)
    [deadline] = [d for d in deadlines_of(incident, DEFAULT_TABLE, now=now) if d.breached]
    assert _record_breach(db_session, incident, deadline, now=now) is True
    # A second worker that read the breaches before the first committed gets here too:
    # its insert does nothing, so it writes no audit entry, timeline entry or notification.
    assert _record_breach(db_session, incident, deadline, now=now) is False
    assert count(db_session, DeadlineBreach) == 1
    assert len(breach_audits(db_session)) == 1
    assert count(db_session, Notification) == 1


def test_the_job_reads_the_deadlines_file(db_session, officer, tmp_path):
    path = tmp_path / "deadlines.yml"
    path.write_text("cyber:\n  high:\n    acknowledge: 5m\n", encoding="utf-8")
    run = escalation_run(path)
    make_incident(db_session, severity="high", created_at=T, assignee_id=officer.id)
    assert run(db_session, T + timedelta(minutes=4)) is False
    assert count(db_session, DeadlineBreach) == 0
    run(db_session, T + timedelta(minutes=6))
    assert db_session.scalars(select(DeadlineBreach.kind)).all() == [DeadlineKind.ACKNOWLEDGE]


def test_a_bad_deadlines_file_stops_the_jobs_from_starting(settings, tmp_path):
    path = tmp_path / "deadlines.yml"
    path.write_text("cyber:\n  hihg: {acknowledge: 5m}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"deadlines.yml, line 2: unknown severity 'hihg'"):
        jobs_for(dataclasses.replace(settings, deadlines_file=path))


def test_both_jobs_are_scheduled(settings):
    jobs = {job.name: job for job in jobs_for(settings)}
    assert jobs["incidents.escalate_deadlines"].interval == timedelta(seconds=30)
    assert jobs["incidents.send_notifications"].interval == timedelta(seconds=5)
