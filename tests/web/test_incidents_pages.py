"""The console's incident pages: the list, opening one, and the incident page with its
forms (state, details, comments, tasks, entities, merge and un-merge).

The tests check who may look and who may change (the policy table), CSRF, that a look is
an audited read and a change an audited change, that a refused change is shown on the
page and changes nothing, that unknown ids are 404, and that hostile text is shown as
text. The pages are read in English (the Dutch catalogue is the translators' work).
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.models import User
from incidents.alerts.models import AlertEntity
from incidents.cases.comments import add_comment
from incidents.cases.models import Incident, IncidentComment, IncidentTask
from incidents.cases.playbooks import install_default_playbooks
from incidents.cases.related import add_entity
from incidents.cases.service import create_incident, open_incident_from_alerts
from incidents.notifications.models import Notification
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post
from tests.support.incident_factories import make_alert
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes
from web.views import incidents as incident_views

ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]


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
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    return account


def make(database, clock, title="Verdachte aanmeldingen", **overrides):
    values = {"incident_type": "cyber", "severity": "high", "actor": Actor(name="officier")}
    values.update(overrides)
    with database.unit_of_work() as session:
        return create_incident(session, title=title, now=clock.now(), **values).id


def stored(database, incident_id):
    with database.unit_of_work() as session:
        return session.get(Incident, incident_id)


def count(database, model):
    with database.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model))


def text_of(response):
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def listed_ids(page):
    return [int(number) for number in re.findall(r'<tr id="incident-(\d+)"', page)]


# Who may look and change ---------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_roles_that_read_incidents_see_them(app, client, clock, rollback_database, role):
    incident_id = make(rollback_database, clock)
    sign_in(client, enrolled_user(app, role=role), clock)
    expected = 200 if role in ("soc_analyst", "security_officer") else 403
    for path in ("/incidents", f"/incidents/{incident_id}"):
        assert client.get(path).status_code == expected, path


@pytest.mark.parametrize("path", ["/incidents", "/incidents/1", "/incidents/new"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


def test_staff_cannot_open_or_change_incidents(app, client, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    sign_in(client, enrolled_user(app, role="staff"), clock)
    for path, data in [
        ("/incidents/new", {"title": "x", "type": "cyber", "severity": "low", "tlp": "amber"}),
        (f"/incidents/{incident_id}/transition", {"to": "triage"}),
        (f"/incidents/{incident_id}/comments", {"body": "x"}),
    ]:
        assert post(client, path, data).status_code == 403
    assert stored(rollback_database, incident_id).state == "new"
    assert count(rollback_database, IncidentComment) == 0


def test_an_analyst_reads_but_does_not_change(client, analyst, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "/transition" not in page
    assert 'action="/incidents/new"' not in page
    response = post(client, f"/incidents/{incident_id}/transition", {"to": "triage"})
    assert response.status_code == 403
    assert stored(rollback_database, incident_id).state == "new"


def test_an_unknown_id_is_not_found(client, officer, rollback_database):
    assert client.get("/incidents/999999").status_code == 404
    for path in [
        "/incidents/999999/transition",
        "/incidents/999999/comments",
        "/incidents/999999/tasks/1",
        "/incidents/999999/merge",
        "/incidents/merges/999999/unmerge",
    ]:
        assert post(client, path, {"to": "triage", "body": "x"}).status_code == 404, path
    assert audit_entries(rollback_database, "incident.read") == []


def test_a_task_of_another_incident_is_not_found_under_this_one(
    client, officer, clock, rollback_database
):
    install_playbooks(rollback_database, clock)
    mine, other = make(rollback_database, clock), make(rollback_database, clock)
    with rollback_database.unit_of_work() as session:
        task_id = session.scalar(
            select(IncidentTask.id).where(IncidentTask.incident_id == other).limit(1)
        )
    response = post(client, f"/incidents/{mine}/tasks/{task_id}", {"status": "done"})
    assert response.status_code == 404
    with rollback_database.unit_of_work() as session:
        assert session.get(IncidentTask, task_id).status == "open"


def test_changes_need_post_and_a_csrf_token(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    assert client.get(f"/incidents/{incident_id}/transition").status_code == 405
    response = client.post(f"/incidents/{incident_id}/transition", data={"to": "triage"})
    assert response.status_code == 400
    assert stored(rollback_database, incident_id).state == "new"
    assert [e.outcome for e in audit_entries(rollback_database, "csrf.rejected")] == ["denied"]


# Opening an incident -------------------------------------------------------------------


def install_playbooks(database, clock):
    with database.unit_of_work() as session:
        install_default_playbooks(session, clock.now())


def test_an_officer_opens_an_incident_with_its_playbook(client, officer, clock, rollback_database):
    install_playbooks(rollback_database, clock)
    assert client.get("/incidents/new").status_code == 200
    response = post(
        client,
        "/incidents/new",
        {
            "title": "Ransomware op ws-042",
            "description": "Bestanden versleuteld",
            "type": "cyber",
            "severity": "critical",
            "tlp": "amber+strict",
            "assignee_id": str(officer.user_id),
        },
    )
    assert response.status_code == 303
    [incident_id] = re.findall(r"/incidents/(\d+)$", response.headers["Location"])
    incident = stored(rollback_database, int(incident_id))
    assert (incident.title, incident.severity, incident.tlp, incident.created_by) == (
        "Ransomware op ws-042",
        "critical",
        "amber+strict",
        "officier",
    )
    page = client.get(response.headers["Location"])
    text = text_of(page)
    assert f"Incident {incident.reference} is open." in text
    assert "Getroffen hosts isoleren" in text  # the shipped playbook's task
    [created] = audit_entries(rollback_database, "incident.created")
    assert (created.actor, created.target) == ("officier", f"incident:{incident.id}")


def test_a_bad_new_incident_is_explained_and_not_stored(client, officer, rollback_database):
    for field, value, message in [
        ("title", "", "A title needs 1 to 300 characters."),
        ("type", "flood", "Choose an incident type"),
        ("severity", "urgent", "Choose a severity"),
        ("assignee_id", "abc", "Choose an active security officer from the list."),
    ]:
        data = {"title": "Phishing", "type": "cyber", "severity": "low", "tlp": "amber"}
        response = post(client, "/incidents/new", {**data, field: value})
        assert response.status_code == 400, field
        assert message in text_of(response)
        if field != "title":
            assert 'value="Phishing"' in response.get_data(as_text=True)  # kept for the next try
    assert count(rollback_database, Incident) == 0


# The incident page ---------------------------------------------------------------------


def test_the_page_shows_the_incident_and_is_an_audited_read(
    client, officer, clock, rollback_database
):
    incident_id = make(rollback_database, clock, description="Veel mislukte aanmeldingen")
    response = client.get(f"/incidents/{incident_id}")
    assert response.status_code == 200
    text = text_of(response)
    assert "Verdachte aanmeldingen" in text
    assert "Veel mislukte aanmeldingen" in text
    assert "Move to triage" in text
    assert "Timeline" in text
    [read] = audit_entries(rollback_database, "incident.read")
    assert (read.actor, read.target, read.occurred_at) == (
        "officier",
        f"incident:{incident_id}",
        clock.now(),
    )


def test_the_page_obeys_the_content_security_policy(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    page = Page(client.get(f"/incidents/{incident_id}").get_data(as_text=True))
    assert inline_scripts(page) == []
    assert event_handlers(page) == []
    assert style_attributes(page) == []
    for form in page.forms:
        if form.attributes.get("method") == "post":
            fields = page.contents_of(form)
            assert any(e.attributes.get("name") == "csrf_token" for e in fields), form.attributes


def test_hostile_text_is_shown_as_text(client, officer, clock, rollback_database):
    hostile = '<img src=x onerror="alert(1)"><script>alert(2)</script>{{7*7}}'
    incident_id = make(rollback_database, clock, title=hostile[:300], description=hostile)
    with rollback_database.unit_of_work() as session:
        add_comment(
            session, incident_id=incident_id, body=hostile, actor=Actor(name="x"), now=clock.now()
        )
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert "<script>alert(2)</script>" not in page
    assert "<img src=x" not in page
    assert "{{7*7}}" in html.unescape(page)
    assert inline_scripts(Page(page)) == []


def test_a_transition_by_post_moves_the_state_and_is_audited(
    client, officer, clock, rollback_database
):
    incident_id = make(rollback_database, clock)
    response = post(client, f"/incidents/{incident_id}/transition", {"to": "triage"})
    assert response.status_code == 303
    incident = stored(rollback_database, incident_id)
    assert (incident.state, incident.acknowledged_at) == ("triage", clock.now())
    [changed] = audit_entries(rollback_database, "incident.state_changed")
    assert changed.actor == "officier"


def test_a_transition_the_machine_refuses_is_shown_and_changes_nothing(
    client, officer, clock, rollback_database
):
    incident_id = make(rollback_database, clock)
    response = post(client, f"/incidents/{incident_id}/transition", {"to": "recovery"})
    assert response.status_code == 409
    assert "it can move to: triage" in text_of(response)
    assert stored(rollback_database, incident_id).state == "new"
    assert audit_entries(rollback_database, "incident.state_changed") == []
    # The page shown with the refusal is a read of the incident like any other.
    assert len(audit_entries(rollback_database, "incident.read")) == 1


def test_closing_without_a_summary_is_refused_on_the_page(
    client, officer, clock, rollback_database
):
    incident_id = make(rollback_database, clock)
    post(client, f"/incidents/{incident_id}/transition", {"to": "triage"})
    response = post(
        client,
        f"/incidents/{incident_id}/transition",
        {"to": "closed", "resolution": "false_positive", "summary": "  "},
    )
    assert response.status_code == 400
    assert "Closing needs a summary of what happened." in text_of(response)
    assert '<option value="false_positive" selected>' in response.get_data(as_text=True)
    assert stored(rollback_database, incident_id).state == "triage"
    response = post(
        client,
        f"/incidents/{incident_id}/transition",
        {"to": "closed", "resolution": "false_positive", "summary": "Een test van de SOC"},
    )
    assert response.status_code == 303
    incident = stored(rollback_database, incident_id)
    assert (incident.state, incident.resolution, incident.summary) == (
        "closed",
        "false_positive",
        "Een test van de SOC",
    )


def test_editing_assigns_and_queues_a_notification(app, client, officer, clock, rollback_database):
    colleague = enrolled_user(app, role="security_officer", username="collega")
    with rollback_database.unit_of_work() as session:
        session.get(User, colleague.user_id).email = "collega@example.org"
    incident_id = make(rollback_database, clock)
    response = post(
        client,
        f"/incidents/{incident_id}/edit",
        {
            "title": "Nieuwe titel",
            "description": "",
            "severity": "critical",
            "tlp": "red",
            "assignee_id": str(colleague.user_id),
            "reviewer_id": "",
        },
    )
    assert response.status_code == 303
    incident = stored(rollback_database, incident_id)
    assert (incident.title, incident.severity, incident.assignee_id) == (
        "Nieuwe titel",
        "critical",
        colleague.user_id,
    )
    with rollback_database.unit_of_work() as session:
        [notification] = session.scalars(select(Notification)).all()
        assert (notification.kind, notification.recipient_user_id) == (
            "assignment",
            colleague.user_id,
        )


def test_comments_are_added_and_edited_as_new_versions(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    assert post(client, f"/incidents/{incident_id}/comments", {"body": "Eerste"}).status_code == 303
    with rollback_database.unit_of_work() as session:
        comment_id = session.scalar(select(IncidentComment.id))
    response = post(
        client, f"/incidents/{incident_id}/comments/{comment_id}/edit", {"body": "Tweede"}
    )
    assert response.status_code == 303
    page = client.get(f"/incidents/{incident_id}")
    text = text_of(page)
    assert "Tweede" in text
    assert "edited" in text
    assert "Earlier versions" in text
    assert "Eerste" in text
    assert count(rollback_database, IncidentComment) == 2


def test_only_the_author_may_edit_a_comment(app, client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    with rollback_database.unit_of_work() as session:
        comment_id = add_comment(
            session,
            incident_id=incident_id,
            body="Van een ander",
            actor=Actor(name="ander"),
            now=clock.now(),
        ).id
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f"/comments/{comment_id}/edit" not in page
    response = post(
        client, f"/incidents/{incident_id}/comments/{comment_id}/edit", {"body": "Mijn"}
    )
    assert response.status_code == 403
    assert count(rollback_database, IncidentComment) == 1


def test_an_empty_comment_is_refused_on_the_page(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    response = post(client, f"/incidents/{incident_id}/comments", {"body": "   "})
    assert response.status_code == 400
    assert "A comment needs 1 to 10000 characters." in text_of(response)
    assert count(rollback_database, IncidentComment) == 0


def test_tasks_are_added_and_updated(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    response = post(
        client,
        f"/incidents/{incident_id}/tasks",
        {"title": "Logs veiligstellen", "due_at": "2026-07-01T12:30", "assignee_id": ""},
    )
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        task = session.scalars(select(IncidentTask)).one()
        assert task.due_at.isoformat() == "2026-07-01T12:30:00+00:00"
    response = post(
        client,
        f"/incidents/{incident_id}/tasks/{task.id}",
        {"status": "done", "assignee_id": str(officer.user_id), "due_at": ""},
    )
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        task = session.get(IncidentTask, task.id)
        assert (task.status, task.assignee_id, task.due_at) == ("done", officer.user_id, None)


def test_a_bad_due_date_is_refused(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    for due in ["tomorrow", "2026-13-01T10:00", "2026-07-01"]:
        response = post(client, f"/incidents/{incident_id}/tasks", {"title": "Taak", "due_at": due})
        assert response.status_code == 400, due
        assert "Give the due date as a date and time (UTC)." in text_of(response)
    assert count(rollback_database, IncidentTask) == 0


def test_entities_link_related_incidents_and_alerts(client, officer, clock, rollback_database):
    first, second = make(rollback_database, clock), make(rollback_database, clock, title="Tweede")
    with rollback_database.unit_of_work() as session:
        add_entity(
            session,
            incident_id=second,
            kind="ip",
            value="192.0.2.7",
            actor=Actor(name="x"),
            now=clock.now(),
        )
        alert = make_alert(session, title="Scan van buiten")
        session.add(AlertEntity(alert_id=alert.id, kind="ip", value="192.0.2.7"))
    response = post(client, f"/incidents/{first}/entities", {"kind": "ip", "value": "192.0.2.7"})
    assert response.status_code == 303
    page = client.get(f"/incidents/{first}").get_data(as_text=True)
    assert f'id="related-incident-{second}"' in page
    assert f'id="related-alert-{alert.id}"' in page
    bad = post(client, f"/incidents/{first}/entities", {"kind": "ip", "value": "not an ip"})
    assert bad.status_code == 400
    assert "is not an IP address" in text_of(bad)


def test_merge_into_a_reference_and_unmerge(client, officer, clock, rollback_database):
    source_id, target_id = make(rollback_database, clock), make(rollback_database, clock)
    target = stored(rollback_database, target_id)
    response = post(
        client, f"/incidents/{source_id}/merge", {"reference": target.reference.lower()}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/incidents/{target_id}"
    source = stored(rollback_database, source_id)
    assert (source.state, source.merged_into_id) == ("merged", target_id)
    page = client.get(f"/incidents/{source_id}")
    assert "read-only until it is un-merged" in text_of(page)
    assert "/transition" not in page.get_data(as_text=True)
    refused = post(client, f"/incidents/{source_id}/comments", {"body": "Nog iets"})
    assert refused.status_code == 409
    [merge_id] = re.findall(
        r'action="/incidents/merges/(\d+)/unmerge"',
        client.get(f"/incidents/{target_id}").get_data(as_text=True),
    )
    assert post(client, f"/incidents/merges/{merge_id}/unmerge").status_code == 303
    assert stored(rollback_database, source_id).state == "new"
    assert len(audit_entries(rollback_database, "incident.merged")) == 2
    assert len(audit_entries(rollback_database, "incident.unmerged")) == 2


def test_merging_into_an_unknown_reference_is_explained(client, officer, clock, rollback_database):
    incident_id = make(rollback_database, clock)
    for reference, message in [
        ("INC-2099-99999", "There is no incident INC-2099-99999."),
        ("42", "Give an incident reference"),
        (stored(rollback_database, incident_id).reference, "cannot be merged into itself"),
    ]:
        response = post(client, f"/incidents/{incident_id}/merge", {"reference": reference})
        assert response.status_code == 400, reference
        assert message in text_of(response)
    assert stored(rollback_database, incident_id).state == "new"


def test_the_page_lists_the_incidents_alerts(client, officer, clock, rollback_database):
    with rollback_database.unit_of_work() as session:
        alert = make_alert(session, title="Aanmelding als root")
        incident_id = open_incident_from_alerts(
            session, alert_ids=[alert.id], actor=Actor(name="x"), now=clock.now()
        ).id
    page = client.get(f"/incidents/{incident_id}").get_data(as_text=True)
    assert f'<tr id="alert-{alert.id}">' in page
    assert "Aanmelding als root" in page


# The list ------------------------------------------------------------------------------


def test_the_list_filters_and_is_an_audited_read(client, officer, clock, rollback_database):
    low = make(rollback_database, clock, severity="low")
    mine = make(rollback_database, clock, assignee_id=officer.user_id)
    physical = make(rollback_database, clock, incident_type="physical")

    def ids(**query):
        return listed_ids(client.get("/incidents", query_string=query).get_data(as_text=True))

    assert ids() == [physical, mine, low]
    assert ids(severity="low") == [low]
    assert ids(type="physical") == [physical]
    assert ids(assignee="me") == [mine]
    assert ids(state="open") == [physical, mine, low]
    assert ids(state="closed") == []
    reads = audit_entries(rollback_database, "incident.read")
    assert reads[1].target == "incident:list"
    assert '"severity":"low"' in reads[1].details


def test_a_bad_filter_is_explained_and_not_audited(client, officer, rollback_database):
    for query, message in [
        ({"state": "x' OR 1=1"}, "Choose a filter value from the list."),
        ({"severity": "urgent"}, "Choose a filter value from the list."),
        ({"before": "abc"}, "That page does not exist."),
    ]:
        response = client.get("/incidents", query_string=query)
        assert response.status_code == 400, query
        assert message in text_of(response)
    assert audit_entries(rollback_database, "incident.read") == []


def test_the_list_pages_back(client, officer, clock, rollback_database, monkeypatch):
    monkeypatch.setattr(incident_views, "PAGE_SIZE", 2)
    made = [make(rollback_database, clock, title=f"Nummer {n}") for n in range(3)]
    page = client.get("/incidents").get_data(as_text=True)
    assert listed_ids(page) == made[::-1][:2]
    [older] = re.findall(r'<a href="(/incidents\?before=\d+)" rel="next">', page)
    assert listed_ids(client.get(html.unescape(older)).get_data(as_text=True)) == [made[0]]
