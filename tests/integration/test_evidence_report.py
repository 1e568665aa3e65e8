"""The incident report from the database: what it reads, and how its export is recorded.

The export leaves a custody entry ``listed_in_report`` on each piece of evidence it lists,
a timeline entry ``report_exported`` and an audit entry with the PDF's SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry
from core import NotFound
from incidents.cases.models import (
    IncidentAlert,
    IncidentEntity,
    IncidentTask,
    TimelineEntry,
)
from incidents.cases.timeline import add_entry
from incidents.evidence import add_evidence, custody
from incidents.reports import incident_report_pdf
from incidents.reports.content import report_content
from tests.factories import make_user
from tests.support.incident_factories import SEEN, make_alert, make_incident
from tests.support.pdf import pdf_lines, pdf_pages, pdf_text

NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)
OFFICER = Actor(name="officier", ip="192.0.2.10")


@pytest.fixture
def filled_incident(db_session, tmp_path):
    """An incident with an assignee, a task, an alert, an entity, timeline and evidence."""
    assignee = make_user(db_session, display_name="Fenna Bakker", role="security_officer")
    incident = make_incident(db_session, assignee_id=assignee.id, tlp="red", title="Datalek")
    alert = make_alert(db_session, title="Mass download", count=40, incident_id=incident.id)
    db_session.add_all(
        [
            IncidentAlert(
                alert_id=alert.id,
                incident_id=incident.id,
                origin_incident_id=incident.id,
                added_at=SEEN,
                added_by="officier",
            ),
            IncidentTask(
                incident_id=incident.id,
                origin_incident_id=incident.id,
                title="Scope the affected systems",
                status="in_progress",
                assignee_id=assignee.id,
                created_at=SEEN,
                created_by="officier",
            ),
            IncidentEntity(
                incident_id=incident.id,
                origin_incident_id=incident.id,
                kind="host",
                value="fs01.cjib.local",
                added_at=SEEN,
                added_by="officier",
            ),
        ]
    )
    add_entry(db_session, incident_id=incident.id, kind="created", actor="officier", now=SEEN)
    evidence = [
        add_evidence(
            db_session,
            incident_id=incident.id,
            stream=io.BytesIO(content),
            filename=name,
            description="",
            actor=OFFICER,
            now=SEEN + timedelta(minutes=number),
            data_dir=tmp_path / "data",
            max_bytes=1024 * 1024,
        )
        for number, (name, content) in enumerate(
            [("export.csv", b"user,file\nx,y\n"), ("firewall.log", b"deny 203.0.113.9\n")]
        )
    ]
    return incident, evidence


def test_the_report_reads_everything_the_incident_holds(db_session, filled_incident):
    incident, evidence = filled_incident
    content = report_content(db_session, incident.id)
    assert content.assignee == "Fenna Bakker"
    assert [task.assignee for task in content.tasks] == ["Fenna Bakker"]
    assert [(alert.title, alert.count) for alert in content.alerts] == [("Mass download", 40)]
    assert content.entities == [("host", "fs01.cjib.local")]
    assert [entry.kind for entry in content.timeline] == [
        "created",
        "evidence_added",
        "evidence_added",
    ]
    assert [item.sha256 for item in content.evidence] == [item.sha256 for item in evidence]


def test_the_pdf_holds_reference_tlp_hashes_and_timeline(db_session, filled_incident):
    incident, evidence = filled_incident
    document = incident_report_pdf(db_session, incident.id, actor=OFFICER, now=NOW)
    text = pdf_text(document)
    assert document.startswith(b"%PDF-")
    assert f"{incident.reference}: Datalek" in text
    assert pdf_lines(pdf_pages(document, layout=True)[0])[0].endswith(" TLP:RED")
    for item in evidence:
        assert f"SHA-256: {item.sha256}" in text
    assert "Incident created" in text
    assert "Evidence added" in text
    assert "Fenna Bakker" in text
    assert "fs01.cjib.local" in text
    assert "Mass download" in text


def test_exporting_is_recorded_in_custody_timeline_and_audit(db_session, filled_incident):
    incident, evidence = filled_incident
    document = incident_report_pdf(db_session, incident.id, actor=OFFICER, now=NOW)
    for item in evidence:
        listed = custody(db_session, item.id)[-1]
        assert (listed.action, listed.actor, listed.ip, listed.occurred_at) == (
            "listed_in_report",
            "officier",
            "192.0.2.10",
            NOW,
        )
        assert listed.sha256 == item.sha256
    exported = db_session.scalars(
        select(TimelineEntry).where(TimelineEntry.kind == "report_exported")
    ).one()
    assert (exported.incident_id, exported.actor) == (incident.id, "officier")
    assert json.loads(exported.details) == {"evidence_listed": 2}
    audit = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "incident.report_exported")
    ).one()
    assert (audit.actor, audit.target, audit.outcome) == (
        "officier",
        f"incident:{incident.id}",
        "success",
    )
    assert json.loads(audit.details) == {
        "evidence_listed": 2,
        "reference": incident.reference,
        "sha256": hashlib.sha256(document).hexdigest(),
    }


def test_an_incident_without_anything_still_reports(db_session):
    incident = make_incident(db_session)
    text = pdf_text(incident_report_pdf(db_session, incident.id, actor=OFFICER, now=NOW))
    assert incident.reference in text
    assert "None." in text


def test_an_unknown_incident_is_not_found_and_nothing_is_recorded(db_session):
    with pytest.raises(NotFound):
        incident_report_pdf(db_session, 313131, actor=OFFICER, now=NOW)
    assert db_session.scalars(select(AuditEntry.action)).all() == []
