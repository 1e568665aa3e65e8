"""Playbooks in the database: versions by SHA-256, the shipped ones installed at start-up,
and incidents keeping the version they were opened with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.models import AuditEntry
from core import InvalidInput
from incidents.cases.models import IncidentTask, Playbook, PlaybookVersion
from incidents.cases.playbooks import (
    ImportOutcome,
    import_playbook,
    install_default_playbooks,
    playbook_version,
)
from incidents.cases.service import create_incident

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
OFFICER = Actor(name="officier")
PHISHING = b"""key: default-cyber
incident_type: cyber
title: Phishing first
tasks:
  - key: block-sender
    title: Block the sender
    due_after_minutes: 30
"""


def versions(session, key):
    query = (
        select(PlaybookVersion.version)
        .join(Playbook, Playbook.id == PlaybookVersion.playbook_id)
        .where(Playbook.key == key)
        .order_by(PlaybookVersion.version)
    )
    return list(session.scalars(query))


def task_titles(session, incident_id):
    query = select(IncidentTask.title).where(IncidentTask.incident_id == incident_id)
    return sorted(session.scalars(query))


def test_the_same_text_again_is_unchanged_and_an_edit_is_a_new_version(db_session):
    first = import_playbook(db_session, PHISHING, source="a.yml", actor=OFFICER, now=NOW)
    again = import_playbook(db_session, PHISHING, source="a.yml", actor=OFFICER, now=NOW)
    edited = import_playbook(
        db_session,
        PHISHING.replace(b"due_after_minutes: 30", b"due_after_minutes: 15"),
        source="a.yml",
        actor=OFFICER,
        now=NOW + timedelta(days=1),
    )
    assert [(r.outcome, r.version) for r in (first, again, edited)] == [
        (ImportOutcome.CREATED, 1),
        (ImportOutcome.UNCHANGED, 1),
        (ImportOutcome.NEW_VERSION, 2),
    ]
    assert versions(db_session, "default-cyber") == [1, 2]
    audited = db_session.scalars(
        select(AuditEntry.action).where(AuditEntry.target == "playbook:default-cyber")
    ).all()
    assert audited == ["playbook.created", "playbook.new_version"]


def test_incidents_keep_the_playbook_version_they_were_opened_with(db_session):
    import_playbook(db_session, PHISHING, source="a.yml", actor=OFFICER, now=NOW)
    before = create_incident(
        db_session, title="Eerste", incident_type="cyber", severity="low", actor=OFFICER, now=NOW
    )
    import_playbook(
        db_session,
        PHISHING.replace(b"Block the sender", b"Block the sender's domain"),
        source="a.yml",
        actor=OFFICER,
        now=NOW,
    )
    after = create_incident(
        db_session, title="Tweede", incident_type="cyber", severity="low", actor=OFFICER, now=NOW
    )
    assert before.playbook_version_id != after.playbook_version_id
    assert db_session.get(PlaybookVersion, before.playbook_version_id).version == 1
    assert task_titles(db_session, before.id) == ["Block the sender"]
    assert task_titles(db_session, after.id) == ["Block the sender's domain"]


def test_installing_the_shipped_playbooks_twice_changes_nothing(db_session):
    first = install_default_playbooks(db_session, NOW)
    again = install_default_playbooks(db_session, NOW + timedelta(days=1))
    assert {result.outcome for result in first} == {ImportOutcome.CREATED}
    assert {result.outcome for result in again} == {ImportOutcome.UNCHANGED}
    assert db_session.scalar(select(func.count()).select_from(PlaybookVersion)) == 3


def test_the_start_up_install_does_not_undo_an_officers_newer_version(db_session):
    install_default_playbooks(db_session, NOW)
    import_playbook(db_session, PHISHING, source="ours.yml", actor=OFFICER, now=NOW)
    results = {r.key: r for r in install_default_playbooks(db_session, NOW + timedelta(days=1))}
    assert results["default-cyber"].outcome == ImportOutcome.UNCHANGED
    assert playbook_version(db_session, "cyber", None).version == 2
    assert versions(db_session, "default-cyber") == [1, 2]


def test_a_playbook_keeps_its_incident_type(db_session):
    import_playbook(db_session, PHISHING, source="a.yml", actor=OFFICER, now=NOW)
    with pytest.raises(InvalidInput) as refused:
        import_playbook(
            db_session,
            PHISHING.replace(b"incident_type: cyber", b"incident_type: physical"),
            source="b.yml",
            actor=OFFICER,
            now=NOW,
        )
    assert "is a cyber playbook" in refused.value.message
    assert versions(db_session, "default-cyber") == [1]


def test_a_named_playbook_of_another_type_is_refused(db_session):
    install_default_playbooks(db_session, NOW)
    with pytest.raises(InvalidInput) as refused:
        create_incident(
            db_session,
            title="Inbraak",
            incident_type="physical",
            severity="high",
            playbook_key="default-cyber",
            actor=OFFICER,
            now=NOW,
        )
    assert refused.value.field == "playbook"
