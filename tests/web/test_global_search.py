"""Search everywhere (the box in the top bar), the grouped navigation, and the alert queue's
keyboard shortcuts as the page offers them (the browser suite presses the keys)."""

from __future__ import annotations

import pytest

from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries
from tests.support.incident_factories import make_incident
from tests.web.test_alerts_pages import make_alerts, text_of

pytestmark = pytest.mark.usefixtures("english")


def test_one_search_finds_alerts_incidents_and_rules_and_offers_the_events(
    client, officer, clock, rollback_database
):
    make_alerts(rollback_database, clock, ("rule-vpn", "high", "alice"))
    with rollback_database.unit_of_work() as session:
        make_incident(session, title="VPN login from abroad")
    response = client.get("/search?q=vpn")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    text = text_of(response)
    assert "VPN login from abroad" in text
    assert "/alerts?q=vpn&amp;status=all" in page  # every matching alert, not just open ones
    assert "/events?q=vpn" in page
    [entry] = audit_entries(rollback_database, "search.read")
    assert "vpn" not in str(entry.details)  # the lists searched, never the text


def test_an_incident_reference_opens_the_incident(client, officer, rollback_database):
    with rollback_database.unit_of_work() as session:
        incident = make_incident(session, reference="INC-2026-00042")
        incident_id = incident.id
    response = client.get("/search?q=inc-2026-00042")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/incidents/{incident_id}")


def test_an_overlong_search_is_refused_with_the_reason_and_nothing_searched(
    client, officer, rollback_database
):
    response = client.get("/search?q=" + "a" * 201)
    assert response.status_code == 400
    assert "Search for at most 200 characters." in text_of(response)
    assert audit_entries(rollback_database, "search.read") == []


@pytest.mark.parametrize(("role", "status"), [("staff", 403), ("auditor", 200)])
def test_search_is_for_console_users_and_shows_only_lists_they_may_read(
    app, client, clock, role, status
):
    sign_in(client, enrolled_user(app, role=role), clock)
    response = client.get("/search?q=x")
    assert response.status_code == status
    if status == 200:
        assert "found-alerts" not in response.get_data(as_text=True)


def test_the_navigation_marks_the_current_section(client, officer, clock, rollback_database):
    [alert_id] = make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    page = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert '<a href="/alerts" aria-current="page">Alerts</a>' in page
    assert 'aria-current="page">Dashboard' not in page


def test_the_alert_queue_offers_its_keyboard_shortcuts(client, officer, clock, rollback_database):
    make_alerts(rollback_database, clock, ("rule-1", "high", "alice"))
    page = client.get("/alerts").get_data(as_text=True)
    assert 'data-shortcuts="queue"' in page
    assert 'id="shortcuts-help"' in page
    assert "escalate the selected alerts" in page  # an officer may escalate
    script = client.get("/static/js/console.js")
    assert script.status_code == 200
    assert b'"escalate"' in script.data


def test_the_event_search_offers_quick_ranges_that_keep_the_query(client, officer):
    page = client.get("/events?q=user.name:alice&since=now-24h").get_data(as_text=True)
    assert 'href="/events?q=user.name:alice&amp;since=now-1h"' in page
    assert 'href="/events?q=user.name:alice&amp;since=now-24h" aria-current="true"' in page
    assert 'placeholder="the first event"' in page  # an empty From searches from the start
    assert client.get("/events?since=now-7d").status_code == 200
