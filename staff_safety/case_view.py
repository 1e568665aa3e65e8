"""What the staff-safety case pages show, assembled in the domain: the list of open cases
with their next deadline and breaches, and one case with its report, the people by pseudonym
and role, the next steps and what each still needs, the approvals and the deadlines.

Nothing here opens the vault: people are pseudonyms; revealing who someone is is
``vault.reveal`` (role, step-up, reason, audit). Reading is audited by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import InvalidInput
from core.i18n import N_
from incidents.cases.models import Incident, IncidentType
from incidents.cases.states import State, machine_for
from staff_safety.approvals import approvals_of
from staff_safety.calendar import WorkingDays
from staff_safety.deadline_job import deadlines_of, met_at
from staff_safety.deadlines import Deadline
from staff_safety.models import (
    Approval,
    ReportPerson,
    StaffCase,
    StaffDeadlineBreach,
    StaffReport,
)
from staff_safety.workflow import Step, case_of, next_steps

MAX_PAGE: Final = 100
OPEN: Final = "open"


@dataclass(frozen=True)
class DeadlineLine:
    """One deadline of a case: when due, when met (None: not yet), and whether breached."""

    deadline: Deadline
    met_at: datetime | None
    breached: bool


@dataclass(frozen=True)
class CaseRow:
    incident: Incident
    case: StaffCase
    report: StaffReport | None
    next_deadline: DeadlineLine | None
    breaches: int


@dataclass(frozen=True)
class CaseView:
    incident: Incident
    case: StaffCase
    report: StaffReport | None
    people: list[ReportPerson]
    steps: list[Step]
    approvals: list[Approval]
    deadlines: list[DeadlineLine]
    breaches: list[StaffDeadlineBreach]


def state_filters() -> list[str]:
    """The states a list may be filtered on: open (default) and each staff-safety state."""
    return [OPEN, *machine_for(IncidentType.STAFF_SAFETY).states]


def deadline_lines(
    case: StaffCase, report: StaffReport | None, *, calendar: WorkingDays, now: datetime
) -> list[DeadlineLine]:
    """The deadlines of a case's report in due order (none without a submitted report)."""
    deadlines = None if report is None else deadlines_of(case, report, calendar=calendar)
    if deadlines is None:
        return []
    met = met_at(case, now=now)
    lines = []
    for deadline in deadlines:
        done = met.get(deadline.kind)
        late = now > deadline.due_at if done is None else done > deadline.due_at
        lines.append(DeadlineLine(deadline, done, late))
    return lines


def list_cases(
    session: Session,
    *,
    state: str = OPEN,
    before_id: int | None = None,
    limit: int = 50,
    calendar: WorkingDays,
    now: datetime,
) -> list[CaseRow]:
    """Staff-safety cases newest first (``before_id`` pages back), ``limit`` clamped 1..100."""
    if state not in state_filters():
        raise InvalidInput(N_("Choose a filter value from the list."), field="state")
    query = (
        select(StaffCase, Incident, StaffReport)
        .join(Incident, Incident.id == StaffCase.incident_id)
        .outerjoin(StaffReport, StaffReport.id == StaffCase.report_id)
        .where(Incident.type == IncidentType.STAFF_SAFETY.value)
    )
    if state == OPEN:
        query = query.where(Incident.state.not_in([State.CLOSED, State.MERGED]))
    else:
        query = query.where(Incident.state == state)
    if before_id is not None:
        query = query.where(Incident.id < before_id)
    query = query.order_by(Incident.id.desc()).limit(max(1, min(limit, MAX_PAGE)))
    rows = session.execute(query).all()
    counts = _breach_counts(session, [incident.id for _, incident, _ in rows])
    found = []
    for case, incident, report in rows:
        lines = deadline_lines(case, report, calendar=calendar, now=now)
        upcoming = [line for line in lines if line.met_at is None]
        found.append(
            CaseRow(
                incident,
                case,
                report,
                upcoming[0] if upcoming else None,
                counts.get(incident.id, 0),
            )
        )
    return found


def _breach_counts(session: Session, incident_ids: list[int]) -> dict[int, int]:
    if not incident_ids:
        return {}
    query = (
        select(StaffDeadlineBreach.incident_id, func.count(StaffDeadlineBreach.id))
        .where(StaffDeadlineBreach.incident_id.in_(incident_ids))
        .group_by(StaffDeadlineBreach.incident_id)
    )
    return {incident_id: int(count) for incident_id, count in session.execute(query).all()}


def case_view(
    session: Session, incident_id: int, *, calendar: WorkingDays, now: datetime
) -> CaseView:
    """Everything the case page shows about one case (NotFound for any other incident)."""
    incident, case = case_of(session, incident_id, now=now)
    report = None if case.report_id is None else session.get(StaffReport, case.report_id)
    people = (
        list(
            session.scalars(
                select(ReportPerson)
                .where(ReportPerson.report_id == report.id)
                .order_by(ReportPerson.role, ReportPerson.id)
            )
        )
        if report is not None
        else []
    )
    breaches = list(
        session.scalars(
            select(StaffDeadlineBreach)
            .where(StaffDeadlineBreach.incident_id == incident.id)
            .order_by(StaffDeadlineBreach.breached_at)
        )
    )
    return CaseView(
        incident=incident,
        case=case,
        report=report,
        people=people,
        steps=next_steps(session, incident, case),
        approvals=approvals_of(session, incident.id),
        deadlines=deadline_lines(case, report, calendar=calendar, now=now),
        breaches=breaches,
    )


def pseudonyms_of(view: CaseView) -> set[str]:
    """Every pseudonym the case's report names (the people one may reveal from this case)."""
    named = {person.pseudonym for person in view.people}
    report = view.report
    if report is not None:
        named |= {
            value
            for value in (
                report.reporter_pseudonym,
                report.victim_pseudonym,
                report.perpetrator_pseudonym,
            )
            if value
        }
    return named
