"""The purge: reports past their retention are removed, and a tombstone is left in their place.

``purge_expired`` (the daily job ``staff_safety.purge_expired``) takes every submitted report
whose case closed more than its category's retention ago (``staff_safety.retention``), is
closed now and not on legal hold, and for each:

* writes a ``ReportTombstone`` (number, incident reference, category, location, month,
  reported to the police, aftercare taken, when, by whom, why): statistics keep counting it;
* deletes the report's people and updates, the report itself, and every vault identity (and
  its blind-index rows) no other report, person row or measure still refers to;
* deletes the incident's evidence: the custody entries, the rows, and, once the transaction
  has committed, the files under the data directory (a rollback keeps them);
* redacts the incident: the title becomes the report number + " (purged)", description and
  summary are emptied, comments and entities (case references, e-mail addresses) are
  deleted, approval notes and the staff case's free texts are emptied. The incident row, its
  timeline and the audit trail stay: the audit chain is never touched, so it still verifies;
* audits ``staff_report.purged`` (number and reason) and adds ``report_purged`` to the
  timeline.

Drafts not changed for 30 days are deleted too (``staff_report.draft_purged``).
Measures against a perpetrator are a register of their own and are not purged here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from sqlalchemy import delete, event, exists, or_, select, update
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core.settings import Settings
from incidents.cases.models import Incident, IncidentComment, IncidentEntity
from incidents.cases.timeline import add_entry
from incidents.evidence import CustodyEntry, Evidence
from incidents.evidence import store as evidence_store
from staff_safety.models import (
    Approval,
    PerpetratorMeasure,
    ReportPerson,
    ReportStatus,
    ReportTombstone,
    ReportUpdate,
    StaffCase,
    StaffReport,
    VaultIdentity,
    VaultIndex,
)
from staff_safety.retention import purge_due_at, retention_years, years_for
from staff_safety.statistics import is_aftercare_taken, is_reported_to_police, month_of
from staff_safety.vault import keyring_for
from staff_safety.vault_crypto import VaultKeyring

DRAFT_DAYS: Final = 30
BATCH: Final = 100
_FILES: Final = "wachter.staff_safety.purged_files"
_CASE_TEXTS: Final = (
    "first_care_note",
    "risk_assessment",
    "aftercare_note",
    "police_decision_reason",
    "prosecution_decision",
    "outcome",
    "damage_statement",
    "evaluation",
    "police_unit",
)


def purge_expired(
    session: Session,
    keyring: VaultKeyring,
    *,
    now: datetime,
    settings: Settings,
    actor: Actor | None = None,
    limit: int = BATCH,
) -> int:
    """Purge up to ``limit`` expired reports and stale drafts; returns how many were removed.

    ``keyring`` is not needed to delete sealed identities (whole rows go); it is taken so the
    purge runs with the vault it belongs to, as every vault operation does.
    """
    del keyring
    who = actor or Actor.system()
    table = retention_years(settings)
    query = (
        select(StaffReport, StaffCase, Incident)
        .join(StaffCase, StaffCase.report_id == StaffReport.id)
        .join(Incident, Incident.id == StaffCase.incident_id)
        .where(
            StaffReport.status == ReportStatus.SUBMITTED.value,
            Incident.state == "closed",
            Incident.closed_at.is_not(None),
            StaffCase.legal_hold.is_(False),
        )
        .order_by(Incident.closed_at, StaffReport.id)
    )
    purged = 0
    for report, case, incident in session.execute(query).all():
        if purged >= limit:
            break
        assert incident.closed_at is not None  # the query asks for it
        years = years_for(table, report.category)
        if purge_due_at(incident.closed_at, years) > now:
            continue
        reason = f"retention: {report.category or 'unknown'}, {years} years"
        _purge_report(
            session, report, case, incident, reason=reason, actor=who, now=now, settings=settings
        )
        purged += 1
    return purged + _purge_drafts(session, now=now, actor=who, limit=max(limit - purged, 0))


def purge_run(settings: Settings) -> Callable[[Session, datetime], bool]:
    """The daily job: one batch per transaction, True while more may be waiting.

    The retention file and the vault keys are read once here, when ``serve`` or ``worker``
    makes its jobs: a bad file stops the start with its file and line, not a night later.
    """
    retention_years(settings)
    keyring = keyring_for(settings)

    def run(session: Session, now: datetime) -> bool:
        return purge_expired(session, keyring, now=now, settings=settings) >= BATCH

    return run


def _purge_report(
    session: Session,
    report: StaffReport,
    case: StaffCase,
    incident: Incident,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
) -> None:
    session.add(
        _tombstone(report, case, incident, reason=reason, actor=actor, now=now, settings=settings)
    )
    pseudonyms = _pseudonyms_of(session, report)
    session.execute(delete(ReportPerson).where(ReportPerson.report_id == report.id))
    session.execute(delete(ReportUpdate).where(ReportUpdate.report_id == report.id))
    case.report_id = None
    for name in _CASE_TEXTS:
        setattr(case, name, "")
    case.police_registration_number = None
    case.updated_at = now
    session.flush()
    number, report_id = report.number, report.id
    session.delete(report)
    session.flush()
    _forget_identities(session, pseudonyms)
    _remove_evidence(session, incident.id, settings.data_dir)
    _redact_incident(session, incident, number=number, now=now)
    add_entry(
        session,
        incident_id=incident.id,
        kind="report_purged",
        actor=actor.name,
        now=now,
        details={"report": number},
    )
    record_audit(
        session,
        actor=actor,
        action="staff_report.purged",
        target=f"staff_report:{report_id}",
        outcome="success",
        now=now,
        details={"number": number, "incident": incident.reference, "reason": reason},
    )


def _tombstone(
    report: StaffReport,
    case: StaffCase,
    incident: Incident,
    *,
    reason: str,
    actor: Actor,
    now: datetime,
    settings: Settings,
) -> ReportTombstone:
    made = report.submitted_at or report.created_at
    return ReportTombstone(
        report_id=report.id,
        number=report.number,
        incident_reference=incident.reference,
        category=report.category,
        location=report.location,
        month=month_of(made, settings.timezone),
        reported_to_police=is_reported_to_police(case),
        aftercare_taken=is_aftercare_taken(case),
        purged_at=now,
        purged_by=actor.name,
        reason=reason[:200],
    )


def _pseudonyms_of(session: Session, report: StaffReport) -> set[str]:
    found = {
        pseudonym
        for pseudonym in (
            report.reporter_pseudonym,
            report.victim_pseudonym,
            report.perpetrator_pseudonym,
        )
        if pseudonym
    }
    found.update(
        session.scalars(select(ReportPerson.pseudonym).where(ReportPerson.report_id == report.id))
    )
    return found


def _forget_identities(session: Session, pseudonyms: set[str]) -> None:
    """Delete the identities nothing refers to any more (other reports, people, measures)."""
    for pseudonym in sorted(pseudonyms):
        in_use = session.scalar(
            select(
                exists().where(
                    or_(
                        StaffReport.reporter_pseudonym == pseudonym,
                        StaffReport.victim_pseudonym == pseudonym,
                        StaffReport.perpetrator_pseudonym == pseudonym,
                    )
                )
                | exists().where(ReportPerson.pseudonym == pseudonym)
                | exists().where(PerpetratorMeasure.perpetrator_pseudonym == pseudonym)
            )
        )
        if in_use:
            continue
        identity_id = session.scalar(
            select(VaultIdentity.id).where(VaultIdentity.pseudonym == pseudonym)
        )
        if identity_id is not None:
            session.execute(delete(VaultIndex).where(VaultIndex.identity_id == identity_id))
            session.execute(delete(VaultIdentity).where(VaultIdentity.id == identity_id))


def _remove_evidence(session: Session, incident_id: int, data_dir: Path) -> None:
    evidence = list(session.scalars(select(Evidence).where(Evidence.incident_id == incident_id)))
    if not evidence:
        return
    ids = [item.id for item in evidence]
    directory = evidence_store.store_directory(data_dir)
    paths = [evidence_store.stored_path(directory, item.stored_name) for item in evidence]
    session.execute(delete(CustodyEntry).where(CustodyEntry.evidence_id.in_(ids)))
    session.execute(delete(Evidence).where(Evidence.id.in_(ids)))
    _remove_after_commit(session, paths)


def _remove_after_commit(session: Session, paths: list[Path]) -> None:
    """The files go only when the rows' deletion is committed; a rollback keeps both."""
    session.info.setdefault(_FILES, []).extend(paths)
    if not event.contains(session, "after_commit", _remove_files):
        event.listen(session, "after_commit", _remove_files)
        event.listen(session, "after_rollback", _forget_files)


def _remove_files(session: Session) -> None:
    for path in session.info.pop(_FILES, []):
        evidence_store.discard(path)


def _forget_files(session: Session) -> None:
    session.info.pop(_FILES, None)


def _redact_incident(
    session: Session, incident: Incident, *, number: str | None, now: datetime
) -> None:
    incident.title = f"{number or incident.reference} (purged)"
    incident.description = ""
    incident.summary = ""
    incident.updated_at = now
    session.execute(delete(IncidentComment).where(IncidentComment.incident_id == incident.id))
    session.execute(delete(IncidentEntity).where(IncidentEntity.incident_id == incident.id))
    session.execute(update(Approval).where(Approval.incident_id == incident.id).values(note=""))
    session.flush()


def _purge_drafts(session: Session, *, now: datetime, actor: Actor, limit: int) -> int:
    stale = list(
        session.scalars(
            select(StaffReport)
            .where(
                StaffReport.status == ReportStatus.DRAFT.value,
                StaffReport.updated_at < now - timedelta(days=DRAFT_DAYS),
            )
            .order_by(StaffReport.id)
            .limit(limit)
        )
    )
    for draft in stale:
        draft_id = draft.id
        session.execute(delete(ReportPerson).where(ReportPerson.report_id == draft_id))
        session.execute(delete(ReportUpdate).where(ReportUpdate.report_id == draft_id))
        session.delete(draft)
        session.flush()
        record_audit(
            session,
            actor=actor,
            action="staff_report.draft_purged",
            target=f"staff_report:{draft_id}",
            outcome="success",
            now=now,
            details={"unchanged_days": DRAFT_DAYS},
        )
    return len(stale)
