"""The real ``wachter vault keygen|status|rotate``: a full key rotation from the command line."""

from __future__ import annotations

from datetime import UTC, datetime

from core import Settings
from staff_safety.vault import Person, keep_identity, keyring_for
from staff_safety.vault_crypto import VaultKeyring
from storage import Database
from tests.support.processes import clean_env, run_wachter


def test_a_rotation_from_the_command_line(tmp_path) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert run_wachter("vault", "status", cwd=tmp_path, env=env).returncode == 0  # makes the key
    first_key = (tmp_path / "var" / "vault_keys").read_text(encoding="ascii").strip()
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    with database.unit_of_work() as session:
        keep_identity(
            session,
            VaultKeyring.parse(first_key),
            Person(name="Jan de Vries", case_reference="CJIB-1"),
            now=datetime(2026, 3, 2, tzinfo=UTC),
        )
    database.dispose()

    generated = run_wachter("vault", "keygen", "k2027a", cwd=tmp_path, env=env)
    new_entry = generated.stdout.strip()
    assert generated.returncode == 0
    assert new_entry.startswith("k2027a:")
    VaultKeyring.parse(new_entry)  # a usable key entry
    env["WACHTER_VAULT_KEYS"] = f"{new_entry},{first_key}"

    before = run_wachter("vault", "status", cwd=tmp_path, env=env)
    assert "values to re-seal: 2" in before.stdout
    assert "indexes to redo: 1" in before.stdout
    rotated = run_wachter("vault", "rotate", cwd=tmp_path, env=env)
    assert rotated.returncode == 0, rotated.stderr
    assert "Re-sealed 2 values under key k2027a." in rotated.stdout
    assert "can be removed" in rotated.stdout
    for output in (before.stdout + before.stderr, rotated.stdout + rotated.stderr):
        assert new_entry.split(":")[1] not in output  # no command prints a key
        assert first_key.split(":")[1] not in output


def test_keygen_refuses_a_bad_key_id(tmp_path) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    result = run_wachter("vault", "keygen", "no spaces", cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert "key id" in result.stderr
    assert result.stdout == ""


def test_the_key_made_on_first_run_is_the_one_the_service_uses(tmp_path) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    status = run_wachter("vault", "status", cwd=tmp_path, env=env)
    assert status.returncode == 0
    assert "current key: k1" in status.stdout

    settings = Settings.from_env({"WACHTER_DATA_DIR": str(tmp_path / "var")})
    assert keyring_for(settings).current_id == "k1"
