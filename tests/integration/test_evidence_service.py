"""The evidence service on SQLite and PostgreSQL with a real store directory.

What an addition records (row, custody ``received``, timeline, audit), what a refusal
leaves behind (nothing: no row, no file), downloads verified against the hash taken on
arrival with custody ``downloaded``, tampering caught and recorded, the quota, and a
rolled-back addition taking its file with it.
"""

from __future__ import annotations

import hashlib
import io
import json
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound
from incidents.cases.models import TimelineEntry
from incidents.evidence import (
    CustodyEntry,
    Evidence,
    EvidenceIntegrityError,
    EvidenceRefused,
    EvidenceTooLarge,
    add_evidence,
    check_upload_count,
    custody,
    incident_evidence,
    manifest,
    open_for_download,
    record_listed_in_report,
    verify_evidence,
)
from incidents.evidence.store import store_directory
from storage import migrate
from tests.support.incident_factories import make_incident

NOW = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
OFFICER = Actor(name="officier", user_id=None, ip="192.0.2.10", request_id="req-1")
PDF = b"%PDF-1.7\n" + b"x" * 2000 + b"\n%%EOF\n"
MIB = 1024 * 1024


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "data"


@pytest.fixture
def add(db_session, data_dir):
    def add(incident_id, content=PDF, name="scan.pdf", **overrides):
        values = {
            "incident_id": incident_id,
            "stream": io.BytesIO(content),
            "filename": name,
            "description": "",
            "actor": OFFICER,
            "now": NOW,
            "data_dir": data_dir,
            "max_bytes": 25 * MIB,
        }
        values.update(overrides)
        return add_evidence(db_session, **values)

    return add


def stored_files(data_dir) -> list[str]:
    return sorted(path.name for path in store_directory(data_dir).iterdir())


def audit_actions(session) -> list[str]:
    return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_an_addition_is_stored_hashed_and_recorded_three_ways(db_session, add, data_dir):
    incident = make_incident(db_session)
    evidence = add(incident.id, description=" Scan van de brief ")
    assert evidence.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (evidence.size, evidence.media_type) == (len(PDF), "application/pdf")
    assert (evidence.original_name, evidence.description) == ("scan.pdf", "Scan van de brief")
    assert (evidence.uploaded_by, evidence.uploaded_at) == ("officier", NOW)
    assert evidence.origin_incident_id == incident.id
    assert stored_files(data_dir) == [evidence.stored_name]
    path = store_directory(data_dir) / evidence.stored_name
    assert path.read_bytes() == PDF
    assert stat.S_IMODE(path.stat().st_mode) == 0o400
    [received] = custody(db_session, evidence.id)
    assert (received.action, received.actor, received.ip, received.sha256) == (
        "received",
        "officier",
        "192.0.2.10",
        evidence.sha256,
    )
    [entry] = db_session.scalars(
        select(TimelineEntry).where(TimelineEntry.kind == "evidence_added")
    )
    assert entry.incident_id == incident.id
    assert json.loads(entry.details) == {
        "evidence_id": evidence.id,
        "sha256": evidence.sha256,
        "size": len(PDF),
    }
    audit = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "evidence.added")
    ).one()
    assert (audit.actor, audit.target, audit.ip) == (
        "officier",
        f"evidence:{evidence.id}",
        "192.0.2.10",
    )
    assert json.loads(audit.details)["sha256"] == evidence.sha256


def test_the_client_content_type_plays_no_part(db_session, add):
    # The service takes no content type at all: only the bytes decide.
    incident = make_incident(db_session)
    evidence = add(incident.id, content=b"plain words\n", name="notes.txt")
    assert evidence.media_type == "text/plain"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("invoice.pdf", b"<html><script>alert(1)</script>"),
        ("x.pdf.exe", b"MZ\x90\x00"),
        ("photo.png", PDF),
        ("x.php\x00.png", b"\x89PNG\r\n\x1a\n"),
    ],
)
def test_a_refused_file_leaves_no_row_and_no_file(db_session, add, data_dir, name, content):
    incident = make_incident(db_session)
    with pytest.raises(EvidenceRefused):
        add(incident.id, content=content, name=name)
    assert db_session.scalars(select(Evidence)).all() == []
    assert db_session.scalars(select(CustodyEntry)).all() == []
    assert stored_files(data_dir) == []
    assert "evidence.added" not in audit_actions(db_session)


def test_a_file_over_the_limit_leaves_nothing(db_session, add, data_dir):
    incident = make_incident(db_session)
    with pytest.raises(EvidenceTooLarge) as refused:
        add(incident.id, content=PDF, max_bytes=1000)
    assert "larger than 1000 B" in refused.value.message
    assert stored_files(data_dir) == []
    assert db_session.scalars(select(Evidence)).all() == []


def test_the_incident_quota_counts_all_its_evidence(db_session, add, data_dir):
    incident = make_incident(db_session)
    quota = 2 * len(PDF) + 10
    add(incident.id, quota_bytes=quota)
    add(incident.id, quota_bytes=quota)
    with pytest.raises(EvidenceTooLarge) as refused:
        add(incident.id, quota_bytes=quota)
    assert "may take at most" in refused.value.message
    assert len(stored_files(data_dir)) == 2
    other = make_incident(db_session)
    add(other.id, quota_bytes=quota)  # the quota is per incident


def test_one_person_has_a_daily_quota_over_all_incidents(db_session, add, data_dir):
    # SECURITY_CASES #50: a member of staff files each report as an incident of its own, so
    # the incident quota alone would let one person fill the disk report by report.
    quota = 2 * len(PDF) + 10
    first, second, third = (make_incident(db_session) for _ in range(3))
    add(first.id, uploader_quota_bytes=quota)
    add(second.id, uploader_quota_bytes=quota)
    with pytest.raises(EvidenceTooLarge) as refused:
        add(third.id, uploader_quota_bytes=quota)
    assert "One person may add at most" in refused.value.message
    assert len(stored_files(data_dir)) == 2  # nothing of the refused file kept
    someone_else = Actor(name="anderen")
    add(third.id, uploader_quota_bytes=quota, actor=someone_else)
    tomorrow = NOW + timedelta(days=1)
    add(third.id, uploader_quota_bytes=quota, now=tomorrow)  # the day has passed
    big = PDF + b"%" * (quota - len(PDF))  # within the file limit, over the day's room
    with pytest.raises(EvidenceTooLarge) as refused:
        add(first.id, content=big, uploader_quota_bytes=quota, now=tomorrow)
    assert "One person may add at most" in refused.value.message
    assert len(stored_files(data_dir)) == 4


def test_a_merged_incident_takes_no_evidence(db_session, add, data_dir):
    target = make_incident(db_session)
    merged = make_incident(db_session, merged_into_id=target.id, state="merged")
    with pytest.raises(Conflict) as refused:
        add(merged.id)
    assert merged.reference in refused.value.message
    assert stored_files(data_dir) == []


def test_an_unknown_incident_is_not_found(db_session, add):
    with pytest.raises(NotFound):
        add(987654)


def test_a_long_description_is_refused(db_session, add, data_dir):
    incident = make_incident(db_session)
    with pytest.raises(InvalidInput) as refused:
        add(incident.id, description="x" * 2001)
    assert refused.value.field == "description"
    assert stored_files(data_dir) == []


@pytest.mark.parametrize(("count", "allowed"), [(0, False), (1, True), (10, True), (11, False)])
def test_an_upload_carries_one_to_ten_files(count, allowed):
    if allowed:
        check_upload_count(count)
    else:
        with pytest.raises(EvidenceRefused):
            check_upload_count(count)


def test_a_download_is_verified_and_recorded(db_session, add, data_dir):
    evidence = add(make_incident(db_session).id)
    reader = Actor(name="analist", ip="198.51.100.7")
    later = NOW + timedelta(hours=1)
    download = open_for_download(
        db_session, evidence_id=evidence.id, actor=reader, now=later, data_dir=data_dir
    )
    with download.file:
        assert download.file.read() == PDF
    entries = custody(db_session, evidence.id)
    assert [(e.action, e.actor, e.ip, e.occurred_at) for e in entries] == [
        ("received", "officier", "192.0.2.10", NOW),
        ("downloaded", "analist", "198.51.100.7", later),
    ]
    assert entries[1].sha256 == evidence.sha256
    read = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "evidence.read")).one()
    assert (read.actor, read.target) == ("analist", f"evidence:{evidence.id}")


def tamper(data_dir, evidence, content=b"%PDF-1.7 forged"):
    path = store_directory(data_dir) / evidence.stored_name
    path.chmod(0o600)
    path.write_bytes(content)


def test_a_tampered_file_is_not_handed_out_and_the_failure_is_recorded(db_session, add, data_dir):
    evidence = add(make_incident(db_session).id)
    tamper(data_dir, evidence)
    with pytest.raises(EvidenceIntegrityError) as refused:
        open_for_download(
            db_session, evidence_id=evidence.id, actor=OFFICER, now=NOW, data_dir=data_dir
        )
    assert str(evidence.id) in refused.value.message
    failure = custody(db_session, evidence.id)[-1]
    assert failure.action == "integrity_failed"
    assert failure.sha256 == hashlib.sha256(b"%PDF-1.7 forged").hexdigest()
    assert "downloaded" not in [entry.action for entry in custody(db_session, evidence.id)]
    audit = db_session.scalars(
        select(AuditEntry).where(AuditEntry.action == "evidence.integrity_failed")
    ).one()
    assert audit.outcome == "failure"
    assert json.loads(audit.details) == {
        "expected": evidence.sha256,
        "found": failure.sha256,
        "missing": False,
    }
    assert "evidence.read" not in audit_actions(db_session)


def test_a_missing_file_is_an_integrity_failure_too(db_session, add, data_dir):
    evidence = add(make_incident(db_session).id)
    (store_directory(data_dir) / evidence.stored_name).unlink()
    with pytest.raises(EvidenceIntegrityError):
        verify_evidence(
            db_session, evidence_id=evidence.id, actor=OFFICER, now=NOW, data_dir=data_dir
        )
    failure = custody(db_session, evidence.id)[-1]
    assert (failure.action, failure.sha256) == ("integrity_failed", None)


def test_verifying_an_intact_file_is_recorded(db_session, add, data_dir):
    evidence = add(make_incident(db_session).id)
    verify_evidence(db_session, evidence_id=evidence.id, actor=OFFICER, now=NOW, data_dir=data_dir)
    assert custody(db_session, evidence.id)[-1].action == "verified"
    assert "evidence.verified" in audit_actions(db_session)


def test_unknown_evidence_is_not_found(db_session, data_dir):
    with pytest.raises(NotFound):
        open_for_download(db_session, evidence_id=424242, actor=OFFICER, now=NOW, data_dir=data_dir)


def test_the_manifest_lists_names_types_sizes_and_hashes(db_session, add):
    incident = make_incident(db_session)
    first = add(incident.id)
    second = add(incident.id, content=b"log line\n", name="auth.log", now=NOW + timedelta(1))
    add(make_incident(db_session).id)  # another incident's evidence stays out
    listed = manifest(db_session, incident.id)
    assert [(e.evidence_id, e.name, e.media_type, e.size, e.sha256) for e in listed] == [
        (first.id, "scan.pdf", "application/pdf", len(PDF), first.sha256),
        (second.id, "auth.log", "text/plain", 9, hashlib.sha256(b"log line\n").hexdigest()),
    ]
    section = incident_evidence(db_session, incident.id)
    assert section.bytes_used == len(PDF) + 9
    assert section.accepts_more


def test_listing_in_a_report_is_a_custody_entry(db_session, add):
    evidence = add(make_incident(db_session).id)
    record_listed_in_report(
        db_session, [evidence.id], report="INC-1 2026-03-02", actor=OFFICER, now=NOW
    )
    listed = custody(db_session, evidence.id)[-1]
    assert (listed.action, listed.actor, listed.sha256) == (
        "listed_in_report",
        "officier",
        evidence.sha256,
    )
    assert json.loads(listed.details) == {"report": "INC-1 2026-03-02"}


def test_a_rolled_back_addition_takes_its_file_with_it(empty_database, tmp_path):
    migrate.upgrade(empty_database)
    data_dir = tmp_path / "data"
    with empty_database.unit_of_work() as session:
        incident_id = make_incident(session).id
    session = empty_database.sessions()
    try:
        for name in ("one.pdf", "two.pdf"):
            add_evidence(
                session,
                incident_id=incident_id,
                stream=io.BytesIO(PDF),
                filename=name,
                description="",
                actor=OFFICER,
                now=NOW,
                data_dir=data_dir,
                max_bytes=MIB,
            )
        assert len(stored_files(data_dir)) == 2
        session.rollback()  # a later file of the same upload failed, say
    finally:
        session.close()
    assert stored_files(data_dir) == []
    with empty_database.unit_of_work() as check:
        assert check.scalars(select(Evidence)).all() == []


def test_a_committed_addition_keeps_its_file(empty_database, tmp_path):
    migrate.upgrade(empty_database)
    data_dir = tmp_path / "data"
    with empty_database.unit_of_work() as session:
        incident_id = make_incident(session).id
    session = empty_database.sessions()
    try:
        stored_name = add_evidence(
            session,
            incident_id=incident_id,
            stream=io.BytesIO(PDF),
            filename="kept.pdf",
            description="",
            actor=OFFICER,
            now=NOW,
            data_dir=data_dir,
            max_bytes=MIB,
        ).stored_name
        session.commit()
        session.scalars(select(Evidence)).all()  # a new transaction in the same session…
        session.rollback()  # …rolled back leaves the committed file be
    finally:
        session.close()
    assert stored_files(data_dir) == [stored_name]
