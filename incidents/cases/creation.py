"""Opening an incident: its fields checked, its reference, its type's playbook applied.

``create_incident`` is used by the console and the API (by hand) and by
``alert_links.open_incident_from_alerts`` (escalating alerts); ``cases.service`` exports it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from access_control import Actor
from core import NotFound
from incidents.alerts.models import Severity
from incidents.cases import playbooks
from incidents.cases.fields import (
    check_assignable,
    check_description,
    check_severity,
    check_storable,
    check_title,
    check_tlp,
    check_type,
)
from incidents.cases.history import record_change
from incidents.cases.lookup import reference_for
from incidents.cases.models import Incident, PlaybookVersion, Tlp
from incidents.cases.states import machine_for
from incidents.notifications.outbox import NotificationKind, enqueue


def create_incident(
    session: Session,
    *,
    title: str,
    description: str = "",
    incident_type: str,
    severity: str,
    tlp: str = Tlp.AMBER,
    assignee_id: int | None = None,
    reviewer_id: int | None = None,
    playbook_key: str | None = None,
    actor: Actor,
    now: datetime,
) -> Incident:
    """A new incident in state ``new`` with its type's playbook applied; ``INC-<year>-<id>``."""
    kind = check_type(incident_type)
    incident = Incident(
        # Unique until the id is known: the reference is made from the id.
        reference=f"new-{uuid.uuid4().hex[:24]}",
        title=check_title(title),
        description=check_description(description),
        type=kind.value,
        severity=check_severity(severity).value,
        tlp=check_tlp(tlp).value,
        state=machine_for(kind.value).initial.value,
        assignee_id=check_assignable(session, assignee_id, field="assignee_id"),
        reviewer_id=check_assignable(session, reviewer_id, field="reviewer_id"),
        created_at=now,
        created_by=actor.name,
        updated_at=now,
    )
    version = _playbook(session, kind.value, playbook_key)
    session.add(incident)
    session.flush()
    incident.reference = reference_for(incident)
    details = {
        "reference": incident.reference,
        "type": incident.type,
        "severity": incident.severity,
        "assignee_id": incident.assignee_id,
    }
    record_change(
        session, incident, action="created", kind="created", actor=actor, now=now, details=details
    )
    if version is not None:
        tasks = playbooks.apply_playbook(session, incident, version, actor=actor)
        record_change(
            session,
            incident,
            action="playbook_applied",
            kind="playbook_applied",
            actor=actor,
            now=now,
            details={"playbook_version_id": version.id, "tasks": len(tasks)},
        )
    if incident.assignee_id is not None:
        notify_assignment(session, incident, now)
    return incident


def _playbook(session: Session, incident_type: str, key: str | None) -> PlaybookVersion | None:
    if key is not None:
        check_storable(key, field="playbook")
    try:
        return playbooks.playbook_version(session, incident_type, key)
    except NotFound:
        return None  # no default playbook installed: the incident starts without tasks


def notify_assignment(session: Session, incident: Incident, now: datetime) -> None:
    assert incident.assignee_id is not None
    enqueue(
        session,
        kind=NotificationKind.ASSIGNMENT,
        incident_id=incident.id,
        user_ids=[incident.assignee_id],
        payload={"reference": incident.reference, "title": incident.title},
        now=now,
    )


def highest_severity(severities: Sequence[str]) -> str:
    """The worst of ``severities`` (an unknown value counts as the lowest)."""
    order = list(Severity)
    ranked = [order.index(Severity(value)) for value in severities if value in set(Severity)]
    return order[max(ranked, default=order.index(Severity.MEDIUM))].value
