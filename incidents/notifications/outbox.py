"""Queue notifications in the transaction of the change they tell about.

A notification is sent by ``notifications.delivery`` after the change has committed; if
the change rolls back, so does its notification. E-mail goes to the named users who have
an address; every active webhook subscription for notifications gets one too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import StrEnum

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control.models import User
from incidents.feeds.models import WebhookSubscription
from incidents.notifications.models import Notification, NotificationStatus


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
