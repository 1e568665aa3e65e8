"""The police report (aangifte): the decision with the organisation's address as domicile,
four eyes for a filing by the employer, the filing with its police number, the prosecution
and the damage; each refused with a clear reason when incomplete, each audited, and the
reporter told only what they may know. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from core import Conflict, InvalidInput
from staff_safety import approvals, police
from staff_safety.models import ApprovalSubject, ReportUpdate
from tests.unit.staff_safety.test_workflow import (
    NOW,
    ORGANISATION,
    audited,
    make_case,
    officer,
    updates,
)


@pytest.fixture
def actor(db_session):
    return officer(db_session)


@pytest.fixture
def case(db_session):
    return make_case(db_session)


def decide(session, incident, actor, decision, **options):
    return police.record_decision(
        session, incident_id=incident.id, decision=decision, actor=actor, now=NOW, **options
    )


def told(session, case):
    rows = session.scalars(select(ReportUpdate).where(ReportUpdate.report_id == case.report_id))
    return {row.kind: json.loads(row.details) for row in rows}


def test_the_domicile_defaults_to_the_organisations_address(db_session, case, actor):
    incident, staff_case = case
    decide(db_session, incident, actor, "victim_with_support", organisation_address=ORGANISATION)
    assert staff_case.domicile == ORGANISATION
    assert staff_case.police_decided_at == NOW
    assert told(db_session, staff_case)["police_decision"] == {"decision": "victim_with_support"}


@pytest.mark.parametrize("decision", ["victim_with_support", "employer_on_behalf"])
def test_a_filing_without_any_domicile_tells_the_officer_what_to_set(
    db_session, case, actor, decision
):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        decide(db_session, incident, actor, decision, organisation_address="  ")
    assert caught.value.field == "domicile"
    assert "WACHTER_ORGANISATION_ADDRESS" in caught.value.template
    assert staff_case.police_decision is None
    assert updates(db_session, staff_case) == []


def test_a_typed_domicile_wins(db_session, case, actor):
    incident, staff_case = case
    decide(db_session, incident, actor, "victim_with_support", domicile="Kantoor Zwolle")
    assert staff_case.domicile == "Kantoor Zwolle"


def test_no_police_report_needs_a_reason_which_the_reporter_does_not_see(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        decide(db_session, incident, actor, "none")
    assert caught.value.field == "reason"
    decide(db_session, incident, actor, "none", reason="Medewerker ziet ervan af.")
    assert "ziet ervan af" not in json.dumps(told(db_session, staff_case))
    (entry,) = audited(db_session, "incident.police_decision_recorded")
    assert "ziet ervan af" not in entry.details


def test_an_unknown_decision_is_refused(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        decide(db_session, incident, actor, "maybe")
    assert caught.value.field == "decision"
    assert staff_case.police_decision is None


def test_a_filing_by_the_employer_asks_for_four_eyes_once(db_session, case, actor):
    incident, _ = case
    for _ in range(2):
        decide(db_session, incident, actor, "employer_on_behalf", organisation_address=ORGANISATION)
    pending = approvals.approvals_of(db_session, incident.id)
    assert [approval.subject for approval in pending] == ["employer_police_report"]


def test_the_employers_filing_waits_for_the_approval(db_session, case, actor):
    incident, staff_case = case
    decide(db_session, incident, actor, "employer_on_behalf", organisation_address=ORGANISATION)
    filing = {"filed_at": NOW, "registration_number": "2026123456", "unit": "Basisteam Noord"}
    with pytest.raises(Conflict):
        police.record_filing(db_session, incident_id=incident.id, actor=actor, now=NOW, **filing)
    assert staff_case.police_filed_at is None
    waiting = approvals.pending_approval(
        db_session, incident_id=incident.id, subject=ApprovalSubject.EMPLOYER_POLICE_REPORT
    )
    approvals.decide(db_session, waiting.id, approve=True, actor=officer(db_session, "b"), now=NOW)
    police.record_filing(db_session, incident_id=incident.id, actor=actor, now=NOW, **filing)
    assert staff_case.police_registration_number == "2026123456"
    assert told(db_session, staff_case)["police_filed"] == {
        "filed_on": "2026-04-24",
        "registration_number": "2026123456",
    }


def test_a_filing_needs_a_decision_to_file_a_number_and_a_past_time(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(Conflict):
        police.record_filing(
            db_session,
            incident_id=incident.id,
            filed_at=NOW,
            registration_number="1",
            actor=actor,
            now=NOW,
        )
    decide(db_session, incident, actor, "victim_with_support", organisation_address=ORGANISATION)
    for values, field in [
        ({"filed_at": NOW, "registration_number": " "}, "registration_number"),
        ({"filed_at": NOW, "registration_number": "x" * 61}, "registration_number"),
        ({"filed_at": NOW + timedelta(hours=1), "registration_number": "1"}, "filed_at"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            police.record_filing(
                db_session, incident_id=incident.id, actor=actor, now=NOW, **values
            )
        assert caught.value.field == field
    assert staff_case.police_filed_at is None


def test_the_prosecution_and_outcome_are_told_without_their_text(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(InvalidInput):
        police.record_prosecution(
            db_session, incident_id=incident.id, decision=" ", actor=actor, now=NOW
        )
    police.record_prosecution(
        db_session, incident_id=incident.id, decision="Vervolging.", actor=actor, now=NOW
    )
    police.record_prosecution(
        db_session,
        incident_id=incident.id,
        decision="Vervolging.",
        outcome="Taakstraf.",
        actor=actor,
        now=NOW,
    )
    assert updates(db_session, staff_case) == ["prosecution_decision", "outcome"]
    assert "Taakstraf" not in json.dumps(told(db_session, staff_case))
    assert staff_case.outcome == "Taakstraf."


def test_damage_and_recovery(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        police.record_damage(
            db_session,
            incident_id=incident.id,
            statement="Bril.",
            amount_cents=100,
            recovered_cents=200,
            actor=actor,
            now=NOW,
        )
    assert caught.value.field == "damage_recovered"
    with pytest.raises(InvalidInput):
        police.record_damage(
            db_session,
            incident_id=incident.id,
            statement="",
            amount_cents=-1,
            recovered_cents=None,
            actor=actor,
            now=NOW,
        )
    assert staff_case.damage_amount_cents is None
    police.record_damage(
        db_session,
        incident_id=incident.id,
        statement="Bril.",
        amount_cents=25000,
        recovered_cents=None,
        actor=actor,
        now=NOW,
    )
    assert updates(db_session, staff_case) == []
    police.record_damage(
        db_session,
        incident_id=incident.id,
        statement="Bril.",
        amount_cents=25000,
        recovered_cents=10000,
        actor=actor,
        now=NOW,
    )
    assert told(db_session, staff_case)["damage_recovered"] == {"recovered_cents": 10000}
    assert len(audited(db_session, "incident.damage_recorded")) == 2
