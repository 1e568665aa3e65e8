"""Tables of the SOC feeds: the alert feed (one entry per alert change, in commit order),
webhook subscriptions with their delivery position, and the dead letters.

The feed's ids are handed out in commit order (``feeds.changes``), so a reader that asks
for "after N" never skips an entry that commits later with a smaller id.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime


class AlertFeedEntry(Base):
    __tablename__ = "alert_feed"

    id: Mapped[int] = mapped_column(Id, primary_key=True)  # the cursor
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    alert_version: Mapped[int] = mapped_column(Integer)
    change: Mapped[str] = mapped_column(String(20))  # created, updated, status
    severity: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The ECS alert document at this version, pseudonymised: what every feed sends.
    document: Mapped[str] = mapped_column(Text)


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscription"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[bytes] = mapped_column(LargeBinary)  # encrypted (access_control.secret_box)
    # After a rotation the old secret signs too until then, so receivers can switch over.
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # alerts: every alert change at or above min_severity; notifications: assignment etc.
    purpose: Mapped[str] = mapped_column(String(20), default="alerts")
    min_severity: Mapped[str] = mapped_column(String(20), default="low")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Id, default=0)  # last feed id handled
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # of the entry after position
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class WebhookDeadLetter(Base):
    """A feed entry a subscription gave up on after every retry; can be replayed."""

    __tablename__ = "webhook_dead_letter"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id"), index=True)
    feed_entry_id: Mapped[int] = mapped_column(ForeignKey("alert_feed.id"))
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(500))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    replay_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    replay_requested_by: Mapped[str | None] = mapped_column(String(200))
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PseudonymKey(Base):
    """The key of the feeds' pseudonyms (one row), made on first use.

    Pseudonyms keep staff and citizens out of what leaves Wachter; the key stays with the
    data it protects, because whoever can read this database already reads the names.
    """

    __tablename__ = "pseudonym_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
