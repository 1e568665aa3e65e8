"""Merging incidents and undoing it, with real commits between the steps: every alert,
comment, task, entity, timeline entry and piece of evidence goes back where it was, with
its provenance; both incidents are audited; the audit chain still verifies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.audit import verify_chain
from access_control.models import AuditEntry
from core import Conflict, InvalidInput
from incidents.alerts.models import Alert
from incidents.cases.comments import add_comment, comment_threads, edit_comment
from incidents.cases.merge import merge_incidents, merge_of, merges_into, unmerge
from incidents.cases.models import (
    Incident,
    IncidentAlert,
    IncidentComment,
    IncidentEntity,
    IncidentMerge,
    IncidentTask,
    TimelineEntry,
)
from incidents.cases.playbooks import install_default_playbooks
from incidents.cases.related import add_entity
from incidents.cases.service import (
    add_alerts_to_incident,
    create_incident,
    open_incident_from_alerts,
    transition,
)
from incidents.cases.tasks import add_task
from incidents.evidence.models import CustodyEntry, Evidence
from incidents.feeds.models import AlertFeedEntry
from tests.support.incident_factories import make_alert

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ALICE = Actor(name="alice", ip="192.0.2.1")
BOB = Actor(name="bob")
MOVABLE = (IncidentAlert, IncidentComment, IncidentTask, IncidentEntity, TimelineEntry, Evidence)


def where_everything_is(session):
    """(table, row) → (incident_id, origin_incident_id) for every row a merge can move."""
    places = {}
    for model in MOVABLE:
        for row in session.scalars(select(model)):
            key = row.alert_id if model is IncidentAlert else row.id
            places[(model.__tablename__, key)] = (row.incident_id, row.origin_incident_id)
    return places


def add_evidence(session, incident_id, name):
    evidence = Evidence(
        incident_id=incident_id,
        origin_incident_id=incident_id,
        stored_name=name * 8,
        original_name=f"{name}.log",
        media_type="text/plain",
        size=10,
        sha256="a" * 64,
        description="",
        uploaded_at=NOW,
        uploaded_by="alice",
    )
    session.add(evidence)
    session.flush()
    return evidence.id


def open_cyber(session, title, minute=0):
    return create_incident(
        session,
        title=title,
        incident_type="cyber",
        severity="medium",
        actor=ALICE,
        now=NOW + timedelta(minutes=minute),
    )


def with_playbooks(database):
    with database.unit_of_work() as session:
        install_default_playbooks(session, NOW)
    return database


@pytest.fixture
def committed_database(migrated_database):
    """A database of its own with real commits between the steps (and a chain to verify)."""
    return with_playbooks(migrated_database)


@pytest.fixture
def merge_database(rollback_database):
    """The shared database, rolled back after the test: faster, for the refusals."""
    return with_playbooks(rollback_database)


def make_two_incidents(database):
    """A source and a target with alerts, comments, tasks, entities and evidence each."""
    with database.unit_of_work() as session:
        alerts = [make_alert(session) for _ in range(3)]
        source = open_incident_from_alerts(
            session, alert_ids=[alerts[0].id, alerts[1].id], actor=ALICE, now=NOW
        )
        target = open_incident_from_alerts(session, alert_ids=[alerts[2].id], actor=ALICE, now=NOW)
        transition(session, source.id, "triage", actor=ALICE, now=NOW + timedelta(minutes=1))
        comment = add_comment(session, incident_id=source.id, body="Eerste", actor=ALICE, now=NOW)
        edit_comment(
            session,
            incident_id=source.id,
            comment_id=comment.id,
            body="Bijgewerkt",
            actor=ALICE,
            now=NOW,
        )
        add_comment(session, incident_id=target.id, body="Doel", actor=BOB, now=NOW)
        add_task(session, incident_id=source.id, title="Met de hand", actor=ALICE, now=NOW)
        for incident, value in [(source, "ws-1"), (source, "ws-shared"), (target, "ws-shared")]:
            add_entity(
                session, incident_id=incident.id, kind="host", value=value, actor=ALICE, now=NOW
            )
        evidence_id = add_evidence(session, source.id, "e")
        return {
            "source": source.id,
            "target": target.id,
            "comment": comment.id,
            "evidence": evidence_id,
            "alerts": [alert.id for alert in alerts],
        }


def test_merge_then_unmerge_puts_everything_back_with_its_provenance(committed_database):
    database = committed_database
    two_incidents = make_two_incidents(database)
    source_id, target_id = two_incidents["source"], two_incidents["target"]
    with database.unit_of_work() as session:
        before = where_everything_is(session)
    later = NOW + timedelta(hours=1)
    with database.unit_of_work() as session:
        merge_id = merge_incidents(
            session, source_id=source_id, target_id=target_id, actor=ALICE, now=later
        ).id

    with database.unit_of_work() as session:
        merged = where_everything_is(session)
        source = session.get(Incident, source_id)
        assert (source.state, source.merged_into_id) == ("merged", target_id)
        for key, (incident_id, origin) in before.items():
            if incident_id != source_id:
                assert merged[key] == (incident_id, origin), key
            elif key == ("incident_entity", _shared_entity(session, source_id)):
                assert merged[key] == (source_id, source_id), "a shared entity stays"
            else:
                assert merged[key] == (target_id, source_id), key
        for alert_id in two_incidents["alerts"][:2]:
            alert = session.get(Alert, alert_id)
            assert (alert.incident_id, alert.version) == (target_id, 3)
        [custody] = session.scalars(select(CustodyEntry)).all()
        assert (custody.action, custody.evidence_id, custody.actor) == (
            "moved_by_merge",
            two_incidents["evidence"],
            "alice",
        )
        # Work goes on on the target: a new comment, and an edit of a comment that came along.
        add_comment(session, incident_id=target_id, body="Na de samenvoeging", actor=BOB, now=later)
        edit_comment(
            session,
            incident_id=target_id,
            comment_id=two_incidents["comment"],
            body="Bijgewerkt na samenvoeging",
            actor=ALICE,
            now=later,
        )
        new_alert = make_alert(session)
        add_alerts_to_incident(
            session, incident_id=target_id, alert_ids=[new_alert.id], actor=BOB, now=later
        )

    with database.unit_of_work() as session:
        unmerge(session, merge_id=merge_id, actor=BOB, now=later + timedelta(hours=1))

    with database.unit_of_work() as session:
        after = where_everything_is(session)
        for key, place in before.items():
            assert after[key] == place, key
        source = session.get(Incident, source_id)
        assert (source.state, source.merged_into_id) == ("triage", None)
        [thread] = [
            t for t in comment_threads(session, source_id) if t.id == two_incidents["comment"]
        ]
        assert [version.body for version in thread.versions] == [
            "Eerste",
            "Bijgewerkt",
            "Bijgewerkt na samenvoeging",
        ]
        target_comments = [t.latest.body for t in comment_threads(session, target_id)]
        assert target_comments == ["Doel", "Na de samenvoeging"]
        assert session.get(Alert, new_alert.id).incident_id == target_id
        assert session.get(Alert, two_incidents["alerts"][0]).incident_id == source_id
        actions = [
            c.action for c in session.scalars(select(CustodyEntry).order_by(CustodyEntry.id))
        ]
        assert actions == ["moved_by_merge", "moved_by_unmerge"]
        undone = session.get(IncidentMerge, merge_id)
        assert (undone.unmerged_by, undone.unmerged_at) == ("bob", later + timedelta(hours=1))
        for incident_id in (source_id, target_id):
            audited = session.scalars(
                select(AuditEntry.action).where(AuditEntry.target == f"incident:{incident_id}")
            ).all()
            assert "incident.merged" in audited, incident_id
            assert "incident.unmerged" in audited, incident_id
            kinds = [
                entry.kind
                for entry in session.scalars(
                    select(TimelineEntry).where(TimelineEntry.incident_id == incident_id)
                )
            ]
            assert {"merged", "unmerged"} <= set(kinds)

    with database.snapshot() as session:
        report = verify_chain(session)
        assert report.is_intact, report.problem


def _shared_entity(session, source_id):
    return session.scalar(
        select(IncidentEntity.id).where(
            IncidentEntity.incident_id == source_id, IncidentEntity.value == "ws-shared"
        )
    )


def test_a_merged_incident_is_read_only_until_unmerged(merge_database):
    two_incidents = make_two_incidents(merge_database)
    source_id, target_id = two_incidents["source"], two_incidents["target"]
    with merge_database.unit_of_work() as session:
        merge_id = merge_incidents(
            session, source_id=source_id, target_id=target_id, actor=ALICE, now=NOW
        ).id
    with merge_database.unit_of_work() as session:
        with pytest.raises(Conflict):
            transition(session, source_id, "containment", actor=ALICE, now=NOW)
        with pytest.raises(Conflict):
            merge_incidents(session, source_id=source_id, target_id=target_id, actor=ALICE, now=NOW)
        assert merge_of(session, source_id).id == merge_id
        assert [merge.id for merge in merges_into(session, target_id)] == [merge_id]
    with merge_database.unit_of_work() as session:
        unmerge(session, merge_id=merge_id, actor=ALICE, now=NOW)
    with merge_database.unit_of_work() as session:
        transition(session, source_id, "containment", actor=ALICE, now=NOW)
        with pytest.raises(Conflict):
            unmerge(session, merge_id=merge_id, actor=ALICE, now=NOW)
        assert merges_into(session, target_id) == []


def test_merges_of_merges_unwind_in_order(merge_database):
    with merge_database.unit_of_work() as session:
        first, middle, last = (open_cyber(session, name) for name in ("A", "B", "C"))
        ids = (first.id, middle.id, last.id)
        add_task(session, incident_id=first.id, title="Van A", actor=ALICE, now=NOW)
    with merge_database.unit_of_work() as session:
        inner = merge_incidents(
            session, source_id=ids[0], target_id=ids[1], actor=ALICE, now=NOW
        ).id
    with merge_database.unit_of_work() as session:
        outer = merge_incidents(
            session, source_id=ids[1], target_id=ids[2], actor=ALICE, now=NOW
        ).id

    def place_of_task():
        with merge_database.unit_of_work() as session:
            return session.scalar(
                select(IncidentTask.incident_id).where(IncidentTask.title == "Van A")
            )

    assert place_of_task() == ids[2]
    with merge_database.unit_of_work() as session, pytest.raises(Conflict):
        unmerge(session, merge_id=inner, actor=ALICE, now=NOW)  # B is merged into C
    with merge_database.unit_of_work() as session:
        unmerge(session, merge_id=outer, actor=ALICE, now=NOW)
    assert place_of_task() == ids[1]
    with merge_database.unit_of_work() as session:
        unmerge(session, merge_id=inner, actor=ALICE, now=NOW)
    assert place_of_task() == ids[0]


def test_merges_that_cannot_be_are_refused(merge_database):
    with merge_database.unit_of_work() as session:
        cyber, other_cyber = open_cyber(session, "Een"), open_cyber(session, "Twee")
        physical = create_incident(
            session, title="Inbraak", incident_type="physical", severity="low", actor=ALICE, now=NOW
        )
        closed = open_cyber(session, "Dicht")
        transition(session, closed.id, "triage", actor=ALICE, now=NOW)
        transition(
            session,
            closed.id,
            "closed",
            resolution="duplicate",
            summary="Dubbel",
            actor=ALICE,
            now=NOW,
        )
        ids = (cyber.id, other_cyber.id, physical.id, closed.id)
    with merge_database.unit_of_work() as session:
        with pytest.raises(InvalidInput):
            merge_incidents(session, source_id=ids[0], target_id=ids[0], actor=ALICE, now=NOW)
        with pytest.raises(Conflict):
            merge_incidents(session, source_id=ids[0], target_id=ids[2], actor=ALICE, now=NOW)
        with pytest.raises(Conflict):
            merge_incidents(session, source_id=ids[0], target_id=ids[3], actor=ALICE, now=NOW)
        # A closed incident may be merged into an open one (a late duplicate).
        merge_incidents(session, source_id=ids[3], target_id=ids[1], actor=ALICE, now=NOW)


def test_moved_alerts_reach_the_feed_with_their_new_incident(merge_database):
    two_incidents = make_two_incidents(merge_database)
    with merge_database.unit_of_work() as session:
        merge_incidents(
            session,
            source_id=two_incidents["source"],
            target_id=two_incidents["target"],
            actor=ALICE,
            now=NOW,
        )
    with merge_database.unit_of_work() as session:
        latest = session.scalars(
            select(AlertFeedEntry)
            .where(AlertFeedEntry.alert_id == two_incidents["alerts"][0])
            .order_by(AlertFeedEntry.id.desc())
        ).first()
        document = json.loads(latest.document)
        assert document["wachter"]["alert"]["incident_id"] == two_incidents["target"]
        assert latest.change == "updated"
