"""Notifications to webhook subscriptions (purpose ``notifications``), signed as Standard
Webhooks with the subscription's secret (``incidents.feeds.signing``).

The message id is ``notification-<id>``: it stays the same on every retry, so a receiver
that saw a message before drops the repeat. The subscription's URL may carry a token of
the receiver (chat services put one in the path), so it never appears in a reason. During a
secret's rotation overlap the previous secret signs as well (one signature per secret).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from incidents.feeds.signing import DeliveryFailed, post_signed

TIMEOUT_SECONDS = 10.0


def message_id(notification_id: int) -> str:
    return f"notification-{notification_id}"


def send_webhook(
    *,
    url: str,
    secret: str,
    notification_id: int,
    body: str,
    now: datetime,
    timeout: float = TIMEOUT_SECONDS,
    previous_secrets: Sequence[str] = (),
) -> str | None:
    """POST the signed body; None when the receiver took it (2xx), else the reason."""
    try:
        post_signed(
            url,
            secret,
            message_id=message_id(notification_id),
            body=body,
            now=now,
            timeout=timeout,
            previous_secrets=previous_secrets,
        )
    except DeliveryFailed as failure:
        return failure.reason.replace(url, "<url>")
    return None
