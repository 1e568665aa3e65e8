"""Delivering the alert feed to webhook subscriptions: in order, signed, retried, and given
up on (as a dead letter) only after about a day.

Each active ``alerts`` subscription has a position in the feed. A run sends the entries
after it, oldest first, one at a time (entries below the subscription's minimum severity
just move the position on). A receiver that fails (no answer within ``TIMEOUT``, or not a
2xx) stops that subscription's run: ``attempts`` counts the failures since the position
last moved and the next try waits ``backoff(attempts)`` (5 s, 30 s, 2 min, 10 min, 30 min,
1 h, then every 2 h). The entry at the head is given up on at the ``MAX_ATTEMPTS``-th
failure, about 24 hours after the first: it becomes a dead letter and delivery goes on
with the next entry, so one message a receiver refuses cannot hold back all the others.
Replays an administrator asked for (``webhooks.request_replay``) go first.

Every message carries ``webhook-id: alert-feed-<entry id>`` (replays too): delivery is
at least once (a crash after a receiver answered and before the position was written
sends that entry again), and receivers drop what they have seen by that id.

No transaction is open while receivers answer: a run reads what to send, ends that read
transaction, sends, and then writes the outcome in the transaction the job runner
commits. On SQLite an open transaction would hold the database's write lock for as long
as the slowest receiver takes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Protocol

import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from access_control.secret_box import SecretBox, UndecryptableSecret
from incidents.feeds.models import AlertFeedEntry, WebhookDeadLetter, WebhookSubscription
from incidents.feeds.reading import feed_item, severities_from
from incidents.feeds.signing import DeliveryFailed, post_signed
from incidents.feeds.webhooks import Purpose

BACKOFF: Final = (
    timedelta(seconds=5),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
BACKOFF_AFTER: Final = timedelta(hours=2)  # every wait after the listed ones
# The 18th failure comes 23.7 hours after the first (5 s + ... + 1 h + 11 times 2 h).
MAX_ATTEMPTS: Final = 18
BATCH: Final = 100  # entries per subscription per run; a full batch asks for another run
SEND_BUDGET: Final = timedelta(seconds=60)  # of sending per run, over all subscriptions
TIMEOUT: Final = 10.0
UNDECRYPTABLE: Final = "the signing secret cannot be decrypted with the configured keys"

log = logging.getLogger("wachter.incidents")


class Poster(Protocol):
    def __call__(
        self,
        url: str,
        secret: str,
        *,
        message_id: str,
        body: str,
        now: datetime,
        timeout: float = ...,
        previous_secrets: Sequence[str] = ...,
    ) -> None: ...


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure in a row (1-based)."""
    if attempts < 1:
        return timedelta(0)
    return BACKOFF[attempts - 1] if attempts <= len(BACKOFF) else BACKOFF_AFTER


def message_id(entry_id: int) -> str:
    return f"alert-feed-{entry_id}"


@dataclass
class _Plan:
    """What to send to one subscription in this run, read before any sending."""

    subscription: WebhookSubscription
    url: str
    position: int
    secrets: tuple[str, ...]  # the current one first; empty: none can be decrypted
    replays: list[tuple[int, int, str]]  # dead letter id, feed entry id, body
    entries: list[tuple[int, str | None]]  # feed entry id, body (None: below the minimum)
    full: bool


@dataclass
class _Outcome:
    position: int
    delivered: int = 0
    replayed: list[int] = field(default_factory=list)
    failed_replay: int | None = None  # the dead letter that failed
    failed_entry: int | None = None  # the feed entry that failed
    failure: str | None = None
    counts: bool = True  # False when the fault is ours (no secret), not the receiver's
    unfinished: bool = False  # the run's sending budget ran out


def deliver_webhooks(
    session: Session, *, now: datetime, box: SecretBox, post: Poster = post_signed
) -> bool:
    """Send what is due to every active ``alerts`` subscription; True if more is waiting."""
    plans = [_plan(session, subscription, now, box) for subscription in _due(session, now)]
    if not plans:
        return False
    # Nothing is written yet: end the read transaction, so none is open (on SQLite: no write
    # lock is held) while receivers answer. The outcome is written in a new one.
    session.commit()
    watch = _Stopwatch(now)
    outcomes = [_send(plan, watch, post) for plan in plans]
    for plan, outcome in zip(plans, outcomes, strict=True):
        _record(session, plan, outcome, now)
    session.flush()
    return any(
        plan.full or outcome.unfinished for plan, outcome in zip(plans, outcomes, strict=True)
    )


def _due(session: Session, now: datetime) -> list[WebhookSubscription]:
    query = select(WebhookSubscription).where(
        WebhookSubscription.active,
        WebhookSubscription.purpose == Purpose.ALERTS.value,
        or_(
            WebhookSubscription.next_attempt_at.is_(None),
            WebhookSubscription.next_attempt_at <= now,
        ),
    )
    return list(session.scalars(query.order_by(WebhookSubscription.id)))


def _plan(
    session: Session, subscription: WebhookSubscription, now: datetime, box: SecretBox
) -> _Plan:
    replays = session.execute(
        select(WebhookDeadLetter.id, AlertFeedEntry)
        .join(AlertFeedEntry, AlertFeedEntry.id == WebhookDeadLetter.feed_entry_id)
        .where(
            WebhookDeadLetter.subscription_id == subscription.id,
            WebhookDeadLetter.replay_requested_at.is_not(None),
            WebhookDeadLetter.replayed_at.is_(None),
        )
        .order_by(WebhookDeadLetter.id)
        .limit(BATCH)
    ).all()
    entries = session.scalars(
        select(AlertFeedEntry)
        .where(AlertFeedEntry.id > subscription.position)
        .order_by(AlertFeedEntry.id)
        .limit(BATCH + 1)
    ).all()
    wanted = set(severities_from(subscription.min_severity))
    return _Plan(
        subscription=subscription,
        url=subscription.url,
        position=subscription.position,
        secrets=_secrets(subscription, now, box),
        replays=[(letter_id, entry.id, _body(entry)) for letter_id, entry in replays],
        entries=[
            (entry.id, _body(entry) if entry.severity in wanted else None)
            for entry in entries[:BATCH]
        ],
        full=len(entries) > BATCH,
    )


def _secrets(subscription: WebhookSubscription, now: datetime, box: SecretBox) -> tuple[str, ...]:
    try:
        current = box.decrypt(subscription.secret)
    except UndecryptableSecret:
        return ()
    until, previous = subscription.previous_secret_until, subscription.previous_secret
    if previous is None or until is None or until <= now:
        return (current,)
    try:
        return (current, box.decrypt(previous))
    except UndecryptableSecret:
        return (current,)


def _body(entry: AlertFeedEntry) -> str:
    return orjson.dumps(feed_item(entry).document).decode()


class _Stopwatch:
    """The injected ``now`` moved on by the wall time sending has taken in this run."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.started = time.monotonic()

    def elapsed(self) -> timedelta:
        return timedelta(seconds=time.monotonic() - self.started)

    def sent_at(self) -> datetime:
        return self.now + self.elapsed()


def _send(plan: _Plan, watch: _Stopwatch, post: Poster) -> _Outcome:
    outcome = _Outcome(position=plan.position)
    if not plan.secrets:
        outcome.failure, outcome.counts = UNDECRYPTABLE, False
        return outcome

    def deliver(entry_id: int, body: str) -> None:
        outcome.failed_entry = entry_id
        post(
            plan.url,
            plan.secrets[0],
            message_id=message_id(entry_id),
            body=body,
            now=watch.sent_at(),
            timeout=TIMEOUT,
            previous_secrets=plan.secrets[1:],
        )

    try:
        for letter_id, entry_id, body in plan.replays:
            outcome.failed_replay = letter_id
            deliver(entry_id, body)
            outcome.replayed.append(letter_id)
        outcome.failed_replay = None
        for entry_id, wanted_body in plan.entries:
            if watch.elapsed() > SEND_BUDGET:
                outcome.unfinished = True
                break
            if wanted_body is not None:
                deliver(entry_id, wanted_body)
                outcome.delivered += 1
            outcome.position = entry_id
    except DeliveryFailed as error:
        outcome.failure = error.reason
    return outcome


def _record(session: Session, plan: _Plan, outcome: _Outcome, now: datetime) -> None:
    subscription = plan.subscription
    if outcome.replayed:
        session.execute(
            update(WebhookDeadLetter)
            .where(WebhookDeadLetter.id.in_(outcome.replayed))
            .values(replayed_at=now)
            .execution_options(synchronize_session=False)
        )
    if outcome.position != subscription.position:
        subscription.position = outcome.position
        subscription.attempts = 0  # a new entry is at the head
    if outcome.delivered or outcome.replayed:
        subscription.last_success_at = now
    if outcome.failure is None:
        subscription.next_attempt_at = None
        subscription.last_error = None
        return
    _record_failure(session, subscription, outcome, now)


def _record_failure(
    session: Session, subscription: WebhookSubscription, outcome: _Outcome, now: datetime
) -> None:
    assert outcome.failure is not None
    subscription.last_error = outcome.failure
    if not outcome.counts:
        log.error(
            "webhook not sent: %s", UNDECRYPTABLE, extra={"wachter.webhook_id": subscription.id}
        )
        subscription.next_attempt_at = now + BACKOFF_AFTER
        return
    subscription.attempts += 1
    head = outcome.failed_entry
    log.warning(
        "webhook delivery failed",
        extra={
            "wachter.webhook_id": subscription.id,
            "wachter.feed_id": head,
            "wachter.attempts": subscription.attempts,
            "error.message": outcome.failure,
        },
    )
    if outcome.failed_replay is not None:
        letter = session.get(WebhookDeadLetter, outcome.failed_replay)
        if letter is not None:
            letter.attempts += 1
            letter.last_error = outcome.failure
    elif subscription.attempts >= MAX_ATTEMPTS and head is not None:
        session.add(
            WebhookDeadLetter(
                subscription_id=subscription.id,
                feed_entry_id=head,
                attempts=subscription.attempts,
                last_error=outcome.failure,
                failed_at=now,
            )
        )
        log.error(
            "webhook gave up on an entry; it is a dead letter",
            extra={"wachter.webhook_id": subscription.id, "wachter.feed_id": head},
        )
        subscription.position, subscription.attempts = head, 0
        subscription.next_attempt_at = None
        return
    subscription.next_attempt_at = now + backoff(subscription.attempts)
