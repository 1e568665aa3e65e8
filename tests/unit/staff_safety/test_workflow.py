"""The staff-safety workflow: every guard refuses with a message naming what is missing and
leaves the state alone; with the facts recorded the case walks from reported to closed, the
reporter is told of the steps that matter to them, and every change is audited.

``make_case`` and the other helpers here are shared by the aftercare, police and deadline
tests. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound
from incidents.cases.models import Incident
from incidents.cases.timeline import entries
from staff_safety import approvals, police
from staff_safety.aftercare import record_aftercare
from staff_safety.cases import open_case_for_report
from staff_safety.models import (
    ApprovalSubject,
    MeasureStatus,
    PerpetratorMeasure,
    ReportUpdate,
    StaffCase,
    StaffReport,
)
from staff_safety.workflow import (
    advance,
    next_steps,
    record_evaluation,
    record_first_care,
    register,
    set_responsible_manager,
)
from tests.factories import make_user
from tests.support.incident_factories import make_incident

NOW = datetime(2026, 4, 24, 14, 0, tzinfo=UTC)  # Friday 16:00 in Amsterdam
ORGANISATION = "Postbus 1, 9700 AA Groningen"


def make_case(session, *, submitted_at=NOW, number="MEL-2026-00001", category="threat_phone"):
    """A submitted report and its staff-safety incident in state ``reported``."""
    report = StaffReport(
        number=number,
        status="submitted",
        reporter_pseudonym="P-AAAA-AAAA",
        category=category,
        location="phone",
        description="Beller dreigde.",
        created_at=submitted_at,
        updated_at=submitted_at,
        submitted_at=submitted_at,
    )
    session.add(report)
    session.flush()
    incident, case = open_case_for_report(session, report, actor=Actor.system(), now=submitted_at)
    return incident, case


def officer(session, username="officier"):
    user = make_user(session, role="security_officer", username=username, email=f"{username}@x.nl")
    return Actor(name=user.username, user_id=user.id)


def updates(session, case):
    query = select(ReportUpdate.kind).where(ReportUpdate.report_id == case.report_id)
    return list(session.scalars(query.order_by(ReportUpdate.id)))


def audited(session, action):
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def walk_to(session, incident, state, actor, *, now=NOW):
    """Record what each step needs and advance until ``state`` (a policy decision of none)."""
    steps = {
        "first_care": lambda: record_first_care(
            session, incident_id=incident.id, note="Gesprek gehad.", actor=actor, now=now
        ),
        "registered": lambda: register(
            session,
            incident_id=incident.id,
            risk_level="medium",
            risk_assessment="Eenmalig.",
            actor=actor,
            now=now,
        ),
        "police_report_decision": lambda: None,
        "aftercare": lambda: police.record_decision(
            session,
            incident_id=incident.id,
            decision="none",
            reason="Medewerker wil geen aangifte.",
            actor=actor,
            now=now,
        ),
        "measures": lambda: record_aftercare(
            session, incident_id=incident.id, step="contact", at=now, actor=actor, now=now
        ),
        "evaluation": lambda: None,
    }
    order = ["reported", *steps]
    for target, prepare in list(steps.items())[order.index(incident.state) :]:
        if incident.state == state:
            return
        prepare()
        advance(session, incident.id, target, actor=actor, now=now)
    assert incident.state == state


@pytest.fixture
def actor(db_session):
    return officer(db_session)


@pytest.fixture
def case(db_session):
    return make_case(db_session)


# The guards --------------------------------------------------------------------------


def refused(session, incident, target, error=Conflict, **options):
    before = incident.state
    with pytest.raises(error) as caught:
        advance(session, incident.id, target, now=NOW, **options)
    assert session.get(Incident, incident.id).state == before
    return caught.value


def test_first_care_must_be_recorded_before_the_first_step(db_session, case, actor):
    incident, _ = case
    error = refused(db_session, incident, "first_care", actor=actor)
    assert "first care" in error.template
    assert updates(db_session, case[1]) == []


def test_registration_needs_a_risk_level_and_an_assessment(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "first_care", actor)
    error = refused(db_session, incident, "registered", actor=actor)
    assert "risk level and a risk assessment" in error.template


@pytest.mark.parametrize(
    ("risk_level", "assessment", "field"),
    [("extreme", "Iets.", "risk_level"), ("high", "   ", "risk_assessment")],
)
def test_a_bad_registration_is_refused_and_nothing_is_stored(
    db_session, case, actor, risk_level, assessment, field
):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        register(
            db_session,
            incident_id=incident.id,
            risk_level=risk_level,
            risk_assessment=assessment,
            actor=actor,
            now=NOW,
        )
    assert caught.value.field == field
    assert staff_case.risk_level is None


def test_registration_may_set_the_severity(db_session, case, actor):
    incident, staff_case = case
    register(
        db_session,
        incident_id=incident.id,
        risk_level="critical",
        risk_assessment="Wapen gezien.",
        severity="critical",
        actor=actor,
        now=NOW,
    )
    assert (staff_case.risk_level, incident.severity) == ("critical", "critical")
    assert staff_case.registered_at == NOW


def test_at_registration_a_case_closes_only_as_a_duplicate(db_session, case, actor):
    incident, staff_case = case
    walk_to(db_session, incident, "registered", actor)
    error = refused(
        db_session,
        incident,
        "closed",
        InvalidInput,
        resolution="false_positive",
        summary="Dubbel.",
        actor=actor,
    )
    assert error.field == "resolution"
    advance(
        db_session,
        incident.id,
        "closed",
        resolution="duplicate",
        summary="Dubbel.",
        actor=actor,
        now=NOW,
    )
    assert incident.state == "closed"
    assert updates(db_session, staff_case)[-1] == "closed"


def test_aftercare_needs_a_police_decision(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "police_report_decision", actor)
    error = refused(db_session, incident, "aftercare", actor=actor)
    assert "police-report decision" in error.template


def test_a_filing_by_the_employer_needs_a_second_officers_approval(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "police_report_decision", actor)
    police.record_decision(
        db_session,
        incident_id=incident.id,
        decision="employer_on_behalf",
        organisation_address=ORGANISATION,
        actor=actor,
        now=NOW,
    )
    error = refused(db_session, incident, "aftercare", actor=actor)
    assert "second officer" in error.template
    waiting = approvals.pending_approval(
        db_session, incident_id=incident.id, subject=ApprovalSubject.EMPLOYER_POLICE_REPORT
    )
    approvals.decide(
        db_session, waiting.id, approve=True, actor=officer(db_session, "tweede"), now=NOW
    )
    advance(db_session, incident.id, "aftercare", actor=actor, now=NOW)
    assert incident.state == "aftercare"


def test_measures_need_aftercare_contact_or_a_decline(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "aftercare", actor)
    error = refused(db_session, incident, "measures", actor=actor)
    assert "aftercare contact" in error.template
    record_aftercare(
        db_session, incident_id=incident.id, step="declined", at=NOW, actor=actor, now=NOW
    )
    advance(db_session, incident.id, "measures", actor=actor, now=NOW)


def test_evaluation_waits_for_proposed_measures(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "measures", actor)
    measure = PerpetratorMeasure(
        incident_id=incident.id,
        perpetrator_pseudonym="P-BBBB-BBBB",
        kind="warning_letter",
        status=MeasureStatus.PROPOSED.value,
        legal_basis="Huisregels",
        starts_on=NOW.date(),
        review_on=NOW.date(),
        expires_on=NOW.date(),
        created_at=NOW,
        created_by="officier",
    )
    db_session.add(measure)
    db_session.flush()
    error = refused(db_session, incident, "evaluation", actor=actor)
    assert error.params == {"count": 1}
    measure.status = MeasureStatus.ACTIVE.value
    db_session.flush()
    advance(db_session, incident.id, "evaluation", actor=actor, now=NOW)


def test_closing_needs_the_evaluation_a_resolution_and_a_summary(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "evaluation", actor)
    options = {"resolution": "resolved", "summary": "Afgehandeld.", "actor": actor}
    error = refused(db_session, incident, "closed", **options)
    assert "evaluation" in error.template
    record_evaluation(
        db_session, incident_id=incident.id, evaluation="Geleerd.", actor=actor, now=NOW
    )
    refused(db_session, incident, "closed", InvalidInput, resolution="resolved", actor=actor)
    advance(db_session, incident.id, "closed", now=NOW, **options)
    assert incident.state == "closed"


def test_a_step_the_machine_does_not_allow_is_a_conflict(db_session, case, actor):
    incident, _ = case
    error = refused(db_session, incident, "aftercare", actor=actor)
    assert error.params["allowed"] == "first_care"


def test_steps_back_need_no_guard_and_reopening_tells_the_reporter(db_session, case, actor):
    incident, staff_case = case
    walk_to(db_session, incident, "evaluation", actor)
    advance(db_session, incident.id, "measures", actor=actor, now=NOW)
    advance(db_session, incident.id, "aftercare", actor=actor, now=NOW)
    advance(db_session, incident.id, "police_report_decision", actor=actor, now=NOW)
    assert incident.state == "police_report_decision"
    walk_to(db_session, incident, "evaluation", actor)
    record_evaluation(
        db_session, incident_id=incident.id, evaluation="Geleerd.", actor=actor, now=NOW
    )
    advance(
        db_session, incident.id, "closed", resolution="resolved", summary="x", actor=actor, now=NOW
    )
    advance(db_session, incident.id, "evaluation", actor=actor, now=NOW)
    assert updates(db_session, staff_case)[-2:] == ["closed", "reopened"]


def test_a_closed_case_takes_no_more_facts(db_session, case, actor):
    incident, _ = case
    walk_to(db_session, incident, "registered", actor)
    advance(
        db_session, incident.id, "closed", resolution="duplicate", summary="x", actor=actor, now=NOW
    )
    with pytest.raises(Conflict):
        record_first_care(
            db_session, incident_id=incident.id, note="Nog iets.", actor=actor, now=NOW
        )


# The walk ----------------------------------------------------------------------------


def test_a_full_walk_tells_the_reporter_and_audits_every_step(db_session, case, actor):
    incident, staff_case = case
    walk_to(db_session, incident, "evaluation", actor)
    record_evaluation(
        db_session, incident_id=incident.id, evaluation="Geleerd.", actor=actor, now=NOW
    )
    advance(
        db_session, incident.id, "closed", resolution="resolved", summary="x", actor=actor, now=NOW
    )
    assert updates(db_session, staff_case) == [
        "first_care",
        "registered",
        "police_decision",
        "aftercare_contact",
        "closed",
    ]
    assert len(audited(db_session, "incident.state_changed")) == 7
    kinds = [entry.kind for entry in entries(db_session, incident.id)]
    for kind in ("first_care_recorded", "case_registered", "police_decision_recorded"):
        assert kind in kinds
    assert incident.closed_at == NOW


def test_audit_details_hold_no_free_text(db_session, case, actor):
    incident, _ = case
    record_first_care(
        db_session, incident_id=incident.id, note="Geheime notitie", actor=actor, now=NOW
    )
    (entry,) = audited(db_session, "incident.first_care_recorded")
    assert "Geheime" not in entry.details


def test_the_next_steps_say_what_is_missing(db_session, case, actor):
    incident, staff_case = case
    (step,) = next_steps(db_session, incident, staff_case)
    assert step.to_state == "first_care"
    assert "first care" in step.missing.template
    record_first_care(db_session, incident_id=incident.id, note="Gedaan.", actor=actor, now=NOW)
    assert next_steps(db_session, incident, staff_case)[0].missing is None


def test_only_an_officer_can_be_the_responsible_manager(db_session, case, actor):
    incident, staff_case = case
    staff = make_user(db_session, role="staff")
    with pytest.raises(InvalidInput) as caught:
        set_responsible_manager(
            db_session, incident_id=incident.id, user_id=staff.id, actor=actor, now=NOW
        )
    assert caught.value.field == "responsible_manager_id"
    assert staff_case.responsible_manager_id is None
    set_responsible_manager(
        db_session, incident_id=incident.id, user_id=actor.user_id, actor=actor, now=NOW
    )
    assert staff_case.responsible_manager_id == actor.user_id


def test_an_incident_of_another_type_has_no_case(db_session, actor):
    incident = make_incident(db_session, type="cyber")
    with pytest.raises(NotFound):
        advance(db_session, incident.id, "triage", actor=actor, now=NOW)
    assert db_session.get(StaffCase, incident.id) is None


def test_first_care_needs_a_note(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        record_first_care(db_session, incident_id=incident.id, note="  ", actor=actor, now=NOW)
    assert caught.value.field == "note"
    assert staff_case.first_care_at is None
    later = NOW + timedelta(hours=1)
    record_first_care(db_session, incident_id=incident.id, note="Gedaan.", actor=actor, now=NOW)
    record_first_care(db_session, incident_id=incident.id, note="Meer.", actor=actor, now=later)
    assert staff_case.first_care_at == NOW  # the first time counts
