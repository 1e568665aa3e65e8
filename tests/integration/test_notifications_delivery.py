"""The delivery job as the scheduler runs it (its own commits, settings from the
environment), and what happens when a sender dies between claiming and recording."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import select

from core import FixedClock
from incidents.notifications.delivery import (
    CLAIM,
    EMAIL_OFF,
    INTERRUPTED,
    MAX_ATTEMPTS,
    Channels,
    claim_due,
    deliver_notifications,
)
from incidents.notifications.messages import MessageSettings
from incidents.notifications.models import Notification
from incidents.notifications.outbox import NotificationKind, enqueue
from tests.factories import make_user
from tests.support.incident_factories import make_incident
from tests.support.postgres import free_port
from wachter.jobs import BackgroundJobs, jobs_for


class Inbox:
    def __init__(self) -> None:
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


OFF = Channels(messages=MessageSettings(base_url="https://wachter.example.nl"), smtp=None, box=None)


def queue_one(session, now) -> int:
    officer = make_user(session, role="security_officer", email="officer@example.nl")
    incident = make_incident(session)
    [notification] = enqueue(
        session,
        kind=NotificationKind.ASSIGNMENT,
        incident_id=incident.id,
        user_ids=[officer.id],
        payload={"reference": incident.reference, "title": incident.title},
        now=now,
    )
    return notification.id


def run_delivery_job(database, settings, clock) -> None:
    [job] = [job for job in jobs_for(settings) if job.name == "incidents.send_notifications"]
    BackgroundJobs(database, [job], clock=clock, holder="worker").run_once(job)


def status_of(database, notification_id):
    with database.unit_of_work() as session:
        row = session.get(Notification, notification_id)
        return row.status, row.attempts, row.last_error


def test_the_scheduled_job_sends_through_the_configured_smtp_server(migrated_database, settings):
    clock = FixedClock()
    with migrated_database.unit_of_work() as session:
        notification_id = queue_one(session, clock.now())
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        configured = dataclasses.replace(
            settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security="none"
        )
        run_delivery_job(migrated_database, configured, clock)
    finally:
        controller.stop()
    assert status_of(migrated_database, notification_id) == ("sent", 1, None)
    assert inbox.recipients == [["officer@example.nl"]]


def test_the_scheduled_job_without_smtp_fails_email_once(migrated_database, settings):
    clock = FixedClock()
    with migrated_database.unit_of_work() as session:
        notification_id = queue_one(session, clock.now())
    run_delivery_job(migrated_database, settings, clock)
    assert status_of(migrated_database, notification_id) == ("failed", 1, EMAIL_OFF)


def test_a_sender_that_died_after_claiming_leaves_the_notification_to_a_later_run(
    db_session,
):
    clock = FixedClock()
    notification_id = queue_one(db_session, clock.now())
    assert len(claim_due(db_session, now=clock.now(), channels=OFF)) == 1
    # ... and the process stops here: nothing is sent, nothing recorded.
    assert claim_due(db_session, now=clock.now() + CLAIM - timedelta(seconds=1), channels=OFF) == []
    clock.advance(CLAIM)
    deliver_notifications(db_session, now=clock.now(), channels=OFF)
    row = db_session.get(Notification, notification_id)
    assert (row.status, row.attempts, row.last_error) == ("failed", 2, EMAIL_OFF)


def test_a_last_attempt_that_was_interrupted_is_given_up(db_session):
    clock = FixedClock()
    notification_id = queue_one(db_session, clock.now())
    row = db_session.get(Notification, notification_id)
    row.attempts = MAX_ATTEMPTS  # claimed for the last time, then the sender died
    db_session.flush()
    assert deliver_notifications(db_session, now=clock.now(), channels=OFF) == 0
    db_session.expire_all()
    row = db_session.scalars(select(Notification)).one()
    assert (row.status, row.attempts, row.last_error) == ("failed", MAX_ATTEMPTS, INTERRUPTED)
