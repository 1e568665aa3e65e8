"""The measures register: a warning letter, a building ban or a contact restriction against a
perpetrator (known only by pseudonym), each on a legal basis, with a review date and an expiry.

A measure is *proposed* by one officer and needs a second officer's approval (four eyes,
``staff_safety.approvals``) before it is *active*; it is *ended* early with a reason, or
when it expires. A measure counts as in force on a day when it is active and the day lies
between ``starts_on`` and the earlier of ``ends_on`` and ``expires_on``: an expired measure is
not in force even before the job has marked it ended.

Every change is audited and written to the incident's timeline (``record_change``: ids,
pseudonyms and enum values only), and after an activation, end or expiry the detection lists
are rebuilt in the same transaction (``staff_safety.detection_feed``), so a ban takes effect
in the detection engine at the commit. The reporter hears that a measure was taken and its
kind, nothing more.

Limits, kept simple on purpose: a measure runs at most 24 months (``MAX_MONTHS``) from its
start to its expiry; a longer one is a new decision after review.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from access_control import Actor
from core import Conflict, InvalidInput, NotFound
from core.i18n import N_
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from incidents.cases.models import Incident, IncidentType
from staff_safety import approvals
from staff_safety.detection_feed import DEFAULT_TIMEZONE, local_day, sync_detection_lists
from staff_safety.measure_terms import MAX_TEXT, checked_terms
from staff_safety.models import (
    Approval,
    ApprovalOutcome,
    ApprovalSubject,
    ContactMode,
    MeasureKind,
    MeasureStatus,
    PerpetratorMeasure,
    PersonRole,
    ReportPerson,
    StaffCase,
    StaffReport,
    VaultIdentity,
)
from staff_safety.updates import UpdateKind, tell_reporter
from staff_safety.vault_crypto import VaultKeyring, is_pseudonym

MIN_REASON: Final = 5
EXPIRED_REASON: Final = "expired"


def propose_measure(
    session: Session,
    *,
    incident_id: int,
    perpetrator_pseudonym: str,
    kind: MeasureKind | str,
    legal_basis: str,
    starts_on: date | None,
    ends_on: date | None,
    review_on: date | None,
    expires_on: date | None,
    house_rules: str = "",
    contact_mode: ContactMode | str | None = None,
    contact_user_id: int | None = None,
    note: str = "",
    actor: Actor,
    now: datetime,
) -> PerpetratorMeasure:
    """Register a proposed measure and ask a second officer to approve it."""
    incident = _staff_incident(session, incident_id)
    pseudonym = _checked_perpetrator(session, incident.id, perpetrator_pseudonym)
    terms = checked_terms(
        session,
        kind=kind,
        legal_basis=legal_basis,
        starts_on=starts_on,
        ends_on=ends_on,
        review_on=review_on,
        expires_on=expires_on,
        house_rules=house_rules,
        contact_mode=contact_mode,
        contact_user_id=contact_user_id,
        note=note,
    )
    measure = PerpetratorMeasure(
        incident_id=incident.id,
        perpetrator_pseudonym=pseudonym,
        kind=terms.kind.value,
        status=MeasureStatus.PROPOSED.value,
        legal_basis=terms.legal_basis,
        house_rules=terms.house_rules,
        contact_mode=None if terms.contact_mode is None else terms.contact_mode.value,
        contact_user_id=terms.contact_user_id,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
        review_on=terms.review_on,
        expires_on=terms.expires_on,
        note=terms.note,
        created_at=now,
        created_by=actor.name,
    )
    session.add(measure)
    session.flush()
    _record(session, incident, measure, "measure_proposed", actor=actor, now=now)
    approvals.request_approval(
        session,
        incident_id=incident.id,
        subject=ApprovalSubject.MEASURE,
        measure_id=measure.id,
        actor=actor,
        now=now,
    )
    return measure


def decide_measure(
    session: Session,
    keyring: VaultKeyring,
    measure_id: int,
    *,
    approve: bool,
    note: str = "",
    actor: Actor,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> PerpetratorMeasure:
    """The second officer's decision: approved makes it active, rejected (with a reason) not."""
    measure = get_measure(session, measure_id)
    if measure.status != MeasureStatus.PROPOSED or measure.incident_id is None:
        raise Conflict(N_("This measure was already decided."))
    pending = approvals.pending_approval(
        session,
        incident_id=measure.incident_id,
        subject=ApprovalSubject.MEASURE,
        measure_id=measure.id,
    )
    if pending is None:
        raise Conflict(N_("This measure was already decided."))
    decided = approvals.decide(
        session, pending.id, approve=approve, note=note, actor=actor, now=now
    )
    settle_measure(session, keyring, decided, actor=actor, now=now, timezone=timezone)
    return measure


def settle_measure(
    session: Session,
    keyring: VaultKeyring,
    approval: Approval,
    *,
    actor: Actor,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> PerpetratorMeasure | None:
    """Apply a decided measure approval to its measure (also when decided on the case page).

    Returns the measure it changed, or None when there was nothing to do.
    """
    if approval.subject != ApprovalSubject.MEASURE or approval.measure_id is None:
        return None
    measure = session.get(PerpetratorMeasure, approval.measure_id)
    if measure is None or measure.status != MeasureStatus.PROPOSED:
        return None
    if approval.outcome == ApprovalOutcome.APPROVED:
        measure.status = MeasureStatus.ACTIVE.value
        action = "measure_activated"
    elif approval.outcome == ApprovalOutcome.REJECTED:
        measure.status = MeasureStatus.REJECTED.value
        action = "measure_rejected"
    else:
        return None
    incident = writable_incident(session, approval.incident_id)
    _record(session, incident, measure, action, actor=actor, now=now)
    if measure.status == MeasureStatus.ACTIVE:
        case = session.get(StaffCase, incident.id)
        tell_reporter(
            session,
            None if case is None else case.report_id,
            UpdateKind.MEASURE_TAKEN,
            now=now,
            details={"kind": measure.kind},
        )
    _sync(session, keyring, now=now, timezone=timezone)
    return measure


def end_measure(
    session: Session,
    keyring: VaultKeyring,
    measure_id: int,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> PerpetratorMeasure:
    """Lift an active measure early; the reason is kept with the measure (not in the audit)."""
    text = " ".join((reason or "").split())
    if len(text) < MIN_REASON:
        raise InvalidInput(
            N_("Say why the measure ends (at least %(minimum)d characters)."),
            field="reason",
            minimum=MIN_REASON,
        )
    if len(text) > MAX_TEXT:
        raise InvalidInput(
            N_("This is at most %(limit)d characters."), field="reason", limit=MAX_TEXT
        )
    measure = get_measure(session, measure_id)
    if measure.status != MeasureStatus.ACTIVE:
        raise Conflict(N_("Only an active measure can be ended."))
    _end(session, measure, text, "measure_ended", actor=actor, now=now)
    _sync(session, keyring, now=now, timezone=timezone)
    return measure


def expire_measures(
    session: Session, *, now: datetime, actor: Actor, timezone: str = DEFAULT_TIMEZONE
) -> int:
    """Mark ended every active measure whose end or expiry date has passed; how many."""
    today = local_day(now, timezone)
    past = session.scalars(
        select(PerpetratorMeasure)
        .where(
            PerpetratorMeasure.status == MeasureStatus.ACTIVE.value,
            or_(PerpetratorMeasure.expires_on < today, PerpetratorMeasure.ends_on < today),
        )
        .order_by(PerpetratorMeasure.id)
    ).all()
    for measure in past:
        _end(session, measure, EXPIRED_REASON, "measure_expired", actor=actor, now=now)
    return len(past)


def lists_job_run(
    keyring: Callable[[], VaultKeyring], *, timezone: str = DEFAULT_TIMEZONE
) -> Callable[[Session, datetime], None]:
    """The job ``staff_safety.sync_detection_lists``: end what expired, rebuild the lists.

    Run every 5 minutes, so an expiry and the end of the 14-day doxing window take effect
    without anyone acting. ``keyring`` is called at the first run (not when jobs are listed).
    """

    def run(session: Session, now: datetime) -> None:
        expire_measures(session, now=now, actor=Actor.system(), timezone=timezone)
        sync_detection_lists(session, keyring(), now=now, timezone=timezone)

    return run


def get_measure(session: Session, measure_id: int) -> PerpetratorMeasure:
    measure = session.get(PerpetratorMeasure, measure_id)
    if measure is None:
        raise NotFound(N_("There is no such measure."))
    return measure


def active_measures(
    session: Session,
    *,
    on: date,
    kind: MeasureKind | None = None,
    pseudonym: str | None = None,
) -> list[PerpetratorMeasure]:
    """The measures in force on day ``on`` (active, started, not past its end or expiry)."""
    query = select(PerpetratorMeasure).where(
        PerpetratorMeasure.status == MeasureStatus.ACTIVE.value,
        PerpetratorMeasure.starts_on <= on,
        PerpetratorMeasure.expires_on >= on,
        or_(PerpetratorMeasure.ends_on.is_(None), PerpetratorMeasure.ends_on >= on),
    )
    if kind is not None:
        query = query.where(PerpetratorMeasure.kind == MeasureKind(kind).value)
    if pseudonym is not None:
        query = query.where(PerpetratorMeasure.perpetrator_pseudonym == pseudonym)
    return list(session.scalars(query.order_by(PerpetratorMeasure.id)))


def due_for_review(session: Session, *, on: date) -> list[PerpetratorMeasure]:
    """Active, unexpired measures whose review date is ``on`` or earlier."""
    return list(
        session.scalars(
            select(PerpetratorMeasure)
            .where(
                PerpetratorMeasure.status == MeasureStatus.ACTIVE.value,
                PerpetratorMeasure.review_on <= on,
                PerpetratorMeasure.expires_on >= on,
            )
            .order_by(PerpetratorMeasure.review_on, PerpetratorMeasure.id)
        )
    )


def is_due_for_review(measure: PerpetratorMeasure, on: date) -> bool:
    return measure.status == MeasureStatus.ACTIVE and measure.review_on <= on <= measure.expires_on


def find_measures(
    session: Session,
    *,
    status: MeasureStatus | None = None,
    kind: MeasureKind | None = None,
    pseudonym: str | None = None,
    incident_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[PerpetratorMeasure]:
    """The register, newest first, filtered (values already checked by the caller)."""
    query = select(PerpetratorMeasure)
    if status is not None:
        query = query.where(PerpetratorMeasure.status == MeasureStatus(status).value)
    if kind is not None:
        query = query.where(PerpetratorMeasure.kind == MeasureKind(kind).value)
    if pseudonym is not None:
        query = query.where(PerpetratorMeasure.perpetrator_pseudonym == pseudonym)
    if incident_id is not None:
        query = query.where(PerpetratorMeasure.incident_id == incident_id)
    if before_id is not None:
        query = query.where(PerpetratorMeasure.id < before_id)
    return list(session.scalars(query.order_by(PerpetratorMeasure.id.desc()).limit(limit)))


def perpetrators_of(session: Session, incident_id: int) -> list[str]:
    """The perpetrator pseudonyms of the reports of an incident (what a proposal may name)."""
    return list(
        session.scalars(
            select(ReportPerson.pseudonym)
            .join(StaffReport, StaffReport.id == ReportPerson.report_id)
            .where(
                StaffReport.incident_id == incident_id,
                ReportPerson.role == PersonRole.PERPETRATOR.value,
            )
            .distinct()
            .order_by(ReportPerson.pseudonym)
        )
    )


def _checked_perpetrator(session: Session, incident_id: int, pseudonym: str) -> str:
    text = (pseudonym or "").strip().upper()
    if not is_pseudonym(text):
        raise InvalidInput(
            N_("Choose the perpetrator by pseudonym (P-XXXX-XXXX)."),
            field="perpetrator_pseudonym",
        )
    if text in perpetrators_of(session, incident_id):
        return text
    known = session.scalar(select(VaultIdentity.id).where(VaultIdentity.pseudonym == text))
    if known is None:
        raise InvalidInput(
            N_("There is no person %(pseudonym)s."), field="perpetrator_pseudonym", pseudonym=text
        )
    return text


def _staff_incident(session: Session, incident_id: int) -> Incident:
    incident = writable_incident(session, incident_id)
    if incident.type != IncidentType.STAFF_SAFETY:
        raise NotFound(N_("There is no staff-safety case %(id)s."), id=incident_id)
    if incident.state == "closed":
        raise Conflict(N_("The case is closed: reopen it to propose a measure."))
    return incident


def _end(
    session: Session,
    measure: PerpetratorMeasure,
    reason: str,
    action: str,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    measure.status = MeasureStatus.ENDED.value
    measure.ended_at, measure.end_reason = now, reason
    if measure.incident_id is None:
        return
    # An expiry is Wachter's own bookkeeping: recorded even on a merged incident.
    incident = (
        session.get(Incident, measure.incident_id)
        if action == "measure_expired"
        else writable_incident(session, measure.incident_id)
    )
    if incident is not None:
        _record(session, incident, measure, action, actor=actor, now=now)


def _record(
    session: Session,
    incident: Incident,
    measure: PerpetratorMeasure,
    action: str,
    *,
    actor: Actor,
    now: datetime,
) -> None:
    record_change(
        session,
        incident,
        action=action,
        kind=action,
        actor=actor,
        now=now,
        details={
            "measure_id": measure.id,
            "measure_kind": measure.kind,
            "perpetrator": measure.perpetrator_pseudonym,
            "status": measure.status,
        },
    )


def _sync(session: Session, keyring: VaultKeyring, *, now: datetime, timezone: str) -> None:
    sync_detection_lists(session, keyring, now=now, timezone=timezone)
