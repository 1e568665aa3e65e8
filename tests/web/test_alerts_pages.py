"""The console's alert pages: the queue (filters, paging, bulk actions), one alert, the
suppressions and policies pages, and the false-positive column on the rules pages.

Alerts are made the way the service makes them: detections stored as the engine leaves
them, turned into alerts by ``raise_alerts``. The tests check who may do what (the
policy table and the per-action check for incidents), CSRF, step-up for suppressions,
the audit entries of reads and changes, and that a refused change changes nothing.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from sqlalchemy import func, select

from access_control import Actor
from incidents.alerts import close, raise_alerts
from incidents.alerts.models import Alert, AlertPolicy, Suppression
from incidents.cases.models import Incident
from storage.events import Event
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, step_up
from tests.support.incident_factories import make_detection, make_incident
from tests.web.test_templates import (
    Page,
    event_handlers,
    inline_scripts,
    is_csrf_field,
    style_attributes,
)

ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]
_keys = itertools.count(1)


@pytest.fixture
def client(client):
    # The pages are read in English here; test_i18n checks every message has its Dutch.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def analyst(app, client, clock):
    account = enrolled_user(app, role="soc_analyst", username="analist")
    sign_in(client, account, clock)
    return account


@pytest.fixture
def officer(app, client, clock):
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account


def make_alerts(database, clock, *specs) -> list[int]:
    """Alerts from one detection per (rule key, level, user) spec, via ``raise_alerts``;
    returns the ids of the alerts it made (a suppressed spec makes none)."""
    now = clock.now()
    with database.unit_of_work() as session:
        before = session.scalar(select(func.max(Alert.id))) or 0
        for rule_key, level, user in specs:
            event = Event(
                source="test",
                event_key=f"event-{next(_keys)}",
                timestamp=now,
                ingested=now,
                document=orjson.dumps({"user": {"name": user}, "host": {"name": "PC1"}}).decode(),
            )
            session.add(event)
            session.flush()
            make_detection(
                session, rule_key=rule_key, level=level, detected_at=now, event_ids=[event.id]
            )
        raise_alerts(session, now=now, dedup_window=timedelta(hours=1))
        return list(session.scalars(select(Alert.id).where(Alert.id > before).order_by(Alert.id)))


def stored(database, alert_id: int) -> Alert:
    with database.unit_of_work() as session:
        return session.get(Alert, alert_id)


def listed_ids(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr id="alert-(\d+)"', page)]


def text_of(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def count(database, model) -> int:
    with database.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(model))


# Who may do what ---------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_only_roles_that_read_alerts_see_the_queue_and_an_alert(
    app, client, clock, rollback_database, role
):
    [alert_id] = make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    sign_in(client, enrolled_user(app, role=role), clock)
    allowed = role in ("soc_analyst", "security_officer")
    for path in ("/alerts", f"/alerts/{alert_id}", "/alerts/suppressions", "/alerts/policies"):
        assert client.get(path).status_code == (200 if allowed else 403), path


def test_an_analyst_may_acknowledge_and_close_but_not_suppress_or_escalate(
    client, analyst, clock, rollback_database
):
    first, second = make_alerts(
        rollback_database, clock, ("rule-1", "high", "alice"), ("rule-1", "high", "bob")
    )
    assert post(client, f"/alerts/{first}/acknowledge").status_code == 303
    assert stored(rollback_database, first).status == "acknowledged"
    response = post(
        client, f"/alerts/{first}/close", {"resolution": "benign", "note": "planned test"}
    )
    assert response.status_code == 303
    assert stored(rollback_database, first).status == "closed"

    refused = post(
        client,
        "/alerts/suppressions",
        {"conditions": "user.name equals bob", "owner": "me", "reason": "x", "days": "7"},
    )
    assert refused.status_code == 403
    assert count(rollback_database, Suppression) == 0
    assert post(client, "/alerts/policies", {"name": "p", "raise_to": "high"}).status_code == 403
    escalate = post(client, "/alerts/bulk", {"action": "escalate", "alert_id": str(second)})
    assert escalate.status_code == 403
    assert stored(rollback_database, second).status == "new"
    assert count(rollback_database, Incident) == 0


def test_the_queue_offers_analysts_no_incident_actions(client, analyst, clock, rollback_database):
    make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    page = client.get("/alerts").get_data(as_text=True)
    assert 'value="acknowledge"' in page
    assert 'value="escalate"' not in page


def test_posting_without_a_csrf_token_is_refused_and_changes_nothing(
    client, analyst, clock, rollback_database
):
    [alert_id] = make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    response = client.post("/alerts/bulk", data={"action": "acknowledge", "alert_id": alert_id})
    assert response.status_code == 400
    assert client.post(f"/alerts/{alert_id}/acknowledge").status_code == 400
    assert stored(rollback_database, alert_id).status == "new"
    assert audit_entries(rollback_database, "alert.acknowledged") == []


# The queue ---------------------------------------------------------------------------------


def test_the_queue_shows_open_alerts_and_filters_them(client, analyst, clock, rollback_database):
    high, low, other, closed = make_alerts(
        rollback_database,
        clock,
        ("vpn-brute", "high", "alice"),
        ("vpn-brute", "low", "bob"),
        ("web-scan", "medium", "carol"),
        ("web-scan", "medium", "dave"),
    )
    with rollback_database.unit_of_work() as session:
        close(
            session,
            closed,
            resolution="true_positive",
            note=None,
            actor=Actor(name="x"),
            now=clock.now(),
        )
    assert sorted(listed_ids(client.get("/alerts").get_data(as_text=True))) == [high, low, other]
    assert listed_ids(client.get("/alerts?status=closed").get_data(as_text=True)) == [closed]
    assert listed_ids(client.get("/alerts?severity=low").get_data(as_text=True)) == [low]
    assert sorted(listed_ids(client.get("/alerts?rule=vpn-brute").get_data(as_text=True))) == [
        high,
        low,
    ]
    assert listed_ids(client.get("/alerts?entity=CAROL").get_data(as_text=True)) == [other]
    assert listed_ids(client.get("/alerts?q=rule%20web").get_data(as_text=True)) == [other]
    assert listed_ids(client.get("/alerts?q=%25").get_data(as_text=True)) == []


@pytest.mark.parametrize(
    "query",
    ["status=deleted", "severity=urgent", "page=0", "page=201", "page=x", "q=" + "x" * 201],
)
def test_bad_queue_filters_are_refused_with_a_reason(client, analyst, query):
    response = client.get(f"/alerts?{query}")
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


def test_reading_the_queue_is_audited_with_its_filters(client, analyst, clock, rollback_database):
    make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    client.get("/alerts?severity=high&entity=alice")
    [entry] = audit_entries(rollback_database, "alert.read")
    assert (entry.actor, entry.target) == ("analist", "alert:list")
    assert orjson.loads(entry.details) == {"entity": "alice", "page": 1, "severity": "high"}


def test_titles_and_entities_are_shown_as_text_not_markup(
    client, analyst, clock, rollback_database
):
    make_alerts(rollback_database, clock, ("rule-1", "high", "<script>alert(1)</script>"))
    page = client.get("/alerts").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# Bulk actions ------------------------------------------------------------------------------


def test_bulk_acknowledge_changes_the_selected_alerts_and_keeps_the_filters(
    client, analyst, clock, rollback_database
):
    first, second, untouched = make_alerts(
        rollback_database,
        clock,
        ("rule-1", "high", "alice"),
        ("rule-1", "high", "bob"),
        ("rule-1", "high", "carol"),
    )
    token_page = client.get("/alerts?severity=high")
    assert token_page.status_code == 200
    response = client.post(
        "/alerts/bulk",
        data={
            "csrf_token": re.search(
                r'name="csrf_token" value="([^"]+)"', token_page.get_data(as_text=True)
            ).group(1),
            "action": "acknowledge",
            "alert_id": [str(first), str(second)],
            "severity": "high",
        },
    )
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/alerts", {"severity": ["high"]})
    statuses = [
        stored(rollback_database, alert_id).status for alert_id in (first, second, untouched)
    ]
    assert statuses == ["acknowledged", "acknowledged", "new"]
    assert sorted(
        entry.target for entry in audit_entries(rollback_database, "alert.acknowledged")
    ) == [
        f"alert:{first}",
        f"alert:{second}",
    ]
    assert "2 alerts acknowledged" in text_of(client.get(response.headers["Location"]))


def test_bulk_close_as_false_positive_needs_a_note(client, analyst, clock, rollback_database):
    first, second = make_alerts(
        rollback_database, clock, ("rule-1", "high", "alice"), ("rule-1", "high", "bob")
    )
    data = {
        "action": "close",
        "alert_id": [str(first), str(second)],
        "resolution": "false_positive",
    }
    refused = post(client, "/alerts/bulk", data)
    assert refused.status_code == 400
    assert "needs a note" in text_of(refused)
    assert [stored(rollback_database, a).status for a in (first, second)] == ["new", "new"]
    assert audit_entries(rollback_database, "alert.closed") == []

    done = post(client, "/alerts/bulk", {**data, "note": "the nightly backup"})
    assert done.status_code == 303
    closed = [stored(rollback_database, a) for a in (first, second)]
    assert [(a.status, a.resolution, a.resolution_note) for a in closed] == [
        ("closed", "false_positive", "the nightly backup")
    ] * 2
    assert len(audit_entries(rollback_database, "alert.closed")) == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"action": "acknowledge"}, "Select at least one alert"),
        ({"action": "delete", "alert_id": "1"}, "Choose what to do"),
        ({"action": "acknowledge", "alert_id": "1 OR 1=1"}, "Select alerts from the list"),
        ({"action": "acknowledge", "alert_id": "999999"}, None),
    ],
)
def test_bad_bulk_requests_are_refused(client, analyst, data, message):
    response = post(client, "/alerts/bulk", data)
    if message is None:
        assert response.status_code == 404
    else:
        assert response.status_code == 400
        assert message in text_of(response)


def test_an_officer_escalates_selected_alerts_into_a_new_incident(
    client, officer, clock, rollback_database
):
    first, second = make_alerts(
        rollback_database, clock, ("rule-1", "high", "alice"), ("rule-1", "critical", "bob")
    )
    response = post(
        client, "/alerts/bulk", {"action": "escalate", "alert_id": [str(first), str(second)]}
    )
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        [incident] = session.scalars(select(Incident))
        assert response.headers["Location"] == f"/incidents/{incident.id}"
        assert incident.severity == "critical"
    assert [
        (stored(rollback_database, a).status, stored(rollback_database, a).incident_id)
        for a in (first, second)
    ] == [("escalated", incident.id)] * 2


def test_an_officer_adds_alerts_to_an_incident_by_its_reference(
    client, officer, clock, rollback_database
):
    [alert_id] = make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    with rollback_database.unit_of_work() as session:
        incident = make_incident(session, reference="INC-2026-00042")
        incident_id = incident.id
    refused = post(
        client,
        "/alerts/bulk",
        {"action": "merge", "alert_id": str(alert_id), "reference": "INC-2026-99999"},
    )
    assert refused.status_code == 400
    assert stored(rollback_database, alert_id).status == "new"
    response = post(
        client,
        "/alerts/bulk",
        {"action": "merge", "alert_id": str(alert_id), "reference": "inc-2026-00042"},
    )
    assert response.status_code == 303
    assert (
        stored(rollback_database, alert_id).status,
        stored(rollback_database, alert_id).incident_id,
    ) == ("merged", incident_id)


# One alert ---------------------------------------------------------------------------------


def test_an_alert_page_shows_its_detections_entities_and_related_alerts_as_an_audited_read(
    client, analyst, clock, rollback_database
):
    first, related = make_alerts(
        rollback_database, clock, ("rule-1", "high", "alice"), ("rule-2", "low", "alice")
    )
    response = client.get(f"/alerts/{first}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert re.search(r'<tr id="detection-\d+">', page)
    assert re.search(r'href="/detections/\d+"', page)
    assert "alice" in page
    assert "pc1" in page
    assert f'<tr id="related-{related}">' in page
    [entry] = audit_entries(rollback_database, "alert.read")
    assert (entry.actor, entry.target) == ("analist", f"alert:{first}")


def test_an_unknown_alert_is_not_found(client, analyst):
    assert client.get("/alerts/999999").status_code == 404
    assert post(client, "/alerts/999999/acknowledge").status_code == 404


def test_a_refused_change_shows_the_alert_with_the_reason(
    client, analyst, clock, rollback_database
):
    [alert_id] = make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    post(client, f"/alerts/{alert_id}/close", {"resolution": "true_positive"})
    again = post(client, f"/alerts/{alert_id}/acknowledge")
    assert again.status_code == 409
    assert "is closed" in text_of(again)
    benign = post(client, f"/alerts/{alert_id}/close", {"resolution": "benign"})
    assert benign.status_code == 400
    assert stored(rollback_database, alert_id).resolution == "true_positive"


# Suppressions and policies -----------------------------------------------------------------

SUPPRESSION = {
    "conditions": "user.name equals svc_backup\nsource.ip cidr 10.20.0.0/16",
    "owner": "SOC team",
    "reason": "backups fail by design",
    "days": "14",
}


def test_making_a_suppression_needs_a_fresh_confirmation(client, officer, clock, rollback_database):
    clock.advance(timedelta(minutes=10, seconds=30))  # the sign-in no longer counts as fresh
    response = post(client, "/alerts/suppressions", SUPPRESSION)
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/account/confirm"
    assert count(rollback_database, Suppression) == 0

    step_up(client, officer, clock)
    assert post(client, "/alerts/suppressions", SUPPRESSION).status_code == 303
    with rollback_database.unit_of_work() as session:
        [suppression] = session.scalars(select(Suppression))
        assert (suppression.owner, suppression.created_by) == ("SOC team", "officier")
        assert suppression.expires_at == clock.now() + timedelta(days=14)
    [entry] = audit_entries(rollback_database, "suppression.created")
    assert entry.actor == "officier"
    page = client.get("/alerts/suppressions").get_data(as_text=True)
    assert "source.ip cidr 10.20.0.0/16" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"conditions": "user.name is svc_backup"}, "is not an operator"),
        ({"conditions": "user.name equals"}, "write it as"),
        ({"conditions": ""}, "at least one condition"),
        ({"conditions": "\n".join(["user.name equals x"] * 11)}, "at most 10 conditions"),
        ({"owner": ""}, "Name an owner"),
        ({"reason": " "}, "Give a reason"),
        ({"days": "91"}, "1 to 90 days"),
        ({"days": "0"}, "1 to 90 days"),
        ({"days": "soon"}, "1 to 90 days"),
        ({"rule": "no-such-rule"}, "no rule with the key"),
    ],
)
def test_bad_suppressions_are_refused_with_the_reason_and_nothing_is_stored(
    client, officer, rollback_database, change, message
):
    response = post(client, "/alerts/suppressions", {**SUPPRESSION, **change})
    assert response.status_code == 400
    assert message in text_of(response)
    assert count(rollback_database, Suppression) == 0
    assert audit_entries(rollback_database, "suppression.created") == []
    if "owner" not in change:  # what was typed stays in the form
        assert 'value="SOC team"' in response.get_data(as_text=True)


def test_suppressed_hits_are_listed_and_a_suppression_can_be_revoked(
    client, officer, clock, rollback_database
):
    assert (
        post(
            client, "/alerts/suppressions", {**SUPPRESSION, "conditions": "user.name equals bob"}
        ).status_code
        == 303
    )
    make_alerts(rollback_database, clock, ("rule-1", "high", "bob"), ("rule-1", "high", "alice"))
    with rollback_database.unit_of_work() as session:
        [suppression] = session.scalars(select(Suppression))
        suppression_id = suppression.id
        assert suppression.hits == 1
    page = client.get("/alerts/suppressions").get_data(as_text=True)
    assert f'<details id="hits-{suppression_id}">' in page
    assert re.search(r'href="/detections/\d+"', page)

    assert post(client, f"/alerts/suppressions/{suppression_id}/revoke").status_code == 303
    again = post(client, f"/alerts/suppressions/{suppression_id}/revoke")
    assert again.status_code == 409
    assert [e.actor for e in audit_entries(rollback_database, "suppression.revoked")] == [
        "officier"
    ]


def test_an_officer_makes_and_switches_off_a_policy(client, officer, rollback_database):
    response = post(
        client,
        "/alerts/policies",
        {"name": "criticals become incidents", "min_severity": "critical", "open_incident": "yes"},
    )
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        [policy] = session.scalars(select(AlertPolicy))
        policy_id = policy.id
        assert (policy.open_incident, policy.incident_type, policy.raise_to) == (
            True,
            "cyber",
            None,
        )
    refused = post(client, "/alerts/policies", {"name": "does nothing"})
    assert refused.status_code == 400
    assert "raise the severity, open an incident, or both" in text_of(refused)
    assert count(rollback_database, AlertPolicy) == 1
    assert post(client, f"/alerts/policies/{policy_id}/disable").status_code == 303
    assert [e.action for e in audit_entries(rollback_database, "alert_policy.created")] == [
        "alert_policy.created"
    ]
    assert len(audit_entries(rollback_database, "alert_policy.disabled")) == 1


# False positives on the rules pages ----------------------------------------------------------


def test_the_rules_pages_show_false_positives_per_rule(client, officer, clock, rollback_database):
    first, second, _third = make_alerts(
        rollback_database,
        clock,
        ("noisy-rule", "high", "a"),
        ("noisy-rule", "high", "b"),
        ("noisy-rule", "high", "c"),
    )
    post(client, f"/alerts/{first}/close", {"resolution": "false_positive", "note": "backup"})
    post(client, f"/alerts/{second}/close", {"resolution": "true_positive"})
    listing = client.get("/rules").get_data(as_text=True)
    [cell] = re.findall(r'<td class="false-positives">(.*?)</td>', listing)
    assert cell == "1 of 2 closed (50%)"
    shown = client.get("/rules/noisy-rule")
    assert "1 of 2 closed alerts" in text_of(shown)


def test_a_suppression_whose_stored_conditions_no_longer_read_is_still_listed(
    client, officer, rollback_database
):
    assert post(client, "/alerts/suppressions", SUPPRESSION).status_code == 303
    with rollback_database.unit_of_work() as session:
        [suppression] = session.scalars(select(Suppression))
        suppression.conditions = '[{"field": "user.name", "operator": "regex", "value": ".*"}]'
    response = client.get("/alerts/suppressions")
    assert response.status_code == 200
    assert "regex" in text_of(response)


# Pages obey the CSP and label their fields ---------------------------------------------------


def unlabelled_fields(page: Page) -> list[str]:
    labelled = {e.attributes.get("for") for e in page.tagged("label")}
    return [
        f"<{element.tag} name={element.attributes.get('name')}>"
        for element in page.elements
        if element.tag in ("input", "select", "textarea")
        and element.attributes.get("type") not in ("hidden", "submit")
        and element.attributes.get("id") not in labelled
        and not element.attributes.get("aria-label")
    ]


def test_the_pages_need_no_inline_script_or_style_and_label_every_field(
    client, officer, clock, rollback_database
):
    held_back = {**SUPPRESSION, "conditions": "user.name equals bob"}
    assert post(client, "/alerts/suppressions", held_back).status_code == 303
    assert post(client, "/alerts/policies", {"name": "up", "raise_to": "high"}).status_code == 303
    first, _second = make_alerts(
        rollback_database,
        clock,
        ("rule-1", "high", "alice"),
        ("rule-1", "high", "bob"),
        ("rule-1", "high", "alice2"),
    )
    for path in ("/alerts", f"/alerts/{first}", "/alerts/suppressions", "/alerts/policies"):
        page = Page(client.get(path).get_data(as_text=True))
        assert inline_scripts(page) == [], path
        assert event_handlers(page) == [], path
        assert style_attributes(page) == [], path
        assert unlabelled_fields(page) == [], path
        for form in page.forms:
            if form.attributes.get("method") == "post":
                assert any(is_csrf_field(e) for e in page.contents_of(form)), (path, form)
