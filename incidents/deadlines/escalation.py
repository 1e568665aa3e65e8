"""The escalation job: a deadline that passed unmet is recorded, audited and notified, once.

Every open incident (not closed, not merged into another) is checked against the table.
A breach becomes a ``DeadlineBreach`` row, unique per incident and kind, inserted with
"on conflict do nothing": when two workers find the same breach, one insert wins and only
the winner writes the audit entry, the timeline entry and the notifications. The
notifications go to the assignee and the reviewer, or, while nobody is assigned, to every
active security officer; notification webhooks get one too (``outbox.enqueue``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from access_control import Actor, Role, record_audit
from access_control.models import User
from incidents.cases.models import Incident
from incidents.cases.timeline import add_entry
from incidents.deadlines.models import DeadlineBreach
from incidents.deadlines.sla import Deadline, DeadlineTable, current_table, deadlines_of, load_table
from incidents.notifications.outbox import NotificationKind, enqueue
from storage.inserts import insert_once

log = logging.getLogger("wachter.incidents.deadlines")
BATCH = 200  # breaches escalated per transaction; the job runs again at once when full
CLOSED_STATE = "closed"


def is_open() -> tuple[ColumnElement[bool], ...]:
    """Incidents whose deadlines still run: not closed and not merged into another."""
    return (
        Incident.closed_at.is_(None),
        Incident.merged_into_id.is_(None),
        Incident.state != CLOSED_STATE,
    )


def escalate_breaches(
    session: Session, *, now: datetime, table: DeadlineTable, limit: int = BATCH
) -> int:
    """Record every deadline breach not recorded yet (at most ``limit``); returns how many."""
    recorded = (
        select(DeadlineBreach.incident_id, DeadlineBreach.kind)
        .join(Incident, Incident.id == DeadlineBreach.incident_id)
        .where(*is_open())
    )
    known = {(incident_id, kind) for incident_id, kind in session.execute(recorded)}
    escalated = 0
    incidents = select(Incident).where(*is_open()).order_by(Incident.created_at, Incident.id)
    for incident in session.scalars(incidents):
        for deadline in deadlines_of(incident, table, now=now):
            if deadline.is_met or not deadline.breached:
                continue
            if (incident.id, deadline.kind.value) in known:
                continue
            if _record_breach(session, incident, deadline, now=now):
                escalated += 1
                if escalated >= limit:
                    return escalated
    return escalated


def _record_breach(
    session: Session, incident: Incident, deadline: Deadline, *, now: datetime
) -> bool:
    """Insert the breach; True if this transaction's insert made it (then escalate it)."""
    values = {
        "incident_id": incident.id,
        "kind": deadline.kind.value,
        "due_at": deadline.due_at,
        "breached_at": now,
    }
    breach_id = insert_once(session, DeadlineBreach, values, unique=("incident_id", "kind"))
    if breach_id is None:
        return False  # another worker escalated it first
    escalate_breach(
        session,
        incident,
        action="incident.deadline_breached",
        deadline=deadline.kind.value,
        due_at=deadline.due_at,
        breach_id=breach_id,
        user_ids=_recipients(session, incident),
        now=now,
    )
    return True


def escalate_breach(
    session: Session,
    incident: Incident,
    *,
    action: str,
    deadline: str,
    due_at: datetime,
    breach_id: int,
    user_ids: Sequence[int],
    now: datetime,
) -> None:
    """What a breach leaves, once: an audit entry (``action``), a timeline entry, a
    notification to ``user_ids`` and a log line. Also used for staff-safety deadlines."""
    details: dict[str, str | int] = {
        "deadline": deadline,
        "due_at": due_at.isoformat(),
        "breach": breach_id,
    }
    record_audit(
        session,
        actor=Actor.system(),
        action=action,
        target=f"incident:{incident.id}",
        outcome="success",
        now=now,
        details=details,
    )
    add_entry(
        session,
        incident_id=incident.id,
        kind="deadline_breached",
        actor=Actor.system().name,
        now=now,
        details=details,
    )
    enqueue(
        session,
        kind=NotificationKind.DEADLINE_BREACH,
        incident_id=incident.id,
        user_ids=user_ids,
        payload={
            "reference": incident.reference,
            "title": incident.title,
            "type": incident.type,
            "severity": incident.severity,
            "deadline": deadline,
            "due_at": due_at.isoformat(),
        },
        now=now,
    )
    log.warning(
        "incident deadline breached",
        extra={"wachter.incident_id": incident.id, "wachter.deadline": deadline},
    )


def _recipients(session: Session, incident: Incident) -> list[int]:
    """The assignee and reviewer; every active security officer while nobody is assigned."""
    named = [user_id for user_id in (incident.assignee_id, incident.reviewer_id) if user_id]
    if incident.assignee_id is not None:
        return named
    officers = session.scalars(
        select(User.id).where(User.role == Role.SECURITY_OFFICER.value, User.is_active)
    )
    return sorted({*named, *officers})


def escalation_run(deadlines_file: Path | None) -> Callable[[Session, datetime], bool]:
    """The job's body for ``wachter.jobs``: the file is checked now (a bad one stops the
    start) and read again whenever it changes."""
    load_table(deadlines_file)

    def run(session: Session, now: datetime) -> bool:
        return escalate_breaches(session, now=now, table=current_table(deadlines_file)) == BATCH

    return run
