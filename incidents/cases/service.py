"""Incidents: opening one (by hand or from alerts), moving it through its state machine,
changing its fields, and listing them.

Every function takes the acting ``actor`` and the time ``now``, leaves an audit entry and a
timeline entry (``cases.history``) and only flushes: the request, job or command commits.
A merged incident is read-only (``lookup.writable_incident``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from access_control import Actor
from core import InvalidInput
from core.i18n import N_
from incidents.cases.alert_links import add_alerts_to_incident, open_incident_from_alerts
from incidents.cases.creation import create_incident, notify_assignment
from incidents.cases.fields import (
    check_assignable,
    check_description,
    check_severity,
    check_title,
    check_tlp,
    check_type,
)
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from incidents.cases.models import Incident
from incidents.cases.states import State, check_transition, machine_for

__all__ = [
    "IncidentChanges",
    "add_alerts_to_incident",
    "allowed_states",
    "create_incident",
    "list_incidents",
    "open_incident_from_alerts",
    "transition",
    "update_fields",
]

MAX_PAGE: Final = 200
OPEN: Final = "open"  # a filter: every state but closed and merged


def transition(
    session: Session,
    incident_id: int,
    to_state: str,
    *,
    resolution: str | None = None,
    summary: str | None = None,
    actor: Actor,
    now: datetime,
    by_workflow: bool = False,
) -> Incident:
    """Move the incident to ``to_state`` if its machine allows it; set its milestones.

    ``by_workflow``: the caller is the workflow that guards this type's machine (staff safety).
    """
    incident = writable_incident(session, incident_id)
    milestones = check_transition(
        incident.type,
        incident.state,
        to_state,
        resolution=resolution,
        summary=summary,
        by_workflow=by_workflow,
    )
    previous = incident.state
    incident.state = to_state
    if milestones.acknowledges and incident.acknowledged_at is None:
        incident.acknowledged_at = now
    if milestones.contains and incident.contained_at is None:
        incident.contained_at = now
    if milestones.closes:
        incident.closed_at = now
        incident.resolution = resolution
        incident.summary = (summary or "").strip()
    if milestones.reopens:
        incident.closed_at = None
        incident.resolution = None
    record_change(
        session,
        incident,
        action="state_changed",
        kind="state_changed",
        actor=actor,
        now=now,
        details={"from": previous, "to": to_state, "resolution": incident.resolution},
    )
    return incident


def allowed_states(incident: Incident) -> list[State]:
    """Where the incident page can move it next (nothing while it is merged, nor for a type
    whose workflow lives elsewhere: a staff-safety incident moves on its case page)."""
    machine = machine_for(incident.type)
    if incident.merged_into_id is not None or machine.guarded_elsewhere:
        return []
    return machine.next_states(incident.state)


@dataclass(frozen=True)
class IncidentChanges:
    """The new values of an edit; every field is given (a form sends them all)."""

    title: str
    description: str
    severity: str
    tlp: str
    assignee_id: int | None
    reviewer_id: int | None


def update_fields(
    session: Session, incident_id: int, changes: IncidentChanges, *, actor: Actor, now: datetime
) -> Incident:
    """Change the incident's fields; a new assignee is told by a notification."""
    incident = writable_incident(session, incident_id)
    values = {
        "title": check_title(changes.title),
        "description": check_description(changes.description),
        "severity": check_severity(changes.severity).value,
        "tlp": check_tlp(changes.tlp).value,
        "assignee_id": check_assignable(session, changes.assignee_id, field="assignee_id"),
        "reviewer_id": check_assignable(session, changes.reviewer_id, field="reviewer_id"),
    }
    changed = sorted(name for name, value in values.items() if getattr(incident, name) != value)
    if not changed:
        return incident
    reassigned = "assignee_id" in changed
    for name in changed:
        setattr(incident, name, values[name])
    record_change(
        session,
        incident,
        action="updated",
        kind="fields_changed",
        actor=actor,
        now=now,
        details={"fields": ",".join(changed), "severity": incident.severity},
    )
    if reassigned:
        record_change(
            session,
            incident,
            action="assigned",
            kind="assigned",
            actor=actor,
            now=now,
            details={"assignee_id": incident.assignee_id},
        )
        if incident.assignee_id is not None:
            notify_assignment(session, incident, now)
    return incident


def list_incidents(
    session: Session,
    *,
    state: str | None = None,
    incident_type: str | None = None,
    severity: str | None = None,
    assignee_id: int | None = None,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = 50,
) -> list[Incident]:
    """Incidents newest first (``before_id`` pages back), or oldest first after ``after_id``.

    Filters are checked against their closed sets; ``state="open"`` is every state but
    closed and merged. ``limit`` is clamped to 1..201: a full page of 200 and the one more
    that tells a caller whether another page follows.
    """
    query = _filtered(select(Incident), state, incident_type, severity, assignee_id)
    if after_id is not None:
        query = query.where(Incident.id > after_id).order_by(Incident.id)
    else:
        if before_id is not None:
            query = query.where(Incident.id < before_id)
        query = query.order_by(Incident.id.desc())
    return list(session.scalars(query.limit(max(1, min(limit, MAX_PAGE + 1)))))


def _filtered(
    query: Select[tuple[Incident]],
    state: str | None,
    incident_type: str | None,
    severity: str | None,
    assignee_id: int | None,
) -> Select[tuple[Incident]]:
    if state == OPEN:
        query = query.where(Incident.state.not_in([State.CLOSED, State.MERGED]))
    elif state is not None:
        if state not in set(State):
            raise InvalidInput(N_("Choose a state from the list."), field="state")
        query = query.where(Incident.state == state)
    if incident_type is not None:
        query = query.where(Incident.type == check_type(incident_type).value)
    if severity is not None:
        query = query.where(Incident.severity == check_severity(severity).value)
    if assignee_id is not None:
        query = query.where(Incident.assignee_id == assignee_id)
    return query
