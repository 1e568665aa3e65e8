"""The identity vault on a real database: sealed storage, finding a person again, revealing."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from access_control.models import AuditEntry
from core import ConfigError, InvalidInput, NotFound, Settings
from staff_safety.models import VaultIdentity, VaultIndex
from staff_safety.vault import (
    Person,
    find_identity,
    identity_by_pseudonym,
    keep_identity,
    keyring_for,
    open_identity,
    pseudonym_of_user,
    reveal,
)
from staff_safety.vault_crypto import VaultKeyring, is_pseudonym
from tests.conftest import TEST_VAULT_KEYS

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEYRING = VaultKeyring.parse(TEST_VAULT_KEYS)
OFFICER = Actor(name="officer1", user_id=7, ip="192.0.2.10")
CITIZEN = Person(name="Jan de Vries", case_reference="CJIB-2026-123456", phone="06 1234 5678")


def _raw_columns(session: Session) -> str:
    rows = session.execute(select(VaultIdentity)).scalars().all()
    return repr(
        [(row.pseudonym, row.name, row.email, row.phone, row.case_reference) for row in rows]
    )


def test_a_person_is_stored_sealed_under_a_random_pseudonym(db_session: Session) -> None:
    identity = keep_identity(db_session, KEYRING, CITIZEN, now=NOW)

    assert identity is not None
    assert is_pseudonym(identity.pseudonym)
    stored = _raw_columns(db_session)
    for value in ("Jan de Vries", "CJIB-2026-123456", "06 1234 5678", "Vries", "123456"):
        assert value not in stored
    assert open_identity(KEYRING, identity) == {
        "name": "Jan de Vries",
        "case_reference": "CJIB-2026-123456",
        "phone": "06 1234 5678",
    }


def test_the_same_case_reference_finds_the_same_person_and_adds_what_is_new(
    db_session: Session,
) -> None:
    first = keep_identity(db_session, KEYRING, CITIZEN, now=NOW)
    again = keep_identity(
        db_session,
        KEYRING,
        Person(case_reference="  cjib-2026-123456 ", email="jan@example.org"),
        now=NOW,
    )

    assert first is not None
    assert again is not None
    assert again.id == first.id
    assert open_identity(KEYRING, again)["email"] == "jan@example.org"
    assert open_identity(KEYRING, again)["name"] == "Jan de Vries"  # kept, not overwritten


def test_a_name_alone_never_finds_another_person(db_session: Session) -> None:
    first = keep_identity(db_session, KEYRING, Person(name="Jan de Vries"), now=NOW)
    second = keep_identity(db_session, KEYRING, Person(name="Jan de Vries"), now=NOW)

    assert first is not None
    assert second is not None
    assert first.pseudonym != second.pseudonym


def test_nothing_known_is_no_identity(db_session: Session) -> None:
    assert keep_identity(db_session, KEYRING, Person(name="   "), now=NOW) is None
    assert db_session.scalars(select(VaultIdentity)).first() is None


def test_an_over_long_field_is_refused_and_nothing_is_stored(db_session: Session) -> None:
    with pytest.raises(InvalidInput) as refused:
        keep_identity(db_session, KEYRING, Person(name="x" * 301), now=NOW)

    assert refused.value.field == "name"
    assert db_session.scalars(select(VaultIdentity)).first() is None


def test_a_user_account_finds_its_holders_pseudonym(db_session: Session) -> None:
    identity = keep_identity(
        db_session, KEYRING, Person(user_id=42, account_name="pjansen"), now=NOW
    )

    assert identity is not None
    assert pseudonym_of_user(db_session, KEYRING, 42) == identity.pseudonym
    assert pseudonym_of_user(db_session, KEYRING, 43) is None


def test_after_a_key_rotation_a_person_indexed_under_the_old_key_is_still_found(
    db_session: Session,
) -> None:
    identity = keep_identity(db_session, KEYRING, CITIZEN, now=NOW)
    rotated = VaultKeyring.parse(f"{VaultKeyring.generate('knew')},{TEST_VAULT_KEYS}")

    found = find_identity(db_session, rotated, "case_reference", "CJIB-2026-123456")

    assert identity is not None
    assert found is not None
    assert found.id == identity.id
    again = keep_identity(db_session, rotated, Person(case_reference="CJIB-2026-123456"), now=NOW)
    assert again is not None
    assert again.id == identity.id
    key_ids = db_session.scalars(
        select(VaultIndex.key_id).where(
            VaultIndex.identity_id == identity.id, VaultIndex.kind == "case_reference"
        )
    ).all()
    assert sorted(key_ids) == ["knew", "ktest"]  # indexed under the new key as well


def test_revealing_needs_a_reason_and_is_audited_without_the_identity(db_session: Session) -> None:
    identity = keep_identity(db_session, KEYRING, CITIZEN, now=NOW)
    assert identity is not None

    with pytest.raises(InvalidInput) as refused:
        reveal(db_session, KEYRING, identity.pseudonym, reason="  why ", actor=OFFICER, now=NOW)
    assert refused.value.field == "reason"
    assert db_session.scalars(select(AuditEntry)).first() is None

    shown = reveal(
        db_session,
        KEYRING,
        identity.pseudonym,
        reason="Aangifte voorbereiden met de politie",
        actor=OFFICER,
        now=NOW,
        context="incident:5",
    )

    assert shown["name"] == "Jan de Vries"
    entry = db_session.scalars(select(AuditEntry)).one()
    assert entry.action == "vault.identity_revealed"
    assert entry.target == f"person:{identity.pseudonym}"
    details = json.loads(entry.details)
    assert details["reason"] == "Aangifte voorbereiden met de politie"
    assert details["context"] == "incident:5"
    assert "Vries" not in entry.details
    assert "CJIB" not in entry.details


def test_an_unknown_or_malformed_pseudonym_is_not_found(db_session: Session) -> None:
    for pseudonym in ("P-AAAA-AAAA", "'; DROP TABLE vault_identity; --", ""):
        with pytest.raises(NotFound):
            identity_by_pseudonym(db_session, pseudonym)


def _settings(tmp_path: Path, **values: object) -> Settings:
    return replace(
        Settings(data_dir=tmp_path / "data", database_url="sqlite://"),
        **values,  # type: ignore[arg-type]
    )


def test_without_configured_keys_a_key_file_is_made_once_readable_only_by_the_owner(
    tmp_path: Path,
) -> None:
    first = keyring_for(_settings(tmp_path))
    second = keyring_for(_settings(tmp_path))

    path = tmp_path / "data" / "vault_keys"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.current_id == second.current_id == "k1"
    assert first.key("k1") == second.key("k1")


def test_configured_keys_come_from_the_variable_or_the_file(tmp_path: Path) -> None:
    assert keyring_for(_settings(tmp_path, vault_keys=TEST_VAULT_KEYS)).current_id == "ktest"
    key_file = tmp_path / "vault.keys"
    key_file.write_text(TEST_VAULT_KEYS + "\n", encoding="ascii")
    assert keyring_for(_settings(tmp_path, vault_keys_file=key_file)).current_id == "ktest"
    assert not (tmp_path / "data" / "vault_keys").exists()


def test_a_bad_key_stops_the_start_naming_the_variable_and_never_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        keyring_for(_settings(tmp_path, vault_keys="k1:c2hvcnQ="))

    assert refused.value.variable == "WACHTER_VAULT_KEYS"
    assert "c2hvcnQ" not in str(refused.value)
