"""What every change of an incident leaves behind: an audit entry and a timeline entry.

The audit trail proves who did what (hash-chained, for the auditor); the timeline tells the
incident's story (for the people working it and the report). Both get ids, states and
counts only, never free text, so neither can leak a comment or a person's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from incidents.cases.models import Incident
from incidents.cases.timeline import add_entry

Detail = str | int | bool | None


def record_change(
    session: Session,
    incident: Incident,
    *,
    action: str,
    kind: str,
    actor: Actor,
    now: datetime,
    details: Mapping[str, Detail] | None = None,
) -> None:
    """Audit ``incident.<action>`` and add a ``kind`` timeline entry; the incident was updated."""
    values = dict(details or {})
    record_audit(
        session,
        actor=actor,
        action=f"incident.{action}",
        target=f"incident:{incident.id}",
        outcome="success",
        now=now,
        details=values,
    )
    add_entry(
        session, incident_id=incident.id, kind=kind, actor=actor.name, now=now, details=values
    )
    incident.updated_at = now
