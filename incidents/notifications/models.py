"""The notification outbox: written in the transaction of the change it tells about,
sent afterwards by a job (e-mail over SMTP, or a signed webhook), retried with backoff."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # gave up after the last retry; listed for an administrator


class Notification(Base):
    __tablename__ = "notification"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))  # assignment, escalation, deadline_breach
    channel: Mapped[str] = mapped_column(String(20))  # email, webhook
    # A user id (e-mail) or a webhook subscription id; never an address in clear text here.
    recipient_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("webhook_subscription.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    payload: Mapped[str] = mapped_column(Text)  # JSON: what the message says, no secrets
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
