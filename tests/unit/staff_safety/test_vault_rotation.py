"""Rotating the vault key: everything re-sealed and re-indexed, then the old key can go."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry
from staff_safety.models import ReportStatus, StaffReport, VaultIdentity, VaultIndex
from staff_safety.vault import Person, find_identity, keep_identity, open_identity
from staff_safety.vault_crypto import VaultError, VaultKeyring, open_sealed, seal
from staff_safety.vault_rotation import rotate_vault, rotation_status
from storage import Database
from tests.conftest import TEST_VAULT_KEYS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OLD = VaultKeyring.parse(TEST_VAULT_KEYS)
NEW_ENTRY = VaultKeyring.generate("k2027a")
ROTATED = VaultKeyring.parse(f"{NEW_ENTRY},{TEST_VAULT_KEYS}")
NEW_ONLY = VaultKeyring.parse(NEW_ENTRY)


def _fill(database: Database) -> tuple[str, int]:
    with database.unit_of_work() as session:
        for number in range(5):  # more than one batch below
            keep_identity(session, OLD, Person(name=f"Burger {number}"), now=NOW)
        identity = keep_identity(
            session, OLD, Person(name="Jan de Vries", case_reference="CJIB-1"), now=NOW
        )
        assert identity is not None
        draft = StaffReport(
            status=ReportStatus.DRAFT,
            reporter_pseudonym=identity.pseudonym,
            created_at=NOW,
            updated_at=NOW,
        )
        session.add(draft)
        session.flush()
        draft.draft_people = seal(
            OLD, '{"witnesses": []}', record=f"draft:{draft.id}", field="people"
        )
        return identity.pseudonym, draft.id


def test_a_rotation_leaves_nothing_that_needs_the_old_key(rollback_database: Database) -> None:
    pseudonym, draft_id = _fill(rollback_database)
    with rollback_database.unit_of_work() as session:
        before = rotation_status(session, ROTATED)
    assert before.values_to_reseal == 7  # six names and one case reference
    assert before.indexes_to_redo == 1
    assert before.drafts_to_reseal == 1

    resealed = rotate_vault(rollback_database, ROTATED, now=NOW, actor=Actor("cli:root"), batch=2)

    assert resealed == 8
    with rollback_database.unit_of_work() as session:
        assert rotation_status(session, ROTATED).done
        identity = session.scalars(
            select(VaultIdentity).where(VaultIdentity.pseudonym == pseudonym)
        ).one()
        # With only the new key: everything opens and the person is still found.
        assert open_identity(NEW_ONLY, identity)["name"] == "Jan de Vries"
        found = find_identity(session, NEW_ONLY, "case_reference", "CJIB-1")
        assert found is not None
        assert found.pseudonym == pseudonym
        assert session.scalars(select(VaultIndex.key_id)).all() == ["k2027a"]
        draft = session.get(StaffReport, draft_id)
        assert draft is not None
        assert draft.draft_people is not None
        opened = open_sealed(
            NEW_ONLY, draft.draft_people, record=f"draft:{draft_id}", field="people"
        )
        assert json.loads(opened) == {"witnesses": []}
        with pytest.raises(VaultError):
            open_identity(OLD, identity)  # the old key alone can no longer read it
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "vault.rotated")
        ).one()
        assert json.loads(entry.details) == {"key_id": "k2027a", "resealed": 8}


def test_rotating_again_changes_nothing(rollback_database: Database) -> None:
    _fill(rollback_database)
    rotate_vault(rollback_database, ROTATED, now=NOW, actor=Actor("cli:root"))

    assert rotate_vault(rollback_database, ROTATED, now=NOW, actor=Actor("cli:root")) == 0
