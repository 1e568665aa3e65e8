"""The staff-safety records pages: the police dossier, statistics and their CSV, retention and
legal hold. Roles, step-up, CSRF, headers and object access, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from incidents.cases.models import IncidentType
from staff_safety.models import StaffCase
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.csrf import csrf_token_from
from tests.support.incident_factories import make_incident
from tests.support.pdf import pdf_text
from tests.unit.staff_safety.test_dossier import submitted_report

ORGANISATION = "Postbus 1, 2500 AA Den Haag"
ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]


@pytest.fixture
def settings(settings):
    """The test settings with the organisation configured (the app is made from these)."""
    return replace(settings, organisation_address=ORGANISATION, organisation_contact="Bureau V")


@pytest.fixture
def case_id(settings, rollback_database):
    with rollback_database.unit_of_work() as session:
        _report, incident, _case = submitted_report(session, settings)
        return incident.id


@pytest.fixture
def officer(app, client, clock):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"  # the tests read English words
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account


def _token(client) -> str:
    return csrf_token_from(client.get("/account").get_data(as_text=True))


def _held(rollback_database, incident_id) -> bool:
    with rollback_database.unit_of_work() as session:
        return bool(session.get(StaffCase, incident_id).legal_hold)


@pytest.mark.parametrize("role", ROLES)
def test_only_security_officers_see_records_and_export_them(app, client, clock, case_id, role):
    sign_in(client, enrolled_user(app, role=role), clock)

    statuses = [
        client.get("/staff-safety/statistics").status_code,
        client.get("/staff-safety/retention").status_code,
        client.get("/staff-safety/statistics.csv").status_code,
        client.get(f"/staff-safety/cases/{case_id}/dossier.pdf").status_code,
        client.post(
            f"/staff-safety/cases/{case_id}/legal-hold",
            data={"csrf_token": _token(client), "reason": "Strafzaak loopt bij het OM"},
        ).status_code,
    ]

    expected = [200, 200, 200, 200, 303] if role == "security_officer" else [403] * 5
    assert statuses == expected


def test_the_dossier_is_an_uncached_attachment_and_audited(
    client, officer, case_id, rollback_database
):
    response = client.get(f"/staff-safety/cases/{case_id}/dossier.pdf")

    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    assert ORGANISATION in " ".join(pdf_text(response.get_data()).split())
    assert len(audit_entries(rollback_database, "staff_case.dossier_exported")) == 1


def test_the_csv_is_an_uncached_utf8_attachment_without_people(
    client, officer, case_id, rollback_database
):
    response = client.get("/staff-safety/statistics.csv?year=2026")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith("table,value,count,percent\r\n")
    assert "total,reports,<5,x" in text
    assert "P-" not in text
    assert "MEL-" not in text
    [exported] = audit_entries(rollback_database, "staff_statistics.exported")
    assert '"first":"2026-01"' in exported.details


@pytest.mark.parametrize(
    "path", ["/staff-safety/statistics.csv", "/staff-safety/cases/{id}/dossier.pdf"]
)
def test_exports_need_a_fresh_confirmation(
    client, officer, clock, case_id, rollback_database, path
):
    clock.advance(timedelta(minutes=11))  # the sign-in no longer counts as a step-up

    response = client.get(path.format(id=case_id))

    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm")
    assert audit_entries(rollback_database, "staff_case.dossier_exported") == []


def test_a_dossier_of_an_unknown_or_other_incident_is_not_found(client, officer, rollback_database):
    with rollback_database.unit_of_work() as session:
        cyber = make_incident(session, title="Phishing", type=IncidentType.CYBER.value).id

    assert client.get("/staff-safety/cases/999999/dossier.pdf").status_code == 404
    assert client.get(f"/staff-safety/cases/{cyber}/dossier.pdf").status_code == 404


def test_the_statistics_page_shows_the_year_and_refuses_a_bad_one(client, officer, case_id):
    page = client.get("/staff-safety/statistics?year=2026")

    assert page.status_code == 200
    assert "threat by e-mail" in page.get_data(as_text=True)
    for bad in ("20x6", "1999", "2026-01", "99999"):
        assert client.get(f"/staff-safety/statistics?year={bad}").status_code == 400


def test_a_legal_hold_without_a_csrf_token_changes_nothing(
    client, officer, case_id, rollback_database
):
    response = client.post(
        f"/staff-safety/cases/{case_id}/legal-hold", data={"reason": "Strafzaak loopt bij het OM"}
    )

    assert response.status_code in (400, 403)
    assert not _held(rollback_database, case_id)


def test_a_legal_hold_needs_a_reason_and_can_be_released(
    client, officer, case_id, rollback_database
):
    refused = client.post(
        f"/staff-safety/cases/{case_id}/legal-hold",
        data={"csrf_token": _token(client), "reason": "kort"},
    )
    assert refused.status_code == 400
    assert not _held(rollback_database, case_id)

    held = client.post(
        f"/staff-safety/cases/{case_id}/legal-hold",
        data={"csrf_token": _token(client), "reason": "<script>alert(1)</script> strafzaak"},
    )
    assert held.status_code == 303
    assert _held(rollback_database, case_id)
    page = client.get("/staff-safety/retention").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; strafzaak" in page
    assert "<script>alert(1)" not in page

    released = client.post(
        f"/staff-safety/cases/{case_id}/legal-hold/release",
        data={"csrf_token": _token(client), "reason": "Zaak afgerond door het OM"},
    )
    assert released.status_code == 303
    assert not _held(rollback_database, case_id)


def test_a_legal_hold_is_not_set_with_get(client, officer, case_id):
    assert client.get(f"/staff-safety/cases/{case_id}/legal-hold").status_code == 405


def test_the_case_page_places_and_releases_the_legal_hold(client, officer, case_id):
    page = client.get(f"/staff-safety/cases/{case_id}").get_data(as_text=True)
    assert f'action="/staff-safety/cases/{case_id}/legal-hold"' in page
    assert f'href="/staff-safety/cases/{case_id}/dossier.pdf"' in page

    held = client.post(
        f"/staff-safety/cases/{case_id}/legal-hold",
        data={"csrf_token": _token(client), "reason": "Strafzaak OM 12-345678-26"},
    )

    assert held.headers["Location"].endswith(f"/staff-safety/cases/{case_id}")
    page = client.get(f"/staff-safety/cases/{case_id}").get_data(as_text=True)
    assert "Strafzaak OM 12-345678-26" in page
    assert f'action="/staff-safety/cases/{case_id}/legal-hold/release"' in page
    assert f'action="/staff-safety/cases/{case_id}/legal-hold"' not in page
