"""The aggression report form, drafts and "my reports" through the real routes.

Staff sign in through the real login; the clock stands at 2026-01-01 00:00 UTC (01:00 in
Amsterdam), so the form's local times are in 2025. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import select

from access_control import Actor
from incidents.cases.comments import add_comment
from incidents.cases.models import Incident
from incidents.evidence import Evidence
from staff_safety.models import ReportPerson, ReportUpdate, StaffReport
from staff_safety.workflow import register
from storage.events import Event
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.csrf import csrf_token_from
from tests.web.test_templates import Page, inline_scripts

PDF = b"%PDF-1.7\n% a scanned letter\n%%EOF\n"
FORM = {
    "occurred_date": "2025-12-31",
    "occurred_time": "14:30",
    "location": "counter",
    "category": "threat_in_person",
    "description": "Hij schreeuwde dat hij me zou opwachten.",
    "others_present": "een collega van de balie",
    "perpetrator_name": "Karel Boos",
    "perpetrator_case_reference": "ZAAK-2025-777",
    "perpetrator_email": "karel@example.org",
    "perpetrator_phone": "+31 6 1234 5678",
    "perpetrator_description": "man, ongeveer 40, rode jas",
    "witness_names": "Wim Getuige",
    "wants_aftercare": "yes",
    "wants_police_report": "not_sure",
}
SECRETS = ("Karel Boos", "ZAAK-2025-777", "karel@example.org", "1234 5678", "Wim Getuige")


@pytest.fixture
def staff(app, client, clock):
    account = enrolled_user(app, role="staff", username="medewerker")
    sign_in(client, account, clock)
    return account


def token(client, page="/reports/new"):
    return csrf_token_from(client.get(page).get_data(as_text=True))


def post_report(client, values, *, action="send", target="/reports/new", files=()):
    data = {"csrf_token": token(client), "action": action, **values}
    if files:
        data["files"] = [(io.BytesIO(content), name) for name, content in files]
    return client.post(target, data=data, content_type="multipart/form-data")


def reports(database):
    with database.unit_of_work() as session:
        return list(session.scalars(select(StaffReport).order_by(StaffReport.id)))


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_the_form_renders_in_dutch_and_english_phone_first(client, staff):
    page = client.get("/reports/new")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Agressie melden" in body or "Report aggression" in body
    assert 'type="date"' in body
    assert 'type="time"' in body
    assert body.count("<fieldset") >= 5
    assert body.count("<legend>") >= 5
    assert 'value="send"' in body
    assert 'value="draft"' in body
    assert not inline_scripts(Page(body))
    for name in ("description", "others_present", "perpetrator_name", "witness_names"):
        assert f'<label for="{name}">' in body
    client.post(
        "/language", data={"csrf_token": csrf_token_from(body), "language": "en", "next": "/"}
    )
    english = text_of(client.get("/reports/new"))
    assert "What happened?" in english
    assert "Send report" in english
    assert "home address" in english


def test_sending_a_report_numbers_it_opens_an_incident_stores_an_event_and_tells_the_reporter(
    client, staff, rollback_database
):
    response = post_report(client, FORM)
    assert response.status_code == 303, text_of(response)
    [report] = reports(rollback_database)
    assert report.number == f"MEL-2026-{report.id:05d}"
    assert report.status == "submitted"
    assert response.headers["Location"].endswith(f"/reports/mine/{report.number}?sent=1")
    confirmation = text_of(client.get(response.headers["Location"]))
    assert report.number in confirmation
    assert "72" in confirmation
    with rollback_database.unit_of_work() as session:
        incident = session.get(Incident, report.incident_id)
        assert incident.type == "staff_safety"
        assert incident.created_by.startswith("P-")
        assert session.scalars(
            select(Event).where(Event.event_key == f"staff_report:{report.id}")
        ).one()
        updates = session.scalars(
            select(ReportUpdate).where(ReportUpdate.report_id == report.id)
        ).all()
        assert [update.kind for update in updates] == ["submitted"]
        roles = sorted(row.role for row in session.scalars(select(ReportPerson)))
        assert roles == ["perpetrator", "reporter", "victim", "witness"]
    [audited] = audit_entries(rollback_database, "staff_report.submitted")
    assert audited.actor.startswith("P-")
    assert "medewerker" not in audited.actor


def test_a_report_stores_no_identifying_value_outside_the_vault(client, staff, rollback_database):
    assert post_report(client, FORM).status_code == 303
    with rollback_database.unit_of_work() as session:
        rows = [repr(vars(row)) for row in session.scalars(select(StaffReport))]
        rows += [repr(vars(row)) for row in session.scalars(select(ReportPerson))]
        rows += [row.document for row in session.scalars(select(Event))]
        rows += [repr(vars(row)) for row in session.scalars(select(Incident))]
    rows += [
        repr(entry.details) for entry in audit_entries(rollback_database, "staff_report.submitted")
    ]
    for secret in (*SECRETS, "medewerker"):
        assert not any(secret in row for row in rows), secret


def test_a_missing_answer_is_shown_beside_its_field_and_nothing_is_stored(
    client, staff, rollback_database
):
    response = post_report(client, {**FORM, "location": "", "description": " "})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert 'role="alert"' in body
    assert 'id="location-error"' in body
    assert 'id="description-error"' in body
    assert "Karel Boos" in body  # what was typed stays
    assert reports(rollback_database) == []


@pytest.mark.parametrize(
    ("field", "value", "error_id"),
    [
        ("occurred_date", "2026-02-01", "occurred_date-error"),  # in the future
        ("occurred_date", "2024-06-01", "occurred_date-error"),  # more than a year ago
        ("occurred_time", "25:99", "occurred_date-error"),
        ("location", "moon", "location-error"),
        ("category", "gossip", "category-error"),
        ("description", "x" * 10_001, "description-error"),
        ("perpetrator_email", "not-an-address", "perpetrator_email-error"),
        ("perpetrator_phone", "call me maybe", "perpetrator_phone-error"),
        ("wants_aftercare", "perhaps", "wants_aftercare-error"),
        ("witness_names", "\n".join(f"Getuige {n}" for n in range(11)), "witness_names-error"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_is_stored(
    client, staff, rollback_database, field, value, error_id
):
    response = post_report(client, {**FORM, field: value})
    assert response.status_code == 400
    assert f'id="{error_id}"' in response.get_data(as_text=True)
    assert reports(rollback_database) == []


def test_a_draft_is_kept_sealed_edited_and_sent(client, staff, rollback_database):
    response = post_report(
        client, {"description": "half af", "perpetrator_name": "Karel Boos"}, action="draft"
    )
    assert response.status_code == 303
    [draft] = reports(rollback_database)
    assert draft.status == "draft"
    assert draft.number is None
    assert draft.incident_id is None
    assert b"Karel Boos" not in draft.draft_people
    page = client.get(f"/reports/drafts/{draft.id}").get_data(as_text=True)
    assert "Karel Boos" in page
    assert "half af" in page
    sent = post_report(client, FORM, target=f"/reports/drafts/{draft.id}")
    assert sent.status_code == 303
    [report] = reports(rollback_database)
    assert report.id == draft.id
    assert report.status == "submitted"
    assert report.draft_people is None


def test_a_draft_can_be_deleted(client, staff, rollback_database):
    post_report(client, {"description": "weg ermee"}, action="draft")
    [draft] = reports(rollback_database)
    response = client.post(f"/reports/drafts/{draft.id}/delete", data={"csrf_token": token(client)})
    assert response.status_code == 303
    assert reports(rollback_database) == []


def test_my_reports_lists_drafts_and_sent_reports_with_new_updates(
    client, staff, rollback_database
):
    post_report(client, FORM)
    post_report(client, {"description": "nog bezig"}, action="draft")
    listing = text_of(client.get("/reports/mine"))
    [sent] = [report for report in reports(rollback_database) if report.number]
    assert sent.number in listing
    assert "1" in listing
    assert "(1" in text_of(client.get("/reports/new"))  # the navigation counts the new update
    client.get(f"/reports/mine/{sent.number}")
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(ReportUpdate)).one().seen_at is not None


def test_another_persons_report_and_draft_are_404(app, client, clock, staff, rollback_database):
    post_report(client, FORM)
    post_report(client, {"description": "concept"}, action="draft")
    sent, draft = sorted(
        reports(rollback_database), key=lambda report: report.status != "submitted"
    )
    other = app.test_client()
    sign_in(other, enrolled_user(app, role="staff", username="collega"), clock)
    assert other.get(f"/reports/mine/{sent.number}").status_code == 404
    assert other.get(f"/reports/drafts/{draft.id}").status_code == 404
    csrf = csrf_token_from(other.get("/reports/new").get_data(as_text=True))
    assert (
        other.post(f"/reports/drafts/{draft.id}/delete", data={"csrf_token": csrf}).status_code
        == 404
    )
    assert (
        other.post(
            f"/reports/drafts/{draft.id}", data={"csrf_token": csrf, "action": "send", **FORM}
        ).status_code
        == 404
    )
    assert other.get(f"/reports/drafts/{sent.id}").status_code == 404
    assert other.get("/reports/mine/MEL-2026-99999").status_code == 404
    assert sent.number not in text_of(other.get("/reports/mine"))
    # SECURITY_CASES #36: evidence added to someone else's report by its number
    added = other.post(
        f"/reports/mine/{sent.number}/evidence",
        data={"csrf_token": csrf, "files": [(io.BytesIO(PDF), "vals.pdf")]},
        content_type="multipart/form-data",
    )
    assert added.status_code == 404
    assert len(reports(rollback_database)) == 2
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(Evidence)).all() == []


def test_the_reporter_sees_none_of_the_officers_assessment_or_comments(
    client, clock, staff, rollback_database
):
    # SECURITY_CASES #39: field-level read. The reporter's page shows their report and its
    # progress, never the risk assessment, the case's comments or other reports.
    post_report(client, FORM)
    [report] = reports(rollback_database)
    officer = Actor(name="officier")
    with rollback_database.unit_of_work() as session:
        register(session, incident_id=report.incident_id, risk_level="high",
                 risk_assessment="RISICO-GEHEIM-7781", actor=officer, now=clock.now())  # fmt: skip
        add_comment(session, incident_id=report.incident_id, body="OPMERKING-GEHEIM-7782",
                    actor=officer, now=clock.now())  # fmt: skip
    post_report(client, {**FORM, "description": "TWEEDE-MELDING-7783 bij de balie"})

    page = text_of(client.get(f"/reports/mine/{report.number}"))
    assert report.number in page
    for hidden in ("RISICO-GEHEIM-7781", "OPMERKING-GEHEIM-7782", "TWEEDE-MELDING-7783"):
        assert hidden not in page


def test_anonymous_visitors_are_sent_to_sign_in(client):
    assert client.get("/reports/new").status_code in (302, 303, 401)
    assert client.get("/reports/mine").status_code in (302, 303, 401)


def test_a_post_without_csrf_token_is_refused(client, staff, rollback_database):
    response = client.post("/reports/new", data={"action": "send", **FORM})
    assert response.status_code in (400, 403)
    assert reports(rollback_database) == []


def test_posted_status_reporter_or_incident_fields_are_ignored(client, staff, rollback_database):
    extra = {
        "status": "closed",
        "reporter_pseudonym": "P-AAAA-AAAA",
        "incident_id": "1",
        "number": "MEL-1999-00001",
        "reporter": "admin",
    }
    assert post_report(client, {**FORM, **extra}).status_code == 303
    [report] = reports(rollback_database)
    assert report.status == "submitted"
    assert report.reporter_pseudonym != "P-AAAA-AAAA"
    assert report.number.startswith("MEL-2026-")


def test_script_in_the_report_is_shown_literally(client, staff, rollback_database):
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> {{7*7}}"
    post_report(client, {**FORM, "description": hostile, "others_present": hostile})
    [report] = reports(rollback_database)
    body = client.get(f"/reports/mine/{report.number}").get_data(as_text=True)
    assert "<script>alert(1)" not in body
    assert "<img src=x" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "{{7*7}}" in body


def test_attachments_go_with_the_report_and_can_be_added_later(client, staff, rollback_database):
    response = post_report(client, FORM, files=[("brief.pdf", PDF)])
    assert response.status_code == 303
    [report] = reports(rollback_database)
    later = client.post(
        f"/reports/mine/{report.number}/evidence",
        data={"csrf_token": token(client), "files": [(io.BytesIO(PDF), "tweede.pdf")]},
        content_type="multipart/form-data",
    )
    assert later.status_code == 303
    with rollback_database.unit_of_work() as session:
        stored = session.scalars(select(Evidence).order_by(Evidence.id)).all()
    assert [(e.original_name, e.incident_id) for e in stored] == [
        ("brief.pdf", report.incident_id),
        ("tweede.pdf", report.incident_id),
    ]
    assert all(e.uploaded_by == report.reporter_pseudonym for e in stored)


def test_a_refused_attachment_stores_no_report(client, staff, rollback_database):
    response = post_report(client, FORM, files=[("page.html", b"<html><script></script>")])
    assert response.status_code == 400
    assert 'id="files-error"' in response.get_data(as_text=True)
    assert reports(rollback_database) == []
