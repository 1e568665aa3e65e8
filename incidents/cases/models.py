"""Tables of incidents: the incident, its alerts, comments (append-only versions), tasks,
playbooks (versioned templates), entities, the timeline, merges and the rows each moved.

Provenance is kept on every row that a merge can move: ``origin_incident_id`` is where a
row was made and never changes, ``incident_id`` is where it is now. Un-merging moves back
exactly the rows that merge moved (``IncidentMergeRow``), so nothing loses its history.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from incidents._columns import Id
from storage import Base, UTCDateTime


class IncidentType(StrEnum):
    CYBER = "cyber"
    STAFF_SAFETY = "staff_safety"
    PHYSICAL = "physical"


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 labels."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"


class TaskStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    SKIPPED = "skipped"


class Incident(Base):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reference: Mapped[str] = mapped_column(String(30), unique=True)  # INC-2026-00042
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(30), index=True)  # IncidentType
    severity: Mapped[str] = mapped_column(String(20), index=True)  # alerts.Severity
    tlp: Mapped[str] = mapped_column(String(20), default=Tlp.AMBER)
    state: Mapped[str] = mapped_column(String(40), index=True)  # per type: cases.states
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolution: Mapped[str | None] = mapped_column(String(30))
    summary: Mapped[str | None] = mapped_column(Text)
    playbook_version_id: Mapped[int | None] = mapped_column(ForeignKey("playbook_version.id"))
    # Set when this incident was merged into another; it is then read-only until un-merged.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Milestones the deadlines and MTTA/MTTR are measured on (first time reached).
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    contained_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)


class IncidentAlert(Base):
    """An alert in an incident; ``origin_incident_id`` is where it was first added."""

    __tablename__ = "incident_alert"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    origin_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(200))


class IncidentComment(Base):
    """One version of a comment. Never updated: an edit is a new row with the same thread."""

    __tablename__ = "incident_comment"
    __table_args__ = (UniqueConstraint("thread_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    origin_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    thread_id: Mapped[int | None] = mapped_column(Integer)  # id of version 1 (None on it)
    version: Mapped[int] = mapped_column(Integer, default=1)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Playbook(Base):
    __tablename__ = "playbook"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    incident_type: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(String(300))
    current_version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlaybookVersion(Base):
    """A playbook's tasks as they were at one version; never changed."""

    __tablename__ = "playbook_version"
    __table_args__ = (UniqueConstraint("playbook_id", "version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    playbook_id: Mapped[int] = mapped_column(ForeignKey("playbook.id"))
    version: Mapped[int] = mapped_column(Integer)
    # JSON [{"key": "isolate", "title": "…", "description": "…", "due_after_minutes": 240}]
    tasks: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))


class IncidentTask(Base):
    __tablename__ = "incident_task"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    origin_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    playbook_task_key: Mapped[str | None] = mapped_column(String(100))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20))  # TaskStatus
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(200))


class IncidentEntity(Base):
    """An entity of an incident (IP, account, host, …), normalised, to link incidents."""

    __tablename__ = "incident_entity"
    __table_args__ = (
        UniqueConstraint("incident_id", "kind", "value"),
        Index("ix_incident_entity_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    origin_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    kind: Mapped[str] = mapped_column(String(30))  # incidents.entities.EntityKind
    value: Mapped[str] = mapped_column(String(300))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(200))


class TimelineEntry(Base):
    """What happened to an incident, written by the service as it happens (never edited)."""

    __tablename__ = "incident_timeline"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    origin_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    # created, state_changed, assigned, fields_changed, playbook_applied, alert_added,
    # comment_added, comment_edited, task_added, task_changed, evidence_added, entity_added,
    # merged, unmerged, deadline_breached, report_exported
    kind: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON, no personal data


class IncidentMerge(Base):
    """One merge of ``source`` into ``target`` and, once undone, its un-merge."""

    __tablename__ = "incident_merge"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    source_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    target_incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    source_state: Mapped[str] = mapped_column(String(40))  # restored on un-merge
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    merged_by: Mapped[str] = mapped_column(String(200))
    unmerged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unmerged_by: Mapped[str | None] = mapped_column(String(200))


class MovedKind(StrEnum):
    ALERT = "alert"
    COMMENT = "comment"
    TASK = "task"
    ENTITY = "entity"
    TIMELINE = "timeline"
    EVIDENCE = "evidence"


class IncidentMergeRow(Base):
    """One row a merge moved from the source to the target: what its un-merge moves back.

    ``origin_incident_id`` alone is not enough: after A was merged into B and B into C,
    un-merging B from C must take A's rows back to B too, and only the rows that merge moved.
    """

    __tablename__ = "incident_merge_row"
    __table_args__ = (UniqueConstraint("merge_id", "kind", "row_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    merge_id: Mapped[int] = mapped_column(ForeignKey("incident_merge.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # MovedKind
    row_id: Mapped[int] = mapped_column(Id)  # the alert, comment, task, entity, … id
