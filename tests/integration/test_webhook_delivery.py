"""Alert webhooks against a real receiver: a stdlib HTTP server on 127.0.0.1 in a thread
that verifies every message with the ``standardwebhooks`` library, as a SOC would.

A receiver that is down for a while gets every alert once it is back, in order, each
exactly once; retries back off on the injected clock; an entry refused for a day becomes
a dead letter, delivery goes on, and a replay sends it with its original ``webhook-id``.
Secrets are stored encrypted; a rotated secret signs beside the new one for a day. Every
test runs on SQLite and PostgreSQL.

Signatures carry the time they were sent, and receivers refuse a time more than five
minutes from their own clock, so the runs that must succeed are made at the wall clock's
now; the failing runs before them happen on an injected clock that starts in the past.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, text
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from access_control import Actor
from access_control.secret_box import SecretBox
from core import FixedClock
from incidents.feeds import changes, create_subscription, deliver_webhooks, request_replay
from incidents.feeds.models import WebhookDeadLetter, WebhookSubscription
from incidents.feeds.webhook_delivery import MAX_ATTEMPTS, backoff
from incidents.feeds.webhooks import rotate_secret, set_active
from storage import migrate
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.support.incident_factories import make_alert
from wachter.jobs import BackgroundJobs, jobs_for

ADMIN = Actor(name="beheerder")
BOX = SecretBox([TEST_ENCRYPTION_KEY])


class Receiver:
    """A webhook receiver that can be stopped and started again on the same port."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = secrets
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received: list[tuple[str, dict]] = []  # (webhook-id, verified body)
        self.attempts: list[str] = []  # every webhook-id that arrived, answered or not
        self.refuse: set[str] = set()  # webhook-ids to answer with 500
        self.verified_with: list[int] = []  # which of ``secrets`` verified each message
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/wachter"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                headers = dict(self.headers.items())
                message_id = headers.get("webhook-id", "")
                receiver.attempts.append(message_id)
                if message_id in receiver.refuse:
                    self.send_response(500)
                    self.end_headers()
                    return
                for index, secret in enumerate(receiver.secrets):
                    try:
                        payload = Webhook(secret).verify(body, headers)
                    except WebhookVerificationError:
                        continue
                    receiver.received.append((message_id, payload))
                    receiver.verified_with.append(index)
                    self.send_response(204)
                    self.end_headers()
                    return
                self.send_response(401)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def ids(self) -> list[str]:
        return [message_id for message_id, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver([])
    yield made
    made.stop()


def wall_now() -> datetime:
    return datetime.now(UTC)


def subscribe(database, receiver: Receiver, **options) -> tuple[int, str]:
    with database.unit_of_work() as session:
        subscription, secret = create_subscription(
            session,
            name=options.pop("name", "soc"),
            url=receiver.url,
            purpose="alerts",
            min_severity=options.pop("min_severity", "low"),
            actor=ADMIN,
            now=wall_now(),
            box=BOX,
        )
        receiver.secrets.append(secret)
        return subscription.id, secret


def write_alerts(database, *severities: str) -> list[int]:
    """One new alert per severity, each with its feed entry; the entries' ids."""
    with database.unit_of_work() as session:
        entries = [
            changes.record_alert_change(
                session,
                make_alert(session, severity=severity, entities='[["account", "j.jansen"]]'),
                change="created",
                now=wall_now(),
            )
            for severity in severities
        ]
        return [entry.id for entry in entries]


def run(database, now: datetime, box: SecretBox = BOX) -> bool:
    with database.unit_of_work() as session:
        return deliver_webhooks(session, now=now, box=box)


def state(database, subscription_id: int) -> WebhookSubscription:
    with database.unit_of_work() as session:
        subscription = session.get(WebhookSubscription, subscription_id)
        session.expunge(subscription)
        return subscription


def message_ids(entry_ids: list[int]) -> list[str]:
    return [f"alert-feed-{entry_id}" for entry_id in entry_ids]


def test_a_receiver_that_was_down_gets_every_alert_once_it_is_back(rollback_database, receiver):
    database = rollback_database
    subscription_id, _secret = subscribe(database, receiver)
    start_position = state(database, subscription_id).position
    early = write_alerts(database, "high", "medium", "critical")
    start = wall_now() - timedelta(hours=3)

    run(database, start)  # the receiver is down: refused connection
    down = state(database, subscription_id)
    assert (down.position, down.attempts) == (start_position, 1)
    assert down.next_attempt_at == start + timedelta(seconds=5)
    assert "Connect" in down.last_error

    run(database, start + timedelta(seconds=4))  # not due yet: no attempt
    assert state(database, subscription_id).attempts == 1
    clock = start
    for attempt in (2, 3, 4):
        clock = state(database, subscription_id).next_attempt_at
        run(database, clock)
        assert state(database, subscription_id).attempts == attempt
    assert state(database, subscription_id).next_attempt_at == clock + backoff(4)
    late = write_alerts(database, "low", "high")

    receiver.start()
    run(database, clock + timedelta(minutes=1))  # back, but the next try is not due yet
    assert receiver.attempts == []
    assert run(database, wall_now()) is False
    assert receiver.ids == message_ids(early + late)
    assert [body["wachter"]["feed"]["id"] for _, body in receiver.received] == early + late
    assert receiver.received[0][1]["event"]["kind"] == "alert"
    for _message_id, body in receiver.received:  # the account only as a pseudonym
        assert "jansen" not in json.dumps(body).lower()
        assert body["user"]["name"].startswith("psn-")
    back = state(database, subscription_id)
    assert (back.position, back.attempts, back.next_attempt_at) == (late[-1], 0, None)
    assert back.last_error is None
    assert back.last_success_at is not None

    run(database, wall_now())  # nothing new: nothing sent twice
    assert receiver.ids == message_ids(early + late)


def test_an_entry_refused_for_a_day_becomes_a_dead_letter_and_a_replay_delivers_it(
    rollback_database, receiver
):
    database = rollback_database
    subscription_id, _secret = subscribe(database, receiver)
    start_position = state(database, subscription_id).position
    poison, *others = write_alerts(database, "high", "high", "critical")
    receiver.refuse.add(f"alert-feed-{poison}")
    receiver.start()
    clock = wall_now() - timedelta(hours=25)
    for attempt in range(1, MAX_ATTEMPTS):
        run(database, clock)
        failing = state(database, subscription_id)
        assert (failing.attempts, failing.position) == (attempt, start_position)
        clock = failing.next_attempt_at
    assert clock - (wall_now() - timedelta(hours=25)) > timedelta(hours=22)
    with database.unit_of_work() as session:
        assert session.scalars(select(WebhookDeadLetter)).all() == []

    run(database, clock)  # the last attempt: given up on
    gave_up = state(database, subscription_id)
    assert (gave_up.position, gave_up.attempts, gave_up.next_attempt_at) == (poison, 0, None)
    with database.unit_of_work() as session:
        [letter] = session.scalars(select(WebhookDeadLetter)).all()
        assert (letter.feed_entry_id, letter.attempts) == (poison, MAX_ATTEMPTS)
        assert letter.last_error == "HTTP 500"
        letter_id = letter.id
    assert receiver.attempts == [f"alert-feed-{poison}"] * MAX_ATTEMPTS

    run(database, wall_now())  # delivery goes on with the next entries
    assert receiver.ids == message_ids(others)

    receiver.refuse.clear()  # the receiver was fixed
    with database.unit_of_work() as session:
        marked = request_replay(
            session,
            subscription_id=subscription_id,
            dead_letter_ids=None,
            actor=ADMIN,
            now=wall_now(),
        )
    assert marked == 1
    newer = write_alerts(database, "high")
    run(database, wall_now())
    assert receiver.ids == message_ids([*others, poison, *newer])  # the replay first
    with database.unit_of_work() as session:
        assert session.get(WebhookDeadLetter, letter_id).replayed_at is not None
    run(database, wall_now())
    assert receiver.ids.count(f"alert-feed-{poison}") == 1


def test_entries_below_the_minimum_severity_only_move_the_position(rollback_database, receiver):
    database = rollback_database
    subscription_id, _ = subscribe(database, receiver, min_severity="high")
    entries = write_alerts(database, "low", "high", "medium", "critical", "informational")
    receiver.start()
    run(database, wall_now())
    assert receiver.ids == message_ids([entries[1], entries[3]])
    assert state(database, subscription_id).position == entries[-1]


def test_a_switched_off_subscription_gets_nothing_until_switched_on(rollback_database, receiver):
    database = rollback_database
    subscription_id, _ = subscribe(database, receiver)
    with database.unit_of_work() as session:
        set_active(
            session, subscription_id=subscription_id, active=False, actor=ADMIN, now=wall_now()
        )
    entries = write_alerts(database, "high", "high")
    receiver.start()
    run(database, wall_now())
    assert receiver.attempts == []
    with database.unit_of_work() as session:
        set_active(
            session, subscription_id=subscription_id, active=True, actor=ADMIN, now=wall_now()
        )
    run(database, wall_now())
    assert receiver.ids == message_ids(entries)


def test_the_secret_is_stored_encrypted_and_audited_without_it(rollback_database, receiver):
    database = rollback_database
    subscription_id, secret = subscribe(database, receiver)
    with database.unit_of_work() as session:
        stored = session.get(WebhookSubscription, subscription_id).secret
        assert secret.encode() not in stored
        assert BOX.decrypt(stored) == secret
        dumped = [
            str(value)
            for table in ("webhook_subscription", "audit_entry")
            for row in session.execute(text(f"SELECT * FROM {table}"))
            for value in row
        ]
    assert not any(secret in value or secret[6:] in value for value in dumped)
    assert any("webhook.created" in value for value in dumped)


def test_after_a_rotation_both_secrets_verify_for_a_day(rollback_database, receiver):
    database = rollback_database
    subscription_id, old_secret = subscribe(database, receiver)
    with database.unit_of_work() as session:
        _, new_secret = rotate_secret(
            session, subscription_id=subscription_id, actor=ADMIN, now=wall_now(), box=BOX
        )
    assert new_secret != old_secret
    receiver.secrets[:] = [old_secret]  # a receiver that has not switched yet
    receiver.start()
    write_alerts(database, "high")
    run(database, wall_now())
    assert len(receiver.received) == 1
    receiver.secrets[:] = [new_secret]  # and one that has
    write_alerts(database, "high")
    run(database, wall_now())
    assert len(receiver.received) == 2
    with database.unit_of_work() as session:
        subscription = session.get(WebhookSubscription, subscription_id)
        subscription.previous_secret_until = wall_now() - timedelta(seconds=1)
    receiver.secrets[:] = [old_secret]  # after the overlap the old secret no longer signs
    write_alerts(database, "high")
    run(database, wall_now())
    assert len(receiver.received) == 2
    assert state(database, subscription_id).last_error == "HTTP 401"


def test_a_secret_no_configured_key_opens_is_reported_not_retried_as_a_receiver_fault(
    rollback_database, receiver
):
    database = rollback_database
    subscription_id, _ = subscribe(database, receiver)
    write_alerts(database, "high")
    receiver.start()
    other_box = SecretBox(["b3RoZXItZW5jcnlwdGlvbi1rZXktMzItYnl0ZXMtISE="])
    run(database, wall_now(), box=other_box)
    stuck = state(database, subscription_id)
    assert receiver.attempts == []
    assert stuck.attempts == 0
    assert "cannot be decrypted" in stuck.last_error
    with database.unit_of_work() as session:
        assert session.scalars(select(WebhookDeadLetter)).all() == []


def test_no_transaction_is_open_while_a_receiver_answers(empty_database):
    migrate.upgrade(empty_database)
    database = empty_database
    subscription_id, _ = subscribe(database, Receiver([]))
    write_alerts(database, "high")
    calls: list[str] = []

    with database.unit_of_work() as session:

        def post(url: str, secret: str, **message: object) -> None:
            assert not session.in_transaction()
            # Another writer gets through at once (on SQLite: the write lock is free).
            with database.unit_of_work() as other:
                other.execute(text("UPDATE webhook_subscription SET name = 'soc-2'"))
            calls.append(str(message["message_id"]))

        deliver_webhooks(session, now=wall_now(), box=BOX, post=post)
    assert len(calls) == 1
    subscription = state(database, subscription_id)
    assert subscription.name == "soc-2"  # the other writer's change was not overwritten
    assert subscription.last_success_at is not None


def test_the_scheduled_job_delivers_with_the_configured_keys(rollback_database, receiver, settings):
    jobs = {job.name: job for job in jobs_for(settings)}
    job = jobs["incidents.deliver_webhooks"]
    assert job.interval == timedelta(seconds=2)
    subscribe(rollback_database, receiver)
    entries = write_alerts(rollback_database, "high", "low")
    receiver.start()
    background = BackgroundJobs(rollback_database, [job], clock=FixedClock(wall_now()))
    assert background.run_once(job) is True
    assert receiver.ids == message_ids(entries)
