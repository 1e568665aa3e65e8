"""The console's detection pages: /detections and /detections/<id>.

Detections are made by the real engine: rules imported through the rule service, events
stored as log collection stores them, and the streaming consumer run over them. The tests
check who may look, that every look is an audited read, the explanation table (selection,
field, pattern, the event's value) next to the events, correlations with their group,
events purged by retention, paging and filters, escaping, Dutch first and English on
request. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from access_control import Actor
from core import FixedClock
from detection_rules import DetectionConsumer
from detection_rules.loading import RuleSource
from detection_rules.models import Detection
from detection_rules.service import import_rules
from ingest import pipeline
from ingest.batches import Batch
from storage.events import Event
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes
from web.views import detections as detection_views

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]
ROOT_ID = "7c1d0e2f-0000-4000-8000-000000000001"
ROOT_SIGN_IN = f"""title: Sign-in as root
id: {ROOT_ID}
status: test
logsource: {{category: authentication}}
detection:
  selection:
    user.name: root
    event.outcome: failure
  condition: selection
level: high
"""
FAILED_LOGINS = """title: Failed sign-in
id: 7c1d0e2f-0000-4000-8000-000000000002
name: failed_sign_in
status: test
logsource: {category: authentication}
detection:
  selection: {event.outcome: failure}
  condition: selection
level: low
---
title: Three failed sign-ins for one account
id: 7c1d0e2f-0000-4000-8000-000000000003
status: test
correlation:
  type: event_count
  rules: [failed_sign_in]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 3}
level: medium
"""


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    return account


def sign_in_event(user, outcome="failure", minute=0, **extra):
    return {
        "@timestamp": (NOW + timedelta(minutes=minute)).isoformat(),
        "event": {"category": ["authentication"], "outcome": outcome},
        "user": {"name": user},
        "source": {"ip": "192.0.2.7"},
        **extra,
    }


def detect(database, rule_text, *documents, at=NOW):
    """Import ``rule_text``, store ``documents`` and run the streaming engine over them.

    Returns the ids of the detections made, oldest first.
    """
    with database.unit_of_work() as session:
        known = set(session.scalars(select(Detection.id)))
        report = import_rules(
            session,
            [RuleSource("rules.yml", rule_text.encode())],
            actor=Actor(name="importeur"),
            now=at - timedelta(hours=1),
        )
        assert not report.has_errors, report.problems
        batch = Batch(receiver="test", source="test", ingested=at)
        for number, document in enumerate(documents):
            batch.add(document, event_key=f"{at.isoformat()}-{number}", raw=str(number))
        batch.store(session)
        consumer = DetectionConsumer(clock=FixedClock(at))
        while pipeline.deliver(session, consumer, now=at):
            pass
        session.flush()
        made = session.scalars(select(Detection.id).order_by(Detection.id))
        return [detection_id for detection_id in made if detection_id not in known]


def page_text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def table_rows(page: str, table_class: str) -> list[list[str]]:
    [table] = re.findall(
        rf'<table class="[^"]*{table_class}[^"]*"[^>]*>(.*?)</table>', page, re.DOTALL
    )
    body = table.split("<tbody>", 1)[1]
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)
        ]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL)
    ]


def listed_ids(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr id="detection-(\d+)"', page)]


# Who may look ------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("path", ["/detections", "/detections/{id}"])
def test_only_roles_that_read_alerts_and_events_see_detections(
    app, client, clock, rollback_database, role, path
):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    sign_in(client, enrolled_user(app, role=role), clock)
    response = client.get(path.format(id=detection_id))
    allowed = role in ("soc_analyst", "security_officer")
    assert response.status_code == (200 if allowed else 403)


@pytest.mark.parametrize("path", ["/detections", "/detections/1"])
def test_anonymous_visitors_are_sent_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"


@pytest.mark.parametrize(("role", "shown"), [("security_officer", True), ("auditor", False)])
def test_the_navigation_offers_detections_to_those_who_may_see_them(
    app, client, clock, role, shown
):
    sign_in(client, enrolled_user(app, role=role), clock)
    page = client.get("/account").get_data(as_text=True)
    assert ('href="/detections"' in page) is shown


# One detection: the explanation next to the events -------------------------------------------


def test_the_explanation_shows_selection_field_pattern_and_the_events_value(
    client, analyst, rollback_database
):
    [detection_id] = detect(
        rollback_database,
        ROOT_SIGN_IN,
        sign_in_event("root"),
        sign_in_event("alice", minute=1),
        sign_in_event("root", outcome="success", minute=2),
    )
    response = client.get(f"/detections/{detection_id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    # The rule's own selection, and the one the wachter pipeline adds for its logsource.
    assert table_rows(page, "explanation") == [
        ["selection", "user.name", "root", "root"],
        ["selection", "event.outcome", "failure", "failure"],
        ["logsource", "event.category", "authentication", "authentication"],
    ]
    text = page_text(response)
    assert "Waarom de regel afging" in text
    assert "Versie die afging 1" in text
    assert f'href="/rules/{ROOT_ID}?version=1"' in page


def test_the_events_are_shown_beside_it_as_json(client, analyst, rollback_database):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    page = client.get(f"/detections/{detection_id}").get_data(as_text=True)
    [event_id] = re.findall(r'<article class="event" id="event-(\d+)"', page)
    [shown] = re.findall(r'<pre class="details">(.*?)</pre>', page, re.DOTALL)
    document = json.loads(html.unescape(shown))
    assert document["user"]["name"] == "root"
    assert document["source"]["ip"] == "192.0.2.7"
    with rollback_database.unit_of_work() as session:
        assert session.get(Event, int(event_id)).data == document


def test_reading_a_detection_is_an_audited_read_of_its_events(
    client, analyst, clock, rollback_database
):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    page = client.get(f"/detections/{detection_id}").get_data(as_text=True)
    [event_id] = re.findall(r'<article class="event" id="event-(\d+)"', page)
    [read] = audit_entries(rollback_database, "event.read")
    assert (read.actor, read.target, read.outcome, read.occurred_at) == (
        "analist",
        f"detection:{detection_id}",
        "success",
        clock.now(),
    )
    assert json.loads(read.details) == {"events": event_id, "missing": ""}


def test_hostile_event_values_are_shown_as_text(client, analyst, rollback_database):
    hostile = '<img src=x onerror="alert(1)"></td><script>alert(2)</script>\u202eevil'
    rule = ROOT_SIGN_IN.replace("user.name: root", "user.name|startswith: '<img'")
    [detection_id] = detect(rollback_database, rule, sign_in_event(hostile))
    response = client.get(f"/detections/{detection_id}")
    page = response.get_data(as_text=True)
    assert "<script>alert(2)</script>" not in page
    assert "<img src=x" not in page
    assert '<mark class="hidden-character" title="U+202E">' in page
    assert inline_scripts(Page(page)) == []


def test_a_detection_whose_events_were_purged_says_so(client, analyst, rollback_database):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    with rollback_database.unit_of_work() as session:
        session.execute(delete(Event))
    response = client.get(f"/detections/{detection_id}")
    assert response.status_code == 200
    text = page_text(response)
    assert "De gebeurtenissen van deze detectie zijn niet meer opgeslagen" in text
    assert ["selection", "user.name", "root", "root"] in table_rows(
        response.get_data(as_text=True), "explanation"
    )
    assert '<article class="event"' not in response.get_data(as_text=True)
    [read] = audit_entries(rollback_database, "event.read")
    details = json.loads(read.details)
    assert details["events"] == ""
    assert details["missing"].isdigit()


def test_a_correlation_shows_its_group_its_count_and_its_events(client, analyst, rollback_database):
    detection_ids = detect(
        rollback_database,
        FAILED_LOGINS,
        sign_in_event("bob", minute=0),
        sign_in_event("bob", minute=1),
        sign_in_event("carol", minute=1),
        sign_in_event("bob", minute=2),
    )
    [detection_id] = detection_ids
    response = client.get(f"/detections/{detection_id}")
    page = response.get_data(as_text=True)
    text = page_text(response)
    assert "Three failed sign-ins for one account" in text
    assert re.search(r"<code>user\.name</code></th><td>bob</td>", page)
    assert re.search(r'id="correlation-value">3<', page)
    assert "Eerste gebeurtenis (UTC) 2026-06-01 08:30:00" in text
    assert "Laatste gebeurtenis (UTC) 2026-06-01 08:32:00" in text
    assert "event_count" in text
    assert len(re.findall(r'<article class="event"', page)) == 3
    assert "carol" not in page


def test_a_detection_of_a_rule_edited_since_names_both_versions(client, analyst, rollback_database):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    with rollback_database.unit_of_work() as session:
        import_rules(
            session,
            [RuleSource("edited.yml", ROOT_SIGN_IN.replace("high", "critical").encode())],
            actor=Actor(name="importeur"),
            now=NOW,
        )
    response = client.get(f"/detections/{detection_id}")
    text = page_text(response)
    assert "Versie die afging 1 (de regel is sindsdien gewijzigd: de huidige versie is 2)" in text
    assert f'href="/rules/{ROOT_ID}?version=1"' in response.get_data(as_text=True)


def test_a_detection_without_explanation_or_events_still_reads(client, analyst, rollback_database):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    with rollback_database.unit_of_work() as session:
        row = session.get(Detection, detection_id)
        row.explanation, row.event_ids, row.group_values = "not json", "[]", '"a string"'
    response = client.get(f"/detections/{detection_id}")
    assert response.status_code == 200
    text = page_text(response)
    assert "Bij deze detectie is geen uitleg vastgelegd." in text
    assert "Deze detectie verwijst naar geen gebeurtenissen." in text


def test_an_unknown_detection_is_not_found(client, analyst, rollback_database):
    response = client.get("/detections/999999")
    assert response.status_code == 404
    assert audit_entries(rollback_database, "event.read") == []


def test_english_on_request(client, analyst, rollback_database):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    response = client.get(f"/detections/{detection_id}", headers={"Accept-Language": "en"})
    page = response.get_data(as_text=True)
    assert '<html lang="en">' in page
    text = page_text(response)
    assert "Why it fired" in text
    assert "Value in the event" in text
    assert "Waarom" not in text


# The list -----------------------------------------------------------------------------------


def test_the_list_shows_detections_newest_first_with_their_group(
    client, analyst, rollback_database
):
    first = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    later = detect(
        rollback_database,
        FAILED_LOGINS,
        *(sign_in_event("bob", minute=minute) for minute in range(3)),
        at=NOW + timedelta(minutes=5),
    )
    response = client.get("/detections")
    page = response.get_data(as_text=True)
    assert listed_ids(page) == later[::-1] + first[::-1]
    text = page_text(response)
    assert "user.name = bob" in text
    assert "hoog" in text
    assert "middel" in text
    assert '<html lang="nl">' in page


def test_the_list_filters_by_rule_and_level(client, analyst, rollback_database):
    [root] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    [correlation] = detect(
        rollback_database,
        FAILED_LOGINS,
        *(sign_in_event("bob", minute=minute) for minute in range(3)),
        at=NOW + timedelta(minutes=5),
    )

    def ids(**query):
        return listed_ids(client.get("/detections", query_string=query).get_data(as_text=True))

    assert ids(rule=ROOT_ID) == [root]
    assert ids(level="medium") == [correlation]
    assert ids(level="critical") == []
    assert "Geen detecties voldoen aan deze filters." in page_text(
        client.get("/detections", query_string={"level": "critical"})
    )


def test_the_list_pages_back_by_id(client, analyst, rollback_database, monkeypatch):
    monkeypatch.setattr(detection_views, "PAGE_SIZE", 2)
    made = detect(
        rollback_database,
        ROOT_SIGN_IN,
        *(sign_in_event("root", minute=minute) for minute in range(5)),
    )
    newest = made[::-1]
    page = client.get("/detections").get_data(as_text=True)
    assert listed_ids(page) == newest[:2]
    [older] = re.findall(r'<a href="(/detections\?before=\d+)" rel="next">', page)
    second = client.get(older).get_data(as_text=True)
    assert listed_ids(second) == newest[2:4]
    [oldest] = re.findall(r'<a href="(/detections\?before=\d+)" rel="next">', second)
    third = client.get(oldest).get_data(as_text=True)
    assert listed_ids(third) == newest[4:]
    assert 'rel="next"' not in third


def test_every_list_view_is_an_audited_read_with_its_filters(
    client, analyst, clock, rollback_database
):
    client.get("/detections", query_string={"rule": ROOT_ID, "level": "high"})
    [read] = audit_entries(rollback_database, "detection.read")
    assert (read.actor, read.target, read.occurred_at) == ("analist", "detection:list", clock.now())
    assert json.loads(read.details) == {"rule": ROOT_ID, "level": "high", "before": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"level": "urgent"}, "Kies een niveau uit de lijst."),
        ({"rule": "x" * 301}, "Een regelsleutel is hoogstens 300 tekens lang."),
        ({"before": "abc"}, "Die pagina bestaat niet."),
    ],
)
def test_a_bad_filter_is_explained_and_not_audited(
    client, analyst, rollback_database, query, message
):
    response = client.get("/detections", query_string=query)
    assert response.status_code == 400
    assert message in page_text(response)
    assert audit_entries(rollback_database, "detection.read") == []


def test_without_detections_the_page_says_how_they_come(client, analyst):
    response = client.get("/detections")
    text = page_text(response)
    assert "Er is nog niets gedetecteerd." in text
    assert 'href="/rules"' in response.get_data(as_text=True)


# Pages obey the CSP --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/detections", "/detections/{id}"])
def test_the_pages_need_no_inline_script_or_style(client, analyst, rollback_database, path):
    [detection_id] = detect(rollback_database, ROOT_SIGN_IN, sign_in_event("root"))
    page = Page(client.get(path.format(id=detection_id)).get_data(as_text=True))
    assert inline_scripts(page) == []
    assert event_handlers(page) == []
    assert style_attributes(page) == []
    assert page.tagged("style") == []


def test_a_scheduled_search_detection_shows_its_cluster_document_as_text_and_audits_it(
    client, analyst, rollback_database
):
    # The job that writes such rows runs against real nodes in
    # tests/integration/test_scheduled_searches.py; here the page and its audit entry.
    detect(rollback_database, ROOT_SIGN_IN)
    hostile = '<script>alert("x")</script>'
    with rollback_database.unit_of_work() as session:
        row = Detection(
            rule_key=ROOT_ID,
            rule_version=1,
            detected_at=NOW,
            event_time=NOW,
            event_ids="[]",
            documents=json.dumps(
                [
                    {"index": "winlogbeat-2026.11.30", "id": "abc", "source": {"user": hostile}},
                    {"index": "winlogbeat-2026.11.30", "id": "def"},
                ]
            ),
            explanation="[]",
            level="high",
            title="Sign-in as root",
        )
        session.add(row)
        session.flush()
        detection_id = row.id
    page = client.get(f"/detections/{detection_id}").get_data(as_text=True)
    assert "<script>alert" not in page
    [shown] = re.findall(r'<pre class="details">(.*?)</pre>', page, re.DOTALL)
    assert json.loads(html.unescape(shown)) == {"user": hostile}
    assert "winlogbeat-2026.11.30" in page
    assert "no longer stored" not in page
    [read] = audit_entries(rollback_database, "event.read")
    assert json.loads(read.details) == {
        "events": "",
        "missing": "",
        "documents": "winlogbeat-2026.11.30/abc,winlogbeat-2026.11.30/def",
    }
