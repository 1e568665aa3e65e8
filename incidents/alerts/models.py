"""Tables of the alert side: alerts, the detections behind them, their entities,
suppressions (and the hits they held back), alert policies and the detection cursor.

An alert is the unit of work a detection becomes: repeats with the same fingerprint
inside the deduplication window raise its count and last-seen instead of making a new
alert. JSON values are stored as text, as ``ingest`` and ``detection_rules`` do.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime

RULE_KEY_LENGTH = 300  # detection_rules.models.KEY_LENGTH


class Severity(StrEnum):
    """Sigma's levels above ``informational``, in rising order (``SEVERITIES``)."""

    INFORMATIONAL = "informational"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


SEVERITIES: tuple[Severity, ...] = tuple(Severity)


class AlertStatus(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"  # an incident was opened from it
    MERGED = "merged"  # added to an existing incident
    CLOSED = "closed"


class Resolution(StrEnum):
    TRUE_POSITIVE = "true_positive"
    FALSE_POSITIVE = "false_positive"
    BENIGN = "benign"


class Alert(Base):
    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_fingerprint_status", "fingerprint", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # SHA-256 of rule key + group-by values (or the key entity); repeats share it.
    fingerprint: Mapped[str] = mapped_column(String(64))
    rule_key: Mapped[str] = mapped_column(String(RULE_KEY_LENGTH), index=True)
    rule_version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    rule_level: Mapped[str | None] = mapped_column(String(20))  # Sigma level as written
    severity: Mapped[str] = mapped_column(String(20), index=True)  # Severity, after policy
    status: Mapped[str] = mapped_column(String(20), index=True)  # AlertStatus
    resolution: Mapped[str | None] = mapped_column(String(20))  # Resolution, when closed
    resolution_note: Mapped[str | None] = mapped_column(Text)
    count: Mapped[int] = mapped_column(Integer, default=1)  # detections folded into it
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())  # first detection's time
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    group_values: Mapped[str | None] = mapped_column(Text)  # JSON, correlation group-by
    entities: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[kind, value], …]
    tags: Mapped[str] = mapped_column(Text, default="[]")  # JSON, the rule's tags
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_by: Mapped[str | None] = mapped_column(String(200))
    # Raised on every change; the feed entry of a change carries it.
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlertDetection(Base):
    """Which detections an alert is made of (a detection belongs to one alert)."""

    __tablename__ = "alert_detection"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detection.id"), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertEntity(Base):
    """An entity an alert involves, indexed so related alerts and incidents are found."""

    __tablename__ = "alert_entity"
    __table_args__ = (
        UniqueConstraint("alert_id", "kind", "value"),
        Index("ix_alert_entity_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # incidents.entities.EntityKind
    value: Mapped[str] = mapped_column(String(300))  # normalised


class Suppression(Base):
    """Hold back detections that meet conditions, with an owner, a reason and an expiry."""

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    rule_key: Mapped[str | None] = mapped_column(String(RULE_KEY_LENGTH))  # None: any rule
    # JSON [{"field": "user.name", "operator": "equals", "value": "svc_backup"}, …]: all must hold.
    conditions: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    hits: Mapped[int] = mapped_column(Integer, default=0)
    last_hit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SuppressedHit(Base):
    """A detection a suppression held back: counted and listed, never silently dropped."""

    __tablename__ = "suppressed_hit"

    detection_id: Mapped[int] = mapped_column(ForeignKey("detection.id"), primary_key=True)
    suppression_id: Mapped[int] = mapped_column(ForeignKey("suppression.id"), index=True)
    rule_key: Mapped[str] = mapped_column(String(RULE_KEY_LENGTH))
    suppressed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AlertPolicy(Base):
    """Raise the severity of matching alerts, and/or open an incident for them."""

    __tablename__ = "alert_policy"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    rule_key: Mapped[str | None] = mapped_column(String(RULE_KEY_LENGTH))  # None: any rule
    tag: Mapped[str | None] = mapped_column(String(200))  # e.g. attack.t1110; None: any
    min_severity: Mapped[str | None] = mapped_column(String(20))  # applies at or above
    raise_to: Mapped[str | None] = mapped_column(String(20))  # Severity; never lowers
    open_incident: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_type: Mapped[str] = mapped_column(String(30), default="cyber")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class IncidentsCursor(Base):
    """How far a reader inside ``incidents`` has got (detections → alerts, the CEF sender)."""

    __tablename__ = "incidents_cursor"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Id, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
