"""Webhook notifications to a real local HTTP server (``http.server`` in a thread), verified
with the Standard Webhooks library and the subscription's secret; a failing receiver is
retried with the same message id, and its other notifications wait with it. SQLite and
PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from access_control.secret_box import SecretBox
from incidents.feeds.models import WebhookSubscription
from incidents.feeds.signing import new_secret
from incidents.notifications.delivery import FIRST_RETRY, Channels, deliver_notifications
from incidents.notifications.messages import MessageSettings
from incidents.notifications.models import Notification
from incidents.notifications.outbox import NotificationKind, enqueue
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.support.incident_factories import make_incident

BOX = SecretBox([TEST_ENCRYPTION_KEY])
MESSAGES = MessageSettings(base_url="https://wachter.example.nl")


@dataclass
class Receiver:
    """What the local server received, and the status it answers with."""

    status: int = 204
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    received = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            received.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(received.status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    received.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/wachter"
    yield received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def subscribe(session, url: str, secret: str, *, purpose: str = "notifications", **values):
    subscription = WebhookSubscription(
        name=values.pop("name", f"{purpose}-hook"),
        url=url,
        secret=BOX.encrypt(secret),
        purpose=purpose,
        active=values.pop("active", True),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        created_by="test",
        **values,
    )
    session.add(subscription)
    session.flush()
    return subscription


def breach(session, incident, now):
    return enqueue(
        session,
        kind=NotificationKind.DEADLINE_BREACH,
        incident_id=incident.id,
        user_ids=[],
        payload={
            "reference": incident.reference,
            "title": "Naam van een medewerker in de titel",
            "type": "staff_safety",
            "severity": "high",
            "deadline": "acknowledge",
            "due_at": "2026-03-02T10:15:00+00:00",
        },
        now=now,
    )


def channels() -> Channels:
    return Channels(messages=MESSAGES, smtp=None, box=BOX, webhook_timeout=5)


def test_a_notification_webhook_is_signed_and_verifies_with_the_secret(db_session, receiver):
    # The receiver checks the timestamp against its own clock: send at the real time.
    now = datetime.now(UTC).replace(microsecond=0)
    secret = new_secret()
    subscribe(db_session, receiver.url, secret)
    subscribe(db_session, receiver.url, new_secret(), purpose="alerts", name="alert-feed")
    incident = make_incident(db_session, reference="INC-2026-00007")
    [notification] = breach(db_session, incident, now)

    assert deliver_notifications(db_session, now=now, channels=channels()) == 1

    [(headers, body)] = receiver.requests
    payload = Webhook(secret).verify(body, headers)
    assert headers["webhook-id"] == f"notification-{notification.id}"
    assert payload["type"] == "incident.deadline_breach"
    assert payload["data"]["reference"] == "INC-2026-00007"
    assert payload["data"]["deadline"] == "acknowledge"
    assert payload["data"]["link"] == f"https://wachter.example.nl/incidents/{incident.id}"
    assert b"medewerker" not in body  # no free text leaves by webhook
    db_session.expire_all()
    assert db_session.get(Notification, notification.id).status == "sent"


def test_a_failing_receiver_is_retried_with_the_same_message_id(db_session, receiver):
    now = datetime.now(UTC).replace(microsecond=0)
    secret = new_secret()
    subscribe(db_session, receiver.url, secret)
    incident = make_incident(db_session)
    [first] = breach(db_session, incident, now)
    [second] = breach(db_session, incident, now)
    receiver.status = 503

    deliver_notifications(db_session, now=now, channels=channels())
    assert len(receiver.requests) == 1  # the second waits with the first, untried
    db_session.expire_all()
    failed, waiting = (
        db_session.get(Notification, first.id),
        db_session.get(Notification, second.id),
    )
    assert (failed.attempts, failed.last_error) == (1, "HTTP 503")
    assert failed.next_attempt_at == now + FIRST_RETRY
    assert (waiting.attempts, waiting.next_attempt_at) == (0, failed.next_attempt_at)

    receiver.status = 200
    later = now + FIRST_RETRY
    deliver_notifications(db_session, now=later, channels=channels())
    ids = [headers["webhook-id"] for headers, _body in receiver.requests]
    assert ids == [
        f"notification-{first.id}",
        f"notification-{first.id}",
        f"notification-{second.id}",
    ]
    for headers, body in receiver.requests[1:]:
        Webhook(secret).verify(body, headers)
    db_session.expire_all()
    statuses = db_session.scalars(select(Notification.status).order_by(Notification.id)).all()
    assert statuses == ["sent", "sent"]


def test_a_receiver_that_cannot_be_reached_is_retried_and_its_url_is_not_in_the_reason(
    db_session, receiver
):
    now = datetime.now(UTC).replace(microsecond=0)
    url = "http://127.0.0.1:9/hooks/token-in-the-path"  # discard port: nothing listens
    subscribe(db_session, url, new_secret())
    [notification] = breach(db_session, make_incident(db_session), now)
    deliver_notifications(db_session, now=now, channels=channels())
    db_session.expire_all()
    failed = db_session.get(Notification, notification.id)
    assert failed.status == "pending"
    assert failed.attempts == 1
    assert "ConnectError" in failed.last_error
    assert "token-in-the-path" not in failed.last_error


def test_a_subscription_switched_off_fails_without_retrying(db_session, receiver):
    now = datetime.now(UTC)
    subscription = subscribe(db_session, receiver.url, new_secret())
    [notification] = breach(db_session, make_incident(db_session), now)
    subscription.active = False
    db_session.flush()
    deliver_notifications(db_session, now=now, channels=channels())
    db_session.expire_all()
    failed = db_session.get(Notification, notification.id)
    assert (failed.status, failed.last_error) == (
        "failed",
        "the webhook subscription is off or gone",
    )
    assert receiver.requests == []
    assert deliver_notifications(db_session, now=now + timedelta(hours=1), channels=channels()) == 0


def test_during_a_rotation_overlap_the_previous_secret_verifies_too(db_session, receiver):
    now = datetime.now(UTC).replace(microsecond=0)
    current, previous = new_secret(), new_secret()
    subscribe(
        db_session,
        receiver.url,
        current,
        previous_secret=BOX.encrypt(previous),
        previous_secret_until=now + timedelta(hours=1),
    )
    incident = make_incident(db_session)
    breach(db_session, incident, now)
    deliver_notifications(db_session, now=now, channels=channels())
    breach(db_session, incident, now + timedelta(hours=2))  # the overlap is over
    deliver_notifications(db_session, now=now + timedelta(hours=2), channels=channels())

    (during_headers, during_body), (after_headers, after_body) = receiver.requests
    Webhook(current).verify(during_body, during_headers)
    Webhook(previous).verify(during_body, during_headers)
    # Two hours ahead of the receiver's clock: check the signature at that time.
    assert len(after_headers["webhook-signature"].split(" ")) == 1
    assert after_headers["webhook-signature"] == Webhook(current).sign(
        after_headers["webhook-id"], now + timedelta(hours=2), after_body.decode()
    )
