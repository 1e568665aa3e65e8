"""The report form's fields (``report_input``) and the report services (``reports``).

Validation is pure; the services run on SQLite and PostgreSQL through ``db_session``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry
from core import NotFound
from staff_safety.models import Category, Location, ReportPerson, StaffReport, VaultIdentity
from staff_safety.report_facts import list_reports
from staff_safety.report_input import InvalidReport, ReportInput, check_complete, parse_report_form
from staff_safety.reports import (
    draft_input,
    my_reports,
    own_draft,
    own_report,
    reporter_view,
    save_draft,
    submit_report,
)
from staff_safety.vault_crypto import VaultKeyring
from tests.conftest import TEST_VAULT_KEYS
from tests.factories import make_user

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
ZONE = "Europe/Amsterdam"
ACTOR = Actor(name="medewerker", user_id=None, ip="192.0.2.7")
FORM = {
    "occurred_date": "2026-03-10",
    "occurred_time": "09:15",
    "location": "phone",
    "category": "threat_phone",
    "description": "Hij dreigde me iets aan te doen.",
}


def parse(**changes: str) -> ReportInput:
    return parse_report_form({**FORM, **changes}, timezone=ZONE, now=NOW)


def refused(**changes: str) -> dict[str, object]:
    with pytest.raises(InvalidReport) as caught:
        parse(**changes)
    return caught.value.errors


# The form's fields ---------------------------------------------------------------------------


def test_local_date_and_time_become_utc():
    assert parse().occurred_at == datetime(2026, 3, 10, 8, 15, tzinfo=UTC)
    summer = parse(occurred_date="2025-07-01", occurred_time="09:15").occurred_at
    assert summer == datetime(2025, 7, 1, 7, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"occurred_date": "2026-03-11"}, "occurred_date"),  # tomorrow
        ({"occurred_date": "2025-03-09"}, "occurred_date"),  # over a year ago
        ({"occurred_date": "10-03-2026"}, "occurred_date"),
        ({"occurred_date": "2026-02-30"}, "occurred_date"),
        ({"occurred_time": ""}, "occurred_date"),  # date without time
        ({"occurred_time": "9 uur"}, "occurred_date"),
        ({"location": "moon"}, "location"),
        ({"category": "rudeness"}, "category"),
        ({"description": "x" * 10_001}, "description"),
        ({"others_present": "x" * 2_001}, "others_present"),
        ({"perpetrator_description": "x" * 2_001}, "perpetrator_description"),
        ({"perpetrator_name": "x" * 201}, "perpetrator_name"),
        ({"victim_name": "x" * 201}, "victim_name"),
        ({"perpetrator_case_reference": "x" * 101}, "perpetrator_case_reference"),
        ({"perpetrator_email": "nobody"}, "perpetrator_email"),
        ({"perpetrator_phone": "bel me"}, "perpetrator_phone"),
        ({"witness_names": "\n".join(["a"] * 11)}, "witness_names"),
        ({"witness_names": "x" * 201}, "witness_names"),
        ({"wants_aftercare": "maybe"}, "wants_aftercare"),
        ({"wants_police_report": "1"}, "wants_police_report"),
    ],
)
def test_each_bad_field_is_named(changes, field):
    assert field in refused(**changes)


def test_every_bad_field_is_reported_at_once():
    errors = refused(location="moon", category="x", perpetrator_email="nope")
    assert set(errors) == {"location", "category", "perpetrator_email"}


def test_unknown_fields_are_ignored_and_answers_parse():
    data = parse_report_form(
        {
            **FORM,
            "status": "closed",
            "incident_id": "7",
            "wants_aftercare": "yes",
            "wants_police_report": "no",
            "weapon": "1",
            "witness_names": " Ann \n\n Bob ",
        },
        timezone=ZONE,
        now=NOW,
    )
    assert data.wants_aftercare is True
    assert data.wants_police_report is False
    assert data.weapon is True
    assert data.witness_names == ("Ann", "Bob")
    assert not hasattr(data, "status")


def test_a_draft_may_be_incomplete_but_sending_needs_the_facts():
    empty = parse_report_form({}, timezone=ZONE, now=NOW)
    assert empty.location is None
    with pytest.raises(InvalidReport) as caught:
        check_complete(empty, now=NOW)
    assert set(caught.value.errors) == {"occurred_date", "location", "category", "description"}
    for_colleague = parse(victim="colleague")
    with pytest.raises(InvalidReport) as caught:
        check_complete(for_colleague, now=NOW)
    assert set(caught.value.errors) == {"victim_name"}
    check_complete(parse(), now=NOW)


def test_a_direct_construction_is_checked_too():
    with pytest.raises(InvalidReport):
        ReportInput(description="x" * 10_001)
    assert ReportInput(location=Location.OFFICE, category=Category.DOXING).victim_is_reporter


# The services --------------------------------------------------------------------------------


@pytest.fixture
def keyring():
    return VaultKeyring.parse(TEST_VAULT_KEYS)


@pytest.fixture
def user(db_session):
    return make_user(db_session, username="anna", display_name="Anna Melder", email="anna@org.nl")


def send(db_session, keyring, user, **changes):
    data = parse(**changes)
    return submit_report(db_session, keyring, user=user, data=data, actor=ACTOR, now=NOW)


def test_two_reports_with_one_case_reference_give_one_perpetrator(db_session, keyring, user):
    first = send(db_session, keyring, user, perpetrator_case_reference="Z-42")
    second = send(
        db_session, keyring, user, perpetrator_case_reference="z-42 ", perpetrator_name="K"
    )
    assert first.perpetrator_pseudonym == second.perpetrator_pseudonym
    assert first.reporter_pseudonym == second.reporter_pseudonym == first.victim_pseudonym
    assert first.number == f"MEL-2026-{first.id:05d}"


def test_an_unknown_perpetrator_has_no_identity(db_session, keyring, user):
    report = send(db_session, keyring, user, perpetrator_description="man, rode jas")
    assert report.perpetrator_pseudonym is None
    assert report.perpetrator_known == "man, rode jas"


def test_no_identifying_value_is_stored_outside_the_vault(db_session, keyring, user):
    send(
        db_session,
        keyring,
        user,
        victim="colleague",
        victim_name="Bert Collega",
        witness_names="Wim Getuige",
        perpetrator_name="Karel Boos",
        perpetrator_case_reference="ZAAK-9",
        perpetrator_email="k@boos.nl",
        perpetrator_phone="06-12345678",
    )
    rows = [repr(vars(row)) for row in db_session.scalars(select(StaffReport))]
    rows += [repr(vars(row)) for row in db_session.scalars(select(ReportPerson))]
    rows += [repr(row.details) + row.actor for row in db_session.scalars(select(AuditEntry))]
    secrets = (
        "Bert Collega",
        "Wim Getuige",
        "Karel Boos",
        "ZAAK-9",
        "k@boos.nl",
        "12345678",
        "Anna Melder",
        "anna@org.nl",
    )
    for secret in secrets:
        assert not any(secret in row for row in rows), secret
    assert db_session.scalar(select(VaultIdentity.id).limit(1)) is not None


def test_a_draft_seals_its_people_and_only_its_reporter_opens_it(db_session, keyring, user):
    data = parse(perpetrator_name="Karel Boos", witness_names="Wim")
    draft = save_draft(db_session, keyring, user=user, data=data, actor=ACTOR, now=NOW)
    assert draft.status == "draft"
    assert b"Karel" not in draft.draft_people
    assert draft_input(keyring, draft).perpetrator_name == "Karel Boos"
    other = make_user(db_session)
    send(db_session, keyring, other)  # the other user has a pseudonym too
    with pytest.raises(NotFound):
        own_draft(db_session, keyring, other.id, draft.id)
    with pytest.raises(NotFound):
        save_draft(
            db_session, keyring, user=other, data=data, draft_id=draft.id, actor=ACTOR, now=NOW
        )
    sent = submit_report(
        db_session, keyring, user=user, data=data, draft_id=draft.id, actor=ACTOR, now=NOW
    )
    assert sent.id == draft.id
    assert sent.draft_people is None
    with pytest.raises(NotFound):
        own_draft(db_session, keyring, user.id, draft.id)  # sent: no longer a draft


def test_my_reports_and_the_reporters_view_show_only_their_own(db_session, keyring, user):
    mine = send(db_session, keyring, user)
    other = make_user(db_session)
    theirs = send(db_session, keyring, other)
    assert [item.report.id for item in my_reports(db_session, keyring, user.id)] == [mine.id]
    assert my_reports(db_session, keyring, make_user(db_session).id) == []
    with pytest.raises(NotFound):
        own_report(db_session, keyring, user.id, theirs.number)
    [item] = my_reports(db_session, keyring, user.id)
    assert (item.phase, item.new_updates) == ("reported", 1)
    view = reporter_view(
        db_session,
        own_report(db_session, keyring, user.id, mine.number),
        actor=ACTOR,
        now=NOW + timedelta(hours=1),
    )
    assert [(update.kind, update.is_new) for update in view.updates] == [("submitted", True)]
    assert not {"risk_level", "risk_assessment", "victim", "perpetrator"} & set(vars(view))
    assert my_reports(db_session, keyring, user.id)[0].new_updates == 0


def test_the_officers_list_filters_from_closed_sets(db_session, keyring, user):
    send(db_session, keyring, user)
    send(db_session, keyring, user, category="doxing")
    save_draft(db_session, keyring, user=user, data=parse(), actor=ACTOR, now=NOW)
    assert len(list_reports(db_session)) == 2
    assert [f.category for f in list_reports(db_session, category="doxing")] == ["doxing"]
    assert len(list_reports(db_session, state="reported")) == 2
