"""The real ``wachter rules …`` and ``wachter lists …`` against a SQLite database in a temp dir."""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import pty
import re
import struct
import subprocess
import termios
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from access_control.models import AuditEntry
from detection_rules.service import get_lists, get_rule, rule_versions
from storage import Database
from tests.support.processes import WACHTER, clean_env, run_wachter
from tests.support.shared_data import shared_data

RULE_ID = "4f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a01"
GOOD = f"""\
title: Whoami run
id: {RULE_ID}
status: test
level: medium
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
"""
BAD = """\
title: Failed logons
id: 5f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02
level: severe
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID: 4625
        TargetUserName|startwith: admin
    condition: selection
"""
STYLE = GOOD.replace(RULE_ID, "6f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a03").replace(
    "Image|endswith: '\\whoami.exe'", "CommandLine: '*whoami*'"
)
SUMMARY = re.compile(
    r"Checked (\d+) files?: (\d+) rules? good; (\d+) rejected \((\d+) errors?, (\d+) warnings?\)\."
)


@pytest.fixture
def env(tmp_path):
    return clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))


@pytest.fixture
def database(tmp_path, env):
    upgraded = run_wachter("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    opened = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    yield opened
    opened.dispose()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def wachter(tmp_path, env, *args, timeout=60):
    return run_wachter(*args, cwd=tmp_path, env=env, timeout=timeout)


@pytest.fixture
def rules_dir(tmp_path):
    write(tmp_path / "rules" / "good.yml", GOOD)
    write(tmp_path / "rules" / "windows" / "bad.yml", BAD)
    return tmp_path / "rules"


def test_check_reports_every_bad_rule_with_file_and_line_and_exits_1(tmp_path, env, rules_dir):
    result = wachter(tmp_path, env, "rules", "check", str(rules_dir))

    assert result.returncode == 1
    bad = rules_dir / "windows" / "bad.yml"
    assert result.stderr.splitlines() == [
        f"{bad}:3: 'severe' is not a valid Sigma rule level "
        '(rule "Failed logons" (5f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02))',
        f"{bad}:10: Unknown modifier 'startwith' "
        '(rule "Failed logons" (5f0b8b7e-3a59-4c53-9d0b-0b8f8f0f0a02))',
    ]
    assert result.stdout == "Checked 2 files: 1 rule good; 1 rejected (2 errors, 0 warnings).\n"
    assert not (tmp_path / "var").exists(), "check needs no database"


def test_check_passes_with_warnings_unless_strict(tmp_path, env):
    style = write(tmp_path / "style.yml", STYLE)

    relaxed = wachter(tmp_path, env, "rules", "check", str(style))
    strict = wachter(tmp_path, env, "rules", "check", "--strict", str(style))

    assert relaxed.returncode == 0, relaxed.stderr
    assert f"{style}:10: warning: String contains wildcards" in relaxed.stderr
    assert relaxed.stdout.endswith("1 rule good; 0 rejected (0 errors, 1 warning).\n")
    assert strict.returncode == 1
    assert f"{style}:10: String contains wildcards" in strict.stderr
    assert strict.stdout.endswith("0 rules good; 1 rejected (1 error, 0 warnings).\n")


def test_check_refuses_an_unknown_pipeline(tmp_path, env, rules_dir):
    result = wachter(tmp_path, env, "rules", "check", "--pipeline", "splunk", str(rules_dir))

    assert result.returncode == 1
    assert "Unknown pipeline" in result.stderr


def test_import_stores_the_good_rules_reports_the_bad_and_exits_1(
    tmp_path, env, database, rules_dir
):
    result = wachter(tmp_path, env, "rules", "import", str(rules_dir))

    assert result.returncode == 1
    assert result.stderr.count("bad.yml:") == 2
    assert result.stdout == (
        "Imported from 2 files: 1 new, 0 new versions, 0 unchanged; "
        "1 rejected (2 errors, 0 warnings).\n"
    )
    with database.snapshot() as session:
        rule = get_rule(session, RULE_ID)
        assert (rule.title, rule.enabled, rule.current_version) == ("Whoami run", True, 1)
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.action == "detection_rule.created")
        ).all()
    assert actors == [f"cli:{getpass.getuser()}"]


def test_reimporting_is_unchanged_and_an_edit_is_a_new_version(tmp_path, env, database):
    rule = write(tmp_path / "good.yml", GOOD)
    assert wachter(tmp_path, env, "rules", "import", str(rule)).returncode == 0

    again = wachter(tmp_path, env, "rules", "import", str(rule))
    rule.write_text(GOOD.replace("level: medium", "level: high"))
    edited = wachter(tmp_path, env, "rules", "import", str(rule))

    assert again.stdout.startswith("Imported from 1 file: 0 new, 0 new versions, 1 unchanged;")
    assert edited.returncode == 0, edited.stderr
    assert edited.stdout.startswith("Imported from 1 file: 0 new, 1 new version, 0 unchanged;")
    with database.snapshot() as session:
        assert [version.version for version in rule_versions(session, RULE_ID)] == [1, 2]


def test_import_reads_a_zip_and_refuses_a_zip_bomb_storing_nothing(tmp_path, env, database):
    pack = tmp_path / "pack.zip"
    with zipfile.ZipFile(pack, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rules/good.yml", GOOD)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("rules/style.yml", STYLE)
        archive.writestr("rules/huge.yml", "#" * (20 * 1024 * 1024))

    refused = wachter(tmp_path, env, "rules", "import", str(bomb))
    imported = wachter(tmp_path, env, "rules", "import", "--disabled", str(pack))

    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        f"Error: {bomb}: rules/huge.yml inflates to more than 4194304 bytes; refused (zip bomb?)"
    )
    assert imported.returncode == 0, imported.stderr
    listed = wachter(tmp_path, env, "rules", "list", "--json")
    assert [(row["key"], row["enabled"]) for row in json.loads(listed.stdout)] == [(RULE_ID, False)]


def test_list_show_enable_and_disable(tmp_path, env, database):
    write(tmp_path / "rules" / "a.yml", GOOD)
    write(tmp_path / "rules" / "b.yml", STYLE)
    assert wachter(tmp_path, env, "rules", "import", str(tmp_path / "rules")).returncode == 0

    disabled = wachter(tmp_path, env, "rules", "disable", RULE_ID)
    again = wachter(tmp_path, env, "rules", "disable", RULE_ID)
    unknown = wachter(tmp_path, env, "rules", "enable", RULE_ID, "nope")
    table = wachter(tmp_path, env, "rules", "list", "--disabled")
    shown = wachter(tmp_path, env, "rules", "show", RULE_ID)

    assert disabled.stdout == f"{RULE_ID} (Whoami run) disabled.\n"
    assert again.stdout == f"{RULE_ID} (Whoami run) was already disabled.\n"
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: There is no detection rule nope."
    assert table.stdout.splitlines() == [
        "KEY                                   VERSION  ON  LEVEL   KIND  TITLE",
        f"{RULE_ID}  1        no  medium  rule  Whoami run",
    ]
    assert "enabled: False\nversion: 1\n" in shown.stdout
    assert shown.stdout.endswith("---\n" + GOOD)
    with database.snapshot() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == f"detection_rule:{RULE_ID}")
        ).all()
    assert actions == ["detection_rule.created", "detection_rule.disabled"]


def test_lists_are_set_shown_extended_and_bad_networks_refused(tmp_path, env, database):
    refused = wachter(
        tmp_path,
        env,
        "lists",
        "set",
        "office_networks",
        "--kind",
        "networks",
        "10.0.0.0/8",
        "10.0.0.300/8",
    )
    created = wachter(
        tmp_path, env, "lists", "set", "office_networks", "--kind", "networks", "10.0.0.0/8"
    )
    added = wachter(tmp_path, env, "lists", "add", "office_networks", "192.168.1.7", "10.0.0.0/8")
    removed = wachter(tmp_path, env, "lists", "remove", "office_networks", "10.0.0.0/8")
    overview = wachter(tmp_path, env, "lists", "show")
    values = wachter(tmp_path, env, "lists", "show", "office_networks")

    assert refused.returncode == 1
    assert "10.0.0.300/8 is not an IP address or network" in refused.stderr
    assert created.stdout == "List office_networks (networks): 1 value.\n"
    assert added.stdout == "List office_networks (networks): 2 values.\n"
    assert removed.stdout == "List office_networks (networks): 1 value.\n"
    assert overview.stdout.startswith("office_networks  networks  1 value  updated ")
    assert values.stdout == "192.168.1.7\n"
    with database.snapshot() as session:
        assert get_lists(session) == {"office_networks": ("192.168.1.7",)}


def test_on_a_terminal_check_shows_progress_bars(tmp_path, env, rules_dir):
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [str(WACHTER), "rules", "check", str(rules_dir)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while chunk := _read_pty(controller):
        shown += chunk
    process.wait(60)
    os.close(controller)

    assert b"Reading rules: 100%|" in shown
    assert b"Checking rules: 100%|" in shown


def _read_pty(controller: int) -> bytes:
    try:
        return os.read(controller, 4096)
    except OSError:  # the child closed the terminal
        return b""


def test_check_runs_over_all_sigmahq_windows_rules(tmp_path, env):
    windows = shared_data("sigma-rules/rules/windows")
    files = sum(1 for _ in windows.rglob("*.yml"))

    started = time.monotonic()
    result = wachter(tmp_path, env, "rules", "check", str(windows), timeout=300)
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stderr[-2000:]
    match = SUMMARY.fullmatch(result.stdout.strip())
    assert match, result.stdout
    checked, good, rejected, errors, warnings = map(int, match.groups())
    assert (checked, good, rejected, errors) == (files, files, 0, 0)
    assert warnings == len(result.stderr.splitlines())
    assert elapsed < 120, f"checking {files} rules took {elapsed:.0f} s"
