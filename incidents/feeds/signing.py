"""Signed webhook posts (the Standard Webhooks scheme, as Svix sends them).

Headers: ``webhook-id`` (the message id, which receivers use to drop duplicates),
``webhook-timestamp`` (unix seconds) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256
over "id.timestamp.body">``). The signature comes from the ``standardwebhooks`` library,
so any receiver that uses it (or Svix's) verifies us without custom code. After a secret
is rotated the old one signs as well for a while (``previous_secrets``): the header then
carries one signature per secret, separated by a space, as the scheme allows, so a
receiver still holding the old secret keeps verifying until it switches.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime

import httpx
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
USER_AGENT = "Wachter-Webhooks/1"
MAX_ERROR = 300


class DeliveryFailed(Exception):
    """The receiver did not take the message (no answer, or not a 2xx); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:MAX_ERROR]


def new_secret() -> str:
    """A fresh signing secret in the format receivers expect (``whsec_`` + base64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signed_headers(
    secret: str,
    *,
    message_id: str,
    body: str,
    now: datetime,
    previous_secrets: Sequence[str] = (),
) -> dict[str, str]:
    signature = " ".join(
        Webhook(key).sign(message_id, now, body) for key in (secret, *previous_secrets)
    )
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


def post_signed(
    url: str,
    secret: str,
    *,
    message_id: str,
    body: str,
    now: datetime,
    timeout: float = 10.0,
    previous_secrets: Sequence[str] = (),
) -> None:
    """POST ``body`` to ``url`` signed with ``secret``; raises ``DeliveryFailed`` otherwise."""
    headers = signed_headers(
        secret, message_id=message_id, body=body, now=now, previous_secrets=previous_secrets
    )
    try:
        response = httpx.post(
            url, content=body.encode(), headers=headers, timeout=timeout, follow_redirects=False
        )
    except httpx.HTTPError as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"HTTP {response.status_code}")
