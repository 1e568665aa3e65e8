"""Aftercare: contact, decline, re-offer and check-ins are recorded with their time, audited
with who recorded them, and the reporter hears of the contact and the re-offer (never of
the note). Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core import Conflict, InvalidInput
from staff_safety.aftercare import record_aftercare
from tests.unit.staff_safety.test_workflow import NOW, audited, make_case, officer, updates


@pytest.fixture
def actor(db_session):
    return officer(db_session)


@pytest.fixture
def case(db_session):
    return make_case(db_session)


def record(session, incident, actor, step, *, at=NOW, now=NOW, note=""):
    return record_aftercare(
        session, incident_id=incident.id, step=step, at=at, note=note, actor=actor, now=now
    )


def test_contact_is_recorded_audited_and_told(db_session, case, actor):
    incident, staff_case = case
    record(db_session, incident, actor, "contact", note="Vertrouwelijk gesprek")
    assert staff_case.aftercare_contact_at == NOW
    assert staff_case.aftercare_note == "Vertrouwelijk gesprek"
    (entry,) = audited(db_session, "incident.aftercare_recorded")
    details = json.loads(entry.details)
    assert details["step"] == "contact"
    assert details["by_user_id"] == actor.user_id
    assert "Vertrouwelijk" not in entry.details
    assert updates(db_session, staff_case) == ["aftercare_contact"]


def test_a_decline_then_a_reoffer(db_session, case, actor):
    incident, staff_case = case
    record(db_session, incident, actor, "declined")
    assert updates(db_session, staff_case) == []  # a decline is the employee's own choice
    later = NOW + timedelta(days=14)
    record(db_session, incident, actor, "reoffered", at=later, now=later)
    assert staff_case.aftercare_reoffered_at == later
    assert updates(db_session, staff_case) == ["aftercare_reoffered"]


def test_a_reoffer_without_a_decline_is_refused(db_session, case, actor):
    incident, staff_case = case
    with pytest.raises(Conflict):
        record(db_session, incident, actor, "reoffered")
    assert staff_case.aftercare_reoffered_at is None


def test_check_ins_are_kept(db_session, case, actor):
    incident, staff_case = case
    six_weeks = NOW + timedelta(days=42)
    record(db_session, incident, actor, "check_in_6_weeks", at=six_weeks, now=six_weeks)
    three_months = NOW + timedelta(days=92)
    record(db_session, incident, actor, "check_in_3_months", at=three_months, now=three_months)
    assert (staff_case.check_in_6_weeks_at, staff_case.check_in_3_months_at) == (
        six_weeks,
        three_months,
    )


@pytest.mark.parametrize(
    ("step", "at", "note", "field"),
    [
        ("visit", NOW, "", "step"),
        ("contact", NOW + timedelta(minutes=1), "", "at"),
        ("contact", NOW, "x" * 2001, "note"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(db_session, case, actor, step, at, note, field):
    incident, staff_case = case
    with pytest.raises(InvalidInput) as caught:
        record(db_session, incident, actor, step, at=at, note=note)
    assert caught.value.field == field
    assert staff_case.aftercare_contact_at is None
    assert audited(db_session, "incident.aftercare_recorded") == []
