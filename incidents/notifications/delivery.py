"""Sending the outbox: the job ``incidents.send_notifications``.

One run (``delivery_run``) has three steps, so no network call holds the database:

1. ``claim_due``: in the job's transaction, take up to ``BATCH`` pending notifications
   that are due, count the attempt, push their ``next_attempt_at`` ``CLAIM`` ahead (a
   process that dies while sending leaves them to be retried then, not lost) and read
   what each send needs; the run then commits, which releases SQLite's write lock.
2. ``send``: e-mail over one SMTP connection, webhooks one by one, outside any transaction.
3. ``record_outcomes``: sent; or failed for good (nothing to send it with: e-mail off, no
   address, subscription off); or retried with exponential backoff (``retry_delay``),
   ``failed`` after ``MAX_ATTEMPTS``. Administrators see failed ones and may retry them
   (``outbox.retry_notification``).

Delivery is at least once: a crash between sending and recording sends again later.
Log lines carry ids and outcomes only, never an address, a URL or a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control.models import User
from access_control.secret_box import SecretBox
from core import ConfigError, Settings
from incidents.feeds.models import WebhookSubscription
from incidents.notifications.email import SmtpMailer, SmtpSettings, build_message
from incidents.notifications.messages import MessageSettings, email_text, webhook_body
from incidents.notifications.models import Notification, NotificationStatus
from incidents.notifications.webhook import TIMEOUT_SECONDS, send_webhook

log = logging.getLogger("wachter.incidents.notifications")
BATCH = 20
CLAIM = timedelta(minutes=10)  # longer than a batch can take (timeouts of 10 s each)
MAX_ATTEMPTS = 10
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=6)
EMAIL_OFF = "e-mail is off: WACHTER_SMTP_HOST is not set"
INTERRUPTED = "the last attempt was interrupted (the sending process stopped)"


def retry_delay(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s, 1 min, 2 min, … at most 6 h."""
    doublings = min(max(attempts - 1, 0), 20)  # 2**20 times 30 s is far past the cap
    return min(FIRST_RETRY * (1 << doublings), MAX_RETRY)


@dataclass(frozen=True)
class Channels:
    """What sending needs: message settings, SMTP (None: e-mail off), the secret box."""

    messages: MessageSettings
    smtp: SmtpSettings | None
    box: SecretBox | None
    webhook_timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> Channels:
        box = SecretBox.from_settings(settings) if settings.encryption_keys else None
        return cls(
            messages=MessageSettings(base_url=settings.base_url, timezone=settings.timezone),
            smtp=SmtpSettings.from_settings(settings),
            box=box,
        )


@dataclass(frozen=True)
class Outgoing:
    """One claimed notification, ready to send (or known to be undeliverable)."""

    notification_id: int
    channel: str
    email: EmailMessage | None = None
    url: str | None = None
    secret: str | None = field(default=None, repr=False)
    # After a rotation the previous secret signs too, until its overlap ends (feeds.webhooks).
    previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    body: str | None = None
    subscription_id: int | None = None
    undeliverable: str | None = None  # why it cannot be sent at all: fail, no retry


@dataclass(frozen=True)
class Outcome:
    notification_id: int
    error: str | None  # None: sent
    final: bool = False  # an error retrying cannot fix
    wait_like: int | None = None  # not tried: wait as long as this (failed) notification


def claim_due(
    session: Session, *, now: datetime, channels: Channels, limit: int = BATCH
) -> list[Outgoing]:
    """Take the due notifications (oldest first) and prepare them; see the module text."""
    query = (
        select(Notification)
        .where(
            Notification.status == NotificationStatus.PENDING.value,
            Notification.next_attempt_at <= now,
        )
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    prepared: list[Outgoing] = []
    for notification in session.scalars(query):
        if notification.attempts >= MAX_ATTEMPTS:
            # Its last attempt was claimed and never recorded: the sender died meanwhile.
            notification.status = NotificationStatus.FAILED.value
            notification.last_error = INTERRUPTED
            log.error("notification failed; given up", extra=_ids(notification))
            continue
        # Counted when claimed: an attempt the process did not live to record still counts,
        # so a message that crashes its sender cannot come back forever.
        notification.attempts += 1
        notification.next_attempt_at = now + CLAIM
        prepared.append(_prepare(session, notification, channels, now=now))
    session.flush()
    return prepared


def _undeliverable(notification: Notification, reason: str) -> Outgoing:
    return Outgoing(notification.id, notification.channel, undeliverable=reason)


def _prepare(
    session: Session, notification: Notification, channels: Channels, *, now: datetime
) -> Outgoing:
    if notification.channel == "webhook":
        return _prepare_webhook(session, notification, channels, now=now)
    if notification.channel != "email":
        return _undeliverable(notification, f"unknown channel {notification.channel[:20]!r}")
    return _prepare_email(session, notification, channels, now=now)


def _prepare_email(
    session: Session, notification: Notification, channels: Channels, *, now: datetime
) -> Outgoing:
    if channels.smtp is None:
        return _undeliverable(notification, EMAIL_OFF)
    user = session.get(User, notification.recipient_user_id or 0)
    if user is None or not user.email:
        return _undeliverable(notification, "the recipient has no e-mail address")
    if not user.is_active:
        return _undeliverable(notification, "the recipient's account is disabled")
    try:
        message = build_message(
            sender=channels.smtp.sender,
            recipient=user.email,
            text=email_text(notification, channels.messages),
            message_key=f"notification-{notification.id}",
            now=now,
        )
    except ValueError:
        return _undeliverable(notification, "the recipient's address is not valid")
    return Outgoing(notification.id, notification.channel, email=message)


def _prepare_webhook(
    session: Session, notification: Notification, channels: Channels, *, now: datetime
) -> Outgoing:
    subscription = session.get(WebhookSubscription, notification.subscription_id or 0)
    if subscription is None or not subscription.active:
        return _undeliverable(notification, "the webhook subscription is off or gone")
    if channels.box is None:
        return _undeliverable(notification, "no encryption key is configured")
    try:
        secret = channels.box.decrypt(subscription.secret)
        previous = subscription.previous_secret
        overlapping = subscription.previous_secret_until
        previous_secrets = (
            (channels.box.decrypt(previous),)
            if previous is not None and overlapping is not None and overlapping > now
            else ()
        )
    except ConfigError:
        return _undeliverable(
            notification, "the subscription's secret cannot be decrypted with the configured keys"
        )
    return Outgoing(
        notification.id,
        notification.channel,
        url=subscription.url,
        secret=secret,
        previous_secrets=previous_secrets,
        body=webhook_body(notification, channels.messages),
        subscription_id=subscription.id,
    )


def send(outgoing: Sequence[Outgoing], *, channels: Channels, now: datetime) -> list[Outcome]:
    """Send every prepared notification (no database here); one outcome each."""
    outcomes = [
        Outcome(item.notification_id, item.undeliverable, final=True)
        for item in outgoing
        if item.undeliverable
    ]
    emails = [item for item in outgoing if item.email is not None]
    if emails and channels.smtp is not None:
        results = SmtpMailer(channels.smtp).send_all([item.email for item in emails if item.email])
        outcomes.extend(
            Outcome(item.notification_id, error)
            for item, error in zip(emails, results, strict=True)
        )
    failed_subscriptions: dict[int, int] = {}  # subscription → the notification that failed
    for item in outgoing:
        if item.url is None or item.secret is None or item.body is None:
            continue
        subscription = item.subscription_id or 0
        if subscription in failed_subscriptions:
            # Its receiver just failed: spare it (and this run) another timeout.
            outcomes.append(
                Outcome(item.notification_id, None, wait_like=failed_subscriptions[subscription])
            )
            continue
        error = send_webhook(
            url=item.url,
            secret=item.secret,
            notification_id=item.notification_id,
            body=item.body,
            now=now,
            timeout=channels.webhook_timeout,
            previous_secrets=item.previous_secrets,
        )
        if error is not None:
            failed_subscriptions[subscription] = item.notification_id
        outcomes.append(Outcome(item.notification_id, error))
    return outcomes


def record_outcomes(session: Session, outcomes: Sequence[Outcome], *, now: datetime) -> None:
    """Sent, retried later with backoff, or failed; see the module text."""
    waits: dict[int, datetime] = {}
    for outcome in sorted(outcomes, key=lambda outcome: outcome.wait_like is not None):
        notification = session.get(Notification, outcome.notification_id)
        if notification is None:
            continue
        if outcome.wait_like is not None:  # not tried after all
            notification.attempts -= 1
            notification.next_attempt_at = waits.get(outcome.wait_like, now + FIRST_RETRY)
            continue
        if outcome.error is None:
            notification.status = NotificationStatus.SENT.value
            notification.sent_at, notification.last_error = now, None
            log.info("notification sent", extra=_ids(notification))
            continue
        notification.last_error = outcome.error[:500]
        if outcome.final or notification.attempts >= MAX_ATTEMPTS:
            notification.status = NotificationStatus.FAILED.value
            log.error("notification failed; given up", extra=_ids(notification))
            continue
        notification.next_attempt_at = now + retry_delay(notification.attempts)
        waits[notification.id] = notification.next_attempt_at
        log.warning("notification not delivered; will retry", extra=_ids(notification))
    session.flush()


def _ids(notification: Notification) -> dict[str, object]:
    return {
        "wachter.notification_id": notification.id,
        "wachter.channel": notification.channel,
        "wachter.attempts": notification.attempts,
    }


def deliver_notifications(
    session: Session, *, now: datetime, channels: Channels, limit: int = BATCH
) -> int:
    """One run of the job: claim, commit, send, record. Returns how many were claimed.

    The one commit inside: sending may take seconds per message and must not hold the
    database (on SQLite: its only write lock) meanwhile. The caller's unit of work commits
    the outcomes, as for any job.
    """
    outgoing = claim_due(session, now=now, channels=channels, limit=limit)
    if not outgoing:
        return 0
    session.commit()
    record_outcomes(session, send(outgoing, channels=channels, now=now), now=now)
    return len(outgoing)


def delivery_run(settings: Settings) -> Callable[[Session, datetime], bool]:
    """The job's body for ``wachter.jobs``; the SMTP settings are checked now."""
    channels = Channels.from_settings(settings)

    def run(session: Session, now: datetime) -> bool:
        return deliver_notifications(session, now=now, channels=channels) == BATCH

    return run
