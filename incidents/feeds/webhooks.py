"""Webhook subscriptions: who receives the alert feed (or notifications), signed, and the
dead letters a subscription gave up on, with replay.

A subscription names an HTTPS address (plain HTTP only for the loopback host, for a
collector on the same machine), a purpose (``alerts``: every alert change at or above
``min_severity``; ``notifications``: assignments, escalations and breaches, sent by
``incidents.notifications``) and a signing secret. The secret is made here, shown once to
whoever made or rotated it, and stored encrypted with ``SecretBox``; it never appears in
an audit entry, a log line or a page after that one. A new ``alerts`` subscription starts
at the end of the feed: it receives the changes from now on (the pull API serves history).

Delivery (``webhook_delivery``) keeps the subscription's position in the feed; entries it
gave up on after every retry become dead letters here, which an administrator can replay.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from access_control.secret_box import SecretBox
from core import InvalidInput, NotFound
from core.i18n import N_
from incidents.feeds.models import AlertFeedEntry, WebhookDeadLetter, WebhookSubscription
from incidents.feeds.reading import parse_min_severity
from incidents.feeds.signing import new_secret


class Purpose(StrEnum):
    ALERTS = "alerts"
    NOTIFICATIONS = "notifications"


MAX_NAME_LENGTH: Final = 100
MAX_URL_LENGTH: Final = 2000
MAX_REPLAY_IDS: Final = 1000
DEAD_LETTER_PAGE: Final = 100
# After a rotation the old secret keeps signing this long, beside the new one.
ROTATION_OVERLAP: Final = timedelta(hours=24)
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain"})
# Host names as DNS allows them (letters, digits, hyphens; labels of at most 63).
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?", re.ASCII)


@dataclass(frozen=True)
class SubscriptionSummary:
    """A subscription as the administration page lists it."""

    subscription: WebhookSubscription
    lag: int | None  # feed entries after its position (alerts subscriptions only)
    dead_letters: int
    replays_pending: int


@dataclass(frozen=True)
class DeadLetterRow:
    dead_letter: WebhookDeadLetter
    alert_id: int
    change: str
    severity: str


def validate_url(text: str) -> str:
    """The address as it will be called; ``InvalidInput`` says what is wrong with it."""
    url = text.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise _bad_url(N_("Give an address of at most %(max)d characters."), max=MAX_URL_LENGTH)
    if not url.isascii() or any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise _bad_url(N_("The address may not contain spaces, control or non-ASCII characters."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad_url(N_("This is not a web address.")) from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise _bad_url(N_("The address must start with https:// and name a host."))
    if parts.username is not None or parts.password is not None:
        raise _bad_url(
            N_("Put no user name or password in the address; the signature is the proof.")
        )
    if parts.fragment or port == 0:
        raise _bad_url(N_("This is not a web address."))
    loopback = _check_host(host)
    if parts.scheme == "http" and not loopback:
        raise _bad_url(
            N_("Plain http:// is allowed only for this machine (localhost); use https://.")
        )
    return url


def _check_host(host: str) -> bool:
    """Whether ``host`` is this machine; refuses addresses no collector can have."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise _bad_url(N_("The host name is not valid.")) from None
        return host.rstrip(".") in _LOOPBACK_NAMES
    # Link-local covers the cloud metadata service (169.254.169.254): never a collector.
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        raise _bad_url(
            N_("This address cannot receive webhooks (link-local, multicast or unspecified).")
        )
    return address.is_loopback


def _bad_url(message: str, **params: object) -> InvalidInput:
    return InvalidInput(message, field="url", **params)


def url_host(url: str) -> str:
    """The host of a stored address: what audit entries and logs name (never the path)."""
    parts: SplitResult = urlsplit(url)
    return (parts.hostname or "?")[:200]


def create_subscription(
    session: Session,
    *,
    name: str,
    url: str,
    purpose: str,
    min_severity: str,
    actor: Actor,
    now: datetime,
    box: SecretBox,
) -> tuple[WebhookSubscription, str]:
    """A new subscription and its signing secret (returned once, stored encrypted)."""
    clean_name = _valid_name(session, name)
    address = validate_url(url)
    chosen_purpose = _valid_purpose(purpose)
    severity = _valid_severity(min_severity)
    secret = new_secret()
    subscription = WebhookSubscription(
        name=clean_name,
        url=address,
        secret=box.encrypt(secret),
        purpose=chosen_purpose,
        min_severity=severity,
        active=True,
        position=session.scalar(select(func.max(AlertFeedEntry.id))) or 0,
        attempts=0,
        created_at=now,
        created_by=actor.name,
    )
    session.add(subscription)
    session.flush()
    _audit(
        session,
        actor,
        "webhook.created",
        subscription,
        now,
        purpose=chosen_purpose,
        min_severity=severity,
        host=url_host(address),
    )
    return subscription, secret


def _valid_name(session: Session, name: str) -> str:
    clean = name.strip()
    if not clean or len(clean) > MAX_NAME_LENGTH:
        raise InvalidInput(
            N_("Give a name of 1 to %(max)d characters."), field="name", max=MAX_NAME_LENGTH
        )
    taken = session.scalar(select(WebhookSubscription.id).where(WebhookSubscription.name == clean))
    if taken is not None:
        raise InvalidInput(N_("A webhook with this name exists already."), field="name")
    return clean


def _valid_purpose(purpose: str) -> str:
    try:
        return Purpose(purpose.strip()).value
    except ValueError:
        raise InvalidInput(
            N_("Choose what the webhook receives from the list."), field="purpose"
        ) from None


def _valid_severity(min_severity: str) -> str:
    return str(parse_min_severity(min_severity, required=True))


def get_subscription(session: Session, subscription_id: int) -> WebhookSubscription:
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFound(N_("There is no such webhook."))
    return subscription


def rotate_secret(
    session: Session, *, subscription_id: int, actor: Actor, now: datetime, box: SecretBox
) -> tuple[WebhookSubscription, str]:
    """A new secret (returned once); the old one signs beside it for ``ROTATION_OVERLAP``."""
    subscription = get_subscription(session, subscription_id)
    secret = new_secret()
    subscription.previous_secret = subscription.secret
    subscription.previous_secret_until = now + ROTATION_OVERLAP
    subscription.secret = box.encrypt(secret)
    session.flush()
    _audit(session, actor, "webhook.secret_rotated", subscription, now)
    return subscription, secret


def set_active(
    session: Session, *, subscription_id: int, active: bool, actor: Actor, now: datetime
) -> WebhookSubscription:
    """Switch delivery off or on; switched on again, it goes on from where it stopped."""
    subscription = get_subscription(session, subscription_id)
    if subscription.active != active:
        subscription.active = active
        subscription.next_attempt_at = None
        session.flush()
        _audit(
            session, actor, "webhook.enabled" if active else "webhook.disabled", subscription, now
        )
    return subscription


def list_subscriptions(session: Session) -> list[SubscriptionSummary]:
    subscriptions = session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.name))
    letters = dict(
        session.execute(
            select(WebhookDeadLetter.subscription_id, func.count()).group_by(
                WebhookDeadLetter.subscription_id
            )
        ).all()
    )
    pending = dict(
        session.execute(
            select(WebhookDeadLetter.subscription_id, func.count())
            .where(_replay_pending())
            .group_by(WebhookDeadLetter.subscription_id)
        ).all()
    )
    return [
        SubscriptionSummary(
            subscription=subscription,
            lag=_lag(session, subscription),
            dead_letters=letters.get(subscription.id, 0),
            replays_pending=pending.get(subscription.id, 0),
        )
        for subscription in subscriptions
    ]


def _lag(session: Session, subscription: WebhookSubscription) -> int | None:
    if subscription.purpose != Purpose.ALERTS:
        return None
    query = select(func.count()).where(AlertFeedEntry.id > subscription.position)
    return session.scalar(query) or 0


def _replay_pending() -> ColumnElement[bool]:
    return and_(
        WebhookDeadLetter.replay_requested_at.is_not(None), WebhookDeadLetter.replayed_at.is_(None)
    )


def list_dead_letters(
    session: Session, *, subscription_id: int, limit: int = DEAD_LETTER_PAGE
) -> list[DeadLetterRow]:
    """The subscription's dead letters, newest first."""
    get_subscription(session, subscription_id)
    rows = session.execute(
        select(
            WebhookDeadLetter,
            AlertFeedEntry.alert_id,
            AlertFeedEntry.change,
            AlertFeedEntry.severity,
        )
        .join(AlertFeedEntry, AlertFeedEntry.id == WebhookDeadLetter.feed_entry_id)
        .where(WebhookDeadLetter.subscription_id == subscription_id)
        .order_by(WebhookDeadLetter.id.desc())
        .limit(limit)
    ).all()
    return [
        DeadLetterRow(letter, alert_id, change, severity)
        for letter, alert_id, change, severity in rows
    ]


def request_replay(
    session: Session,
    *,
    subscription_id: int,
    dead_letter_ids: Collection[int] | None,
    actor: Actor,
    now: datetime,
) -> int:
    """Mark dead letters for delivery again (``None``: every one not yet replayed).

    Delivery sends them before anything else, with their original message id, so a
    receiver that did get one after all drops the copy. Returns how many were marked.
    """
    subscription = get_subscription(session, subscription_id)
    query = select(WebhookDeadLetter).where(WebhookDeadLetter.subscription_id == subscription.id)
    if dead_letter_ids is None:
        query = query.where(WebhookDeadLetter.replayed_at.is_(None))
    else:
        wanted = set(dead_letter_ids)
        if not wanted or len(wanted) > MAX_REPLAY_IDS:
            raise InvalidInput(
                N_("Choose 1 to %(max)d dead letters to replay."),
                field="dead_letter",
                max=MAX_REPLAY_IDS,
            )
        query = query.where(WebhookDeadLetter.id.in_(sorted(wanted)))
    letters = list(session.scalars(query.order_by(WebhookDeadLetter.id)))
    if dead_letter_ids is not None and len(letters) != len(set(dead_letter_ids)):
        raise NotFound(N_("There is no such dead letter for this webhook."))
    if letters:
        session.execute(
            update(WebhookDeadLetter)
            .where(WebhookDeadLetter.id.in_([letter.id for letter in letters]))
            .values(replay_requested_at=now, replay_requested_by=actor.name, replayed_at=None)
            .execution_options(synchronize_session="fetch")
        )
    _audit(
        session,
        actor,
        "webhook.replay_requested",
        subscription,
        now,
        count=len(letters),
        every_one=dead_letter_ids is None,
    )
    return len(letters)


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    subscription: WebhookSubscription,
    now: datetime,
    **details: str | int | bool | None,
) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        target=f"webhook:{subscription.id}",
        outcome="success",
        now=now,
        details={"name": subscription.name, **details},
    )
