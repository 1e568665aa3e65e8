"""Four eyes: a measure against a perpetrator, and a police report the employer files on the
victim's behalf, need a second person's approval.

One person asks (``request_approval``), another decides (``decide``). The decider must be a
different user account than the one who asked: the check is on user ids, not names, and a
request made without a user (a command line, a job) can only be decided by a person. Every
request and decision is audited and written to the incident's timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, NotFound, PermissionDenied
from core.i18n import N_
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from staff_safety.models import Approval, ApprovalOutcome, ApprovalSubject

MAX_NOTE: Final = 2000


def request_approval(
    session: Session,
    *,
    incident_id: int,
    subject: ApprovalSubject,
    measure_id: int | None = None,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> Approval:
    """Ask for a second person's approval; one open request per subject at a time."""
    incident = writable_incident(session, incident_id)
    if pending_approval(session, incident_id=incident_id, subject=subject, measure_id=measure_id):
        raise Conflict(N_("An approval for this is already waiting for a second person."))
    approval = Approval(
        incident_id=incident.id,
        subject=ApprovalSubject(subject).value,
        measure_id=measure_id,
        outcome=ApprovalOutcome.PENDING.value,
        requested_at=now,
        requested_by=actor.name,
        requested_by_user_id=actor.user_id,
        note=_checked_note(note),
    )
    session.add(approval)
    session.flush()
    record_change(
        session,
        incident,
        action="approval_requested",
        kind="approval_requested",
        actor=actor,
        now=now,
        details={"approval_id": approval.id, "subject": approval.subject, "measure_id": measure_id},
    )
    return approval


def decide(
    session: Session,
    approval_id: int,
    *,
    approve: bool,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> Approval:
    """Approve or reject; never by the person who asked, and only while it is pending."""
    approval = session.get(Approval, approval_id)
    if approval is None:
        raise NotFound(N_("No such approval."))
    if approval.outcome != ApprovalOutcome.PENDING:
        raise Conflict(N_("This approval was already decided."))
    if actor.user_id is None or actor.user_id == approval.requested_by_user_id:
        raise PermissionDenied(
            N_("A second person must decide: you cannot approve what you asked for yourself.")
        )
    text = _checked_note(note)
    if not approve and not text:
        raise InvalidInput(N_("Say why you reject it."), field="note")
    incident = writable_incident(session, approval.incident_id)
    approval.outcome = (ApprovalOutcome.APPROVED if approve else ApprovalOutcome.REJECTED).value
    approval.decided_at, approval.decided_by = now, actor.name
    approval.decided_by_user_id = actor.user_id
    if text:
        approval.note = f"{approval.note}\n\n{text}".strip()
    record_change(
        session,
        incident,
        action="approval_decided",
        kind="approval_decided",
        actor=actor,
        now=now,
        details={
            "approval_id": approval.id,
            "subject": approval.subject,
            "measure_id": approval.measure_id,
            "outcome": approval.outcome,
        },
    )
    return approval


def pending_approval(
    session: Session, *, incident_id: int, subject: ApprovalSubject, measure_id: int | None = None
) -> Approval | None:
    return _latest(session, incident_id, subject, measure_id, ApprovalOutcome.PENDING)


def approved(
    session: Session, *, incident_id: int, subject: ApprovalSubject, measure_id: int | None = None
) -> Approval | None:
    """The approval this subject got, if a second person gave one."""
    return _latest(session, incident_id, subject, measure_id, ApprovalOutcome.APPROVED)


def approvals_of(session: Session, incident_id: int) -> list[Approval]:
    """Every approval of an incident, newest first."""
    return list(
        session.scalars(
            select(Approval).where(Approval.incident_id == incident_id).order_by(Approval.id.desc())
        )
    )


def _latest(
    session: Session,
    incident_id: int,
    subject: ApprovalSubject,
    measure_id: int | None,
    outcome: ApprovalOutcome,
) -> Approval | None:
    query = select(Approval).where(
        Approval.incident_id == incident_id,
        Approval.subject == ApprovalSubject(subject).value,
        Approval.outcome == outcome.value,
    )
    if measure_id is not None:
        query = query.where(Approval.measure_id == measure_id)
    return session.scalars(query.order_by(Approval.id.desc()).limit(1)).first()


def _checked_note(note: str) -> str:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            N_("A note is at most %(limit)d characters."), field="note", limit=MAX_NOTE
        )
    return text
