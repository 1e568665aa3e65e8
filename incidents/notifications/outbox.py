"""Queue notifications in the transaction of the change they tell about.

A notification is sent by ``notifications.delivery`` after the change has committed; if
the change rolls back, so does its notification. E-mail goes to the named users who have
an address; every active webhook subscription for notifications gets one too.

The payload is what the message may say (``notifications.messages`` reads ``reference``,
``title``, ``type``, ``severity``, ``deadline``, ``due_at``): no secrets, no personal data.
A notification that failed for good is listed for administrators (``failed_notifications``)
and can be sent again (``retry_notification``, audited).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from access_control.models import User
from core import Conflict, NotFound
from core.i18n import N_
from incidents.cases.models import Incident
from incidents.feeds.models import WebhookSubscription
from incidents.notifications.models import Notification, NotificationStatus

MAX_LISTED = 200


class NotificationKind(StrEnum):
    ASSIGNMENT = "assignment"
    ESCALATION = "escalation"
    DEADLINE_BREACH = "deadline_breach"


PayloadValue = str | int | None


def enqueue(
    session: Session,
    *,
    kind: NotificationKind,
    incident_id: int | None,
    user_ids: Sequence[int],
    payload: Mapping[str, PayloadValue],
    now: datetime,
) -> list[Notification]:
    """One notification per user with an e-mail address and per notification webhook."""
    body = orjson.dumps(dict(payload), option=orjson.OPT_SORT_KEYS).decode()
    rows: list[Notification] = []
    if user_ids:
        users = session.scalars(
            select(User.id).where(
                User.id.in_(sorted(set(user_ids))), User.email.is_not(None), User.is_active
            )
        )
        rows.extend(_row(kind, "email", incident_id, body, now, user_id=uid) for uid in users)
    hooks = session.scalars(
        select(WebhookSubscription.id).where(
            WebhookSubscription.purpose == "notifications", WebhookSubscription.active
        )
    )
    rows.extend(_row(kind, "webhook", incident_id, body, now, subscription_id=sid) for sid in hooks)
    session.add_all(rows)
    session.flush()
    return rows


def _row(
    kind: NotificationKind,
    channel: str,
    incident_id: int | None,
    body: str,
    now: datetime,
    *,
    user_id: int | None = None,
    subscription_id: int | None = None,
) -> Notification:
    return Notification(
        kind=kind.value,
        channel=channel,
        recipient_user_id=user_id,
        subscription_id=subscription_id,
        incident_id=incident_id,
        payload=body,
        status=NotificationStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


@dataclass(frozen=True)
class FailedNotification:
    """A notification given up on, with what an administrator needs to judge it."""

    notification: Notification
    incident_reference: str | None
    recipient: str | None  # the username, or the webhook subscription's name


def failed_notifications(session: Session, *, limit: int = MAX_LISTED) -> list[FailedNotification]:
    """Failed notifications, newest first."""
    query = (
        select(Notification, Incident.reference, User.username, WebhookSubscription.name)
        .outerjoin(Incident, Incident.id == Notification.incident_id)
        .outerjoin(User, User.id == Notification.recipient_user_id)
        .outerjoin(WebhookSubscription, WebhookSubscription.id == Notification.subscription_id)
        .where(Notification.status == NotificationStatus.FAILED.value)
        .order_by(Notification.created_at.desc(), Notification.id.desc())
        .limit(max(1, min(limit, MAX_LISTED)))
    )
    return [
        FailedNotification(notification, reference, username or subscription)
        for notification, reference, username, subscription in session.execute(query)
    ]


def retry_notification(
    session: Session, *, notification_id: int, actor: Actor, now: datetime
) -> Notification:
    """Send a failed notification again, from its first attempt (audited)."""
    notification = session.get(Notification, notification_id)
    if notification is None:
        raise NotFound(N_("There is no notification %(id)s."), id=notification_id)
    if notification.status != NotificationStatus.FAILED.value:
        raise Conflict(
            N_("Only a failed notification can be sent again; this one is %(status)s."),
            status=notification.status,
        )
    previous_attempts = notification.attempts
    notification.status = NotificationStatus.PENDING.value
    notification.attempts = 0
    notification.next_attempt_at = now
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="notification.retried",
        target=f"notification:{notification.id}",
        outcome="success",
        now=now,
        details={"channel": notification.channel, "attempts": previous_attempts},
    )
    return notification
