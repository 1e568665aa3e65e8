"""The measures register on a real database: proposing with every term checked, four eyes,
activation telling the reporter, ending, expiry, and what counts as in force on a day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound, PermissionDenied
from incidents.cases.models import TimelineEntry
from staff_safety.measures import (
    active_measures,
    decide_measure,
    due_for_review,
    end_measure,
    expire_measures,
    find_measures,
    perpetrators_of,
    propose_measure,
)
from staff_safety.models import (
    Approval,
    MeasureKind,
    MeasureStatus,
    PerpetratorMeasure,
    PersonRole,
    ReportPerson,
    ReportUpdate,
    StaffCase,
    StaffReport,
)
from staff_safety.vault import Person, keep_identity
from staff_safety.vault_crypto import VaultKeyring
from tests.conftest import TEST_VAULT_KEYS
from tests.factories import make_user
from tests.support.incident_factories import make_incident

KEYRING = VaultKeyring.parse(TEST_VAULT_KEYS)
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday
TODAY = date(2026, 3, 2)
CITIZEN = Person(name="Jan de Vries", case_reference="CJIB-2026-123456", email="jan@example.nl")


@dataclass
class Case:
    incident_id: int
    report_id: int
    perpetrator: str
    first: Actor
    second: Actor


def make_case(
    session: Session, *, perpetrator: Person = CITIZEN, category: str = "threat_in_person"
) -> Case:
    """A staff-safety incident opened by a submitted report naming ``perpetrator``."""
    officers = [make_user(session, role="security_officer") for _ in range(2)]
    victim = keep_identity(
        session, KEYRING, Person(name="Anna Jansen", user_id=officers[0].id + 1000), now=NOW
    )
    offender = keep_identity(session, KEYRING, perpetrator, now=NOW)
    assert victim is not None
    assert offender is not None
    incident = make_incident(session, type="staff_safety", state="measures")
    report = StaffReport(
        number=f"MEL-2026-{incident.id:05d}",
        status="submitted",
        reporter_pseudonym=victim.pseudonym,
        victim_pseudonym=victim.pseudonym,
        perpetrator_pseudonym=offender.pseudonym,
        occurred_at=NOW - timedelta(days=3),
        location="counter",
        category=category,
        incident_id=incident.id,
        created_at=NOW - timedelta(days=3),
        updated_at=NOW - timedelta(days=3),
        submitted_at=NOW - timedelta(days=3),
    )
    session.add(report)
    session.flush()
    session.add(
        ReportPerson(report_id=report.id, role=PersonRole.PERPETRATOR, pseudonym=offender.pseudonym)
    )
    session.add(
        StaffCase(incident_id=incident.id, report_id=report.id, created_at=NOW, updated_at=NOW)
    )
    session.flush()
    return Case(
        incident_id=incident.id,
        report_id=report.id,
        perpetrator=offender.pseudonym,
        first=Actor(name=officers[0].username, user_id=officers[0].id),
        second=Actor(name=officers[1].username, user_id=officers[1].id),
    )


def ban_terms(**overrides: Any) -> dict[str, Any]:
    terms: dict[str, Any] = {
        "kind": MeasureKind.BUILDING_BAN,
        "legal_basis": "Huisregels art. 4; art. 5:1 Awb",
        "starts_on": TODAY,
        "ends_on": TODAY + timedelta(days=180),
        "review_on": TODAY + timedelta(days=90),
        "expires_on": TODAY + timedelta(days=180),
        "house_rules": "Huisregels kantoor Utrecht, art. 4 (agressie)",
    }
    terms.update(overrides)
    return terms


def propose(session: Session, case: Case, **overrides: Any) -> PerpetratorMeasure:
    return propose_measure(
        session,
        incident_id=case.incident_id,
        perpetrator_pseudonym=case.perpetrator,
        actor=case.first,
        now=NOW,
        **ban_terms(**overrides),
    )


@pytest.fixture
def case(db_session: Session) -> Case:
    return make_case(db_session)


def test_a_proposal_is_stored_as_proposed_and_asks_a_second_person(db_session, case):
    measure = propose(db_session, case)

    assert measure.status == MeasureStatus.PROPOSED
    approval = db_session.scalars(select(Approval).where(Approval.measure_id == measure.id)).one()
    assert (approval.subject, approval.outcome) == ("measure", "pending")
    kinds = db_session.scalars(
        select(TimelineEntry.kind).where(TimelineEntry.incident_id == case.incident_id)
    ).all()
    assert "measure_proposed" in kinds
    assert "approval_requested" in kinds
    assert active_measures(db_session, on=TODAY) == []


def test_the_proposer_cannot_approve_their_own_measure(db_session, case):
    measure = propose(db_session, case)

    with pytest.raises(PermissionDenied):
        decide_measure(db_session, KEYRING, measure.id, approve=True, actor=case.first, now=NOW)
    assert measure.status == MeasureStatus.PROPOSED


def test_a_second_officer_approves_it_active_and_the_reporter_hears_the_kind_only(db_session, case):
    measure = propose(db_session, case)

    decide_measure(db_session, KEYRING, measure.id, approve=True, actor=case.second, now=NOW)

    assert measure.status == MeasureStatus.ACTIVE
    assert active_measures(db_session, on=TODAY) == [measure]
    [update] = db_session.scalars(
        select(ReportUpdate).where(ReportUpdate.report_id == case.report_id)
    ).all()
    assert update.kind == "measure_taken"
    assert json.loads(update.details) == {"kind": "building_ban"}


def test_a_rejection_needs_a_reason_and_leaves_the_measure_rejected(db_session, case):
    measure = propose(db_session, case)

    with pytest.raises(InvalidInput) as refused:
        decide_measure(db_session, KEYRING, measure.id, approve=False, actor=case.second, now=NOW)
    assert refused.value.field == "note"
    decide_measure(
        db_session, KEYRING, measure.id, approve=False, note="Te zwaar.", actor=case.second, now=NOW
    )

    assert measure.status == MeasureStatus.REJECTED
    with pytest.raises(Conflict):
        decide_measure(db_session, KEYRING, measure.id, approve=True, actor=case.second, now=NOW)
    assert db_session.scalar(select(func.count(ReportUpdate.id))) == 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "ban_for_life"}, "kind"),
        ({"legal_basis": "  "}, "legal_basis"),
        ({"legal_basis": "x" * 501}, "legal_basis"),
        ({"starts_on": None}, "starts_on"),
        ({"review_on": None}, "review_on"),
        ({"expires_on": None}, "expires_on"),
        ({"review_on": TODAY - timedelta(days=1)}, "review_on"),
        ({"expires_on": TODAY + timedelta(days=60)}, "expires_on"),  # before the review
        ({"ends_on": TODAY + timedelta(days=200)}, "ends_on"),  # after the expiry
        ({"ends_on": TODAY - timedelta(days=1)}, "ends_on"),  # before the start
        ({"ends_on": None}, "ends_on"),  # a ban needs an end
        ({"house_rules": ""}, "house_rules"),
        (
            {"ends_on": TODAY + timedelta(days=800), "expires_on": TODAY + timedelta(days=800)},
            "expires_on",
        ),  # more than 24 months
        ({"note": "n" * 2001}, "note"),
    ],
)
def test_each_bad_term_is_refused_on_its_field_and_nothing_is_stored(
    db_session, case, overrides, field
):
    with pytest.raises(InvalidInput) as refused:
        propose(db_session, case, **overrides)

    assert refused.value.field == field
    assert db_session.scalar(select(func.count(PerpetratorMeasure.id))) == 0
    assert db_session.scalar(select(func.count(Approval.id))) == 0


def test_exactly_24_months_is_allowed(db_session, case):
    end = date(2028, 3, 2)
    measure = propose(db_session, case, ends_on=end, expires_on=end)

    assert measure.expires_on == end


def contact_terms(**overrides: Any) -> dict[str, Any]:
    return ban_terms(
        kind=MeasureKind.CONTACT_RESTRICTION, house_rules="", ends_on=None, **overrides
    )


def test_a_contact_restriction_needs_a_mode_and_one_contact_an_active_user(db_session, case):
    inactive = make_user(db_session, role="security_officer", is_active=False)
    for overrides, field in (
        ({}, "contact_mode"),
        ({"contact_mode": "by_pigeon"}, "contact_mode"),
        ({"contact_mode": "one_contact"}, "contact_user_id"),
        ({"contact_mode": "one_contact", "contact_user_id": inactive.id}, "contact_user_id"),
        ({"contact_mode": "one_contact", "contact_user_id": 999_999}, "contact_user_id"),
    ):
        with pytest.raises(InvalidInput) as refused:
            propose(db_session, case, **contact_terms(**overrides))
        assert refused.value.field == field

    written = propose(db_session, case, **contact_terms(contact_mode="written_only"))
    assert (written.contact_mode, written.contact_user_id, written.house_rules) == (
        "written_only",
        None,
        "",
    )


def test_one_contact_names_the_contact_person(db_session, case):
    measure = propose(
        db_session,
        case,
        **contact_terms(contact_mode="one_contact", contact_user_id=case.second.user_id),
    )

    assert (measure.contact_mode, measure.contact_user_id) == ("one_contact", case.second.user_id)


def test_the_perpetrator_must_be_a_pseudonym_known_to_the_vault(db_session, case):
    for pseudonym in ("Jan de Vries", "P-AAAA-AAAA"):
        with pytest.raises(InvalidInput) as refused:
            propose_measure(
                db_session,
                incident_id=case.incident_id,
                perpetrator_pseudonym=pseudonym,
                actor=case.first,
                now=NOW,
                **ban_terms(),
            )
        assert refused.value.field == "perpetrator_pseudonym"
    assert perpetrators_of(db_session, case.incident_id) == [case.perpetrator]


def test_a_measure_belongs_to_an_open_staff_safety_case(db_session, case):
    cyber = make_incident(db_session, type="cyber")
    with pytest.raises(NotFound):
        propose_measure(
            db_session,
            incident_id=cyber.id,
            perpetrator_pseudonym=case.perpetrator,
            actor=case.first,
            now=NOW,
            **ban_terms(),
        )
    closed = make_incident(db_session, type="staff_safety", state="closed")
    with pytest.raises(Conflict):
        propose_measure(
            db_session,
            incident_id=closed.id,
            perpetrator_pseudonym=case.perpetrator,
            actor=case.first,
            now=NOW,
            **ban_terms(),
        )


def active(session: Session, case: Case, **overrides: Any) -> PerpetratorMeasure:
    measure = propose(session, case, **overrides)
    decide_measure(session, KEYRING, measure.id, approve=True, actor=case.second, now=NOW)
    return measure


def test_ending_needs_a_reason_and_an_active_measure(db_session, case):
    measure = active(db_session, case)

    with pytest.raises(InvalidInput) as refused:
        end_measure(db_session, KEYRING, measure.id, reason=" ", actor=case.first, now=NOW)
    assert refused.value.field == "reason"
    assert measure.status == MeasureStatus.ACTIVE
    end_measure(
        db_session, KEYRING, measure.id, reason="Excuses aangeboden", actor=case.first, now=NOW
    )

    assert (measure.status, measure.end_reason) == ("ended", "Excuses aangeboden")
    assert active_measures(db_session, on=TODAY) == []
    with pytest.raises(Conflict):
        end_measure(db_session, KEYRING, measure.id, reason="nogmaals", actor=case.first, now=NOW)


def test_a_measure_is_in_force_from_its_start_to_its_end_and_not_after(db_session, case):
    start = TODAY + timedelta(days=7)
    measure = active(
        db_session,
        case,
        starts_on=start,
        ends_on=start + timedelta(days=30),
        review_on=start + timedelta(days=20),
        expires_on=start + timedelta(days=60),
    )

    assert active_measures(db_session, on=TODAY) == []
    assert active_measures(db_session, on=start) == [measure]
    assert active_measures(db_session, on=start + timedelta(days=30)) == [measure]
    assert active_measures(db_session, on=start + timedelta(days=31)) == []


def test_an_expired_measure_is_not_in_force_and_the_job_marks_it_ended(db_session, case):
    measure = active(
        db_session, case, kind=MeasureKind.WARNING_LETTER, house_rules="", ends_on=None
    )
    after = TODAY + timedelta(days=181)

    assert active_measures(db_session, on=after) == []
    assert expire_measures(db_session, now=NOW + timedelta(days=179), actor=Actor.system()) == 0
    assert expire_measures(db_session, now=NOW + timedelta(days=181), actor=Actor.system()) == 1
    assert (measure.status, measure.end_reason) == ("ended", "expired")
    assert expire_measures(db_session, now=NOW + timedelta(days=182), actor=Actor.system()) == 0


def test_review_is_due_from_the_review_date_until_expiry(db_session, case):
    measure = active(db_session, case)

    assert due_for_review(db_session, on=TODAY + timedelta(days=89)) == []
    assert due_for_review(db_session, on=TODAY + timedelta(days=90)) == [measure]
    assert due_for_review(db_session, on=TODAY + timedelta(days=181)) == []


def test_the_register_filters_by_status_kind_and_person(db_session, case):
    ban = active(db_session, case)
    letter = propose(
        db_session, case, kind=MeasureKind.WARNING_LETTER, house_rules="", ends_on=None
    )

    assert find_measures(db_session) == [letter, ban]
    assert find_measures(db_session, status=MeasureStatus.ACTIVE) == [ban]
    assert find_measures(db_session, kind=MeasureKind.WARNING_LETTER) == [letter]
    assert find_measures(db_session, pseudonym="P-AAAA-AAAA") == []
    assert find_measures(db_session, pseudonym=case.perpetrator) == [letter, ban]


def test_audit_and_timeline_name_the_person_by_pseudonym_only(db_session, case):
    measure = active(db_session, case)
    end_measure(
        db_session, KEYRING, measure.id, reason="Opgeheven na gesprek", actor=case.first, now=NOW
    )

    details = " ".join(
        db_session.scalars(select(AuditEntry.details)).all()
        + db_session.scalars(select(TimelineEntry.details)).all()
    )
    assert case.perpetrator in details
    for secret in ("Jan de Vries", "CJIB-2026-123456", "jan@example.nl", "Opgeheven"):
        assert secret not in details
