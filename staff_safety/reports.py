"""Aggression reports: drafts, sending one, and "my reports" (officers' list: ``report_facts``).

A member of staff fills in ``ReportInput`` (``staff_safety.report_input``). A draft keeps
the facts in its columns and the people (victim, witnesses, perpetrator) as one JSON object
sealed under the vault key for record ``draft:<id>``; only its own reporter can open, change,
send or delete it (anyone else gets ``NotFound``, as if it did not exist). Sending a report
puts every person in the identity vault (``vault.keep_identity``: the same case reference,
e-mail or phone finds the same perpetrator again), numbers it ``MEL-<year>-<id>``, opens its
staff-safety incident, stores it as an event for the staff-threat rules, tells the reporter
it was received and audits it, all in the caller's transaction.

Whatever the reporter does on the incident (opening it, adding files) is recorded under the
reporter's *pseudonym* (``reporter_actor``), so officers reading the timeline see who was
involved only as ``P-XXXX-XXXX``. The reporter sees their own report through
``reporter_view``: the facts, a plain phase and the updates, never the risk assessment,
notes, approvals or anyone else's pseudonym.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit, record_read
from access_control.models import User
from core import NotFound
from core.i18n import N_
from incidents.cases.models import Incident
from staff_safety.cases import open_case_for_report
from staff_safety.models import (
    Category,
    Location,
    PersonRole,
    ReportPerson,
    ReportStatus,
    ReportUpdate,
    StaffReport,
)
from staff_safety.report_events import record_report_event
from staff_safety.report_input import ReportInput, check_complete
from staff_safety.updates import UpdateKind, mark_seen, tell_reporter, updates_of
from staff_safety.vault import Person, keep_identity, pseudonym_of_user
from staff_safety.vault_crypto import VaultKeyring, open_sealed, seal

_NO_REPORT: Final = N_("No such report.")


def reporter_actor(pseudonym: str, actor: Actor) -> Actor:
    """The reporter as the incident's timeline, evidence and audit see them: a pseudonym."""
    return Actor(
        name=pseudonym,
        user_id=actor.user_id,
        ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
    )


def _reporter_pseudonym(
    session: Session, keyring: VaultKeyring, user: User, *, now: datetime
) -> str:
    identity = keep_identity(
        session,
        keyring,
        Person(
            user_id=user.id,
            account_name=user.username,
            name=user.display_name,
            email=user.email or "",
        ),
        now=now,
    )
    assert identity is not None  # a user id is always known
    return identity.pseudonym


def save_draft(
    session: Session,
    keyring: VaultKeyring,
    *,
    user: User,
    data: ReportInput,
    draft_id: int | None = None,
    actor: Actor,
    now: datetime,
) -> StaffReport:
    """Keep an incomplete report; its people sealed, its facts in the columns."""
    pseudonym = _reporter_pseudonym(session, keyring, user, now=now)
    if draft_id is None:
        report = StaffReport(
            status=ReportStatus.DRAFT.value,
            reporter_pseudonym=pseudonym,
            created_at=now,
            updated_at=now,
        )
        session.add(report)
    else:
        report = _own_draft(session, pseudonym, draft_id)
    _fill_facts(report, data)
    report.updated_at = now
    session.flush()  # the id names the sealed record
    report.draft_people = seal(
        keyring,
        json.dumps(data.people(), sort_keys=True),
        record=f"draft:{report.id}",
        field="people",
    )
    record_audit(
        session,
        actor=reporter_actor(pseudonym, actor),
        action="staff_report.draft_saved",
        target=f"staff_report:{report.id}",
        outcome="success",
        now=now,
    )
    return report


def draft_input(keyring: VaultKeyring, report: StaffReport) -> ReportInput:
    """A draft as the form shows it again: its facts and its unsealed people."""
    people: dict[str, object] = {}
    if report.draft_people is not None:
        people = json.loads(
            open_sealed(keyring, report.draft_people, record=f"draft:{report.id}", field="people")
        )
    witnesses = people.get("witness_names")
    return ReportInput(
        occurred_at=report.occurred_at,
        location=Location(report.location) if report.location else None,
        category=Category(report.category) if report.category else None,
        description=report.description or "",
        weapon=bool(report.weapon),
        injury=bool(report.injury),
        absence=bool(report.absence),
        others_present=report.others_present or "",
        witness_names=tuple(str(name) for name in witnesses) if isinstance(witnesses, list) else (),
        victim_is_reporter=people.get("victim_is_reporter", True) is not False,
        victim_name=str(people.get("victim_name") or ""),
        perpetrator_name=str(people.get("perpetrator_name") or ""),
        perpetrator_case_reference=str(people.get("case_reference") or ""),
        perpetrator_email=str(people.get("email") or ""),
        perpetrator_phone=str(people.get("phone") or ""),
        perpetrator_description=report.perpetrator_known or "",
        wants_aftercare=report.wants_aftercare,
        wants_police_report=report.wants_police_report,
    )


def delete_draft(
    session: Session,
    keyring: VaultKeyring,
    *,
    user_id: int,
    draft_id: int,
    actor: Actor,
    now: datetime,
) -> None:
    pseudonym = pseudonym_of_user(session, keyring, user_id) or ""
    report = _own_draft(session, pseudonym, draft_id)
    session.delete(report)
    record_audit(
        session,
        actor=reporter_actor(pseudonym, actor),
        action="staff_report.draft_deleted",
        target=f"staff_report:{draft_id}",
        outcome="success",
        now=now,
    )
    session.flush()


def own_draft(session: Session, keyring: VaultKeyring, user_id: int, draft_id: int) -> StaffReport:
    """The user's own draft, or ``NotFound`` (also for someone else's, or a sent report)."""
    return _own_draft(session, pseudonym_of_user(session, keyring, user_id) or "", draft_id)


def _own_draft(session: Session, pseudonym: str, draft_id: int) -> StaffReport:
    report = session.get(StaffReport, draft_id)
    if (
        report is None
        or report.status != ReportStatus.DRAFT
        or not pseudonym
        or report.reporter_pseudonym != pseudonym
    ):
        raise NotFound(N_("No such draft."))
    return report


def _fill_facts(report: StaffReport, data: ReportInput) -> None:
    report.occurred_at = data.occurred_at
    report.location = data.location.value if data.location else None
    report.category = data.category.value if data.category else None
    report.description = data.description
    report.weapon, report.injury, report.absence = data.weapon, data.injury, data.absence
    report.others_present = data.others_present
    report.perpetrator_known = data.perpetrator_description
    report.wants_aftercare = data.wants_aftercare
    report.wants_police_report = data.wants_police_report


def submit_report(
    session: Session,
    keyring: VaultKeyring,
    *,
    user: User,
    data: ReportInput,
    draft_id: int | None = None,
    actor: Actor,
    now: datetime,
) -> StaffReport:
    """Send a report: vault its people, number it, open its incident, event, update, audit."""
    check_complete(data, now=now)
    pseudonym = _reporter_pseudonym(session, keyring, user, now=now)
    draft = None if draft_id is None else _own_draft(session, pseudonym, draft_id)
    people = _keep_people(session, keyring, data, reporter=pseudonym, now=now)
    report = draft or StaffReport(reporter_pseudonym=pseudonym, created_at=now)
    _fill_facts(report, data)
    report.victim_pseudonym = people[PersonRole.VICTIM][0]
    perpetrators = people.get(PersonRole.PERPETRATOR, [])
    report.perpetrator_pseudonym = perpetrators[0] if perpetrators else None
    report.status, report.submitted_at, report.updated_at = ReportStatus.SUBMITTED, now, now
    report.draft_people = None
    session.add(report)
    session.flush()
    report.number = f"MEL-{now.year}-{report.id:05d}"
    for role, pseudonyms in people.items():
        for each in dict.fromkeys(pseudonyms):  # a witness named twice is one row
            session.add(ReportPerson(report_id=report.id, role=role.value, pseudonym=each))
    as_reporter = reporter_actor(pseudonym, actor)
    incident, _case = open_case_for_report(session, report, actor=as_reporter, now=now)
    record_report_event(session, report, incident_reference=incident.reference, now=now)
    tell_reporter(session, report.id, UpdateKind.SUBMITTED, now=now, details={})
    record_audit(
        session,
        actor=as_reporter,
        action="staff_report.submitted",
        target=f"staff_report:{report.id}",
        outcome="success",
        now=now,
        details={"number": report.number, "category": report.category},
    )
    return report


def _keep_people(
    session: Session, keyring: VaultKeyring, data: ReportInput, *, reporter: str, now: datetime
) -> dict[PersonRole, list[str]]:
    """Every person of the report in the vault; their pseudonyms by role."""
    people: dict[PersonRole, list[str]] = {PersonRole.REPORTER: [reporter]}
    victim = reporter
    if not data.victim_is_reporter:
        kept = keep_identity(session, keyring, Person(name=data.victim_name), now=now)
        victim = kept.pseudonym if kept is not None else reporter
    people[PersonRole.VICTIM] = [victim]
    witnesses = [
        keep_identity(session, keyring, Person(name=name), now=now) for name in data.witness_names
    ]
    people[PersonRole.WITNESS] = [kept.pseudonym for kept in witnesses if kept is not None]
    if data.knows_perpetrator:
        perpetrator = keep_identity(
            session,
            keyring,
            Person(
                name=data.perpetrator_name,
                case_reference=data.perpetrator_case_reference,
                email=data.perpetrator_email,
                phone=data.perpetrator_phone,
            ),
            now=now,
        )
        if perpetrator is not None:
            people[PersonRole.PERPETRATOR] = [perpetrator.pseudonym]
    return people


# The reporter's own reports -------------------------------------------------------------------


@dataclass(frozen=True)
class MyReport:
    report: StaffReport
    phase: str | None  # the incident's state; None for a draft
    new_updates: int


def my_reports(session: Session, keyring: VaultKeyring, user_id: int) -> list[MyReport]:
    """The user's drafts and sent reports, newest first."""
    pseudonym = pseudonym_of_user(session, keyring, user_id)
    if pseudonym is None:
        return []
    rows = session.execute(
        select(StaffReport, Incident.state)
        .outerjoin(Incident, Incident.id == StaffReport.incident_id)
        .where(StaffReport.reporter_pseudonym == pseudonym)
        .order_by(StaffReport.updated_at.desc(), StaffReport.id.desc())
    ).all()
    unseen = dict(
        session.execute(
            select(ReportUpdate.report_id, func.count(ReportUpdate.id))
            .join(StaffReport, StaffReport.id == ReportUpdate.report_id)
            .where(StaffReport.reporter_pseudonym == pseudonym, ReportUpdate.seen_at.is_(None))
            .group_by(ReportUpdate.report_id)
        ).all()
    )
    return [MyReport(report, state, int(unseen.get(report.id, 0))) for report, state in rows]


def own_report(
    session: Session, keyring: VaultKeyring, user_id: int, number_or_id: str | int
) -> StaffReport:
    """The user's own report by number (``MEL-2026-00042``) or id; ``NotFound`` otherwise."""
    pseudonym = pseudonym_of_user(session, keyring, user_id)
    if isinstance(number_or_id, int):
        report = session.get(StaffReport, number_or_id)
    else:
        report = session.scalars(
            select(StaffReport).where(StaffReport.number == number_or_id[:30])
        ).first()
    if report is None or pseudonym is None or report.reporter_pseudonym != pseudonym:
        raise NotFound(_NO_REPORT)
    return report


@dataclass(frozen=True)
class SeenUpdate:
    occurred_at: datetime
    kind: str
    is_new: bool


@dataclass(frozen=True)
class ReporterView:
    """What the reporter may see of their report: their own facts, a phase, the updates."""

    number: str | None
    submitted_at: datetime | None
    occurred_at: datetime | None
    location: str | None
    category: str | None
    description: str
    weapon: bool
    injury: bool
    absence: bool
    others_present: str
    perpetrator_description: str
    wants_aftercare: bool | None
    wants_police_report: bool | None
    phase: str | None
    updates: tuple[SeenUpdate, ...]


def reporter_view(
    session: Session, report: StaffReport, *, actor: Actor, now: datetime
) -> ReporterView:
    """The reporter's page of a sent report; opening it marks its updates seen (audited)."""
    incident = session.get(Incident, report.incident_id) if report.incident_id else None
    updates = tuple(
        SeenUpdate(row.occurred_at, row.kind, row.seen_at is None)
        for row in updates_of(session, report.id)
    )
    mark_seen(session, report.id, now=now)
    record_read(
        session,
        actor=reporter_actor(report.reporter_pseudonym, actor),
        record_type="staff_report",
        record_id=report.id,
        now=now,
    )
    return ReporterView(
        number=report.number,
        submitted_at=report.submitted_at,
        occurred_at=report.occurred_at,
        location=report.location,
        category=report.category,
        description=report.description or "",
        weapon=bool(report.weapon),
        injury=bool(report.injury),
        absence=bool(report.absence),
        others_present=report.others_present or "",
        perpetrator_description=report.perpetrator_known or "",
        wants_aftercare=report.wants_aftercare,
        wants_police_report=report.wants_police_report,
        phase=incident.state if incident is not None else None,
        updates=updates,
    )
