"""What officers did with the demo's aggression reports, through the staff-safety workflow.

Older cases went the whole way (first care, registration, a police-report decision,
aftercare, evaluation, closed); cases of the last weeks are registered and wait for the
police-report decision; the last few days' reports are still new, so their deadlines run.
The one case of physical violence is at aftercare with a police report filed. Each step
goes through ``staff_safety.workflow``, ``police`` and ``aftercare`` at the moment it was
taken, so the guards, the timeline and what the reporter is told are Wachter's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from sqlalchemy.orm import Session

from access_control import Actor
from staff_safety import aftercare, police, workflow
from staff_safety.models import Category, StaffReport

CLOSED_AFTER: Final = timedelta(days=35)  # reports older than this were handled completely
REGISTERED_AFTER: Final = timedelta(days=4)
FIRST_CARE: Final = "Collega opgevangen en gesproken; teamleider ingelicht."
RISK: Final = "Eenmalig voorval; geen aanwijzingen voor herhaling."
VIOLENCE_RISK: Final = "Fysiek geweld; dader bekend bij de balie. Kans op herhaling."
NO_POLICE: Final = "Collega wil geen aangifte; melding geregistreerd bij de teamleider."
EVALUATION: Final = "Besproken in het teamoverleg; balie-instructie opgefrist."


def work_case(
    session: Session, report: StaffReport, *, sent_at: datetime, officer: Actor, address: str,
    now: datetime,
) -> str:  # fmt: skip
    """Move the report's case as far as an officer would have by ``now``; the state reached."""
    assert report.incident_id is not None  # a sent report has its incident
    step = _Steps(session, report.incident_id, officer, sent_at)
    age = now - sent_at
    if report.category == Category.PHYSICAL_VIOLENCE:
        return _violence(step, address)
    if age < REGISTERED_AFTER:
        return "reported"
    step.register(RISK, level="low")
    if age < CLOSED_AFTER:
        return "registered"
    step.advance("police_report_decision", hours=24)
    police.record_decision(
        session, incident_id=step.incident_id, decision="none", reason=NO_POLICE,
        actor=officer, now=step.at(25),
    )  # fmt: skip
    step.advance("aftercare", hours=25.5)
    step.aftercare("declined", hours=48)
    # Evaluated after one to three weeks (varied per report, so MTTR has a trend to show).
    days = 7 + (report.id * 7) % 15
    for state, hours in (("measures", 49), ("evaluation", 24 * days)):
        step.advance(state, hours=hours)
    workflow.record_evaluation(
        session, incident_id=step.incident_id, evaluation=EVALUATION, actor=officer,
        now=step.at(24 * (days + 1)),
    )  # fmt: skip
    workflow.advance(
        session, step.incident_id, "closed", resolution="resolved",
        summary="Afgehandeld; geen verdere maatregelen.", actor=officer,
        now=step.at(24 * (days + 1.1)),
    )  # fmt: skip
    return "closed"


def _violence(step: _Steps, address: str) -> str:
    """First care at once, registered high, a police report filed, aftercare contact."""
    step.register(VIOLENCE_RISK, level="high")
    step.advance("police_report_decision", hours=21)
    police.record_decision(
        step.session, incident_id=step.incident_id, decision="victim_with_support",
        domicile=address, actor=step.officer, now=step.at(22),
    )  # fmt: skip
    police.record_filing(
        step.session, incident_id=step.incident_id, filed_at=step.at(26),
        registration_number="PL1500-2026-0042", unit="Politie Den Haag, bureau Centrum",
        actor=step.officer, now=step.at(27),
    )  # fmt: skip
    step.advance("aftercare", hours=28)
    step.aftercare("contact", hours=50)
    return "aftercare"


class _Steps:
    """One case's steps, each a number of hours after the report was sent."""

    def __init__(self, session: Session, incident_id: int, officer: Actor, sent_at: datetime):
        self.session, self.incident_id, self.officer, self.sent_at = (
            session, incident_id, officer, sent_at,
        )  # fmt: skip

    def at(self, hours: float) -> datetime:
        return self.sent_at + timedelta(hours=hours)

    def advance(self, state: str, *, hours: float) -> None:
        workflow.advance(
            self.session, self.incident_id, state, actor=self.officer, now=self.at(hours)
        )

    def register(self, assessment: str, *, level: str) -> None:
        workflow.record_first_care(
            self.session, incident_id=self.incident_id, note=FIRST_CARE, actor=self.officer,
            now=self.at(1),
        )  # fmt: skip
        self.advance("first_care", hours=1.1)
        workflow.register(
            self.session, incident_id=self.incident_id, risk_level=level,
            risk_assessment=assessment, actor=self.officer, now=self.at(20),
        )  # fmt: skip
        self.advance("registered", hours=20.1)

    def aftercare(self, step: str, *, hours: float) -> None:
        aftercare.record_aftercare(
            self.session, incident_id=self.incident_id, step=step, at=self.at(hours),
            note="", actor=self.officer, now=self.at(hours),
        )  # fmt: skip
