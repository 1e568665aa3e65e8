"""Escalating breached staff-safety deadlines: the job behind ``staff_safety.escalate_deadlines``.

For every open staff-safety case with a submitted report, the deadlines of the report
(``deadlines.StaffSafetyDeadlines``) are compared with what the case recorded, at the
injected ``now``. A breach is escalated once: one ``StaffDeadlineBreach`` row (unique per
incident and kind, inserted with "on conflict do nothing" so two workers cannot both
escalate it), an audit entry, a timeline entry and a notification to the responsible
manager, else the incident's assignee, else every active security officer.

When a deadline counts as met:

=====================  ==============================================================
``police_report``      a decision of ``notification_only`` or ``none``, or a filing
``aftercare_contact``  the first contact, or the employee declining it
``aftercare_reoffer``  the re-offer (the deadline exists only after a decline)
``check_in_*``         the check-in
=====================  ==============================================================
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Role
from access_control.models import User
from incidents.cases.models import Incident
from incidents.cases.states import State
from incidents.deadlines.escalation import escalate_breach
from staff_safety.calendar import WorkingDays
from staff_safety.deadlines import Deadline, DeadlineKind, StaffSafetyDeadlines, breached
from staff_safety.models import PoliceDecision, StaffCase, StaffDeadlineBreach, StaffReport
from storage.inserts import insert_once

log = logging.getLogger("wachter.staff_safety.deadlines")
_WITHOUT_FILING = (PoliceDecision.NOTIFICATION_ONLY, PoliceDecision.NONE)


def deadlines_of(
    case: StaffCase, report: StaffReport, *, calendar: WorkingDays
) -> StaffSafetyDeadlines | None:
    """The deadlines of a case's report (None for a report not submitted)."""
    if report.submitted_at is None:
        return None
    declined = case.aftercare_declined_at
    if declined is not None:
        declined = max(declined, report.submitted_at)
    return StaffSafetyDeadlines.for_report(
        report.submitted_at, calendar=calendar, aftercare_declined_at=declined
    )


def met_at(case: StaffCase, *, now: datetime) -> dict[DeadlineKind, datetime]:
    """When the case met each deadline (only moments up to ``now``)."""
    police = case.police_filed_at
    if case.police_decision in _WITHOUT_FILING:
        police = case.police_decided_at
    contacts = [m for m in (case.aftercare_contact_at, case.aftercare_declined_at) if m]
    found = {
        DeadlineKind.POLICE_REPORT: police,
        DeadlineKind.AFTERCARE_CONTACT: min(contacts) if contacts else None,
        DeadlineKind.AFTERCARE_REOFFER: case.aftercare_reoffered_at
        if case.aftercare_declined_at
        else None,
        DeadlineKind.CHECK_IN_6_WEEKS: case.check_in_6_weeks_at,
        DeadlineKind.CHECK_IN_3_MONTHS: case.check_in_3_months_at,
    }
    return {kind: moment for kind, moment in found.items() if moment is not None and moment <= now}


def escalate_staff_deadlines(session: Session, *, calendar: WorkingDays, now: datetime) -> int:
    """Escalate every breach not escalated yet; returns how many were escalated now."""
    recorded = select(StaffDeadlineBreach.incident_id, StaffDeadlineBreach.kind)
    known = {(incident_id, kind) for incident_id, kind in session.execute(recorded)}
    query = (
        select(StaffCase, StaffReport, Incident)
        .join(StaffReport, StaffReport.id == StaffCase.report_id)
        .join(Incident, Incident.id == StaffCase.incident_id)
        .where(
            StaffReport.submitted_at.is_not(None),
            Incident.closed_at.is_(None),
            Incident.merged_into_id.is_(None),
            Incident.state != State.CLOSED.value,
        )
        .order_by(Incident.id)
    )
    escalated = 0
    for case, report, incident in session.execute(query).all():
        deadlines = deadlines_of(case, report, calendar=calendar)
        if deadlines is None:
            continue
        met = {
            kind: moment for kind, moment in met_at(case, now=now).items() if deadlines.get(kind)
        }
        for breach in breached(deadlines, met=met, now=now):
            if (incident.id, breach.deadline.kind.value) in known:
                continue
            if _record(session, incident, case, breach.deadline, now=now):
                escalated += 1
    return escalated


def _record(
    session: Session, incident: Incident, case: StaffCase, deadline: Deadline, *, now: datetime
) -> bool:
    """Insert the breach; True if this transaction made it (then escalate it)."""
    values = {
        "incident_id": incident.id,
        "kind": deadline.kind.value,
        "due_at": deadline.due_at,
        "breached_at": now,
    }
    breach_id = insert_once(session, StaffDeadlineBreach, values, unique=("incident_id", "kind"))
    if breach_id is None:
        return False  # another worker escalated it first
    escalate_breach(
        session,
        incident,
        action="staff_case.deadline_breached",
        deadline=deadline.kind.value,
        due_at=deadline.due_at,
        breach_id=breach_id,
        user_ids=recipients(session, incident, case),
        now=now,
    )
    return True


def recipients(session: Session, incident: Incident, case: StaffCase) -> list[int]:
    """The responsible manager, else the assignee, else every active security officer."""
    for user_id in (case.responsible_manager_id, incident.assignee_id):
        if user_id is not None:
            return [user_id]
    officers = session.scalars(
        select(User.id).where(User.role == Role.SECURITY_OFFICER.value, User.is_active)
    )
    return sorted(officers)


def staff_deadline_run(timezone: str) -> Callable[[Session, datetime], None]:
    """The job's body for ``wachter.jobs``: Dutch working days in the organisation's zone."""
    calendar = WorkingDays(timezone)

    def run(session: Session, now: datetime) -> None:
        escalate_staff_deadlines(session, calendar=calendar, now=now)

    return run
