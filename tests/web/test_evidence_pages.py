"""The evidence pages: uploading, the evidence section, downloads, custody and the report.

Signed in through the real login routes; files go through the real multipart parser and
the real store under the test's data directory. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from incidents.evidence import CustodyEntry, Evidence, add_evidence
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.csrf import csrf_token_from
from tests.support.incident_factories import make_incident
from tests.support.pdf import pdf_text
from tests.web.test_templates import Page, inline_scripts

ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]
PDF = b"%PDF-1.7\n% a scanned letter\n%%EOF\n"
LOG = b"2026-03-02T10:00:00Z sshd: Failed password for root from 203.0.113.9\n"


@pytest.fixture
def officer(app, client, clock):
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account


@pytest.fixture
def incident_id(rollback_database):
    with rollback_database.unit_of_work() as session:
        return make_incident(session, title="Dreigende e-mail", tlp="amber").id


def send(client, incident_id, *files, description="", headers=None):
    """POST files (name, bytes[, client content type]) with this session's CSRF token."""
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    parts = [
        (io.BytesIO(file[1]), file[0], file[2] if len(file) > 2 else "application/octet-stream")
        for file in files
    ]
    return client.post(
        f"/incidents/{incident_id}/evidence",
        data={"csrf_token": token, "description": description, "files": parts},
        content_type="multipart/form-data",
        headers=headers or {},
    )


def stored(database) -> list[Evidence]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(Evidence).order_by(Evidence.id)))


def custody_actions(database, evidence_id) -> list[tuple[str, str, str | None]]:
    with database.unit_of_work() as session:
        query = select(CustodyEntry).where(CustodyEntry.evidence_id == evidence_id)
        return [(e.action, e.actor, e.ip) for e in session.scalars(query.order_by(CustodyEntry.id))]


def files_on_disk(settings) -> list[str]:
    directory = settings.data_dir / "evidence"
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def page_text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


# Who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_incident_readers_see_evidence_and_only_officers_add_it(
    app, client, clock, rollback_database, incident_id, role
):
    with rollback_database.unit_of_work() as session:
        evidence_id = _stored_evidence(session, incident_id, app)
    sign_in(client, enrolled_user(app, role=role), clock)
    reads = [
        client.get(f"/incidents/{incident_id}/evidence").status_code,
        client.get(f"/evidence/{evidence_id}/download").status_code,
        client.get(f"/evidence/{evidence_id}/custody").status_code,
    ]
    may_read = role in ("soc_analyst", "security_officer")
    assert reads == ([200, 200, 200] if may_read else [403, 403, 403])
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    upload = client.post(
        f"/incidents/{incident_id}/evidence",
        data={"csrf_token": token, "files": [(io.BytesIO(LOG), "auth.log")]},
    )
    assert upload.status_code == (303 if role == "security_officer" else 403)
    report = client.get(f"/incidents/{incident_id}/report.pdf")
    assert report.status_code == (200 if role == "security_officer" else 403)


def _stored_evidence(session, incident_id, app) -> int:
    """Evidence added through the service, as an earlier upload would have."""
    context = app.extensions["wachter"]
    return add_evidence(
        session,
        incident_id=incident_id,
        stream=io.BytesIO(PDF),
        filename="brief.pdf",
        description="",
        actor=Actor(name="officier"),
        now=context.clock.now(),
        data_dir=context.settings.data_dir,
        max_bytes=1024 * 1024,
    ).id


def test_a_staff_member_is_refused_and_the_refusal_audited(
    app, client, clock, rollback_database, incident_id
):
    sign_in(client, enrolled_user(app, role="staff"), clock)
    assert client.get(f"/incidents/{incident_id}/evidence").status_code == 403
    [denied] = audit_entries(rollback_database, "authz.denied")
    assert denied.target == "GET /incidents/<int:incident_id>/evidence"


@pytest.mark.parametrize(
    "path",
    [
        "/incidents/999999/evidence",
        "/evidence/999999/download",
        "/evidence/999999/custody",
        "/incidents/999999/report.pdf",
    ],
)
def test_unknown_ids_are_not_found(client, officer, rollback_database, path):
    assert client.get(path).status_code == 404
    assert audit_entries(rollback_database, "evidence.read") == []


def test_uploading_to_an_unknown_incident_is_not_found_and_stores_nothing(
    client, officer, rollback_database, settings
):
    response = send(client, 999999, ("auth.log", LOG))
    assert response.status_code == 404
    assert stored(rollback_database) == []
    assert files_on_disk(settings) == []


# Uploading ----------------------------------------------------------------------------------


def test_an_upload_stores_each_file_and_returns_to_the_incident(
    client, officer, rollback_database, incident_id, settings
):
    response = send(
        client,
        incident_id,
        ("brief.pdf", PDF, "text/html"),  # the client's type is ignored
        ("auth.log", LOG),
        description="Brief en serverlog",
    )
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"/incidents/{incident_id}")
    first, second = stored(rollback_database)
    assert (first.original_name, first.media_type, first.sha256) == (
        "brief.pdf",
        "application/pdf",
        hashlib.sha256(PDF).hexdigest(),
    )
    assert (second.media_type, second.size, second.uploaded_by) == (
        "text/plain",
        len(LOG),
        "officier",
    )
    assert first.description == "Brief en serverlog"
    assert files_on_disk(settings) == sorted([first.stored_name, second.stored_name])
    assert custody_actions(rollback_database, first.id) == [("received", "officier", "127.0.0.1")]
    assert len(audit_entries(rollback_database, "evidence.added")) == 2


def test_the_evidence_section_lists_name_size_hash_uploader_and_links(
    client, officer, rollback_database, incident_id
):
    send(client, incident_id, ("brief.pdf", PDF))
    [evidence] = stored(rollback_database)
    response = client.get(f"/incidents/{incident_id}/evidence")
    page = response.get_data(as_text=True)
    [row] = re.findall(rf'<tr id="evidence-{evidence.id}">.*?</tr>', page, re.DOTALL)
    cells = [
        " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)
    ]
    assert cells[:6] == [
        "brief.pdf",
        "application/pdf",
        str(len(PDF)),
        evidence.sha256,
        "officier",
        evidence.uploaded_at.strftime("%Y-%m-%d %H:%M:%S"),
    ]
    assert f'href="/evidence/{evidence.id}/download"' in row
    assert f'href="/evidence/{evidence.id}/custody"' in row
    assert f'action="/incidents/{incident_id}/evidence"' in page
    assert 'enctype="multipart/form-data"' in page
    assert f'href="/incidents/{incident_id}/report.pdf"' in page
    assert inline_scripts(Page(page)) == []
    [read] = audit_entries(rollback_database, "evidence.read")
    assert (read.target, read.actor) == (f"incident:{incident_id}", "officier")


def test_the_incident_page_shows_the_evidence_section(client, officer, incident_id, app):
    if "incidents.show" not in app.view_functions:
        pytest.skip("the incident page (web/views/incidents.py) is not registered")
    send(client, incident_id, ("auth.log", LOG))
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert 'id="evidence"' in page
    assert "auth.log" in page
    assert hashlib.sha256(LOG).hexdigest() in page


def test_an_analyst_sees_the_evidence_without_upload_form_or_report_link(
    app, client, clock, rollback_database, incident_id
):
    with rollback_database.unit_of_work() as session:
        _stored_evidence(session, incident_id, app)
    sign_in(client, enrolled_user(app, role="soc_analyst"), clock)
    page = client.get(f"/incidents/{incident_id}/evidence").get_data(as_text=True)
    assert "brief.pdf" in page
    assert 'enctype="multipart/form-data"' not in page
    assert "report.pdf" not in page


def test_a_refused_file_shows_the_form_again_with_the_reason(
    client, officer, rollback_database, incident_id, settings
):
    response = send(client, incident_id, ("auth.log", LOG), ("invoice.pdf", b"<html>hi</html>"))
    assert response.status_code == 400
    assert "invoice.pdf is een HTML-, SVG- of XML-document" in page_text(response) or (
        "invoice.pdf is an HTML, SVG or XML document" in page_text(response)
    )
    assert 'enctype="multipart/form-data"' in response.get_data(as_text=True)
    # The first file of the upload was valid: it is gone with the rest.
    assert stored(rollback_database) == []
    assert files_on_disk(settings) == []
    assert audit_entries(rollback_database, "evidence.added") == []


def test_an_upload_without_files_asks_for_them(client, officer, incident_id):
    response = send(client, incident_id)
    assert response.status_code == 400
    assert "Choose one or more files" in page_text(response) or "Kies" in page_text(response)


def test_more_than_ten_files_are_refused(client, officer, rollback_database, incident_id):
    files = [(f"log{number}.txt", LOG) for number in range(11)]
    response = send(client, incident_id, *files, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert "Add at most 10 files at once." in page_text(response)
    assert stored(rollback_database) == []


def test_a_merged_incident_refuses_evidence(client, officer, rollback_database, incident_id):
    with rollback_database.unit_of_work() as session:
        merged = make_incident(session, merged_into_id=incident_id, state="merged").id
    response = send(client, merged, ("auth.log", LOG))
    assert response.status_code == 409
    assert stored(rollback_database) == []
    page = client.get(f"/incidents/{merged}/evidence").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' not in page


# Downloading --------------------------------------------------------------------------------


def test_a_download_is_an_attachment_that_no_browser_renders(
    client, officer, rollback_database, incident_id
):
    send(client, incident_id, ("Verslag gesprek é€.pdf", PDF))
    [evidence] = stored(rollback_database)
    response = client.get(f"/evidence/{evidence.id}/download")
    assert response.status_code == 200
    assert response.get_data() == PDF
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="Verslag gesprek e_.pdf"; '
        "filename*=UTF-8''Verslag%20gesprek%20%C3%A9%E2%82%AC.pdf"
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox"
    assert response.headers["Content-Length"] == str(len(PDF))
    assert response.headers["Cache-Control"] == "no-store"


def test_a_hostile_name_cannot_reach_the_headers(client, officer, rollback_database, incident_id):
    send(client, incident_id, ("rapport;%41 ü.txt", LOG))
    [evidence] = stored(rollback_database)
    disposition = client.get(f"/evidence/{evidence.id}/download").headers["Content-Disposition"]
    assert disposition == (
        "attachment; filename=\"rapport;_41 u.txt\"; filename*=UTF-8''rapport%3B%2541%20%C3%BC.txt"
    )
    # Uploads never bring quotes through the multipart header, nor CR or LF (names are
    # cleaned); a row that somehow holds them still cannot split or end the header.
    with rollback_database.unit_of_work() as session:
        session.get(Evidence, evidence.id).original_name = 'a"b\\c\r\nSet-Cookie: y=1.txt'
    response = client.get(f"/evidence/{evidence.id}/download")
    assert "Set-Cookie" not in response.headers
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="a_b_c__Set-Cookie: y=1.txt"; '
        "filename*=UTF-8''a%22b%5Cc%0D%0ASet-Cookie%3A%20y%3D1.txt"
    )


def test_every_download_is_in_the_chain_of_custody(
    client, officer, rollback_database, incident_id, clock
):
    send(client, incident_id, ("auth.log", LOG))
    [evidence] = stored(rollback_database)
    clock.advance(timedelta(minutes=1))
    client.get(f"/evidence/{evidence.id}/download")
    client.get(f"/evidence/{evidence.id}/download")
    assert custody_actions(rollback_database, evidence.id) == [
        ("received", "officier", "127.0.0.1"),
        ("downloaded", "officier", "127.0.0.1"),
        ("downloaded", "officier", "127.0.0.1"),
    ]
    reads = audit_entries(rollback_database, "evidence.read")
    assert [read.target for read in reads] == [f"evidence:{evidence.id}"] * 2


def test_the_custody_page_shows_who_did_what_when_and_the_hash(
    client, officer, rollback_database, incident_id
):
    send(client, incident_id, ("auth.log", LOG))
    [evidence] = stored(rollback_database)
    client.get(f"/evidence/{evidence.id}/download")
    response = client.get(f"/evidence/{evidence.id}/custody", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    rows = re.findall(r'<tr id="custody-\d+" class="custody--(\w+)">(.*?)</tr>', page, re.DOTALL)
    assert [action for action, _ in rows] == ["received", "downloaded"]
    for _, row in rows:
        assert "officier" in row
        assert "127.0.0.1" in row
        assert evidence.sha256 in row
    assert f'<code id="evidence-sha256">{evidence.sha256}</code>' in page
    reads = audit_entries(rollback_database, "evidence.read")
    assert reads[-1].target == f"evidence:{evidence.id}"


# The report ---------------------------------------------------------------------------------


def test_the_report_is_a_pdf_attachment_in_dutch_by_default(
    client, officer, rollback_database, incident_id
):
    send(client, incident_id, ("auth.log", LOG))
    response = client.get(f"/incidents/{incident_id}/report.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith(
        f'attachment; filename="incident-{incident_id}-report.pdf"'
    )
    document = response.get_data()
    assert document.startswith(b"%PDF-")
    text = pdf_text(document)
    assert "TLP:AMBER" in text
    assert "Titel" in text  # words the Dutch catalogue already has
    assert "hoog" in text
    assert hashlib.sha256(LOG).hexdigest() in text
    [exported] = audit_entries(rollback_database, "incident.report_exported")
    assert exported.actor == "officier"
    [evidence] = stored(rollback_database)
    assert custody_actions(rollback_database, evidence.id)[-1][0] == "listed_in_report"


def test_the_report_in_english_on_request(client, officer, incident_id):
    response = client.get(f"/incidents/{incident_id}/report.pdf", headers={"Accept-Language": "en"})
    text = pdf_text(response.get_data())
    assert "Title" in text
    assert "Titel" not in text


def test_the_report_needs_a_fresh_confirmation(
    client, officer, clock, rollback_database, incident_id
):
    clock.advance(timedelta(minutes=11))  # the sign-in no longer counts as a step-up
    response = client.get(f"/incidents/{incident_id}/report.pdf")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/account/confirm")
    assert audit_entries(rollback_database, "incident.report_exported") == []
