"""The webhook administration pages (/admin/webhooks): who may use them, step-up for
creating and for a new secret, the secret shown once, validation in place, switching off
and on, dead letters and replay, and the audit entries. Every test runs on SQLite and
PostgreSQL, in English (the Dutch texts come with the catalogue).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from incidents.feeds import changes
from incidents.feeds.models import WebhookDeadLetter, WebhookSubscription
from tests.support.accounts import enrolled_user, sign_in
from tests.support.admin import audit_entries, post, readonly_value, row, step_up
from tests.support.incident_factories import make_alert
from tests.web.test_templates import Page, event_handlers, inline_scripts, style_attributes
from web.i18n import LANGUAGE_COOKIE

ROLES = ["staff", "soc_analyst", "security_officer", "auditor", "admin"]
STEP_UP_EXPIRED = timedelta(minutes=10, seconds=30)
FORM = {
    "name": "soc-splunk",
    "url": "https://soc.example.nl/hooks/wachter?key=abc",
    "purpose": "alerts",
    "min_severity": "medium",
}
FAILED = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def officer(app, client, clock):
    client.set_cookie(LANGUAGE_COOKIE, "en")
    account = enrolled_user(app, role="security_officer", username="officier")
    sign_in(client, account, clock)
    return account


def subscriptions(database) -> list[WebhookSubscription]:
    with database.unit_of_work() as session:
        return list(session.scalars(select(WebhookSubscription)))


def create(client, **overrides):
    return post(client, "/admin/webhooks", {**FORM, **overrides})


def dead_letters(database, subscription_id: int, count: int) -> list[int]:
    with database.unit_of_work() as session:
        ids = []
        for _ in range(count):
            entry = changes.record_alert_change(
                session, make_alert(session), change="created", now=FAILED
            )
            letter = WebhookDeadLetter(
                subscription_id=subscription_id,
                feed_entry_id=entry.id,
                attempts=18,
                last_error="HTTP 500",
                failed_at=FAILED,
            )
            session.add(letter)
            session.flush()
            ids.append(letter.id)
        return ids


@pytest.mark.parametrize("role", ROLES)
def test_only_feed_administrators_see_the_webhooks(app, client, clock, role):
    sign_in(client, enrolled_user(app, role=role), clock)
    allowed = role in ("security_officer", "admin")
    assert client.get("/admin/webhooks").status_code == (200 if allowed else 403)


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get("/admin/webhooks")
    assert response.status_code == 302
    assert "/login" in response.location


def test_creating_a_webhook_needs_step_up_and_shows_the_secret_once(
    client, clock, officer, rollback_database
):
    clock.advance(STEP_UP_EXPIRED)
    response = create(client)
    assert response.status_code == 303
    assert urlsplit(response.location).path == "/account/confirm"
    assert subscriptions(rollback_database) == []

    step_up(client, officer, clock)
    response = create(client)
    assert response.status_code == 201
    secret = readonly_value(response.get_data(as_text=True), "webhook-secret")
    assert secret.startswith("whsec_")
    [subscription] = subscriptions(rollback_database)
    assert (subscription.name, subscription.purpose, subscription.min_severity) == (
        "soc-splunk",
        "alerts",
        "medium",
    )
    assert secret.encode() not in subscription.secret

    listing = client.get("/admin/webhooks").get_data(as_text=True)
    assert secret not in listing
    shown = row(listing, f"webhook-{subscription.id}")
    assert "soc-splunk" in shown
    assert "https://soc.example.nl/hooks/wachter?…" in shown
    assert "key=abc" not in shown  # a credential in the query stays off the page
    [entry] = audit_entries(rollback_database, "webhook.created")
    assert (entry.actor, entry.target) == ("officier", f"webhook:{subscription.id}")
    assert json.loads(entry.details) == {
        "name": "soc-splunk",
        "purpose": "alerts",
        "min_severity": "medium",
        "host": "soc.example.nl",
    }
    assert secret[6:] not in entry.details


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"url": "http://soc.example.nl/in"}, "only for this machine"),
        ({"url": "https://169.254.169.254/"}, "link-local"),
        ({"url": "https://user:pw@soc.example.nl/"}, "user name or password"),
        ({"url": "not a url"}, "spaces"),
        ({"name": ""}, "name of 1 to 100"),
        ({"name": "n" * 101}, "name of 1 to 100"),
        ({"purpose": "everything"}, "from the list"),
        ({"min_severity": "urgent"}, "minimum severity"),
    ],
)
def test_an_invalid_webhook_is_refused_on_the_form_and_nothing_is_stored(
    client, officer, rollback_database, overrides, message
):
    response = create(client, **overrides)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert 'name="url"' in response.get_data(as_text=True)  # the form, to try again
    assert subscriptions(rollback_database) == []
    assert audit_entries(rollback_database, "webhook.created") == []


def test_a_second_webhook_with_the_same_name_is_refused(client, officer, rollback_database):
    assert create(client).status_code == 201
    response = create(client, url="https://other.example.nl/")
    assert response.status_code == 400
    assert "exists already" in response.get_data(as_text=True)
    assert len(subscriptions(rollback_database)) == 1


def test_switching_off_and_on_is_audited(client, officer, rollback_database):
    create(client)
    [subscription] = subscriptions(rollback_database)
    response = post(client, f"/admin/webhooks/{subscription.id}/disable")
    assert response.status_code == 303
    assert subscriptions(rollback_database)[0].active is False
    assert "Switch on" in row(
        client.get("/admin/webhooks").get_data(as_text=True), f"webhook-{subscription.id}"
    )
    post(client, f"/admin/webhooks/{subscription.id}/enable")
    assert subscriptions(rollback_database)[0].active is True
    assert [e.actor for e in audit_entries(rollback_database, "webhook.disabled")] == ["officier"]
    assert [e.actor for e in audit_entries(rollback_database, "webhook.enabled")] == ["officier"]


def test_a_new_secret_needs_step_up_and_keeps_the_old_one_for_a_day(
    client, clock, officer, rollback_database
):
    create(client)
    [subscription] = subscriptions(rollback_database)
    clock.advance(STEP_UP_EXPIRED)
    response = post(client, f"/admin/webhooks/{subscription.id}/rotate-secret")
    assert urlsplit(response.location).path == "/account/confirm"
    assert subscriptions(rollback_database)[0].secret == subscription.secret

    step_up(client, officer, clock)
    response = post(client, f"/admin/webhooks/{subscription.id}/rotate-secret")
    assert response.status_code == 200
    secret = readonly_value(response.get_data(as_text=True), "webhook-secret")
    rotated = subscriptions(rollback_database)[0]
    assert rotated.previous_secret == subscription.secret
    assert rotated.previous_secret_until == clock.now() + timedelta(hours=24)
    [entry] = audit_entries(rollback_database, "webhook.secret_rotated")
    assert entry.actor == "officier"
    assert secret[6:] not in entry.details


def test_dead_letters_are_listed_and_the_selected_ones_replayed(client, officer, rollback_database):
    create(client)
    [subscription] = subscriptions(rollback_database)
    first, second, third = dead_letters(rollback_database, subscription.id, 3)
    page = client.get(f"/admin/webhooks/{subscription.id}/dead-letters").get_data(as_text=True)
    assert "HTTP 500" in row(page, f"dead-letter-{first}")
    assert ">3</a>" in row(
        client.get("/admin/webhooks").get_data(as_text=True), f"webhook-{subscription.id}"
    )

    response = post(
        client,
        f"/admin/webhooks/{subscription.id}/replay",
        {"dead_letter": [str(first), str(third)]},
    )
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        marked = {
            letter.id: letter.replay_requested_by
            for letter in session.scalars(select(WebhookDeadLetter))
        }
    assert marked == {first: "officier", second: None, third: "officier"}
    page = client.get(f"/admin/webhooks/{subscription.id}/dead-letters").get_data(as_text=True)
    assert "waiting to be sent" in row(page, f"dead-letter-{first}")

    post(client, f"/admin/webhooks/{subscription.id}/replay", {"all": "1"})
    with rollback_database.unit_of_work() as session:
        assert all(
            letter.replay_requested_at for letter in session.scalars(select(WebhookDeadLetter))
        )
    details = [
        json.loads(e.details) for e in audit_entries(rollback_database, "webhook.replay_requested")
    ]
    assert [(d["count"], d["every_one"]) for d in details] == [(2, False), (3, True)]


def test_another_webhooks_dead_letter_cannot_be_replayed_here(client, officer, rollback_database):
    create(client)
    create(client, name="other", url="https://other.example.nl/")
    mine, theirs = subscriptions(rollback_database)
    [their_letter] = dead_letters(rollback_database, theirs.id, 1)
    response = post(client, f"/admin/webhooks/{mine.id}/replay", {"dead_letter": str(their_letter)})
    assert response.status_code == 404
    with rollback_database.unit_of_work() as session:
        assert session.get(WebhookDeadLetter, their_letter).replay_requested_at is None


@pytest.mark.parametrize("chosen", [{}, {"dead_letter": "abc"}, {"dead_letter": "1;DROP"}])
def test_a_replay_without_a_valid_choice_is_refused(client, officer, rollback_database, chosen):
    create(client)
    [subscription] = subscriptions(rollback_database)
    dead_letters(rollback_database, subscription.id, 1)
    assert post(client, f"/admin/webhooks/{subscription.id}/replay", chosen).status_code == 400
    assert audit_entries(rollback_database, "webhook.replay_requested") == []


@pytest.mark.parametrize("path", ["/admin/webhooks/999999/dead-letters"])
def test_an_unknown_webhook_is_404(client, officer, path):
    assert client.get(path).status_code == 404
    assert post(client, "/admin/webhooks/999999/disable").status_code == 404


def test_changes_without_csrf_token_are_refused(client, officer, rollback_database):
    create(client)
    [subscription] = subscriptions(rollback_database)
    response = client.post(f"/admin/webhooks/{subscription.id}/disable")
    assert response.status_code == 400
    assert subscriptions(rollback_database)[0].active is True
    assert client.post("/admin/webhooks", data=FORM).status_code == 400
    assert client.get(f"/admin/webhooks/{subscription.id}/disable").status_code == 405


def test_the_pages_obey_the_csp_and_label_every_field(client, officer, rollback_database):
    created = create(client).get_data(as_text=True)
    [subscription] = subscriptions(rollback_database)
    dead_letters(rollback_database, subscription.id, 1)
    pages = [
        created,
        client.get("/admin/webhooks").get_data(as_text=True),
        client.get(f"/admin/webhooks/{subscription.id}/dead-letters").get_data(as_text=True),
    ]
    for page in pages:
        parsed = Page(page)
        assert inline_scripts(parsed) == []
        assert event_handlers(parsed) == []
        assert style_attributes(parsed) == []
        labelled = {element.attributes.get("for") for element in parsed.tagged("label")}
        for field in parsed.elements:
            if field.tag in ("input", "select") and field.attributes.get("type") not in (
                "hidden",
                "submit",
            ):
                assert field.attributes.get("id") in labelled, field.attributes


def test_markup_in_a_name_and_an_error_is_shown_as_text(client, officer, rollback_database):
    create(client, name="<script>alert(1)</script>")
    [subscription] = subscriptions(rollback_database)
    with rollback_database.unit_of_work() as session:
        session.get(
            WebhookSubscription, subscription.id
        ).last_error = "<img src=x onerror=alert(1)>"
    page = client.get("/admin/webhooks").get_data(as_text=True)
    assert "<script>alert(1)" not in page
    assert "<img src=x" not in page
    assert "&lt;script&gt;" in page
