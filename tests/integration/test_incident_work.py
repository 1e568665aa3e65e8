"""Working on an incident: append-only comments, tasks, entities and related incidents and
alerts, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound, PermissionDenied
from incidents.alerts.models import AlertEntity
from incidents.cases.comments import add_comment, comment_threads, edit_comment
from incidents.cases.merge import merge_incidents
from incidents.cases.models import IncidentComment, IncidentEntity
from incidents.cases.related import add_entity, related
from incidents.cases.service import (
    add_alerts_to_incident,
    create_incident,
    open_incident_from_alerts,
)
from incidents.cases.tasks import add_task, tasks_of, update_task
from incidents.cases.timeline import entries
from tests.factories import make_user
from tests.support.incident_factories import make_alert

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ALICE = Actor(name="alice")
BOB = Actor(name="bob")


@pytest.fixture
def incident(db_session):
    return create_incident(
        db_session, title="Phishing", incident_type="cyber", severity="high", actor=ALICE, now=NOW
    )


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


# Comments ------------------------------------------------------------------------------


def test_an_edit_is_a_new_version_and_the_old_one_stays(db_session, incident):
    first = add_comment(
        db_session, incident_id=incident.id, body="Mail gezien bij 3 mensen", actor=ALICE, now=NOW
    )
    edited = edit_comment(
        db_session,
        incident_id=incident.id,
        comment_id=first.id,
        body="Mail gezien bij 4 mensen",
        actor=ALICE,
        now=NOW + timedelta(minutes=5),
    )
    assert (edited.thread_id, edited.version, edited.id != first.id) == (first.id, 2, True)
    db_session.refresh(first)
    assert (first.body, first.version) == ("Mail gezien bij 3 mensen", 1)
    [thread] = comment_threads(db_session, incident.id)
    assert thread.is_edited
    assert thread.latest.body == "Mail gezien bij 4 mensen"
    assert [version.body for version in thread.versions] == [
        "Mail gezien bij 3 mensen",
        "Mail gezien bij 4 mensen",
    ]
    kinds = [entry.kind for entry in entries(db_session, incident.id)]
    assert kinds[-2:] == ["comment_added", "comment_edited"]
    # The timeline and the audit trail keep ids, never the comment's text.
    texts = [entry.details for entry in entries(db_session, incident.id)]
    texts += db_session.scalars(select(AuditEntry.details)).all()
    assert not any("Mail gezien" in text for text in texts)


def test_only_the_author_may_edit_a_comment(db_session, incident):
    first = add_comment(db_session, incident_id=incident.id, body="Van Alice", actor=ALICE, now=NOW)
    with pytest.raises(PermissionDenied):
        edit_comment(
            db_session,
            incident_id=incident.id,
            comment_id=first.id,
            body="Van Bob",
            actor=BOB,
            now=NOW,
        )
    assert count(db_session, IncidentComment) == 1


def test_a_comment_is_edited_through_its_first_version_on_its_own_incident(db_session, incident):
    other = create_incident(
        db_session, title="Ander", incident_type="cyber", severity="low", actor=ALICE, now=NOW
    )
    first = add_comment(db_session, incident_id=incident.id, body="Een", actor=ALICE, now=NOW)
    edited = edit_comment(
        db_session, incident_id=incident.id, comment_id=first.id, body="Twee", actor=ALICE, now=NOW
    )
    for incident_id, comment_id in [
        (other.id, first.id),
        (incident.id, edited.id),
        (incident.id, 999_999),
    ]:
        with pytest.raises(NotFound):
            edit_comment(
                db_session,
                incident_id=incident_id,
                comment_id=comment_id,
                body="Drie",
                actor=ALICE,
                now=NOW,
            )
    assert count(db_session, IncidentComment) == 2


@pytest.mark.parametrize("body", ["", "   ", "x" * 10_001])
def test_an_empty_or_overlong_comment_is_refused(db_session, incident, body):
    with pytest.raises(InvalidInput) as refused:
        add_comment(db_session, incident_id=incident.id, body=body, actor=ALICE, now=NOW)
    assert refused.value.field == "body"
    assert count(db_session, IncidentComment) == 0


def test_an_unchanged_edit_is_refused(db_session, incident):
    first = add_comment(db_session, incident_id=incident.id, body="Zelfde", actor=ALICE, now=NOW)
    with pytest.raises(InvalidInput):
        edit_comment(
            db_session,
            incident_id=incident.id,
            comment_id=first.id,
            body=" Zelfde ",
            actor=ALICE,
            now=NOW,
        )
    assert count(db_session, IncidentComment) == 1


# Tasks ---------------------------------------------------------------------------------


def test_tasks_are_added_and_updated_with_assignee_due_date_and_status(db_session, incident):
    officer = make_user(db_session, role="security_officer")
    task = add_task(
        db_session,
        incident_id=incident.id,
        title="Logs veiligstellen",
        due_at=NOW + timedelta(hours=2),
        actor=ALICE,
        now=NOW,
    )
    update_task(
        db_session,
        incident_id=incident.id,
        task_id=task.id,
        status="done",
        assignee_id=officer.id,
        due_at=task.due_at,
        actor=BOB,
        now=NOW + timedelta(hours=1),
    )
    assert (task.status, task.assignee_id, task.completed_by) == ("done", officer.id, "bob")
    assert task.completed_at == NOW + timedelta(hours=1)
    [changed] = [e for e in entries(db_session, incident.id) if e.kind == "task_changed"]
    assert orjson.loads(changed.details) == {
        "task_id": task.id,
        "fields": "assignee_id,status",
        "status": "done",
    }
    update_task(
        db_session,
        incident_id=incident.id,
        task_id=task.id,
        status="open",
        assignee_id=officer.id,
        due_at=None,
        actor=BOB,
        now=NOW,
    )
    assert (task.status, task.completed_at, task.due_at) == ("open", None, None)


def test_a_task_of_another_incident_is_not_found(db_session, incident):
    other = create_incident(
        db_session, title="Ander", incident_type="cyber", severity="low", actor=ALICE, now=NOW
    )
    task = add_task(db_session, incident_id=other.id, title="Van het andere", actor=ALICE, now=NOW)
    with pytest.raises(NotFound):
        update_task(
            db_session,
            incident_id=incident.id,
            task_id=task.id,
            status="done",
            assignee_id=None,
            due_at=None,
            actor=ALICE,
            now=NOW,
        )
    assert task.status == "open"


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"status": "finished"}, "status"), ({"assignee_id": 999_999}, "assignee_id")],
)
def test_a_bad_task_change_is_refused(db_session, incident, changes, field):
    task = add_task(db_session, incident_id=incident.id, title="Taak", actor=ALICE, now=NOW)
    values = {"status": "in_progress", "assignee_id": None, "due_at": None, **changes}
    with pytest.raises(InvalidInput) as refused:
        update_task(
            db_session, incident_id=incident.id, task_id=task.id, actor=ALICE, now=NOW, **values
        )
    assert refused.value.field == field
    assert task.status == "open"


def test_open_tasks_come_first_by_due_date(db_session, incident):
    later = add_task(
        db_session,
        incident_id=incident.id,
        title="Later",
        due_at=NOW + timedelta(days=2),
        actor=ALICE,
        now=NOW,
    )
    done = add_task(
        db_session, incident_id=incident.id, title="Klaar", due_at=NOW, actor=ALICE, now=NOW
    )
    soon = add_task(
        db_session,
        incident_id=incident.id,
        title="Snel",
        due_at=NOW + timedelta(hours=1),
        actor=ALICE,
        now=NOW,
    )
    undated = add_task(db_session, incident_id=incident.id, title="Ooit", actor=ALICE, now=NOW)
    update_task(
        db_session,
        incident_id=incident.id,
        task_id=done.id,
        status="done",
        assignee_id=None,
        due_at=NOW,
        actor=ALICE,
        now=NOW,
    )
    assert [task.id for task in tasks_of(db_session, incident.id)] == [
        soon.id,
        later.id,
        undated.id,
        done.id,
    ]


# Entities and related ------------------------------------------------------------------


def test_entities_are_stored_normalised_and_only_once(db_session, incident):
    entity = add_entity(
        db_session, incident_id=incident.id, kind="ip", value=" 2001:DB8::1 ", actor=ALICE, now=NOW
    )
    assert entity.value == "2001:db8::1"
    with pytest.raises(InvalidInput):
        add_entity(
            db_session,
            incident_id=incident.id,
            kind="ip",
            value="2001:db8::1",
            actor=ALICE,
            now=NOW,
        )
    [added] = [e for e in entries(db_session, incident.id) if e.kind == "entity_added"]
    assert orjson.loads(added.details) == {"entity_id": entity.id, "kind": "ip"}


@pytest.mark.parametrize(("kind", "value"), [("ip", "not-an-ip"), ("colour", "red"), ("host", "")])
def test_a_bad_entity_is_refused(db_session, incident, kind, value):
    with pytest.raises(InvalidInput):
        add_entity(
            db_session, incident_id=incident.id, kind=kind, value=value, actor=ALICE, now=NOW
        )
    assert count(db_session, IncidentEntity) == 0


def test_incidents_and_alerts_sharing_an_entity_are_related(db_session, incident):
    sharing = create_incident(
        db_session,
        title="Zelfde account",
        incident_type="cyber",
        severity="low",
        actor=ALICE,
        now=NOW,
    )
    unrelated = create_incident(
        db_session, title="Iets anders", incident_type="cyber", severity="low", actor=ALICE, now=NOW
    )
    add_entity(
        db_session, incident_id=incident.id, kind="account", value="JdeVries", actor=ALICE, now=NOW
    )
    add_entity(db_session, incident_id=incident.id, kind="host", value="ws-1", actor=ALICE, now=NOW)
    add_entity(
        db_session, incident_id=sharing.id, kind="account", value="jdevries", actor=ALICE, now=NOW
    )
    add_entity(
        db_session, incident_id=unrelated.id, kind="host", value="ws-2", actor=ALICE, now=NOW
    )
    alert = make_alert(db_session)
    db_session.add(AlertEntity(alert_id=alert.id, kind="host", value="ws-1"))
    own = make_alert(db_session)
    db_session.add(AlertEntity(alert_id=own.id, kind="host", value="ws-1"))
    add_alerts_to_incident(
        db_session, incident_id=incident.id, alert_ids=[own.id], actor=ALICE, now=NOW
    )
    found = related(db_session, incident.id)
    assert [(item.incident.id, item.shared) for item in found.incidents] == [
        (sharing.id, (("account", "jdevries"),))
    ]
    assert [(item.alert.id, item.shared) for item in found.alerts] == [
        (alert.id, (("host", "ws-1"),))
    ]
    assert [item.incident.id for item in related(db_session, sharing.id).incidents] == [incident.id]


def test_an_incident_without_entities_has_nothing_related(db_session, incident):
    found = related(db_session, incident.id)
    assert (found.incidents, found.alerts) == ([], [])


def test_an_incident_from_alerts_is_related_through_their_entities(db_session):
    first, second = make_alert(db_session), make_alert(db_session)
    for alert in (first, second):
        db_session.add(AlertEntity(alert_id=alert.id, kind="ip", value="198.51.100.9"))
    one = open_incident_from_alerts(db_session, alert_ids=[first.id], actor=ALICE, now=NOW)
    two = open_incident_from_alerts(db_session, alert_ids=[second.id], actor=ALICE, now=NOW)
    assert [item.incident.id for item in related(db_session, one.id).incidents] == [two.id]


def test_a_merged_incident_refuses_work(db_session, incident):
    target = create_incident(
        db_session, title="Doel", incident_type="cyber", severity="low", actor=ALICE, now=NOW
    )
    merge_incidents(db_session, source_id=incident.id, target_id=target.id, actor=ALICE, now=NOW)
    attempts = [
        lambda: add_comment(db_session, incident_id=incident.id, body="x", actor=ALICE, now=NOW),
        lambda: add_task(db_session, incident_id=incident.id, title="x", actor=ALICE, now=NOW),
        lambda: add_entity(
            db_session, incident_id=incident.id, kind="host", value="x", actor=ALICE, now=NOW
        ),
    ]
    for attempt in attempts:
        with pytest.raises(Conflict) as refused:
            attempt()
        assert target.reference in refused.value.message
