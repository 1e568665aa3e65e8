"""A report's case, its event, the reporter's updates and four-eyes approvals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, PermissionDenied
from incidents.cases.models import Incident, TimelineEntry
from incidents.cases.service import allowed_states, transition
from staff_safety.approvals import approved, decide, pending_approval, request_approval
from staff_safety.cases import ensure_case, initial_severity, open_case_for_report
from staff_safety.models import (
    ApprovalSubject,
    Category,
    Location,
    ReportStatus,
    StaffCase,
    StaffReport,
)
from staff_safety.report_events import record_report_event, report_document
from staff_safety.updates import UpdateKind, mark_seen, tell_reporter, unseen_count, updates_of
from storage.events import Event
from tests.factories import make_user
from tests.support.incident_factories import make_incident

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ASKER = Actor(name="officer1")
SECOND = Actor(name="officer2")


def _report(session: Session, **values: object) -> StaffReport:
    report = StaffReport(
        status=ReportStatus.SUBMITTED,
        reporter_pseudonym="P-AAAA-BBBB",
        victim_pseudonym="P-AAAA-BBBB",
        perpetrator_pseudonym="P-CCCC-DDDD",
        occurred_at=NOW - timedelta(hours=2),
        location=Location.COUNTER,
        category=Category.THREAT_IN_PERSON,
        description="Hij dreigde mij op te wachten na het werk.",
        created_at=NOW,
        updated_at=NOW,
        submitted_at=NOW,
    )
    for name, value in values.items():
        setattr(report, name, value)
    session.add(report)
    session.flush()
    report.number = f"MEL-2026-{report.id:05d}"
    return report


def test_a_submitted_report_opens_a_staff_safety_incident_in_state_reported(
    db_session: Session,
) -> None:
    report = _report(db_session)

    incident, case = open_case_for_report(db_session, report, actor=ASKER, now=NOW)

    assert incident.type == "staff_safety"
    assert incident.state == "reported"
    assert incident.severity == "high"
    assert incident.tlp == "amber+strict"
    assert report.number is not None
    assert report.number in incident.title
    assert "dreigde" not in incident.title + incident.description
    assert report.incident_id == incident.id
    assert case.report_id == report.id
    assert allowed_states(incident) == []  # the case page moves it, not the incident page


def test_only_the_workflow_moves_a_staff_safety_incident(db_session: Session) -> None:
    incident, _case = open_case_for_report(db_session, _report(db_session), actor=ASKER, now=NOW)

    with pytest.raises(Conflict):
        transition(db_session, incident.id, "first_care", actor=ASKER, now=NOW)
    assert incident.state == "reported"

    transition(db_session, incident.id, "first_care", actor=ASKER, now=NOW, by_workflow=True)
    assert incident.state == "first_care"
    assert incident.acknowledged_at == NOW


@pytest.mark.parametrize(
    ("category", "weapon", "severity"),
    [
        (Category.PHYSICAL_VIOLENCE, False, "critical"),
        (Category.VERBAL_ABUSE, True, "critical"),
        (Category.DOXING, False, "high"),
        (Category.VERBAL_ABUSE, False, "medium"),
        (Category.VANDALISM, False, "medium"),
    ],
)
def test_the_first_severity_follows_what_happened(
    category: Category, weapon: bool, severity: str
) -> None:
    report = StaffReport(category=category, weapon=weapon)
    assert initial_severity(report) == severity


def test_a_staff_incident_without_a_report_gets_its_case_on_first_use(db_session: Session) -> None:
    incident = make_incident(db_session, type="staff_safety")

    case = ensure_case(db_session, incident, now=NOW)

    assert case.report_id is None
    assert ensure_case(db_session, incident, now=NOW) is case
    assert db_session.scalar(select(func.count()).select_from(StaffCase)) == 1
    with pytest.raises(ValueError, match="not a staff-safety incident"):
        ensure_case(db_session, make_incident(db_session, type="cyber"), now=NOW)


def test_a_report_becomes_one_event_with_pseudonyms_and_no_free_text(db_session: Session) -> None:
    report = _report(db_session, weapon=True, location=Location.SOCIAL_MEDIA)

    record_report_event(db_session, report, incident_reference="INC-2026-00001", now=NOW)
    record_report_event(db_session, report, incident_reference="INC-2026-00001", now=NOW)

    stored = db_session.scalars(select(Event)).all()
    assert len(stored) == 1  # the report's id is the event key: stored once
    document = report_document(report, incident_reference="INC-2026-00001")
    facts = document["wachter"]["report"]
    assert document["wachter"]["logsource"] == {"product": "wachter", "service": "staff_safety"}
    assert facts["channel"] == "online"
    assert facts["weapon"] is True
    assert facts["victim"] == "P-AAAA-BBBB"
    assert facts["perpetrator"] == "P-CCCC-DDDD"
    assert "dreigde" not in repr(document)


def test_an_unknown_perpetrator_is_left_out_of_the_event(db_session: Session) -> None:
    report = _report(db_session, perpetrator_pseudonym=None)
    assert (
        "perpetrator" not in report_document(report, incident_reference=None)["wachter"]["report"]
    )


def test_the_reporter_sees_each_update_as_new_until_they_open_the_report(
    db_session: Session,
) -> None:
    report = _report(db_session)
    tell_reporter(db_session, report.id, UpdateKind.SUBMITTED, now=NOW)
    tell_reporter(
        db_session,
        report.id,
        UpdateKind.POLICE_FILED,
        now=NOW + timedelta(days=1),
        details={"n": 1},
    )

    assert [row.kind for row in updates_of(db_session, report.id)] == ["submitted", "police_filed"]
    assert unseen_count(db_session, "P-AAAA-BBBB") == 2
    assert mark_seen(db_session, report.id, now=NOW) == 2
    assert unseen_count(db_session, "P-AAAA-BBBB") == 0
    assert tell_reporter(db_session, None, UpdateKind.CLOSED, now=NOW) is None


def _officers(session: Session) -> tuple[Actor, Actor]:
    first = make_user(session, role="security_officer")
    second = make_user(session, role="security_officer")
    return Actor(name=first.username, user_id=first.id), Actor(second.username, second.id)


def test_four_eyes_the_asker_can_never_approve(db_session: Session) -> None:
    asker, second = _officers(db_session)
    incident, _case = open_case_for_report(db_session, _report(db_session), actor=ASKER, now=NOW)
    subject = ApprovalSubject.EMPLOYER_POLICE_REPORT
    approval = request_approval(
        db_session, incident_id=incident.id, subject=subject, actor=asker, now=NOW
    )

    with pytest.raises(Conflict):  # one open request at a time
        request_approval(db_session, incident_id=incident.id, subject=subject, actor=asker, now=NOW)
    renamed = Actor(name="renamed", user_id=asker.user_id)
    for same_person in (asker, renamed, Actor(name="cli:root")):
        with pytest.raises(PermissionDenied):
            decide(db_session, approval.id, approve=True, actor=same_person, now=NOW)
    assert approved(db_session, incident_id=incident.id, subject=subject) is None

    decide(db_session, approval.id, approve=True, actor=second, now=NOW)

    assert approved(db_session, incident_id=incident.id, subject=subject) is approval
    assert pending_approval(db_session, incident_id=incident.id, subject=subject) is None
    with pytest.raises(Conflict):
        decide(db_session, approval.id, approve=False, note="te laat", actor=second, now=NOW)
    kinds = db_session.scalars(
        select(TimelineEntry.kind).where(TimelineEntry.incident_id == incident.id)
    ).all()
    assert "approval_requested" in kinds
    assert "approval_decided" in kinds


def test_a_rejection_needs_a_reason(db_session: Session) -> None:
    asker, second = _officers(db_session)
    incident: Incident = make_incident(db_session, type="staff_safety")
    approval = request_approval(
        db_session,
        incident_id=incident.id,
        subject=ApprovalSubject.EMPLOYER_POLICE_REPORT,
        actor=asker,
        now=NOW,
    )

    with pytest.raises(InvalidInput) as refused:
        decide(db_session, approval.id, approve=False, note="  ", actor=second, now=NOW)

    assert refused.value.field == "note"
    assert approval.outcome == "pending"
