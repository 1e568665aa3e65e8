"""Rotating the identity vault's key: re-seal every value and re-index every identifier.

docs/identity-vault.md, "Rotating the key": after a new key is put in front of the key text,
``rotate_vault`` opens each sealed value made under an older key and seals it again under
the current one, recomputes each identity's blind indexes under the current key and drops
those made under other keys, and re-seals the drafts' sealed people. Work goes in batches
(``batch`` identities per transaction), so a large vault does not hold one long
transaction. It is safe to run again: a value already under the current key is left alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from access_control import Actor, record_audit
from staff_safety.models import StaffReport, VaultIdentity, VaultIndex
from staff_safety.vault import FIELDS, INDEXED, open_identity
from staff_safety.vault_crypto import VaultKeyring, blind_index, needs_reseal, reseal
from storage import Database


@dataclass(frozen=True)
class RotationStatus:
    """How much of the vault still depends on a key other than the current one."""

    identities: int
    values_to_reseal: int
    indexes_to_redo: int
    drafts_to_reseal: int

    @property
    def done(self) -> bool:
        return not (self.values_to_reseal or self.indexes_to_redo or self.drafts_to_reseal)


def rotation_status(session: Session, keyring: VaultKeyring) -> RotationStatus:
    values = 0
    for identity in session.scalars(select(VaultIdentity)):
        values += sum(
            1
            for field in FIELDS
            if (sealed := getattr(identity, field)) is not None and needs_reseal(keyring, sealed)
        )
    drafts = sum(
        1
        for sealed in session.scalars(
            select(StaffReport.draft_people).where(StaffReport.draft_people.is_not(None))
        )
        if sealed is not None and needs_reseal(keyring, sealed)
    )
    stale_indexes = session.scalar(
        select(func.count(VaultIndex.id)).where(VaultIndex.key_id != keyring.current_id)
    )
    return RotationStatus(
        identities=int(session.scalar(select(func.count(VaultIdentity.id))) or 0),
        values_to_reseal=values,
        indexes_to_redo=int(stale_indexes or 0),
        drafts_to_reseal=drafts,
    )


def rotate_identity(session: Session, keyring: VaultKeyring, identity: VaultIdentity) -> int:
    """Re-seal and re-index one identity; returns how many values it re-sealed."""
    record = f"identity:{identity.pseudonym}"
    resealed = 0
    for field in FIELDS:
        sealed = getattr(identity, field)
        if sealed is not None and needs_reseal(keyring, sealed):
            setattr(identity, field, reseal(keyring, sealed, record=record, field=field))
            resealed += 1
    opened = open_identity(keyring, identity)
    current = keyring.current_id
    session.execute(
        delete(VaultIndex).where(
            VaultIndex.identity_id == identity.id, VaultIndex.key_id != current
        )
    )
    have = set(
        session.scalars(
            select(VaultIndex.kind).where(
                VaultIndex.identity_id == identity.id, VaultIndex.key_id == current
            )
        )
    )
    for kind in INDEXED:
        if kind in opened and kind not in have:
            digest = blind_index(keyring, kind, opened[kind])
            session.add(
                VaultIndex(identity_id=identity.id, kind=kind, key_id=current, digest=digest)
            )
    return resealed


def rotate_vault(
    database: Database, keyring: VaultKeyring, *, now: datetime, actor: Actor, batch: int = 200
) -> int:
    """Rotate everything, ``batch`` identities per transaction; returns the values re-sealed
    (identity fields and drafts). An audit entry records the key id and the count."""
    total, after = 0, 0
    while True:
        with database.unit_of_work() as session:
            rows = list(
                session.scalars(
                    select(VaultIdentity)
                    .where(VaultIdentity.id > after)
                    .order_by(VaultIdentity.id)
                    .limit(batch)
                )
            )
            if not rows:
                break
            after = rows[-1].id
            total += sum(rotate_identity(session, keyring, row) for row in rows)
    with database.unit_of_work() as session:
        total += _reseal_drafts(session, keyring)
        record_audit(
            session,
            actor=actor,
            action="vault.rotated",
            target="vault",
            outcome="success",
            now=now,
            details={"key_id": keyring.current_id, "resealed": total},
        )
    return total


def _reseal_drafts(session: Session, keyring: VaultKeyring) -> int:
    resealed = 0
    for report in session.scalars(select(StaffReport).where(StaffReport.draft_people.is_not(None))):
        sealed = report.draft_people
        if sealed is not None and needs_reseal(keyring, sealed):
            report.draft_people = reseal(
                keyring, sealed, record=f"draft:{report.id}", field="people"
            )
            resealed += 1
    return resealed
