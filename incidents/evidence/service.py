"""Evidence of an incident: adding files, downloading them verified, and their custody.

Every step is recorded three ways: a ``CustodyEntry`` on the evidence (who, when, from
where, and the SHA-256 as computed at that moment), an audit entry, and for additions an
entry on the incident's timeline. A download first hashes the stored file again; when the
bytes no longer match (or the file is gone) the download is refused, and the failure is
written to custody and audit before ``EvidenceIntegrityError`` is raised (the caller
commits those records; see ``incidents.evidence.errors``).

Limits (documented in docs/evidence.md): one file at most ``max_bytes`` (the caller passes
``WACHTER_EVIDENCE_MAX_MB``), ``MAX_FILES_PER_REQUEST`` files per upload, and
``INCIDENT_QUOTA_BYTES`` for all evidence of one incident, and
``UPLOADER_QUOTA_BYTES`` for what one person uploads in ``UPLOADER_QUOTA_WINDOW`` over all
incidents (a member of staff files each report as an incident of its own: SECURITY_CASES
#50).

A file is kept on disk before its row is flushed; if the transaction then rolls back,
the file is removed again (a session listener), so a failed upload leaves neither a row
nor a file behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, BinaryIO

from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit, record_read
from core import Conflict, NotFound
from core.i18n import N_
from incidents.cases.fields import check_description
from incidents.cases.models import Incident
from incidents.cases.timeline import add_entry
from incidents.evidence import store
from incidents.evidence.custody import add_custody, verified_file
from incidents.evidence.errors import EvidenceRefused, EvidenceTooLarge
from incidents.evidence.models import Evidence
from incidents.evidence.types import EvidenceType, clean_filename, detect_type, type_for_name

MAX_FILES_PER_REQUEST = 10
INCIDENT_QUOTA_BYTES = 2 * 1024**3
UPLOADER_QUOTA_BYTES = 2 * 1024**3
UPLOADER_QUOTA_WINDOW = timedelta(days=1)
MAX_DESCRIPTION = 2000
MEBIBYTE = 1024 * 1024
_NEW_FILES = "wachter.evidence.new_files"


@dataclass(frozen=True)
class Download:
    """A verified stored file, open at its start; the caller closes ``file``."""

    evidence: Evidence
    file: BinaryIO


@dataclass(frozen=True)
class IncidentEvidence:
    """An incident's evidence as its page shows it, with the room left in its quota."""

    incident: Incident
    evidence: list[Evidence]
    bytes_used: int
    quota_bytes: int

    @property
    def accepts_more(self) -> bool:
        return self.incident.merged_into_id is None and self.bytes_used < self.quota_bytes


@dataclass(frozen=True)
class ManifestEntry:
    evidence_id: int
    name: str
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    description: str


def check_upload_count(count: int) -> None:
    """One upload carries 1 to ``MAX_FILES_PER_REQUEST`` files."""
    if count == 0:
        raise EvidenceRefused(N_("Choose one or more files to add as evidence."))
    if count > MAX_FILES_PER_REQUEST:
        raise EvidenceRefused(
            N_("Add at most %(limit)d files at once."), limit=MAX_FILES_PER_REQUEST
        )


def add_evidence(
    session: Session,
    *,
    incident_id: int,
    stream: IO[bytes],
    filename: str,
    description: str,
    actor: Actor,
    now: datetime,
    data_dir: Path,
    max_bytes: int,
    quota_bytes: int = INCIDENT_QUOTA_BYTES,
    uploader_quota_bytes: int = UPLOADER_QUOTA_BYTES,
) -> Evidence:
    """Store one file as evidence of an incident: hashed, typed by content, write-once."""
    incident = _writable_incident(session, incident_id)
    name = clean_filename(filename)
    type_for_name(name)  # a refused extension is refused before a byte is read
    description = check_description(description, limit=MAX_DESCRIPTION)
    incident_room = quota_bytes - bytes_used(session, incident.id)
    since = now - UPLOADER_QUOTA_WINDOW
    uploader_room = uploader_quota_bytes - bytes_uploaded(session, actor.name, since=since)
    room = min(incident_room, uploader_room)
    refusal = (
        _over_quota(quota_bytes)
        if incident_room <= uploader_room
        else _over_uploader_quota(uploader_quota_bytes)
    )
    if room <= 0:
        raise refusal
    directory = store.store_directory(data_dir)
    received, kind = _receive(
        directory, stream, name=name, max_bytes=max_bytes, room=room, over_room=refusal
    )
    stored_name = store.keep(directory, received)
    _remove_on_rollback(session, directory / stored_name)
    evidence = Evidence(
        incident_id=incident.id,
        origin_incident_id=incident.id,
        stored_name=stored_name,
        original_name=name,
        media_type=kind.media_type,
        size=received.size,
        sha256=received.sha256,
        description=description,
        uploaded_at=now,
        uploaded_by=actor.name,
    )
    session.add(evidence)
    session.flush()
    _record_arrival(session, evidence, actor=actor, now=now)
    return evidence


def open_for_download(
    session: Session, *, evidence_id: int, actor: Actor, now: datetime, data_dir: Path
) -> Download:
    """The stored file, verified against its SHA-256 first; custody and audit record it."""
    evidence = get_evidence(session, evidence_id)
    handle, digest = verified_file(session, evidence, actor=actor, now=now, data_dir=data_dir)
    add_custody(session, evidence, action="downloaded", actor=actor, now=now, sha256=digest)
    record_read(session, actor=actor, record_type="evidence", record_id=evidence.id, now=now)
    return Download(evidence=evidence, file=handle)


def verify_evidence(
    session: Session, *, evidence_id: int, actor: Actor, now: datetime, data_dir: Path
) -> Evidence:
    """Hash the stored file again and record that it still matches (or raise and record)."""
    evidence = get_evidence(session, evidence_id)
    handle, digest = verified_file(session, evidence, actor=actor, now=now, data_dir=data_dir)
    handle.close()
    add_custody(session, evidence, action="verified", actor=actor, now=now, sha256=digest)
    record_audit(
        session,
        actor=actor,
        action="evidence.verified",
        target=f"evidence:{evidence.id}",
        outcome="success",
        now=now,
        details={"sha256": digest},
    )
    return evidence


def get_evidence(session: Session, evidence_id: int) -> Evidence:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound(N_("That evidence does not exist."))
    return evidence


def incident_evidence(
    session: Session, incident_id: int, *, quota_bytes: int = INCIDENT_QUOTA_BYTES
) -> IncidentEvidence:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(N_("That incident does not exist."))
    return IncidentEvidence(
        incident=incident,
        evidence=list_evidence(session, incident.id),
        bytes_used=bytes_used(session, incident.id),
        quota_bytes=quota_bytes,
    )


def list_evidence(session: Session, incident_id: int) -> list[Evidence]:
    """The incident's evidence (merged-in incidents' included), oldest first."""
    query = (
        select(Evidence)
        .where(Evidence.incident_id == incident_id)
        .order_by(Evidence.uploaded_at, Evidence.id)
    )
    return list(session.scalars(query))


def manifest(session: Session, incident_id: int) -> list[ManifestEntry]:
    """What a report lists of the incident's evidence, with the hashes taken on arrival."""
    return [
        ManifestEntry(
            evidence_id=evidence.id,
            name=evidence.original_name,
            media_type=evidence.media_type,
            size=evidence.size,
            sha256=evidence.sha256,
            uploaded_by=evidence.uploaded_by,
            uploaded_at=evidence.uploaded_at,
            description=evidence.description,
        )
        for evidence in list_evidence(session, incident_id)
    ]


def bytes_used(session: Session, incident_id: int) -> int:
    """The size of all evidence of an incident, against its quota."""
    query = select(func.coalesce(func.sum(Evidence.size), 0)).where(
        Evidence.incident_id == incident_id
    )
    return int(session.scalar(query) or 0)


def bytes_uploaded(session: Session, uploader: str, *, since: datetime) -> int:
    """The size of all evidence ``uploader`` added after ``since``, on any incident."""
    query = select(func.coalesce(func.sum(Evidence.size), 0)).where(
        Evidence.uploaded_by == uploader, Evidence.uploaded_at > since
    )
    return int(session.scalar(query) or 0)


def size_text(size: int) -> str:
    """``25 MiB`` for whole mebibytes, else bytes: the limits as people configure them."""
    if size >= MEBIBYTE and size % MEBIBYTE == 0:
        return f"{size // MEBIBYTE} MiB"
    return f"{size} B"


def _receive(
    directory: Path,
    stream: IO[bytes],
    *,
    name: str,
    max_bytes: int,
    room: int,
    over_room: EvidenceTooLarge,
) -> tuple[store.ReceivedFile, EvidenceType]:
    """The stream in a temporary file of the store, with its type; refused ones removed."""
    try:
        received = store.receive(directory, stream, max_bytes=min(max_bytes, room))
    except store.FileTooLarge:
        if room < max_bytes:
            raise over_room from None
        raise EvidenceTooLarge(
            N_("%(name)s is larger than %(limit)s, the largest evidence file accepted."),
            name=name,
            limit=size_text(max_bytes),
        ) from None
    try:
        return received, detect_type(received.path, name)
    except EvidenceRefused:
        store.discard(received.path)
        raise


def _writable_incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(N_("That incident does not exist."))
    if incident.merged_into_id is not None:
        raise Conflict(
            N_(
                "Incident %(reference)s was merged into another incident and is read-only; "
                "add the evidence there."
            ),
            reference=incident.reference,
        )
    return incident


def _over_quota(quota_bytes: int) -> EvidenceTooLarge:
    return EvidenceTooLarge(
        N_("The evidence of one incident may take at most %(limit)s; this file does not fit."),
        limit=size_text(quota_bytes),
    )


def _over_uploader_quota(quota_bytes: int) -> EvidenceTooLarge:
    return EvidenceTooLarge(
        N_(
            "One person may add at most %(limit)s of evidence in a day; this file does not "
            "fit. Try again tomorrow, or ask a security officer to add it."
        ),
        limit=size_text(quota_bytes),
    )


def _record_arrival(session: Session, evidence: Evidence, *, actor: Actor, now: datetime) -> None:
    add_custody(session, evidence, action="received", actor=actor, now=now, sha256=evidence.sha256)
    add_entry(
        session,
        incident_id=evidence.incident_id,
        kind="evidence_added",
        actor=actor.name,
        now=now,
        details={"evidence_id": evidence.id, "size": evidence.size, "sha256": evidence.sha256},
    )
    record_audit(
        session,
        actor=actor,
        action="evidence.added",
        target=f"evidence:{evidence.id}",
        outcome="success",
        now=now,
        details={
            "incident_id": evidence.incident_id,
            "media_type": evidence.media_type,
            "size": evidence.size,
            "sha256": evidence.sha256,
        },
    )


def _remove_on_rollback(session: Session, path: Path) -> None:
    """Remove a kept file again if the transaction that was to record it rolls back."""
    session.info.setdefault(_NEW_FILES, []).append(path)
    if not event.contains(session, "after_rollback", _remove_new_files):
        event.listen(session, "after_rollback", _remove_new_files)
        event.listen(session, "after_commit", _forget_new_files)


def _remove_new_files(session: Session) -> None:
    for path in session.info.pop(_NEW_FILES, []):
        store.discard(path)


def _forget_new_files(session: Session) -> None:
    session.info.pop(_NEW_FILES, None)
