"""Notifications about incidents: the outbox, and its delivery by e-mail and webhook.

``outbox.enqueue`` writes them in the transaction of the change they tell about;
``delivery`` sends them afterwards (the job ``incidents.send_notifications``) over SMTP
(``email``) or as signed webhooks (``webhook``), with the texts of ``messages``, retried
with backoff. docs/deadlines.md describes them.
"""

from incidents.notifications.delivery import (
    MAX_ATTEMPTS,
    Channels,
    deliver_notifications,
    delivery_run,
    retry_delay,
)
from incidents.notifications.models import Notification, NotificationStatus
from incidents.notifications.outbox import (
    FailedNotification,
    NotificationKind,
    enqueue,
    failed_notifications,
    retry_notification,
)

__all__ = [
    "MAX_ATTEMPTS",
    "Channels",
    "FailedNotification",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "deliver_notifications",
    "delivery_run",
    "enqueue",
    "failed_notifications",
    "retry_delay",
    "retry_notification",
]
