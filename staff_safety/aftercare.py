"""Aftercare (nazorg) of a staff-safety case: the first contact, a decline and the re-offer two
weeks later, and the check-ins at six weeks and three months.

Each step records when it happened (``at``, not in the future); who recorded it is the acting
officer, kept in the audit entry by user id (officers are not pseudonymised; the employee is).
The note is for officers only and never reaches the reporter or the audit trail. The reporter
is told of the contact and of a re-offer. ``staff_safety.deadline_job`` compares these times
with the deadlines.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput
from core.i18n import N_
from staff_safety.models import StaffCase
from staff_safety.updates import UpdateKind, tell_reporter
from staff_safety.workflow import checked_moment, checked_text, note_change, writable_case


class AftercareStep(StrEnum):
    CONTACT = "contact"  # someone spoke with the employee and offered aftercare
    DECLINED = "declined"  # the employee did not want it (for now)
    REOFFERED = "reoffered"  # offered again, two weeks after a decline
    CHECK_IN_6_WEEKS = "check_in_6_weeks"
    CHECK_IN_3_MONTHS = "check_in_3_months"


_FIELD = {
    AftercareStep.CONTACT: "aftercare_contact_at",
    AftercareStep.DECLINED: "aftercare_declined_at",
    AftercareStep.REOFFERED: "aftercare_reoffered_at",
    AftercareStep.CHECK_IN_6_WEEKS: "check_in_6_weeks_at",
    AftercareStep.CHECK_IN_3_MONTHS: "check_in_3_months_at",
}
_TOLD = {
    AftercareStep.CONTACT: UpdateKind.AFTERCARE_CONTACT,
    AftercareStep.REOFFERED: UpdateKind.AFTERCARE_REOFFERED,
}


def record_aftercare(
    session: Session,
    *,
    incident_id: int,
    step: str,
    at: datetime,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> StaffCase:
    """Record one aftercare step at ``at``; a re-offer needs a decline before it."""
    incident, case = writable_case(session, incident_id, now=now)
    chosen = _step(step)
    moment = checked_moment(at, field="at", now=now)
    text = checked_text(note, field="note")
    if chosen == AftercareStep.REOFFERED and case.aftercare_declined_at is None:
        raise Conflict(N_("Aftercare is offered again only after the employee declined it."))
    if chosen == AftercareStep.DECLINED and case.aftercare_declined_at is not None:
        raise Conflict(N_("The decline is already recorded."))
    setattr(case, _FIELD[chosen], moment)
    if text:
        case.aftercare_note = f"{case.aftercare_note}\n\n{text}".strip()[:20_000]
    details: dict[str, str | int | bool | None] = {
        "step": chosen.value,
        "at": moment.isoformat(),
        "by_user_id": actor.user_id,
    }
    note_change(
        session, incident, case, "aftercare_recorded", actor=actor, now=now, details=details
    )
    told = _TOLD.get(chosen)
    if told is not None:
        tell_reporter(
            session, case.report_id, told, now=now, details={"on": moment.date().isoformat()}
        )
    return case


def _step(step: str) -> AftercareStep:
    try:
        return AftercareStep(step)
    except ValueError:
        raise InvalidInput(
            N_("Choose an aftercare step: %(choices)s."),
            field="step",
            choices=", ".join(AftercareStep),
        ) from None
