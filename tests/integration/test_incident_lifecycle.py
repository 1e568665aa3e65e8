"""Incidents through the service on SQLite and PostgreSQL: opening one by hand or from
alerts, transitions and their milestones, field changes and assignment notifications,
listing, and refusals that store nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound
from incidents.alerts.models import AlertEntity
from incidents.cases.models import Incident, IncidentAlert, IncidentEntity, IncidentTask
from incidents.cases.playbooks import install_default_playbooks
from incidents.cases.service import (
    IncidentChanges,
    add_alerts_to_incident,
    create_incident,
    list_incidents,
    open_incident_from_alerts,
    transition,
    update_fields,
)
from incidents.cases.timeline import entries
from incidents.feeds.models import AlertFeedEntry, WebhookSubscription
from incidents.notifications.models import Notification
from tests.factories import make_user
from tests.support.incident_factories import make_alert

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OFFICER = Actor(name="officier", user_id=None, ip="192.0.2.5")


@pytest.fixture
def officer(db_session):
    return make_user(db_session, role="security_officer", email="officier@example.org")


@pytest.fixture
def playbooks(db_session):
    install_default_playbooks(db_session, NOW - timedelta(days=1))


def audit_actions(session, target):
    query = select(AuditEntry.action).where(AuditEntry.target == target).order_by(AuditEntry.id)
    return list(session.scalars(query))


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def open_one(session, **overrides):
    values = {
        "title": "Verdachte aanmeldingen",
        "incident_type": "cyber",
        "severity": "high",
        "actor": OFFICER,
        "now": NOW,
    }
    values.update(overrides)
    return create_incident(session, **values)


# Opening -------------------------------------------------------------------------------


def test_an_incident_opened_by_hand_gets_its_reference_audit_and_timeline(db_session, playbooks):
    incident = open_one(db_session, description="Veel mislukte aanmeldingen", tlp="red")
    assert incident.reference == f"INC-2026-{incident.id:05d}"
    assert (incident.state, incident.tlp, incident.created_by) == ("new", "red", "officier")
    assert audit_actions(db_session, f"incident:{incident.id}")[:2] == [
        "incident.created",
        "incident.playbook_applied",
    ]
    assert [entry.kind for entry in entries(db_session, incident.id)] == [
        "created",
        "playbook_applied",
    ]


@pytest.mark.parametrize(
    ("field", "value"), [("title", "a\x00b"), ("description", "\ud800"), ("playbook_key", "p\x00")]
)
def test_text_no_database_can_store_is_refused_by_the_service(db_session, field, value):
    # The check lives with the fields, so the console's form is held to it as the API is.
    with pytest.raises(InvalidInput) as refused:
        open_one(db_session, **{field: value})
    assert "may not hold NUL or unpaired surrogates" in refused.value.message


def test_the_playbook_is_applied_on_creation_with_due_dates(db_session, playbooks):
    incident = open_one(db_session)
    tasks = db_session.scalars(
        select(IncidentTask)
        .where(IncidentTask.incident_id == incident.id)
        .order_by(IncidentTask.id)
    ).all()
    by_key = {task.playbook_task_key: task for task in tasks}
    assert by_key["scope"].title == "Omvang vaststellen"
    assert by_key["scope"].due_at == NOW + timedelta(minutes=60)
    assert by_key["isolate-hosts"].due_at == NOW + timedelta(minutes=240)
    assert by_key["lessons-learned"].due_at == NOW + timedelta(days=14)
    assert {task.status for task in tasks} == {"open"}
    assert incident.playbook_version_id is not None


def test_without_an_installed_playbook_an_incident_opens_without_tasks(db_session):
    incident = open_one(db_session)
    assert incident.playbook_version_id is None
    assert count(db_session, IncidentTask) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"incident_type": "flood"}, "type"),
        ({"severity": "urgent"}, "severity"),
        ({"tlp": "purple"}, "tlp"),
        ({"description": "x" * 20_001}, "description"),
        ({"assignee_id": 999_999}, "assignee_id"),
        ({"playbook_key": "no-such-playbook"}, "playbook"),
    ],
)
def test_bad_fields_are_refused_and_nothing_is_stored(db_session, playbooks, overrides, field):
    audited = count(db_session, AuditEntry)
    with pytest.raises(InvalidInput) as refused:
        open_one(db_session, **overrides)
    assert refused.value.field == field
    assert count(db_session, Incident) == 0
    assert count(db_session, AuditEntry) == audited


def test_only_active_officers_can_be_assigned(db_session):
    staff = make_user(db_session, role="staff")
    gone = make_user(db_session, role="security_officer", is_active=False)
    for user in (staff, gone):
        with pytest.raises(InvalidInput) as refused:
            open_one(db_session, reviewer_id=user.id)
        assert refused.value.field == "reviewer_id"


# From alerts ---------------------------------------------------------------------------


def test_escalating_alerts_opens_an_incident_titled_after_the_first_and_as_severe_as_the_worst(
    db_session, playbooks
):
    first = make_alert(db_session, title="Brute force op vpn", severity="medium")
    worst = make_alert(db_session, title="Aanmelding als root", severity="critical")
    incident = open_incident_from_alerts(
        db_session, alert_ids=[first.id, worst.id], actor=Actor.system(), now=NOW
    )
    assert (incident.title, incident.severity, incident.type) == (
        "Brute force op vpn",
        "critical",
        "cyber",
    )
    for alert in (first, worst):
        db_session.refresh(alert)
        assert (alert.status, alert.incident_id, alert.version) == ("escalated", incident.id, 2)
        link = db_session.get(IncidentAlert, alert.id)
        assert (link.incident_id, link.origin_incident_id) == (incident.id, incident.id)
    feed = db_session.scalars(select(AlertFeedEntry).order_by(AlertFeedEntry.id)).all()
    assert [(entry.alert_id, entry.alert_version) for entry in feed] == [
        (first.id, 2),
        (worst.id, 2),
    ]
    assert json.loads(feed[0].document)["wachter"]["alert"]["incident_id"] == incident.id
    assert "alert_added" in [entry.kind for entry in entries(db_session, incident.id)]


def test_escalation_copies_the_alerts_entities_once(db_session):
    one, two = make_alert(db_session), make_alert(db_session)
    for alert, kind, value in [
        (one, "ip", "192.0.2.7"),
        (one, "account", "jdevries"),
        (two, "ip", "192.0.2.7"),
        (two, "host", "ws-042"),
    ]:
        db_session.add(AlertEntity(alert_id=alert.id, kind=kind, value=value))
    incident = open_incident_from_alerts(
        db_session, alert_ids=[one.id, two.id], actor=OFFICER, now=NOW
    )
    stored = db_session.execute(
        select(IncidentEntity.kind, IncidentEntity.value).where(
            IncidentEntity.incident_id == incident.id
        )
    ).all()
    assert sorted(stored) == [("account", "jdevries"), ("host", "ws-042"), ("ip", "192.0.2.7")]


def test_escalation_enqueues_an_escalation_notification(db_session):
    db_session.add(
        WebhookSubscription(
            name="meldingen",
            url="https://soc.example.org/hook",
            secret=b"encrypted",
            purpose="notifications",
            active=True,
            created_at=NOW,
            created_by="test",
        )
    )
    alert = make_alert(db_session)
    incident = open_incident_from_alerts(db_session, alert_ids=[alert.id], actor=OFFICER, now=NOW)
    # Nobody is assigned yet, so no e-mail: the notification webhooks hear of it.
    [notification] = db_session.scalars(select(Notification)).all()
    assert (notification.kind, notification.channel, notification.incident_id) == (
        "escalation",
        "webhook",
        incident.id,
    )
    assert json.loads(notification.payload)["reference"] == incident.reference


def test_an_alert_already_in_an_incident_cannot_be_escalated_again(db_session):
    alert = make_alert(db_session)
    first = open_incident_from_alerts(db_session, alert_ids=[alert.id], actor=OFFICER, now=NOW)
    with pytest.raises(Conflict) as refused:
        open_incident_from_alerts(db_session, alert_ids=[alert.id], actor=OFFICER, now=NOW)
    assert first.reference in refused.value.message
    assert count(db_session, Incident) == 1


@pytest.mark.parametrize(("alert_ids", "error"), [([], InvalidInput), ([999_999], NotFound)])
def test_escalating_no_or_unknown_alerts_is_refused(db_session, alert_ids, error):
    with pytest.raises(error):
        open_incident_from_alerts(db_session, alert_ids=alert_ids, actor=OFFICER, now=NOW)
    assert count(db_session, Incident) == 0


def test_a_closed_alert_cannot_go_into_an_incident(db_session):
    alert = make_alert(db_session, status="closed")
    with pytest.raises(Conflict):
        open_incident_from_alerts(db_session, alert_ids=[alert.id], actor=OFFICER, now=NOW)


def test_alerts_added_to_an_existing_incident_are_marked_merged(db_session):
    incident = open_one(db_session)
    alert = make_alert(db_session)
    add_alerts_to_incident(
        db_session, incident_id=incident.id, alert_ids=[alert.id], actor=OFFICER, now=NOW
    )
    db_session.refresh(alert)
    assert (alert.status, alert.incident_id) == ("merged", incident.id)
    assert "incident.alerts_added" in audit_actions(db_session, f"incident:{incident.id}")


# Transitions and milestones ------------------------------------------------------------


def test_milestones_are_set_once_and_closing_sets_and_reopening_clears_closed_at(db_session):
    incident = open_one(db_session)
    steps = [
        ("triage", {}),
        ("containment", {}),
        ("eradication", {}),
        ("containment", {}),  # it spread again
        ("eradication", {}),
        ("recovery", {}),
        ("post_incident_review", {}),
        ("closed", {"resolution": "resolved", "summary": "Phishing, twee accounts hersteld."}),
    ]
    for minute, (state, reasons) in enumerate(steps, 1):
        transition(
            db_session,
            incident.id,
            state,
            actor=OFFICER,
            now=NOW + timedelta(minutes=minute),
            **reasons,
        )
    assert incident.acknowledged_at == NOW + timedelta(minutes=1)
    assert incident.contained_at == NOW + timedelta(minutes=3)  # the first eradication
    assert incident.closed_at == NOW + timedelta(minutes=8)
    assert (incident.resolution, incident.summary) == (
        "resolved",
        "Phishing, twee accounts hersteld.",
    )
    transition(db_session, incident.id, "triage", actor=OFFICER, now=NOW + timedelta(hours=1))
    assert (incident.state, incident.closed_at, incident.resolution) == ("triage", None, None)
    assert incident.acknowledged_at == NOW + timedelta(minutes=1)
    changes = [
        orjson.loads(entry.details)
        for entry in entries(db_session, incident.id)
        if entry.kind == "state_changed"
    ]
    assert [(change["from"], change["to"]) for change in changes][-2:] == [
        ("post_incident_review", "closed"),
        ("closed", "triage"),
    ]
    assert audit_actions(db_session, f"incident:{incident.id}").count("incident.state_changed") == 9


def test_an_invalid_transition_changes_nothing(db_session):
    incident = open_one(db_session)
    with pytest.raises(Conflict) as refused:
        transition(
            db_session,
            incident.id,
            "closed",
            resolution="resolved",
            summary="x",
            actor=OFFICER,
            now=NOW,
        )
    assert "triage" in refused.value.message
    assert (incident.state, incident.acknowledged_at) == ("new", None)


def test_closing_without_a_summary_is_refused(db_session):
    incident = open_one(db_session)
    transition(db_session, incident.id, "triage", actor=OFFICER, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        transition(
            db_session,
            incident.id,
            "closed",
            resolution="false_positive",
            summary=" ",
            actor=OFFICER,
            now=NOW,
        )
    assert refused.value.field == "summary"
    assert incident.state == "triage"


def test_a_physical_incident_is_contained_at_review(db_session):
    incident = open_one(db_session, incident_type="physical")
    for minute, state in enumerate(["triage", "response", "review"], 1):
        transition(
            db_session, incident.id, state, actor=OFFICER, now=NOW + timedelta(minutes=minute)
        )
    assert incident.contained_at == NOW + timedelta(minutes=3)


def test_an_unknown_incident_is_not_found(db_session):
    with pytest.raises(NotFound):
        transition(db_session, 999_999, "triage", actor=OFFICER, now=NOW)


# Fields and assignment -----------------------------------------------------------------


def changes_of(incident, **overrides):
    values = {
        "title": incident.title,
        "description": incident.description,
        "severity": incident.severity,
        "tlp": incident.tlp,
        "assignee_id": incident.assignee_id,
        "reviewer_id": incident.reviewer_id,
    }
    values.update(overrides)
    return IncidentChanges(**values)


def test_assigning_an_incident_enqueues_a_notification_to_the_assignee(db_session, officer):
    incident = open_one(db_session)
    update_fields(
        db_session,
        incident.id,
        changes_of(incident, assignee_id=officer.id),
        actor=OFFICER,
        now=NOW,
    )
    [notification] = db_session.scalars(select(Notification)).all()
    assert (notification.kind, notification.recipient_user_id, notification.incident_id) == (
        "assignment",
        officer.id,
        incident.id,
    )
    assert json.loads(notification.payload) == {
        "reference": incident.reference,
        "title": incident.title,
    }
    assert audit_actions(db_session, f"incident:{incident.id}")[-2:] == [
        "incident.updated",
        "incident.assigned",
    ]


def test_opening_with_an_assignee_notifies_them(db_session, officer):
    open_one(db_session, assignee_id=officer.id)
    assert [row.kind for row in db_session.scalars(select(Notification))] == ["assignment"]


def test_changing_other_fields_sends_no_notification(db_session, officer):
    incident = open_one(db_session, assignee_id=officer.id)
    update_fields(
        db_session, incident.id, changes_of(incident, severity="critical"), actor=OFFICER, now=NOW
    )
    assert count(db_session, Notification) == 1
    assert incident.severity == "critical"
    [changed] = [e for e in entries(db_session, incident.id) if e.kind == "fields_changed"]
    assert orjson.loads(changed.details)["fields"] == "severity"


def test_an_edit_that_changes_nothing_is_not_recorded(db_session):
    incident = open_one(db_session)
    before = count(db_session, AuditEntry)
    update_fields(db_session, incident.id, changes_of(incident), actor=OFFICER, now=NOW)
    assert count(db_session, AuditEntry) == before


# Listing -------------------------------------------------------------------------------


def test_listing_filters_and_pages(db_session, officer):
    first = open_one(db_session, severity="low")
    second = open_one(db_session, incident_type="physical", assignee_id=officer.id)
    third = open_one(db_session)
    transition(db_session, third.id, "triage", actor=OFFICER, now=NOW)
    transition(
        db_session, third.id, "closed", resolution="benign", summary="Test", actor=OFFICER, now=NOW
    )

    def ids(**filters):
        return [incident.id for incident in list_incidents(db_session, **filters)]

    assert ids() == [third.id, second.id, first.id]
    assert ids(state="open") == [second.id, first.id]
    assert ids(state="closed") == [third.id]
    assert ids(incident_type="physical") == [second.id]
    assert ids(severity="low") == [first.id]
    assert ids(assignee_id=officer.id) == [second.id]
    assert ids(before_id=third.id, limit=1) == [second.id]
    assert ids(after_id=first.id) == [second.id, third.id]
    with pytest.raises(InvalidInput):
        ids(state="nonsense")
