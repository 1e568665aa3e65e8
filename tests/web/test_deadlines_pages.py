"""The console's deadline pages: /deadlines (open incidents by urgency, recent breaches,
MTTA/MTTR per month, the table) and /admin/notifications (failed notifications and their
audited retry). Who may look, what is shown and in which order, bad filters, CSRF and
methods. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from incidents.deadlines import DEFAULT_TABLE, escalate_breaches
from incidents.notifications.models import Notification
from tests.factories import make_user
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post
from tests.support.incident_factories import make_incident

ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]


@pytest.fixture
def client(client):
    # The pages are read in English here; test_i18n checks every message has its Dutch.
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def officer(app, client, clock):
    account = enrolled_user(app, role="security_officer", username="functionaris")
    sign_in(client, account, clock)
    return account


def listed(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr id="deadline-(\d+)"', page)]


def failed_notification(database, now, *, status="failed") -> int:
    with database.unit_of_work() as session:
        recipient = make_user(session, role="security_officer", email="officer@example.nl")
        incident = make_incident(session, created_at=now)
        notification = Notification(
            kind="deadline_breach",
            channel="email",
            recipient_user_id=recipient.id,
            incident_id=incident.id,
            payload='{"reference": "INC-TEST"}',
            status=status,
            attempts=10,
            next_attempt_at=now,
            last_error="ConnectionRefusedError: [Errno 111] Connection refused",
            created_at=now,
        )
        session.add(notification)
        session.flush()
        return notification.id


def stored(database, notification_id: int) -> Notification:
    with database.unit_of_work() as session:
        return session.get(Notification, notification_id)


@pytest.mark.parametrize("role", ROLES)
def test_the_overview_is_for_incident_readers_and_failures_for_feed_administrators(
    app, client, clock, role
):
    sign_in(client, enrolled_user(app, role=role), clock)
    overview = client.get("/deadlines").status_code
    failures = client.get("/admin/notifications").status_code
    assert overview == (200 if role in ("soc_analyst", "security_officer") else 403)
    assert failures == (200 if role in ("security_officer", "admin") else 403)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/deadlines")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/deadlines"


def test_open_incidents_are_listed_most_urgent_first_and_the_look_is_audited(
    client, officer, clock, rollback_database
):
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        soon = make_incident(session, severity="high", created_at=now - timedelta(minutes=10))
        overdue = make_incident(
            session, severity="critical", created_at=now - timedelta(minutes=20)
        )
        later = make_incident(session, severity="low", created_at=now)
        make_incident(session, severity="critical", created_at=now, state="closed", closed_at=now)
        make_incident(session, severity="informational", created_at=now)
        ids = (overdue.id, soon.id, later.id)

    response = client.get("/deadlines")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert listed(page) == list(ids)
    overdue_row = re.search(rf'<tr id="deadline-{ids[0]}">.*?</tr>', page, re.DOTALL).group(0)
    assert "overdue by 5 min" in overdue_row
    soon_row = re.search(rf'<tr id="deadline-{ids[1]}">.*?</tr>', page, re.DOTALL).group(0)
    assert "50 min" in soon_row
    [entry] = audit_entries(rollback_database, "incident.read")
    assert (entry.actor, entry.target) == ("functionaris", "incident:deadlines")


def test_the_type_filter_keeps_only_that_type(client, officer, clock, rollback_database):
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        cyber = make_incident(session, type="cyber", created_at=now)
        physical = make_incident(session, type="physical", created_at=now)
    page = client.get("/deadlines?type=physical").get_data(as_text=True)
    assert listed(page) == [physical.id]
    assert cyber.id not in listed(page)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("type=spy", "Choose an incident type from the list."),
        ("type=%27%20OR%201=1--", "Choose an incident type from the list."),
        ("months=99", "Choose 1 to 36 months."),
        ("months=-1", "Choose 1 to 36 months."),
        ("months=abc", "Choose 1 to 36 months."),
    ],
)
def test_a_bad_filter_is_refused_on_the_page(client, officer, query, message):
    response = client.get(f"/deadlines?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_breaches_and_monthly_figures_are_shown(app, client, clock, rollback_database):
    clock.advance(timedelta(days=2))  # 3 January: both incidents in January
    now = clock.now()
    with rollback_database.unit_of_work() as session:
        make_incident(
            session,
            severity="critical",
            created_at=now - timedelta(hours=2),
            acknowledged_at=now - timedelta(hours=2) + timedelta(minutes=10),
        )
        unacknowledged = make_incident(
            session,
            reference="INC-2026-00099",
            severity="critical",
            created_at=now - timedelta(hours=1),
        )
        escalate_breaches(session, now=now, table=DEFAULT_TABLE)
    sign_in(client, enrolled_user(app, role="security_officer"), clock)
    page = client.get("/deadlines?months=3").get_data(as_text=True)
    breaches = page.split('id="breaches-title"', 1)[1].split("</section>", 1)[0]
    assert "INC-2026-00099" in breaches
    assert f'href="/incidents/{unacknowledged.id}"' in breaches
    month = re.search(r'<tr id="month-2026-01">(.*?)</tr>', page, re.DOTALL).group(1)
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", month)
    ]
    # Month, acknowledged, MTTA, closed, MTTR, breaches: acknowledge, contain, resolve.
    assert cells == ["2026-01", "1", "10 min", "0", "—", "1", "0", "0"]
    assert re.findall(r'<tr id="month-([0-9-]+)"', page) == ["2026-01", "2025-12", "2025-11"]


def test_titles_are_shown_as_text(client, officer, clock, rollback_database):
    with rollback_database.unit_of_work() as session:
        make_incident(session, title="<script>alert(1)</script>", created_at=clock.now())
    page = client.get("/deadlines").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_failed_notifications_are_listed_with_their_reason(app, client, clock, rollback_database):
    admin = enrolled_user(app, role="admin", username="beheerder")
    sign_in(client, admin, clock)
    notification_id = failed_notification(rollback_database, clock.now())
    failed_notification(rollback_database, clock.now(), status="sent")
    page = client.get("/admin/notifications").get_data(as_text=True)
    assert re.findall(r'<tr id="notification-(\d+)"', page) == [str(notification_id)]
    assert "Connection refused" in page
    assert "officer@example.nl" not in page


def test_a_retry_sends_again_from_the_first_attempt_and_is_audited(
    app, client, clock, rollback_database
):
    admin = enrolled_user(app, role="admin", username="beheerder")
    sign_in(client, admin, clock)
    notification_id = failed_notification(rollback_database, clock.now() - timedelta(days=1))
    response = post(client, f"/admin/notifications/{notification_id}/retry")
    assert response.status_code == 303
    assert response.headers["Location"] == "/admin/notifications"
    retried = stored(rollback_database, notification_id)
    assert (retried.status, retried.attempts, retried.next_attempt_at) == (
        "pending",
        0,
        clock.now(),
    )
    [entry] = audit_entries(rollback_database, "notification.retried")
    assert (entry.actor, entry.target) == ("beheerder", f"notification:{notification_id}")

    again = post(client, f"/admin/notifications/{notification_id}/retry")
    assert again.status_code == 409
    assert len(audit_entries(rollback_database, "notification.retried")) == 1
    assert post(client, "/admin/notifications/999999/retry").status_code == 404


def test_a_retry_needs_a_post_with_a_csrf_token(app, client, clock, rollback_database):
    sign_in(client, enrolled_user(app, role="admin"), clock)
    notification_id = failed_notification(rollback_database, clock.now())
    assert client.get(f"/admin/notifications/{notification_id}/retry").status_code == 405
    assert client.post(f"/admin/notifications/{notification_id}/retry").status_code == 400
    assert stored(rollback_database, notification_id).status == "failed"
    assert audit_entries(rollback_database, "notification.retried") == []


def test_an_analyst_cannot_retry(app, client, clock, rollback_database):
    sign_in(client, enrolled_user(app, role="soc_analyst"), clock)
    notification_id = failed_notification(rollback_database, clock.now())
    assert post(client, f"/admin/notifications/{notification_id}/retry").status_code == 403
    assert stored(rollback_database, notification_id).status == "failed"
