"""The police report (aangifte) of a staff-safety case: the decision, the filing, what the
prosecution decided, and the damage and what was recovered of it.

The ELA agreements let the employer file on the victim's behalf, and let the employee give the
organisation's address as domicile, so the perpetrator never learns where they live: a filing
decision therefore needs a domicile, which defaults to ``WACHTER_ORGANISATION_ADDRESS`` (passed
in as ``organisation_address``). A victim's home address is never asked for or stored. A filing
by the employer needs a second officer's approval (``approvals``, four eyes): deciding on it
requests one, and the filing can only be recorded once it was given.

Each step is audited and on the timeline (enum values and ids only) and the reporter is told,
with only what they may know: the decision, the police registration number, that the
prosecution decided, the amount recovered; never the officer's reasons or notes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput
from core.i18n import N_
from staff_safety import approvals
from staff_safety.models import ApprovalSubject, PoliceDecision, StaffCase
from staff_safety.updates import UpdateKind, tell_reporter
from staff_safety.workflow import checked_moment, checked_text, note_change, writable_case

FILING_DECISIONS: Final = frozenset(
    {PoliceDecision.VICTIM_WITH_SUPPORT, PoliceDecision.EMPLOYER_ON_BEHALF}
)
MAX_REGISTRATION: Final = 60
MAX_UNIT: Final = 200
MAX_CENTS: Final = 100_000_000_000  # a thousand million euros: anything above is a typo


def record_decision(
    session: Session,
    *,
    incident_id: int,
    decision: str,
    reason: str = "",
    domicile: str = "",
    ela_flag: bool = False,
    organisation_address: str = "",
    actor: Actor,
    now: datetime,
) -> StaffCase:
    """Record how the police get involved; ``employer_on_behalf`` asks for four eyes."""
    incident, case = writable_case(session, incident_id, now=now)
    chosen = _decision(decision)
    why = checked_text(reason, field="reason")
    if chosen == PoliceDecision.NONE and not why:
        raise InvalidInput(N_("Say why no police report is made."), field="reason")
    place = checked_text(domicile, field="domicile", limit=500) or organisation_address.strip()
    if chosen in FILING_DECISIONS and not place:
        raise InvalidInput(
            N_(
                "A police report needs the organisation's address as the victim's domicile: "
                "type it here, or ask the administrator to set WACHTER_ORGANISATION_ADDRESS."
            ),
            field="domicile",
        )
    case.police_decision, case.police_decision_reason = chosen.value, why
    case.police_decided_at, case.domicile, case.ela_flag = now, place, bool(ela_flag)
    details: dict[str, str | int | bool | None] = {"decision": chosen.value, "ela": case.ela_flag}
    note_change(
        session, incident, case, "police_decision_recorded", actor=actor, now=now, details=details
    )
    subject = ApprovalSubject.EMPLOYER_POLICE_REPORT
    if chosen == PoliceDecision.EMPLOYER_ON_BEHALF and not (
        approvals.pending_approval(session, incident_id=incident.id, subject=subject)
        or approvals.approved(session, incident_id=incident.id, subject=subject)
    ):
        approvals.request_approval(
            session, incident_id=incident.id, subject=subject, actor=actor, now=now
        )
    tell_reporter(
        session, case.report_id, UpdateKind.POLICE_DECISION, now=now, details={"decision": chosen}
    )
    return case


def _decision(decision: str) -> PoliceDecision:
    try:
        return PoliceDecision(decision)
    except ValueError:
        raise InvalidInput(
            N_("Choose a police-report decision: %(choices)s."),
            field="decision",
            choices=", ".join(PoliceDecision),
        ) from None


def record_filing(
    session: Session,
    *,
    incident_id: int,
    filed_at: datetime,
    registration_number: str,
    unit: str = "",
    actor: Actor,
    now: datetime,
) -> StaffCase:
    """The report was filed: when, under which police number ("aangifte onder nummer"), where."""
    incident, case = writable_case(session, incident_id, now=now)
    if case.police_decision not in FILING_DECISIONS:
        raise Conflict(N_("Record a decision to file a police report first."))
    if case.police_decision == PoliceDecision.EMPLOYER_ON_BEHALF and not approvals.approved(
        session, incident_id=incident.id, subject=ApprovalSubject.EMPLOYER_POLICE_REPORT
    ):
        raise Conflict(
            N_("A police report the employer files needs a second officer's approval first.")
        )
    number = checked_text(registration_number, field="registration_number", limit=MAX_REGISTRATION)
    if not number:
        raise InvalidInput(
            N_("Give the police registration number of the report."), field="registration_number"
        )
    case.police_filed_at = checked_moment(filed_at, field="filed_at", now=now)
    case.police_registration_number = number
    case.police_unit = checked_text(unit, field="unit", limit=MAX_UNIT)
    note_change(session, incident, case, "police_filing_recorded", actor=actor, now=now)
    tell_reporter(
        session,
        case.report_id,
        UpdateKind.POLICE_FILED,
        now=now,
        details={
            "registration_number": number,
            "filed_on": case.police_filed_at.date().isoformat(),
        },
    )
    return case


def record_prosecution(
    session: Session,
    *,
    incident_id: int,
    decision: str,
    outcome: str = "",
    actor: Actor,
    now: datetime,
) -> StaffCase:
    """What the Public Prosecution Service decided, and the outcome once there is one."""
    incident, case = writable_case(session, incident_id, now=now)
    decided = checked_text(decision, field="prosecution_decision")
    result = checked_text(outcome, field="outcome")
    if not decided and not result:
        raise InvalidInput(
            N_("Write the prosecution's decision or the outcome."), field="prosecution_decision"
        )
    told_decision = decided and decided != case.prosecution_decision
    told_outcome = result and result != case.outcome
    case.prosecution_decision = decided or case.prosecution_decision
    case.outcome = result or case.outcome
    details: dict[str, str | int | bool | None] = {"outcome": bool(case.outcome)}
    note_change(
        session, incident, case, "prosecution_recorded", actor=actor, now=now, details=details
    )
    if told_decision:
        tell_reporter(session, case.report_id, UpdateKind.PROSECUTION_DECISION, now=now)
    if told_outcome:
        tell_reporter(session, case.report_id, UpdateKind.OUTCOME, now=now)
    return case


def record_damage(
    session: Session,
    *,
    incident_id: int,
    statement: str,
    amount_cents: int | None,
    recovered_cents: int | None,
    actor: Actor,
    now: datetime,
) -> StaffCase:
    """The damage statement, its amount and what was recovered of it (in cents)."""
    incident, case = writable_case(session, incident_id, now=now)
    text = checked_text(statement, field="damage_statement", limit=20_000)
    amount = _cents(amount_cents, field="damage_amount")
    recovered = _cents(recovered_cents, field="damage_recovered")
    if amount is not None and recovered is not None and recovered > amount:
        raise InvalidInput(
            N_("More cannot be recovered than the damage amounts to."), field="damage_recovered"
        )
    newly_recovered = recovered is not None and recovered != (case.damage_recovered_cents or 0)
    case.damage_statement = text
    case.damage_amount_cents, case.damage_recovered_cents = amount, recovered
    details: dict[str, str | int | bool | None] = {
        "amount_cents": amount,
        "recovered_cents": recovered,
    }
    note_change(session, incident, case, "damage_recorded", actor=actor, now=now, details=details)
    if newly_recovered and recovered:
        tell_reporter(
            session,
            case.report_id,
            UpdateKind.DAMAGE_RECOVERED,
            now=now,
            details={"recovered_cents": recovered},
        )
    return case


def _cents(value: int | None, *, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or value < 0 or value > MAX_CENTS:
        raise InvalidInput(N_("Give an amount of zero or more euros."), field=field)
    return value
