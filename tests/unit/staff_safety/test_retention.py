"""Retention: the table (defaults and the file), legal hold, and the purge on a real database
(tombstones counted, identities and evidence gone, held and longer-kept cases survive, the
audit chain still verifies)."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control.audit import verify_chain
from access_control.models import AuditEntry
from core import ConfigError, Conflict, InvalidInput, Settings
from incidents.cases.comments import add_comment
from incidents.cases.models import Incident, IncidentComment, TimelineEntry
from incidents.evidence import CustodyEntry, Evidence, add_evidence
from staff_safety.models import (
    ReportPerson,
    ReportStatus,
    ReportTombstone,
    StaffCase,
    StaffReport,
    VaultIdentity,
    VaultIndex,
)
from staff_safety.purge import purge_expired
from staff_safety.retention import (
    DEFAULT_YEARS,
    cases_on_hold,
    release_legal_hold,
    retention_years,
    set_legal_hold,
)
from staff_safety.statistics import Period, report_statistics
from staff_safety.vault import Person, keyring_for
from tests.unit.staff_safety.test_dossier import OFFICER, submitted_report
from wachter.jobs import jobs_for

NOW = datetime(2029, 6, 1, 3, 0, tzinfo=UTC)
SUBMITTED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CLOSED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)  # three years and a month before NOW


def test_the_defaults_keep_violence_threats_and_doxing_five_years_the_rest_two() -> None:
    assert DEFAULT_YEARS["physical_violence"] == 5
    assert DEFAULT_YEARS["threat_online"] == 5
    assert DEFAULT_YEARS["doxing"] == 5
    assert DEFAULT_YEARS["verbal_abuse"] == 2
    assert DEFAULT_YEARS["vandalism"] == 2


def _with_file(settings: Settings, tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "retention.yml"
    path.write_text(text, encoding="utf-8")
    return replace(settings, staff_retention_file=path)


def test_the_file_overrides_the_defaults(settings: Settings, tmp_path: Path) -> None:
    table = retention_years(_with_file(settings, tmp_path, "verbal_abuse: 3\ndoxing: 10\n"))

    assert table["verbal_abuse"] == 3
    assert table["doxing"] == 10
    assert table["vandalism"] == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("verbal_abuse: 3\nverbal_abus: 4\n", "line 2: unknown category 'verbal_abus'"),
        ("doxing: five\n", "line 1: doxing: give a whole number of years from 1 to 100"),
        ("doxing: 0\n", "line 1: doxing: give a whole number"),
        ("doxing: 3\ndoxing: 4\n", "line 2: 'doxing' is given twice (first on line 1)"),
        ("- doxing\n", "line 1: must be a mapping"),
        ("doxing: [3\n", "not valid YAML"),
    ],
)
def test_a_bad_retention_file_is_refused_with_its_file_and_line(
    settings: Settings, tmp_path: Path, text: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        retention_years(_with_file(settings, tmp_path, text))

    assert refused.value.variable == "WACHTER_STAFF_RETENTION_FILE"
    assert f"{tmp_path / 'retention.yml'}" in str(refused.value)
    assert problem in str(refused.value)


def test_a_bad_retention_file_stops_the_jobs_from_being_made(
    settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as refused:
        jobs_for(_with_file(settings, tmp_path, "verbal_abus: 4\n"))

    assert "line 1: unknown category 'verbal_abus'" in str(refused.value)


def test_a_legal_hold_is_set_and_released_with_a_reason_audited_and_on_the_timeline(
    db_session: Session, settings: Settings
) -> None:
    _report, incident, case = submitted_report(db_session, settings)

    set_legal_hold(db_session, incident.id, "Strafzaak loopt bij het OM", OFFICER, SUBMITTED)
    assert case.legal_hold
    assert [held.incident_id for held in cases_on_hold(db_session)] == [incident.id]
    with pytest.raises(Conflict):
        set_legal_hold(db_session, incident.id, "Nog een keer vastgezet", OFFICER, SUBMITTED)
    release_legal_hold(db_session, incident.id, "Zaak is afgerond door OM", OFFICER, SUBMITTED)

    assert not case.legal_hold
    actions = db_session.scalars(
        select(AuditEntry.action).where(AuditEntry.target == f"incident:{incident.id}")
    ).all()
    assert actions[-2:] == ["incident.legal_hold_set", "incident.legal_hold_released"]
    kinds = db_session.scalars(
        select(TimelineEntry.kind).where(TimelineEntry.incident_id == incident.id)
    ).all()
    assert kinds[-2:] == ["legal_hold_set", "legal_hold_released"]


@pytest.mark.parametrize("reason", ["", "   ", "kort", "x" * 501])
def test_a_legal_hold_without_a_proper_reason_is_refused_and_nothing_changes(
    db_session: Session, settings: Settings, reason: str
) -> None:
    _report, incident, case = submitted_report(db_session, settings)

    with pytest.raises(InvalidInput):
        set_legal_hold(db_session, incident.id, reason, OFFICER, SUBMITTED)

    assert not case.legal_hold
    assert cases_on_hold(db_session) == []


def _closed(incident: Incident, when: datetime = CLOSED) -> None:
    incident.state, incident.closed_at = "closed", when


def _person(number: int) -> Person:
    return Person(name=f"Medewerker {number}", email=f"m{number}@example.nl", user_id=100 + number)


def test_the_purge_leaves_a_tombstone_forgets_the_people_and_keeps_the_audit_chain(
    db_session: Session, settings: Settings
) -> None:
    # Expired: verbal abuse (2 years), closed three years ago, with evidence and a comment.
    expired, incident, case = submitted_report(
        db_session, settings, category="verbal_abuse", submitted_at=SUBMITTED, victim=_person(1)
    )
    case.police_decision, case.aftercare_contact_at = "victim_with_support", SUBMITTED
    evidence = add_evidence(
        db_session,
        incident_id=incident.id,
        stream=io.BytesIO(b"%PDF-1.7\n%%EOF\n"),
        filename="brief.pdf",
        description="",
        actor=OFFICER,
        now=SUBMITTED,
        data_dir=settings.data_dir,
        max_bytes=1024,
    )
    add_comment(
        db_session, incident_id=incident.id, body="Belde haar thuis", actor=OFFICER, now=SUBMITTED
    )
    _closed(incident)
    # Kept: physical violence (5 years), a held case, an open case.
    longer, longer_incident, _ = submitted_report(
        db_session, settings, category="physical_violence", victim=_person(2)
    )
    _closed(longer_incident)
    held, held_incident, _ = submitted_report(
        db_session, settings, category="vandalism", victim=_person(3)
    )
    _closed(held_incident)
    set_legal_hold(db_session, held_incident.id, "Strafzaak loopt bij het OM", OFFICER, SUBMITTED)
    still_open, _, _ = submitted_report(
        db_session, settings, category="verbal_abuse", victim=_person(4)
    )
    victim_identity = db_session.scalars(
        select(VaultIdentity.id).where(VaultIdentity.pseudonym == expired.victim_pseudonym)
    ).one()
    stored_file = settings.data_dir / "evidence" / evidence.stored_name
    before = report_statistics(db_session, period=Period.year(2026), timezone=settings.timezone)

    purged = purge_expired(db_session, keyring_for(settings), now=NOW, settings=settings)
    db_session.commit()  # the evidence file goes once the deletion is committed

    assert purged == 1
    remaining = set(db_session.scalars(select(StaffReport.id)))
    assert remaining == {longer.id, held.id, still_open.id}
    stone = db_session.get(ReportTombstone, expired.id)
    assert stone is not None
    assert (stone.number, stone.category, stone.month) == (
        expired.number,
        "verbal_abuse",
        "2026-03",
    )
    assert (stone.reported_to_police, stone.aftercare_taken) == (True, True)
    assert stone.reason == "retention: verbal_abuse, 2 years"
    after = report_statistics(db_session, period=Period.year(2026), timezone=settings.timezone)
    assert after == before
    assert db_session.get(VaultIdentity, victim_identity) is None
    assert (
        db_session.scalar(select(func.count()).where(VaultIndex.identity_id == victim_identity))
        == 0
    )
    assert db_session.scalar(select(func.count()).where(ReportPerson.report_id == expired.id)) == 0
    assert db_session.get(Evidence, evidence.id) is None
    assert (
        db_session.scalars(
            select(CustodyEntry).where(CustodyEntry.evidence_id == evidence.id)
        ).all()
        == []
    )
    assert not stored_file.exists()
    assert incident.title == f"{expired.number} (purged)"
    assert (incident.description, incident.summary) == ("", "")
    assert (
        db_session.scalars(
            select(IncidentComment).where(IncidentComment.incident_id == incident.id)
        ).all()
        == []
    )
    assert db_session.get(StaffCase, incident.id).report_id is None
    kinds = db_session.scalars(
        select(TimelineEntry.kind)
        .where(TimelineEntry.incident_id == incident.id)
        .order_by(TimelineEntry.id)  # PostgreSQL returns updated rows in any order without it
    ).all()
    assert kinds[0] == "created"
    assert kinds[-1] == "report_purged"
    audit = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "staff_report.purged")
    ).one()
    assert expired.number in audit.details
    assert verify_chain(db_session).is_intact


def test_stale_drafts_are_deleted_and_recent_ones_kept(
    db_session: Session, settings: Settings
) -> None:
    for days in (31, 10):
        moment = NOW - timedelta(days=days)
        db_session.add(
            StaffReport(
                status=ReportStatus.DRAFT.value,
                reporter_pseudonym="P-AAAA-AAAA",
                description=f"{days} dagen oud",
                created_at=moment,
                updated_at=moment,
            )
        )
    db_session.flush()

    assert purge_expired(db_session, keyring_for(settings), now=NOW, settings=settings) == 1

    assert db_session.scalars(select(StaffReport.description)).all() == ["10 dagen oud"]
    assert (
        db_session.scalar(
            select(func.count()).where(AuditEntry.action == "staff_report.draft_purged")
        )
        == 1
    )


def test_an_identity_still_in_another_report_is_kept(
    db_session: Session, settings: Settings
) -> None:
    shared = _person(9)
    first, incident, _ = submitted_report(
        db_session, settings, category="verbal_abuse", victim=shared
    )
    second, _, _ = submitted_report(db_session, settings, category="verbal_abuse", victim=shared)
    _closed(incident)

    assert purge_expired(db_session, keyring_for(settings), now=NOW, settings=settings) == 1

    assert first.victim_pseudonym == second.victim_pseudonym
    assert (
        db_session.scalar(
            select(func.count()).where(VaultIdentity.pseudonym == second.victim_pseudonym)
        )
        == 1
    )


def test_a_rolled_back_purge_keeps_the_evidence_file(
    db_session: Session, settings: Settings
) -> None:
    _report, incident, _ = submitted_report(
        db_session, settings, category="verbal_abuse", victim=_person(5)
    )
    evidence = add_evidence(
        db_session,
        incident_id=incident.id,
        stream=io.BytesIO(b"%PDF-1.7\n%%EOF\n"),
        filename="brief.pdf",
        description="",
        actor=OFFICER,
        now=SUBMITTED,
        data_dir=settings.data_dir,
        max_bytes=1024,
    )
    db_session.commit()
    _closed(incident)

    purge_expired(db_session, keyring_for(settings), now=NOW, settings=settings)
    db_session.rollback()

    assert (settings.data_dir / "evidence" / evidence.stored_name).exists()
