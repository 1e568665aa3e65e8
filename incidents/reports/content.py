"""What an incident report holds, read from the database in one place.

``pdf.py`` lays it out; keeping the reading here keeps the layout free of queries and
lets tests look at the content without a PDF. Names of people are display names; the
timeline's details are ids, states and counts (``incidents.cases.timeline``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control.models import User
from core import NotFound
from core.i18n import N_
from incidents.alerts.models import Alert
from incidents.cases.models import Incident, IncidentAlert, IncidentEntity, IncidentTask
from incidents.cases.models import TimelineEntry as TimelineRow
from incidents.cases.timeline import entries
from incidents.evidence import ManifestEntry, manifest


@dataclass(frozen=True)
class TaskLine:
    title: str
    status: str
    assignee: str | None
    due_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class AlertLine:
    title: str
    rule_key: str
    severity: str
    status: str
    count: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class ReportContent:
    incident: Incident
    assignee: str | None
    reviewer: str | None
    timeline: list[TimelineRow]
    tasks: list[TaskLine]
    alerts: list[AlertLine]
    entities: list[tuple[str, str]]
    evidence: list[ManifestEntry]


def report_content(session: Session, incident_id: int) -> ReportContent:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(N_("That incident does not exist."))
    names = _display_names(session, incident)
    return ReportContent(
        incident=incident,
        assignee=names.get(incident.assignee_id) if incident.assignee_id else None,
        reviewer=names.get(incident.reviewer_id) if incident.reviewer_id else None,
        timeline=entries(session, incident.id),
        tasks=_tasks(session, incident.id, names),
        alerts=_alerts(session, incident.id),
        entities=_entities(session, incident.id),
        evidence=manifest(session, incident.id),
    )


def _display_names(session: Session, incident: Incident) -> dict[int, str]:
    task_assignees = select(IncidentTask.assignee_id).where(
        IncidentTask.incident_id == incident.id, IncidentTask.assignee_id.is_not(None)
    )
    wanted = {incident.assignee_id, incident.reviewer_id} | set(session.scalars(task_assignees))
    user_ids = sorted(user_id for user_id in wanted if user_id is not None)
    if not user_ids:
        return {}
    query = select(User.id, User.display_name).where(User.id.in_(user_ids))
    return {row.id: row.display_name for row in session.execute(query)}


def _tasks(session: Session, incident_id: int, names: dict[int, str]) -> list[TaskLine]:
    query = (
        select(IncidentTask)
        .where(IncidentTask.incident_id == incident_id)
        .order_by(IncidentTask.created_at, IncidentTask.id)
    )
    return [
        TaskLine(
            title=task.title,
            status=task.status,
            assignee=names.get(task.assignee_id) if task.assignee_id else None,
            due_at=task.due_at,
            completed_at=task.completed_at,
        )
        for task in session.scalars(query)
    ]


def _alerts(session: Session, incident_id: int) -> list[AlertLine]:
    query = (
        select(Alert)
        .join(IncidentAlert, IncidentAlert.alert_id == Alert.id)
        .where(IncidentAlert.incident_id == incident_id)
        .order_by(Alert.first_seen, Alert.id)
    )
    return [
        AlertLine(
            title=alert.title,
            rule_key=alert.rule_key,
            severity=alert.severity,
            status=alert.status,
            count=alert.count,
            first_seen=alert.first_seen,
            last_seen=alert.last_seen,
        )
        for alert in session.scalars(query)
    ]


def _entities(session: Session, incident_id: int) -> list[tuple[str, str]]:
    query = (
        select(IncidentEntity.kind, IncidentEntity.value)
        .where(IncidentEntity.incident_id == incident_id)
        .order_by(IncidentEntity.kind, IncidentEntity.value)
    )
    return [(kind, value) for kind, value in session.execute(query)]
