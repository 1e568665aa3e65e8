"""The chain of custody: one entry for everything done with a piece of evidence.

Who did it, when, from which address, and the SHA-256 of the file as computed at that
moment. Entries are only ever added. Checking a stored file against its hash on arrival
lives here too, because its outcome is a custody entry either way: the caller records
``downloaded`` or ``verified`` on success, a failure records ``integrity_failed`` (and
``evidence.integrity_failed`` in the audit trail) before ``EvidenceIntegrityError``.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from core import NotFound
from core.i18n import N_
from incidents.evidence import store
from incidents.evidence.errors import EvidenceIntegrityError
from incidents.evidence.models import CustodyEntry, Evidence

log = logging.getLogger("wachter.incidents.evidence")


def custody(session: Session, evidence_id: int) -> list[CustodyEntry]:
    """The chain of custody of one piece of evidence, oldest first."""
    query = (
        select(CustodyEntry)
        .where(CustodyEntry.evidence_id == evidence_id)
        .order_by(CustodyEntry.occurred_at, CustodyEntry.id)
    )
    return list(session.scalars(query))


def record_listed_in_report(
    session: Session, evidence_ids: list[int], *, report: str, actor: Actor, now: datetime
) -> None:
    """A custody entry ``listed_in_report`` on each piece of evidence a report names."""
    for evidence_id in evidence_ids:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise NotFound(N_("That evidence does not exist."))
        add_custody(
            session,
            evidence,
            action="listed_in_report",
            actor=actor,
            now=now,
            sha256=evidence.sha256,
            details={"report": report},
        )


def verified_file(
    session: Session, evidence: Evidence, *, actor: Actor, now: datetime, data_dir: Path
) -> tuple[BinaryIO, str]:
    directory = store.store_directory(data_dir)
    try:
        handle = store.open_stored(directory, evidence.stored_name)
    except FileNotFoundError:
        _record_integrity_failure(session, evidence, found=None, actor=actor, now=now)
        raise _integrity_error(evidence) from None
    try:
        digest = store.sha256_of(handle)
    except BaseException:
        handle.close()
        raise
    if not hmac.compare_digest(digest, evidence.sha256):
        handle.close()
        _record_integrity_failure(session, evidence, found=digest, actor=actor, now=now)
        raise _integrity_error(evidence)
    return handle, digest


def _integrity_error(evidence: Evidence) -> EvidenceIntegrityError:
    return EvidenceIntegrityError(
        N_(
            "The stored file of evidence %(id)s no longer matches the SHA-256 taken when it "
            "arrived, or is missing. It is not handed out; the failure has been recorded."
        ),
        id=evidence.id,
    )


def _record_integrity_failure(
    session: Session, evidence: Evidence, *, found: str | None, actor: Actor, now: datetime
) -> None:
    log.error(
        "evidence integrity check failed",
        extra={"wachter.evidence_id": evidence.id, "wachter.file_missing": found is None},
    )
    add_custody(session, evidence, action="integrity_failed", actor=actor, now=now, sha256=found)
    record_audit(
        session,
        actor=actor,
        action="evidence.integrity_failed",
        target=f"evidence:{evidence.id}",
        outcome="failure",
        now=now,
        details={"expected": evidence.sha256, "found": found, "missing": found is None},
    )


def add_custody(
    session: Session,
    evidence: Evidence,
    *,
    action: str,
    actor: Actor,
    now: datetime,
    sha256: str | None,
    details: dict[str, str | int] | None = None,
) -> CustodyEntry:
    entry = CustodyEntry(
        evidence_id=evidence.id,
        occurred_at=now,
        actor=actor.name,
        ip=actor.ip,
        action=action,
        sha256=sha256,
        details=orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS).decode(),
    )
    session.add(entry)
    session.flush()
    return entry
