"""A staff-safety case: the incident a submitted report opens, and the ``StaffCase`` row beside it.

Staff-safety incidents are incidents (``incidents.cases``): the same timeline, evidence,
tasks, audit and deadlines. What only the ELA/VPT workflow needs (triage, aftercare, the
police report) is kept in ``StaffCase``. A staff-safety incident opened without a report
(by hand, or from a staff-threat alert) gets its ``StaffCase`` on first use.

The incident's title and description name no one: the report's number and category only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from access_control import Actor
from incidents.cases.models import Incident, IncidentType, Tlp
from incidents.cases.service import create_incident
from staff_safety.models import Category, StaffCase, StaffReport

# The incident's first severity, from what happened; triage sets the risk level after.
_SEVERITY: dict[str, str] = {
    Category.PHYSICAL_VIOLENCE: "critical",
    Category.SEXUAL_INTIMIDATION: "high",
    Category.THREAT_IN_PERSON: "high",
    Category.THREAT_PHONE: "high",
    Category.THREAT_LETTER: "high",
    Category.THREAT_EMAIL: "high",
    Category.THREAT_ONLINE: "high",
    Category.INTIMIDATION: "high",
    Category.DOXING: "high",
}


def initial_severity(report: StaffReport) -> str:
    """Critical for violence or a weapon, high for threats, medium for the rest."""
    if report.weapon:
        return "critical"
    return _SEVERITY.get(report.category or "", "medium")


def case_title(report: StaffReport) -> str:
    """The incident's title: the report's number and its category's key, no name and no
    language (the console labels the category: ``split_case_title``)."""
    return f"{report.number} {report.category}"


def split_case_title(title: str) -> tuple[str, Category] | None:
    """The report number and category of a title ``case_title`` wrote; None for any other
    title (one an officer has edited)."""
    number, _space, key = title.rpartition(" ")
    try:
        return (number, Category(key)) if number else None
    except ValueError:
        return None


def open_case_for_report(
    session: Session, report: StaffReport, *, actor: Actor, now: datetime
) -> tuple[Incident, StaffCase]:
    """Open the staff-safety incident of a just-submitted report (state ``reported``)."""
    incident = create_incident(
        session,
        title=case_title(report),
        description="",
        incident_type=IncidentType.STAFF_SAFETY,
        severity=initial_severity(report),
        tlp=Tlp.AMBER_STRICT,  # the organisation only: no sharing with partners by default
        actor=actor,
        now=now,
    )
    report.incident_id = incident.id
    case = StaffCase(incident_id=incident.id, report_id=report.id, created_at=now, updated_at=now)
    session.add(case)
    session.flush()
    return incident, case


def ensure_case(session: Session, incident: Incident, *, now: datetime) -> StaffCase:
    """The ``StaffCase`` of a staff-safety incident, made on first use if it has none."""
    if incident.type != IncidentType.STAFF_SAFETY:
        raise ValueError(f"incident {incident.id} is not a staff-safety incident")
    case = session.get(StaffCase, incident.id)
    if case is None:
        case = StaffCase(incident_id=incident.id, report_id=None, created_at=now, updated_at=now)
        session.add(case)
        session.flush()
    return case
