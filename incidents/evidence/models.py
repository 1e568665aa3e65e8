"""Tables of evidence: the file's record (its bytes live write-once under the data
directory) and the chain-of-custody log of everything done with it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime


class Evidence(Base):
    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    origin_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # generated, never input
    original_name: Mapped[str] = mapped_column(String(255))  # cleaned, for display only
    media_type: Mapped[str] = mapped_column(String(100))  # from the content, not the client
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # computed on arrival
    description: Mapped[str] = mapped_column(Text, default="")
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_by: Mapped[str] = mapped_column(String(200))


class CustodyEntry(Base):
    """One link of the chain of custody: who did what with a piece of evidence, when."""

    __tablename__ = "evidence_custody"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    ip: Mapped[str | None] = mapped_column(String(45))
    # received, downloaded, verified, integrity_failed, listed_in_report, moved_by_merge,
    # moved_by_unmerge
    action: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str | None] = mapped_column(String(64))  # as computed at that moment
    details: Mapped[str] = mapped_column(Text, default="{}")
