"""The audit trail: append-only and hash-chained, so a changed or deleted entry is detectable.

Each entry's hash covers its own fields and the previous entry's hash. Writers take the
single ``audit_chain_head`` row first (``SELECT … FOR UPDATE``; SQLite serialises
transactions anyway), so concurrent requests extend one chain with gapless ids. Triggers
refuse UPDATE and DELETE on ``audit_entry``; ``verify_chain`` catches what someone with
enough rights to drop those triggers does anyway. Anchor the head hash outside the
database (``wachter audit verify`` prints it) to detect a rewrite of the whole tail.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control.actor import Actor
from access_control.models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64
OUTCOMES = ("success", "failure", "denied")
DetailValue = str | int | bool | None
# Details describe what happened; credentials never belong there, even by accident.
_SECRET_KEY = re.compile(r"pass|secret|token|otp|totp|recovery|code|key|cookie|session", re.I)
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    target: str,
    outcome: str,
    now: datetime,
    details: Mapping[str, DetailValue] | None = None,
) -> AuditEntry:
    """Append one entry to the chain (flushed, committed with the caller's unit of work)."""
    if not _ACTION.match(action) or len(action) > 100:
        raise ValueError(f"audit action {action!r} must look like 'area.verb'")
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}")
    clean_details = _check_details(details or {})
    head = session.execute(
        select(AuditChainHead)
        .where(AuditChainHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    entry = AuditEntry(
        id=head.last_entry_id + 1,
        occurred_at=now.astimezone(UTC),
        actor=actor.name,
        action=action,
        target=target[:200],
        outcome=outcome,
        ip=actor.ip,
        user_agent=actor.user_agent,
        request_id=actor.request_id,
        details=json.dumps(clean_details, sort_keys=True, separators=(",", ":")),
        previous_hash=head.last_hash,
    )
    entry.entry_hash = entry_digest(entry)
    session.add(entry)
    head.last_entry_id = entry.id
    head.last_hash = entry.entry_hash
    session.flush()
    return entry


def record_read(
    session: Session,
    *,
    actor: Actor,
    record_type: str,
    record_id: str | int,
    now: datetime,
    reason: str | None = None,
) -> AuditEntry:
    """For other packages: an actor saw a sensitive record (a report, an identity, an export)."""
    return record(
        session,
        actor=actor,
        action=f"{record_type}.read",
        target=f"{record_type}:{record_id}",
        outcome="success",
        now=now,
        details={"reason": reason} if reason else None,
    )


def entry_digest(entry: AuditEntry) -> str:
    fields = {
        "id": entry.id,
        "occurred_at": entry.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "target": entry.target,
        "outcome": entry.outcome,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "request_id": entry.request_id,
        "details": entry.details,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{entry.previous_hash}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    checked: int
    head_hash: str
    broken_at: int | None = None  # the first entry id where the chain does not hold
    problem: str | None = None

    @property
    def is_intact(self) -> bool:
        return self.broken_at is None


def verify_chain(session: Session, *, batch_size: int = 1000) -> ChainReport:
    """Walk the whole chain in id order; report the first broken link."""
    expected_id, previous_hash, checked = 1, GENESIS_HASH, 0
    while True:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id >= expected_id)
            .order_by(AuditEntry.id)
            .limit(batch_size)
        ).all()
        for entry in entries:
            problem = _check_link(entry, expected_id, previous_hash)
            if problem:
                return ChainReport(
                    checked=checked, head_hash=previous_hash, broken_at=expected_id, problem=problem
                )
            expected_id, previous_hash, checked = entry.id + 1, entry.entry_hash, checked + 1
        if len(entries) < batch_size:
            break
    head = session.get(AuditChainHead, 1)
    if head is None or head.last_entry_id != expected_id - 1 or head.last_hash != previous_hash:
        return ChainReport(
            checked=checked,
            head_hash=previous_hash,
            broken_at=expected_id,
            problem="entries after this one were removed (the chain head disagrees)",
        )
    return ChainReport(checked=checked, head_hash=previous_hash)


def _check_link(entry: AuditEntry, expected_id: int, previous_hash: str) -> str | None:
    if entry.id != expected_id:
        return f"entry {expected_id} is missing"
    if entry.previous_hash != previous_hash:
        return "its link to the previous entry does not match"
    if entry.entry_hash != entry_digest(entry):
        return "its content was changed after it was written"
    return None


def _check_details(details: Mapping[str, DetailValue]) -> dict[str, DetailValue]:
    for key, value in details.items():
        if _SECRET_KEY.search(key):
            raise ValueError(f"audit detail {key!r} looks like a credential; never audit secrets")
        if not isinstance(value, str | int | bool | type(None)):
            raise ValueError(f"audit detail {key!r} must be text, a number, a flag or empty")
    return dict(details)
