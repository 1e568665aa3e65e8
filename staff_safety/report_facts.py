"""Sent aggression reports for officers and the API: facts and pseudonyms, never free text.

``list_reports`` pages through sent reports newest first (filters from their closed sets);
``report_facts`` is one report by number. Neither returns a statement, a note or a name:
what happened is read on the case page, by people with the right to read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import InvalidInput, NotFound
from core.i18n import N_
from incidents.cases.models import Incident
from incidents.cases.states import State
from staff_safety.models import (
    CHANNEL_OF,
    Category,
    Location,
    PersonRole,
    ReportPerson,
    ReportStatus,
    StaffReport,
)

MAX_LIST: Final = 200


@dataclass(frozen=True)
class ReportFacts:
    number: str
    submitted_at: datetime | None
    occurred_month: str | None  # YYYY-MM
    category: str | None
    location: str | None
    channel: str | None
    weapon: bool
    injury: bool
    incident_reference: str | None
    incident_state: str | None
    reporter: str
    victim: str | None
    perpetrator: str | None
    witnesses: tuple[str, ...]
    id: int


def list_reports(
    session: Session,
    *,
    category: str | None = None,
    state: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[ReportFacts]:
    """Sent reports, newest first, by id; filters from their closed sets."""
    query = (
        select(StaffReport, Incident.reference, Incident.state)
        .outerjoin(Incident, Incident.id == StaffReport.incident_id)
        .where(StaffReport.status == ReportStatus.SUBMITTED)
    )
    if category:
        query = query.where(StaffReport.category == _closed(category, Category, "category"))
    if state:
        query = query.where(Incident.state == _closed(state, State, "state"))
    if before_id is not None:
        query = query.where(StaffReport.id < before_id)
    rows = session.execute(
        query.order_by(StaffReport.id.desc()).limit(max(1, min(limit, MAX_LIST + 1)))
    ).all()
    witnesses = _witnesses(session, [report.id for report, _reference, _state in rows])
    return [
        _facts(report, reference, incident_state, witnesses.get(report.id, ()))
        for report, reference, incident_state in rows
    ]


def report_facts(session: Session, number: str) -> ReportFacts:
    """One sent report's facts by its number; ``NotFound`` otherwise."""
    row = session.execute(
        select(StaffReport, Incident.reference, Incident.state)
        .outerjoin(Incident, Incident.id == StaffReport.incident_id)
        .where(StaffReport.number == number[:30], StaffReport.status == ReportStatus.SUBMITTED)
    ).first()
    if row is None:
        raise NotFound(N_("No such report."))
    report, reference, incident_state = row
    witnesses = _witnesses(session, [report.id]).get(report.id, ())
    return _facts(report, reference, incident_state, witnesses)


def _closed(value: str, choices: type[Category] | type[State], name: str) -> str:
    try:
        return str(choices(value))
    except ValueError:
        raise InvalidInput(N_("Choose one of the options."), field=name) from None


def _witnesses(session: Session, report_ids: list[int]) -> dict[int, tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    if report_ids:
        for report_id, pseudonym in session.execute(
            select(ReportPerson.report_id, ReportPerson.pseudonym)
            .where(
                ReportPerson.report_id.in_(report_ids),
                ReportPerson.role == PersonRole.WITNESS,
            )
            .order_by(ReportPerson.id)
        ):
            found.setdefault(report_id, []).append(pseudonym)
    return {key: tuple(value) for key, value in found.items()}


def _facts(
    report: StaffReport,
    reference: str | None,
    incident_state: str | None,
    witnesses: tuple[str, ...],
) -> ReportFacts:
    try:
        channel = CHANNEL_OF[Location(report.location)].value if report.location else None
    except ValueError:
        channel = None
    return ReportFacts(
        id=report.id,
        number=report.number or "",
        submitted_at=report.submitted_at,
        occurred_month=report.occurred_at.strftime("%Y-%m") if report.occurred_at else None,
        category=report.category,
        location=report.location,
        channel=channel,
        weapon=bool(report.weapon),
        injury=bool(report.injury),
        incident_reference=reference,
        incident_state=incident_state,
        reporter=report.reporter_pseudonym,
        victim=report.victim_pseudonym,
        perpetrator=report.perpetrator_pseudonym,
        witnesses=witnesses,
    )
