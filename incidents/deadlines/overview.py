"""What the deadline overview shows: each open incident with its next deadline, most
urgent first, and the most recent breaches.

Reads only; the page that shows them records the read (``web.views.deadlines``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control.models import User
from core import InvalidInput
from core.i18n import N_
from incidents.cases.models import Incident, IncidentType
from incidents.deadlines.escalation import is_open
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.sla import Deadline, DeadlineTable, next_deadline

MAX_SHOWN = 500


@dataclass(frozen=True)
class OpenDeadline:
    incident_id: int
    reference: str
    title: str
    incident_type: str
    severity: str
    assignee: str | None  # username
    deadline: Deadline


@dataclass(frozen=True)
class RecentBreach:
    incident_id: int
    reference: str
    title: str
    incident_type: str
    kind: str
    due_at: datetime
    breached_at: datetime


def check_incident_type(incident_type: str | None) -> str | None:
    """``incident_type`` when it is one of ours (or None); ``InvalidInput`` otherwise."""
    if incident_type is not None and incident_type not in {t.value for t in IncidentType}:
        raise InvalidInput(N_("Choose an incident type from the list."), field="type")
    return incident_type


def open_deadlines(
    session: Session,
    *,
    table: DeadlineTable,
    now: datetime,
    incident_type: str | None = None,
    limit: int = MAX_SHOWN,
) -> list[OpenDeadline]:
    """Open incidents with a deadline still to meet, the soonest due (or most overdue) first."""
    query = (
        select(Incident, User.username)
        .outerjoin(User, User.id == Incident.assignee_id)
        .where(*is_open())
    )
    if check_incident_type(incident_type):
        query = query.where(Incident.type == incident_type)
    found: list[OpenDeadline] = []
    for incident, assignee in session.execute(query):
        deadline = next_deadline(incident, table, now=now)
        if deadline is None:
            continue
        found.append(
            OpenDeadline(
                incident_id=incident.id,
                reference=incident.reference,
                title=incident.title,
                incident_type=incident.type,
                severity=incident.severity,
                assignee=assignee,
                deadline=deadline,
            )
        )
    found.sort(key=lambda item: (item.deadline.due_at, item.incident_id))
    return found[: max(1, min(limit, MAX_SHOWN))]


def recent_breaches(
    session: Session, *, incident_type: str | None = None, limit: int = 20
) -> list[RecentBreach]:
    """The latest breaches, newest first."""
    query = (
        select(
            DeadlineBreach.incident_id,
            Incident.reference,
            Incident.title,
            Incident.type,
            DeadlineBreach.kind,
            DeadlineBreach.due_at,
            DeadlineBreach.breached_at,
        )
        .join(Incident, Incident.id == DeadlineBreach.incident_id)
        .order_by(DeadlineBreach.breached_at.desc(), DeadlineBreach.id.desc())
        .limit(max(1, min(limit, MAX_SHOWN)))
    )
    if check_incident_type(incident_type):
        query = query.where(Incident.type == incident_type)
    return [RecentBreach(*row) for row in session.execute(query)]
