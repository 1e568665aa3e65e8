"""The staff-safety workflow: the guarded steps of the ELA/VPT machine, and the case facts the
guards look at (first care, registration, responsible manager, evaluation).

The machine itself is data in ``incidents.cases.states`` and refuses every move not made
``by_workflow``: this module is that workflow. ``advance`` checks the guard of the step (what
must be recorded before the case may move on), moves the incident through
``incidents.cases.service.transition(..., by_workflow=True)`` and tells the reporter where it
matters. A refused step is a ``Conflict`` (something is missing) or an ``InvalidInput`` (a bad
value), and changes nothing.

===================================  ====================================================
reported → first_care                first care recorded (``record_first_care``)
first_care → registered              a risk level and a risk assessment (``register``)
registered → police_report_decision  nothing
registered → closed                  only as a duplicate of another report
police_report_decision → aftercare   a decision recorded (``police.record_decision``); for
                                     ``employer_on_behalf`` an approved four-eyes request,
                                     for ``none`` a reason
aftercare → measures                 aftercare contact made, or declined (``aftercare``)
measures → evaluation                no measure of this incident still ``proposed``
evaluation → closed                  an evaluation text, a resolution and a summary
===================================  ====================================================

Steps back and reopening need no guard. Every change is audited and on the timeline
(``record_change``), with ids and enum values only, never the free text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.cases.fields import check_assignable, check_severity
from incidents.cases.history import record_change
from incidents.cases.lookup import get_incident, writable_incident
from incidents.cases.models import Incident, IncidentType
from incidents.cases.service import transition
from incidents.cases.states import Resolution, State, machine_for
from staff_safety import approvals
from staff_safety.cases import ensure_case
from staff_safety.models import (
    ApprovalSubject,
    MeasureStatus,
    PerpetratorMeasure,
    PoliceDecision,
    RiskLevel,
    StaffCase,
)
from staff_safety.updates import UpdateKind, tell_reporter

MAX_NOTE: Final = 2000
MAX_TEXT: Final = 20_000


@dataclass(frozen=True)
class Missing:
    """What a step still needs, as a message for the officer (``N_`` template + params)."""

    template: str
    params: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    """A step the case may take from its state, and what it still needs (None: ready)."""

    to_state: State
    missing: Missing | None


# --- finding the case -------------------------------------------------------------------


def case_of(session: Session, incident_id: int, *, now: datetime) -> tuple[Incident, StaffCase]:
    """A staff-safety incident and its case; any other incident is "no such case"."""
    incident = get_incident(session, incident_id)
    if incident.type != IncidentType.STAFF_SAFETY:
        raise NotFound(N_("There is no staff-safety case %(id)s."), id=incident_id)
    return incident, ensure_case(session, incident, now=now)


def writable_case(
    session: Session, incident_id: int, *, now: datetime
) -> tuple[Incident, StaffCase]:
    """The case, its incident locked for a change; refused while merged or closed."""
    incident, case = case_of(session, incident_id, now=now)
    writable_incident(session, incident.id)
    if incident.state == State.CLOSED:
        raise Conflict(N_("This case is closed: reopen it to record anything more."))
    return incident, case


def checked_text(value: str | None, *, field: str, limit: int = MAX_NOTE) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidInput(N_("This is at most %(limit)d characters."), field=field, limit=limit)
    return text


def checked_moment(moment: datetime, *, field: str, now: datetime) -> datetime:
    """A time something happened: aware, and not in the future."""
    if moment.tzinfo is None or moment > now:
        raise InvalidInput(N_("Give a time that has already passed."), field=field)
    return moment


def note_change(
    session: Session,
    incident: Incident,
    case: StaffCase,
    action: str,
    *,
    actor: Actor,
    now: datetime,
    details: dict[str, str | int | bool | None] | None = None,
) -> None:
    case.updated_at = now
    record_change(
        session, incident, action=action, kind=action, actor=actor, now=now, details=details
    )


# --- the facts the guards look at -------------------------------------------------------


def record_first_care(
    session: Session, *, incident_id: int, note: str, actor: Actor, now: datetime
) -> StaffCase:
    """The employee was looked after; the first time sets ``first_care_at``."""
    incident, case = writable_case(session, incident_id, now=now)
    text = checked_text(note, field="note")
    if not text:
        raise InvalidInput(N_("Say what first care was given."), field="note")
    case.first_care_note = text
    if case.first_care_at is None:
        case.first_care_at = now
    note_change(session, incident, case, "first_care_recorded", actor=actor, now=now)
    return case


def register(
    session: Session,
    *,
    incident_id: int,
    risk_level: str,
    risk_assessment: str,
    severity: str | None = None,
    actor: Actor,
    now: datetime,
) -> StaffCase:
    """Triage: the risk level and assessment, and (optionally) the incident's severity."""
    incident, case = writable_case(session, incident_id, now=now)
    try:
        level = RiskLevel(risk_level)
    except ValueError:
        raise InvalidInput(
            N_("Choose a risk level: %(choices)s."),
            field="risk_level",
            choices=", ".join(RiskLevel),
        ) from None
    text = checked_text(risk_assessment, field="risk_assessment", limit=MAX_TEXT)
    if not text:
        raise InvalidInput(N_("Write the risk assessment."), field="risk_assessment")
    if severity:
        incident.severity = check_severity(severity).value
    case.risk_level, case.risk_assessment = level.value, text
    case.registered_at = case.registered_at or now
    details: dict[str, str | int | bool | None] = {
        "risk_level": level.value,
        "severity": incident.severity,
    }
    note_change(session, incident, case, "case_registered", actor=actor, now=now, details=details)
    return case


def set_responsible_manager(
    session: Session, *, incident_id: int, user_id: int | None, actor: Actor, now: datetime
) -> StaffCase:
    """Who breaches escalate to (an active account that may work on incidents, or nobody)."""
    incident, case = writable_case(session, incident_id, now=now)
    case.responsible_manager_id = check_assignable(session, user_id, field="responsible_manager_id")
    details: dict[str, str | int | bool | None] = {"manager_id": case.responsible_manager_id}
    note_change(session, incident, case, "manager_set", actor=actor, now=now, details=details)
    return case


def record_evaluation(
    session: Session, *, incident_id: int, evaluation: str, actor: Actor, now: datetime
) -> StaffCase:
    """What was learnt; needed before the case closes."""
    incident, case = writable_case(session, incident_id, now=now)
    text = checked_text(evaluation, field="evaluation", limit=MAX_TEXT)
    if not text:
        raise InvalidInput(N_("Write the evaluation."), field="evaluation")
    case.evaluation = text
    note_change(session, incident, case, "evaluation_recorded", actor=actor, now=now)
    return case


# --- the guards -------------------------------------------------------------------------


def proposed_measures(session: Session, incident_id: int) -> int:
    """Measures of this incident still waiting for a second person's approval."""
    query = select(func.count(PerpetratorMeasure.id)).where(
        PerpetratorMeasure.incident_id == incident_id,
        PerpetratorMeasure.status == MeasureStatus.PROPOSED.value,
    )
    return int(session.scalar(query) or 0)


def _police_missing(session: Session, case: StaffCase) -> Missing | None:
    if case.police_decision is None:
        return Missing(N_("Record the police-report decision first."))
    if case.police_decision == PoliceDecision.EMPLOYER_ON_BEHALF and not approvals.approved(
        session, incident_id=case.incident_id, subject=ApprovalSubject.EMPLOYER_POLICE_REPORT
    ):
        return Missing(
            N_("A police report the employer files needs a second officer's approval first.")
        )
    if case.police_decision == PoliceDecision.NONE and not case.police_decision_reason.strip():
        return Missing(N_("Say why no police report is made."))
    return None


def _first_care_missing(_session: Session, case: StaffCase) -> Missing | None:
    if case.first_care_at is None:
        return Missing(N_("Record the first care given to the employee first."))
    return None


def _registration_missing(_session: Session, case: StaffCase) -> Missing | None:
    if case.risk_level is None or not case.risk_assessment.strip():
        return Missing(N_("Register the case first: a risk level and a risk assessment."))
    return None


def _aftercare_missing(_session: Session, case: StaffCase) -> Missing | None:
    if case.aftercare_contact_at is None and case.aftercare_declined_at is None:
        return Missing(N_("Record the aftercare contact, or that the employee declined it."))
    return None


def _measures_missing(session: Session, case: StaffCase) -> Missing | None:
    waiting = proposed_measures(session, case.incident_id)
    if waiting:
        return Missing(
            N_("%(count)d measure(s) still wait for a second person's approval."),
            {"count": waiting},
        )
    return None


def _evaluation_missing(_session: Session, case: StaffCase) -> Missing | None:
    if not case.evaluation.strip():
        return Missing(N_("Write the evaluation before closing the case."))
    return None


_GUARDS: Final[dict[tuple[str, str], Callable[[Session, StaffCase], Missing | None]]] = {
    (State.REPORTED, State.FIRST_CARE): _first_care_missing,
    (State.FIRST_CARE, State.REGISTERED): _registration_missing,
    (State.POLICE_REPORT_DECISION, State.AFTERCARE): _police_missing,
    (State.AFTERCARE, State.MEASURES): _aftercare_missing,
    (State.MEASURES, State.EVALUATION): _measures_missing,
    (State.EVALUATION, State.CLOSED): _evaluation_missing,
}


def missing_for(session: Session, case: StaffCase, current: str, target: str) -> Missing | None:
    """What the step ``current`` → ``target`` still needs (None: nothing, or a step back)."""
    guard = _GUARDS.get((current, target))
    return None if guard is None else guard(session, case)


def next_steps(session: Session, incident: Incident, case: StaffCase) -> list[Step]:
    """The steps the machine allows from here, each with what it still needs."""
    machine = machine_for(incident.type)
    if incident.merged_into_id is not None:
        return []
    return [
        Step(target, missing_for(session, case, incident.state, target))
        for target in machine.next_states(incident.state)
    ]


# --- moving the case --------------------------------------------------------------------

_TOLD: Final = {
    State.FIRST_CARE: UpdateKind.FIRST_CARE,
    State.REGISTERED: UpdateKind.REGISTERED,
    State.CLOSED: UpdateKind.CLOSED,
}


def advance(
    session: Session,
    incident_id: int,
    to_state: str,
    *,
    resolution: str | None = None,
    summary: str | None = None,
    actor: Actor,
    now: datetime,
) -> Incident:
    """Move the case to ``to_state`` if the machine allows it and its guard is satisfied."""
    incident, case = case_of(session, incident_id, now=now)
    writable_incident(session, incident.id)
    current = incident.state
    target = to_state[:40]
    if target in machine_for(incident.type).next_states(current):
        missing = missing_for(session, case, current, target)
        if missing is not None:
            raise Conflict(missing.template, **missing.params)
        if (current, target) == (State.REGISTERED, State.CLOSED) and (
            resolution != Resolution.DUPLICATE
        ):
            raise InvalidInput(
                N_("At registration a case closes only as a duplicate of another report."),
                field="resolution",
            )
    transition(
        session,
        incident.id,
        target,
        resolution=resolution,
        summary=summary,
        actor=actor,
        now=now,
        by_workflow=True,
    )
    case.updated_at = now
    kind = UpdateKind.REOPENED if current == State.CLOSED else _TOLD.get(State(target))
    if kind is not None:
        tell_reporter(session, case.report_id, kind, now=now)
    return incident
