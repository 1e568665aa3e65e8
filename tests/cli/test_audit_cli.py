"""The real ``wachter audit verify|list`` against a SQLite trail written with ``record``."""

from __future__ import annotations

import os
import pty
import shutil
import sqlite3
import subprocess
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, update

from access_control.actor import Actor
from access_control.audit import GENESIS_HASH, entry_digest, record
from access_control.models import AuditChainHead, AuditEntry
from storage import Database
from tests.support.processes import WACHTER, clean_env, run_wachter
from wachter.cli.audit import PROGRESS_MIN_ENTRIES

CET = timezone(timedelta(hours=1))
NOW = datetime(2026, 3, 1, 10, 30, tzinfo=CET)  # 09:30 UTC
TRAIL = [
    # (actor, ip, action, target, outcome)
    ("alice", "192.0.2.10", "auth.login", "user:alice", "success"),
    ("alice", "192.0.2.10", "incident.read", "incident:4", "success"),
    ("bob", "198.51.100.7", "auth.mfa_failed", "user:bob", "failure"),
    ("bob", "198.51.100.7", "auth.login", "user:bob", "success"),
    ("cli:root", None, "report.read", "report:1", "success"),
]
LINES = [
    "2026-03-01T09:30:00Z  alice  auth.login  user:alice  success  192.0.2.10",
    "2026-03-01T09:31:00Z  alice  incident.read  incident:4  success  192.0.2.10",
    "2026-03-01T09:32:00Z  bob  auth.mfa_failed  user:bob  failure  198.51.100.7",
    "2026-03-01T09:33:00Z  bob  auth.login  user:bob  success  198.51.100.7",
    "2026-03-01T09:34:00Z  cli:root  report.read  report:1  success  -",
]


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory):
    """A data directory after ``wachter db upgrade``, made once and copied for each test."""
    root = tmp_path_factory.mktemp("migrated")
    environment = clean_env(WACHTER_DATA_DIR=str(root / "var"))
    upgraded = run_wachter("db", "upgrade", cwd=root, env=environment)
    assert upgraded.returncode == 0, upgraded.stderr
    return root / "var"


@pytest.fixture(scope="module")
def trail_template(tmp_path_factory, migrated_template):
    """The same, with the five entries of TRAIL written one minute apart."""
    data_dir = tmp_path_factory.mktemp("trail") / "var"
    shutil.copytree(migrated_template, data_dir)
    return data_dir, write(data_dir / "wachter.db", TRAIL)


@pytest.fixture
def env(tmp_path):
    return clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))


@pytest.fixture
def database_path(tmp_path):
    return tmp_path / "var" / "wachter.db"


@pytest.fixture
def migrated(tmp_path, migrated_template):
    """A copy of the migrated template: an empty trail."""
    shutil.copytree(migrated_template, tmp_path / "var")


@pytest.fixture
def trail(tmp_path, env, trail_template):
    """A copy of the trail template; returns its entries as written."""
    data_dir, entries = trail_template
    shutil.copytree(data_dir, tmp_path / "var")
    return entries


def write(database_path, rows, *, minutes_from=0):
    database = Database.from_url(f"sqlite:///{database_path}")
    try:
        with database.unit_of_work() as session:
            return [
                record(
                    session,
                    actor=Actor(name=actor, ip=ip),
                    action=action,
                    target=target,
                    outcome=outcome,
                    now=NOW + timedelta(minutes=minutes_from + number),
                )
                for number, (actor, ip, action, target, outcome) in enumerate(rows)
            ]
    finally:
        database.dispose()


def tamper(database_path, *statements):
    """An attacker with write access to the database file: triggers dropped, rows changed."""
    connection = sqlite3.connect(database_path)
    try:
        with connection:
            connection.execute("DROP TRIGGER audit_entry_append_only_update")
            connection.execute("DROP TRIGGER audit_entry_append_only_delete")
            for statement in statements:
                connection.execute(statement)
    finally:
        connection.close()


def audit(tmp_path, env, *args):
    return run_wachter("audit", *args, cwd=tmp_path, env=env)


# verify ----------------------------------------------------------------------------------


def test_verify_reports_an_empty_trail_as_intact(tmp_path, env, migrated):
    result = audit(tmp_path, env, "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Audit trail intact: 0 entries, head {GENESIS_HASH}\n"


def test_verify_reports_the_count_and_the_full_head_hash(tmp_path, env, trail):
    result = audit(tmp_path, env, "verify")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"Audit trail intact: 5 entries, head {trail[-1].entry_hash}\n"
    assert result.stderr == ""  # no progress bar when stderr is no terminal


def test_verify_names_the_entry_whose_content_was_changed(tmp_path, env, database_path, trail):
    tamper(database_path, "UPDATE audit_entry SET outcome = 'success' WHERE id = 3")
    result = audit(tmp_path, env, "verify")
    assert result.returncode == 1
    assert result.stdout == (
        "Audit trail BROKEN at entry 3: its content was changed after it was written "
        "(2 entries before it verified)\n"
    )


def test_verify_names_a_deleted_entry(tmp_path, env, database_path, trail):
    tamper(database_path, "DELETE FROM audit_entry WHERE id = 2")
    result = audit(tmp_path, env, "verify")
    assert result.returncode == 1
    assert result.stdout.startswith("Audit trail BROKEN at entry 2: entry 2 is missing")


def test_verify_notices_entries_removed_from_the_end(tmp_path, env, database_path, trail):
    tamper(database_path, "DELETE FROM audit_entry WHERE id >= 4")
    result = audit(tmp_path, env, "verify")
    assert result.returncode == 1
    assert result.stdout.startswith("Audit trail BROKEN at entry 4: ")
    assert "removed" in result.stdout
    assert "(3 entries before it verified)" in result.stdout


def test_verify_refuses_an_unmigrated_database(tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    result = audit(tmp_path, env, "verify")
    assert result.returncode == 2  # not 1: that means a broken trail
    assert result.stderr.strip() == (
        "Error: the database schema is not up to date; run `wachter db upgrade` first"
    )


def append_quickly(database_path, count):
    """Extend the chain by ``count`` valid entries in bulk (``record`` takes ~1 ms each)."""
    database = Database.from_url(f"sqlite:///{database_path}")
    try:
        with database.unit_of_work() as session:
            head = session.get(AuditChainHead, 1)
            rows, previous_hash = [], head.last_hash
            for number in range(head.last_entry_id + 1, head.last_entry_id + count + 1):
                entry = AuditEntry(
                    id=number,
                    occurred_at=NOW.astimezone(UTC),
                    actor="bulk",
                    action="event.received",
                    target=f"event:{number}",
                    outcome="success",
                    ip=None,
                    user_agent=None,
                    request_id=None,
                    details="{}",
                    previous_hash=previous_hash,
                )
                entry.entry_hash = previous_hash = entry_digest(entry)
                rows.append({c.name: getattr(entry, c.name) for c in AuditEntry.__table__.columns})
            session.execute(insert(AuditEntry), rows)
            session.execute(
                update(AuditChainHead).values(last_entry_id=rows[-1]["id"], last_hash=previous_hash)
            )
        return previous_hash
    finally:
        database.dispose()


def verify_with_terminal_stderr(tmp_path, env):
    """Run ``wachter audit verify`` with stderr on a pseudo-terminal; return (code, out, err)."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(WACHTER), "audit", "verify"],
        cwd=tmp_path,
        env={**env, "COLUMNS": "100"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        text=True,
    )
    os.close(terminal)
    chunks = []

    def drain():
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # EIO: the terminal's other end closed
                return
            if not chunk:
                return
            chunks.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    stdout, _ = process.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(controller)
    return process.returncode, stdout, b"".join(chunks).decode(errors="replace")


def test_verify_shows_progress_only_on_a_terminal_and_for_a_long_trail(
    tmp_path, env, database_path, trail
):
    code, stdout, stderr = verify_with_terminal_stderr(tmp_path, env)
    assert (code, stderr) == (0, "")  # a terminal, but five entries: no bar
    assert stdout.startswith("Audit trail intact: 5 entries")

    head_hash = append_quickly(database_path, PROGRESS_MIN_ENTRIES)
    total = PROGRESS_MIN_ENTRIES + 5
    piped = audit(tmp_path, env, "verify")
    assert (piped.returncode, piped.stderr) == (0, "")  # long, but no terminal: no bar
    assert piped.stdout == f"Audit trail intact: {total} entries, head {head_hash}\n"

    code, stdout, stderr = verify_with_terminal_stderr(tmp_path, env)
    assert code == 0
    assert stdout == f"Audit trail intact: {total} entries, head {head_hash}\n"
    assert "Verifying the audit trail" in stderr
    assert "100%" in stderr


# list ------------------------------------------------------------------------------------


def stdout_lines(result):
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_list_shows_every_entry_newest_first_in_utc(tmp_path, env, trail):
    assert stdout_lines(audit(tmp_path, env, "list")) == LINES[::-1]


def test_list_filters_by_action_prefix_and_limits(tmp_path, env, trail):
    result = audit(tmp_path, env, "list", "--action", "auth.", "--limit", "2")
    assert stdout_lines(result) == [LINES[3], LINES[2]]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (("--actor", "alice"), [1, 0]),
        (("--outcome", "failure"), [2]),
        (("--since", "2026-03-01T09:33:00Z"), [4, 3]),
        (("--since", "2026-03-01T10:33:00+01:00"), [4, 3]),
        (("--since", "2026-03-01T09:33"), [4, 3]),  # no offset: UTC
        (("--action", "auth.", "--actor", "bob", "--since", "2026-03-01T09:33Z"), [3]),
        (("--action", "auth_"), []),
    ],
)
def test_list_filters(tmp_path, env, trail, options, expected):
    assert stdout_lines(audit(tmp_path, env, "list", *options)) == [LINES[i] for i in expected]


def test_list_says_so_on_stderr_when_nothing_matches(tmp_path, env, trail):
    result = audit(tmp_path, env, "list", "--actor", "nobody")
    assert (result.returncode, result.stdout) == (0, "")
    assert result.stderr == "No matching audit entries.\n"


@pytest.mark.parametrize(
    ("options", "option_name"),
    [
        (("--since", "yesterday"), "--since"),
        (("--limit", "0"), "--limit"),
        (("--limit", "501"), "--limit"),
        (("--outcome", "ok"), "--outcome"),
    ],
)
def test_list_rejects_bad_options(tmp_path, env, migrated, options, option_name):
    result = audit(tmp_path, env, "list", *options)
    assert result.returncode == 2
    assert option_name in result.stderr
    assert "Traceback" not in result.stderr


def test_list_escapes_control_characters_so_no_line_can_be_forged(
    tmp_path, env, migrated, database_path
):
    forged = "user:eve\n2026-03-01T09:00:00Z  admin  auth.login  user:admin  success  -"
    write(database_path, [("eve\x1b[2J", None, "auth.login", forged, "failure")])
    lines = stdout_lines(audit(tmp_path, env, "list"))
    assert lines == [
        "2026-03-01T09:30:00Z  eve\\x1b[2J  auth.login  "
        "user:eve\\n2026-03-01T09:00:00Z  admin  auth.login  user:admin  success  -  failure  -"
    ]
