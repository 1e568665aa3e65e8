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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control.actor import Actor
from access_control.models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64
OUTCOMES = ("success", "failure", "denied")
DetailValue = str | int | bool | None
# Details describe what happened; credentials never belong there, even by accident.
_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|otp|recovery|credential|cookie|(^|_)(token|code|key|sid|session_id)$",
    re.I,
)
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
    if not _ACTION.fullmatch(action) or len(action) > 100:
        raise ValueError(f"audit action {action!r} must look like 'area.verb'")
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome must be one of {OUTCOMES}")
    if now.utcoffset() is None:
        raise ValueError("audit time must be aware (UTC); a naive time would be read as local")
    clean_details = check_details(details or {})
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


def verify_chain(
    session: Session, *, batch_size: int = 1000, check_unanchored: bool = True
) -> ChainReport:
    """Walk the chain in id order and report the first broken link.

    Run it in ``Database.snapshot()``: then every entry beyond the chain head is one that
    was slipped in without extending the chain, not a writer's that committed meanwhile.
    A caller outside a snapshot (the console, inside a request) passes
    ``check_unanchored=False`` and checks everything up to the head it read first.
    """
    head = session.get(AuditChainHead, 1)
    last_id = head.last_entry_id if head is not None else 0
    first_id = session.scalar(select(func.min(AuditEntry.id)))
    if first_id is not None and first_id < 1:
        return ChainReport(
            checked=0,
            head_hash=GENESIS_HASH,
            broken_at=first_id,
            problem="an entry was slipped in before the first one",
        )
    expected_id, previous_hash, checked = 1, GENESIS_HASH, 0
    while expected_id <= last_id:
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.id >= expected_id, AuditEntry.id <= last_id)
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
        if not entries:
            break
    return _check_ends(
        session,
        head=head,
        expected_id=expected_id,
        previous_hash=previous_hash,
        checked=checked,
        check_unanchored=check_unanchored,
    )


def _check_ends(
    session: Session,
    *,
    head: AuditChainHead | None,
    expected_id: int,
    previous_hash: str,
    checked: int,
    check_unanchored: bool,
) -> ChainReport:
    last_id = head.last_entry_id if head is not None else 0
    if expected_id <= last_id:
        return ChainReport(
            checked=checked,
            head_hash=previous_hash,
            broken_at=expected_id,
            problem=f"entries {expected_id} to {last_id} were removed (the head counts {last_id})",
        )
    if head is None or head.last_hash != previous_hash:
        return ChainReport(
            checked=checked,
            head_hash=previous_hash,
            broken_at=expected_id - 1,
            problem="the chain head does not match the last entry",
        )
    if not check_unanchored:
        return ChainReport(checked=checked, head_hash=previous_hash)
    beyond = session.scalar(select(func.min(AuditEntry.id)).where(AuditEntry.id > last_id))
    if beyond is not None:
        return ChainReport(
            checked=checked,
            head_hash=previous_hash,
            broken_at=beyond,
            problem="an entry was added without extending the chain",
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


def check_details(
    details: Mapping[str, DetailValue], *, what: str = "audit"
) -> dict[str, DetailValue]:
    """Plain scalars under keys that do not look like credentials (audit entries, notices)."""
    for key, value in details.items():
        if _SECRET_KEY.search(key):
            raise ValueError(f"{what} detail {key!r} looks like a credential; never store secrets")
        if not isinstance(value, str | int | bool | type(None)):
            raise ValueError(f"{what} detail {key!r} must be text, a number, a flag or empty")
    return dict(details)


MAX_LISTED = 500


def list_entries(
    session: Session,
    *,
    action_prefix: str | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Entries newest first, for the console viewer and ``wachter audit list``.

    ``action_prefix`` is literal (``%`` and ``_`` are no wildcards) and, as actions are
    lower case, case-insensitive; ``since`` is inclusive, ``until`` exclusive (aware
    datetimes); ``before_id`` pages back from an entry; ``limit`` is clamped to 1..500.
    Listing does not verify: ``verify_chain`` tells whether the entries can be trusted.
    """
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action_prefix:
        query = query.where(AuditEntry.action.startswith(action_prefix.lower(), autoescape=True))
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if outcome is not None:
        query = query.where(AuditEntry.outcome == outcome)
    if since is not None:
        query = query.where(AuditEntry.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEntry.occurred_at < until)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    return list(session.scalars(query.limit(max(1, min(limit, MAX_LISTED)))))
