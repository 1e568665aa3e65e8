"""Deadline breaches: one row per incident and deadline kind, so a breach escalates once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime


class DeadlineBreach(Base):
    __tablename__ = "deadline_breach"
    __table_args__ = (UniqueConstraint("incident_id", "kind"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # acknowledge, contain, resolve
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    breached_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)  # when detected
