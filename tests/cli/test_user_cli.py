"""``wachter user …`` and ``wachter keys rotate`` through the real command."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from access_control.enrolment import InvalidLink, Purpose, find_valid_link
from access_control.models import AuditEntry, User
from access_control.secret_box import SecretBox
from storage import Database
from tests.support.processes import clean_env, run_wachter, started

OLD_KEY = "b2xkLWtleS1vbGQta2V5LW9sZC1rZXktb2xkLWtleSE="
NEW_KEY = "bmV3LWtleS1uZXcta2V5LW5ldy1rZXktbmV3LWtleSE="
LINK = re.compile(r"^(https?://\S+)/enrol/(\S+)$", re.M)


@pytest.fixture
def cli(tmp_path):
    env = clean_env(
        WACHTER_DATA_DIR=str(tmp_path / "var"),
        WACHTER_PUBLIC_URL="https://wachter.example.nl",
        WACHTER_ENCRYPTION_KEYS=OLD_KEY,
    )
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0

    def run(*args, **extra_env):
        return run_wachter(*args, cwd=tmp_path, env={**env, **extra_env})

    run.database_url = f"sqlite:///{tmp_path / 'var' / 'wachter.db'}"
    return run


def database(cli):
    return Database.from_url(cli.database_url)


def test_add_prints_a_one_time_link_on_the_public_address(cli):
    result = cli(
        "user", "add", "Anna", "--role", "security_officer", "--display-name", "Anna de Vries"
    )
    assert result.returncode == 0, result.stderr
    base, token = LINK.search(result.stdout).groups()
    assert base == "https://wachter.example.nl"
    db = database(cli)
    with db.unit_of_work() as session:
        link = find_valid_link(
            session, token=token, purpose=Purpose.ENROLMENT, now=datetime.now(UTC)
        )
        user = session.get(User, link.user_id)
        assert (user.username, user.role, user.display_name) == (
            "anna",
            "security_officer",
            "Anna de Vries",
        )
        assert user.password_hash is None
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions == ["user.created", "user.enrolment_link_created"]
        assert session.scalar(select(AuditEntry.actor)).startswith("cli:")
    db.dispose()


def test_a_new_link_voids_the_old_one(cli):
    first = LINK.search(cli("user", "add", "bob", "--role", "staff").stdout).group(2)
    second = LINK.search(cli("user", "link", "BOB").stdout).group(2)
    db = database(cli)
    with db.unit_of_work() as session:
        now = datetime.now(UTC)
        with pytest.raises(InvalidLink):
            find_valid_link(session, token=first, purpose=Purpose.ENROLMENT, now=now)
        assert find_valid_link(session, token=second, purpose=Purpose.ENROLMENT, now=now)
    db.dispose()


def test_mistakes_end_with_one_line(cli):
    assert cli("user", "add", "carla", "--role", "staff").returncode == 0
    again = cli("user", "add", " CARLA ", "--role", "staff")
    assert again.returncode == 1
    assert again.stderr.strip() == "Error: An account named \u201ccarla\u201d already exists."
    unknown = cli("user", "disable", "nobody")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: No account named \u201cnobody\u201d."
    bad_role = cli("user", "add", "dirk", "--role", "superuser")
    assert bad_role.returncode == 2
    assert "superuser" in bad_role.stderr
    assert "Traceback" not in again.stderr + unknown.stderr + bad_role.stderr


def test_list_and_state_changes(cli):
    assert "No accounts yet" in cli("user", "list").stdout
    cli("user", "add", "eva", "--role", "soc_analyst")
    assert re.search(r"^eva\s+soc_analyst\s+active, not enrolled", cli("user", "list").stdout, re.M)
    assert cli("user", "disable", "eva").returncode == 0
    assert re.search(r"^eva\s+soc_analyst\s+disabled", cli("user", "list").stdout, re.M)
    assert cli("user", "enable", "eva").returncode == 0
    assert cli("user", "role", "eva", "auditor").stdout.strip() == "eva: role is now auditor"
    assert cli("user", "unlock", "eva").returncode == 0
    assert cli("user", "reset-mfa", "eva").returncode == 0
    db = database(cli)
    with db.unit_of_work() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    db.dispose()
    for action in (
        "user.disabled",
        "user.enabled",
        "user.role_changed",
        "user.unlocked",
        "mfa.reset",
    ):
        assert action in actions
    assert re.search(r"^eva\s+auditor\s+active", cli("user", "list").stdout, re.M)


def test_keys_rotate_moves_every_secret_to_the_new_key(cli):
    cli("user", "add", "fleur", "--role", "staff")
    db = database(cli)
    with db.unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == "fleur"))
        user.totp_secret = SecretBox([OLD_KEY]).encrypt("JBSWY3DPEHPK3PXP")
    result = cli("keys", "rotate", WACHTER_ENCRYPTION_KEYS=f"{NEW_KEY},{OLD_KEY}")
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 1 secrets" in result.stdout
    with db.unit_of_work() as session:
        stored = session.scalar(select(User.totp_secret).where(User.username == "fleur"))
    db.dispose()
    assert SecretBox([NEW_KEY]).decrypt(stored) == "JBSWY3DPEHPK3PXP"


def test_serve_offers_the_setup_link_only_while_there_are_no_accounts(cli, tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"), WACHTER_ENCRYPTION_KEYS=OLD_KEY)
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
        line = service.wait_for_line("(valid for one hour")
        assert "/setup/" in line
        assert service.stop() == 0
    cli("user", "add", "gerrit", "--role", "admin")
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
        service.wait_for_line("Wachter is running at ")
        assert service.lines.get(timeout=30).startswith("Sign in at ")  # no "First run" lines
        assert service.stop() == 0
