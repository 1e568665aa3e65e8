"""The staff-safety case pages: the list, the case page with the workflow's forms, four-eyes
decisions and revealing an identity.

The tests check who may look, change and reveal (the policy table), CSRF, that every guard's
refusal is shown on the page and changes nothing, that the page never shows a vaulted name
and shows the statement as text, that looks and reveals are audited, that the reporter's
updates are written, and one walk from reported to closed through the pages.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from incidents.cases.models import Incident
from staff_safety.cases import open_case_for_report
from staff_safety.models import ReportPerson, ReportUpdate, StaffCase, StaffReport
from staff_safety.vault import Person, keep_identity
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, signed_in_client
from web.context import web_context

HOSTILE = '<script>alert(1)</script> "><img src=x onerror=alert(2)> {{7*7}}'
VICTIM_NAME = "Anna Jansen"
PERPETRATOR_NAME = "Kees Dreiger"


@pytest.fixture
def client(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def officer(app, client, clock):
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account


@pytest.fixture
def case_id(app, rollback_database, clock):
    """A submitted report with a victim and a perpetrator in the vault, and its case."""
    with app.app_context(), rollback_database.unit_of_work() as session:
        keyring, now = web_context().vault, clock.now()
        victim = keep_identity(session, keyring, Person(name=VICTIM_NAME, email="a@x.nl"), now=now)
        perpetrator = keep_identity(
            session, keyring, Person(name=PERPETRATOR_NAME, case_reference="CJIB-123"), now=now
        )
        report = StaffReport(
            number="MEL-2026-00007",
            status="submitted",
            reporter_pseudonym=victim.pseudonym,
            victim_pseudonym=victim.pseudonym,
            perpetrator_pseudonym=perpetrator.pseudonym,
            category="threat_in_person",
            location="counter",
            description=HOSTILE,
            created_at=now,
            updated_at=now,
            submitted_at=now,
        )
        session.add(report)
        session.flush()
        for role, identity in (("victim", victim), ("perpetrator", perpetrator)):
            session.add(ReportPerson(report_id=report.id, role=role, pseudonym=identity.pseudonym))
        incident, _ = open_case_for_report(session, report, actor=Actor.system(), now=now)
        return incident.id


def state_of(database, incident_id):
    with database.unit_of_work() as session:
        return session.get(Incident, incident_id).state


def case_row(database, incident_id):
    with database.unit_of_work() as session:
        return session.get(StaffCase, incident_id)


def reporter_updates(database):
    with database.unit_of_work() as session:
        return list(session.scalars(select(ReportUpdate.kind).order_by(ReportUpdate.id)))


def people(database):
    with database.unit_of_work() as session:
        rows = session.scalars(select(ReportPerson).order_by(ReportPerson.role))
        return {row.role: row.pseudonym for row in rows}


def text_of(response):
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def act(client, incident_id, action, data=None):
    return post(client, f"/staff-safety/cases/{incident_id}/{action}", data or {})


# Who may look and change ---------------------------------------------------------------


@pytest.mark.parametrize("role", ["staff", "soc_analyst", "auditor", "admin"])
def test_only_officers_see_cases(app, client, clock, case_id, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    for path in ("/staff-safety", f"/staff-safety/cases/{case_id}"):
        assert client.get(path).status_code == 403, path


@pytest.mark.parametrize("role", ["staff", "soc_analyst"])
def test_staff_and_analysts_cannot_change_a_case(
    app, client, clock, rollback_database, case_id, role
):
    sign_in(client, enrolled_user(app, role=role), clock)
    assert act(client, case_id, "first-care", {"note": "x"}).status_code == 403
    assert act(client, case_id, "advance", {"to": "first_care"}).status_code == 403
    assert case_row(rollback_database, case_id).first_care_at is None


def test_a_change_without_csrf_token_is_refused(client, officer, rollback_database, case_id):
    client.get(f"/staff-safety/cases/{case_id}")
    response = client.post(f"/staff-safety/cases/{case_id}/first-care", data={"note": "x"})
    assert response.status_code == 400
    assert case_row(rollback_database, case_id).first_care_at is None


def test_an_incident_of_another_type_is_not_a_case(client, officer, rollback_database, clock):
    with rollback_database.unit_of_work() as session:
        incident = Incident(
            reference="INC-2026-99999",
            title="x",
            description="",
            type="cyber",
            severity="low",
            tlp="amber",
            state="new",
            created_at=clock.now(),
            created_by="t",
            updated_at=clock.now(),
        )
        session.add(incident)
        session.flush()
        cyber_id = incident.id
    assert client.get(f"/staff-safety/cases/{cyber_id}").status_code == 404
    assert client.get("/staff-safety/cases/999999").status_code == 404


# What the officer sees ---------------------------------------------------------------


def test_the_list_shows_open_cases_and_the_look_is_audited(
    client, officer, rollback_database, case_id
):
    page = client.get("/staff-safety").get_data(as_text=True)
    assert f'id="case-{case_id}"' in page
    assert "MEL-2026-00007" in page
    assert audit_entries(rollback_database, "staff_case.read")
    assert client.get("/staff-safety?state=bogus").status_code == 400


def test_the_case_page_shows_pseudonyms_never_names_and_the_statement_as_text(
    client, officer, rollback_database, case_id
):
    response = client.get(f"/staff-safety/cases/{case_id}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for name in (VICTIM_NAME, PERPETRATOR_NAME, "a@x.nl", "CJIB-123"):
        assert name not in page
    for pseudonym in people(rollback_database).values():
        assert pseudonym in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "{{7*7}}" in page
    assert "Reveal identity" in page
    assert f"/staff-safety/cases/{case_id}/dossier.pdf" in page
    assert "/staff-safety/measures?person=" in page
    (entry,) = [
        entry
        for entry in audit_entries(rollback_database, "staff_case.read")
        if entry.target == f"staff_case:{case_id}"
    ]
    assert entry.actor == "officier"


def test_the_incident_page_links_to_the_case_instead_of_state_buttons(client, officer, case_id):
    page = client.get(f"/incidents/{case_id}").get_data(as_text=True)
    assert f'href="/staff-safety/cases/{case_id}"' in page
    assert f"/incidents/{case_id}/transition" not in page


# The guards, through the pages -------------------------------------------------------


@pytest.mark.parametrize(
    ("prepare", "target", "message"),
    [
        ([], "first_care", "Record the first care given to the employee first."),
        (
            [("first-care", {"note": "Gesprek."}), ("advance", {"to": "first_care"})],
            "registered",
            "Register the case first: a risk level and a risk assessment.",
        ),
    ],
)
def test_a_guard_refuses_on_the_page_and_changes_nothing(
    client, officer, rollback_database, case_id, prepare, target, message
):
    for action, data in prepare:
        assert act(client, case_id, action, data).status_code == 303
    before = state_of(rollback_database, case_id)
    response = act(client, case_id, "advance", {"to": target})
    assert response.status_code == 409
    assert message in text_of(response)
    assert state_of(rollback_database, case_id) == before


def test_bad_input_is_shown_on_its_form_and_nothing_is_stored(
    client, officer, rollback_database, case_id
):
    response = act(client, case_id, "register", {"risk_level": "extreme", "risk_assessment": "x"})
    assert response.status_code == 400
    assert "Choose a risk level" in text_of(response)
    response = act(client, case_id, "police/damage", {"damage_amount": "veel"})
    assert response.status_code == 400
    assert "Give an amount in euros" in text_of(response)
    response = act(client, case_id, "aftercare", {"step": "contact", "at": "gisteren"})
    assert response.status_code == 400
    stored = case_row(rollback_database, case_id)
    assert (stored.risk_level, stored.damage_amount_cents, stored.aftercare_contact_at) == (
        None,
        None,
        None,
    )


def test_a_filing_decision_without_an_address_says_what_to_set(
    client, officer, rollback_database, case_id
):
    response = act(client, case_id, "police/decision", {"decision": "victim_with_support"})
    assert response.status_code == 400
    assert "WACHTER_ORGANISATION_ADDRESS" in text_of(response)
    assert case_row(rollback_database, case_id).police_decision is None


# Four eyes ---------------------------------------------------------------------------


def test_the_asker_cannot_approve_another_officer_can(
    app, client, officer, clock, rollback_database, case_id
):
    data = {"decision": "employer_on_behalf", "domicile": "Postbus 1, Den Haag"}
    assert act(client, case_id, "police/decision", data).status_code == 303
    page = client.get(f"/staff-safety/cases/{case_id}").get_data(as_text=True)
    approval_id = int(re.search(r'id="approval-(\d+)"', page).group(1))
    assert "Another officer must decide this." in page
    path = f"approvals/{approval_id}/decide"
    response = act(client, case_id, path, {"decision": "approve"})
    assert response.status_code == 403
    assert "A second person must decide" in text_of(response)
    second = signed_in_client(app, enrolled_user(app, role="security_officer", username="b"), clock)
    assert act(second, case_id, path, {"decision": "approve"}).status_code == 303
    assert audit_entries(rollback_database, "incident.approval_decided")


# Revealing an identity ---------------------------------------------------------------


def reveal_path(rollback_database, case_id, role="perpetrator"):
    return f"/staff-safety/people/{people(rollback_database)[role]}/reveal?incident={case_id}"


@pytest.mark.parametrize("role", ["staff", "soc_analyst"])
def test_only_officers_may_reveal(app, client, clock, rollback_database, case_id, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    path = reveal_path(rollback_database, case_id)
    assert client.get(path).status_code == 403
    assert post(client, path, {"reason": "Ik wil het gewoon weten."}).status_code == 403
    assert audit_entries(rollback_database, "vault.identity_revealed") == []


def test_a_reveal_needs_a_reason(client, officer, rollback_database, case_id):
    path = reveal_path(rollback_database, case_id)
    assert "Why do you need to know who this is?" in client.get(path).get_data(as_text=True)
    response = post(client, path, {"reason": "kort"})
    assert response.status_code == 400
    assert "Say why you need to see who this is" in text_of(response)
    assert PERPETRATOR_NAME not in response.get_data(as_text=True)
    assert audit_entries(rollback_database, "vault.identity_revealed") == []


def test_a_reveal_shows_the_identity_once_and_is_audited(
    client, officer, rollback_database, case_id
):
    path = reveal_path(rollback_database, case_id)
    response = post(client, path, {"reason": "Aangifte: politie vraagt de naam."})
    assert response.status_code == 200
    assert PERPETRATOR_NAME in response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    (entry,) = audit_entries(rollback_database, "vault.identity_revealed")
    details = json.loads(entry.details)
    assert details["context"] == f"incident:{case_id}"
    assert details["reason"] == "Aangifte: politie vraagt de naam."
    assert PERPETRATOR_NAME not in entry.details


def test_a_pseudonym_outside_the_case_is_not_found(client, officer, case_id):
    assert (
        client.get(f"/staff-safety/people/P-ZZZZ-ZZZZ/reveal?incident={case_id}").status_code == 404
    )


def test_a_reveal_needs_a_fresh_confirmation(client, officer, clock, rollback_database, case_id):
    clock.advance(timedelta(minutes=11))
    response = client.get(reveal_path(rollback_database, case_id))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm")


# One walk ----------------------------------------------------------------------------


def test_a_full_walk_from_reported_to_closed(client, officer, rollback_database, case_id):
    steps = [
        ("first-care", {"note": "Gesprek gehad."}),
        ("advance", {"to": "first_care"}),
        ("register", {"risk_level": "high", "risk_assessment": "Herhaling mogelijk."}),
        ("advance", {"to": "registered"}),
        ("advance", {"to": "police_report_decision"}),
        ("police/decision", {"decision": "victim_with_support", "domicile": "Postbus 1"}),
        ("police/filing", {"registration_number": "2026-0042", "unit": "Team Centrum"}),
        ("advance", {"to": "aftercare"}),
        ("aftercare", {"step": "contact"}),
        ("advance", {"to": "measures"}),
        ("advance", {"to": "evaluation"}),
        ("evaluation", {"evaluation": "Balie aangepast."}),
        ("advance", {"to": "closed", "resolution": "resolved", "summary": "Afgehandeld."}),
    ]
    for action, data in steps:
        response = act(client, case_id, action, data)
        assert response.status_code == 303, (action, text_of(response))
    assert state_of(rollback_database, case_id) == "closed"
    assert reporter_updates(rollback_database) == [
        "first_care",
        "registered",
        "police_decision",
        "police_filed",
        "aftercare_contact",
        "closed",
    ]
    assert case_row(rollback_database, case_id).police_registration_number == "2026-0042"
