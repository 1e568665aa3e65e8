"""The real ``wachter playbooks import|list`` against a SQLite database in a temp dir."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from access_control.models import AuditEntry
from storage import Database, migrate
from tests.support.processes import clean_env, run_wachter

PLAYBOOK = """key: phishing
incident_type: cyber
title: Phishing
tasks:
  - key: block-sender
    title: Block the sender
    due_after_minutes: 30
"""


@pytest.fixture
def env(tmp_path):
    return clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))


@pytest.fixture
def database(tmp_path):
    """The data directory's database, migrated in this process (saves a command's start)."""
    (tmp_path / "var").mkdir(mode=0o700)
    opened = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    migrate.upgrade(opened)
    yield opened
    opened.dispose()


def test_import_reports_each_file_and_a_bad_one_exits_1(tmp_path, env, database):
    good = tmp_path / "phishing.yml"
    good.write_text(PLAYBOOK)
    bad = tmp_path / "broken.yml"
    bad.write_text("key: x\nincident_type: flood\n")
    first = run_wachter("playbooks", "import", str(good), str(bad), cwd=tmp_path, env=env)
    assert first.returncode == 1
    assert first.stdout.splitlines() == ["phishing: new (version 1)"]
    assert "broken.yml is not a playbook: incident_type" in first.stderr
    good.write_text(PLAYBOOK.replace("30", "15"))
    edited = run_wachter("playbooks", "import", str(good), cwd=tmp_path, env=env)
    assert (edited.returncode, edited.stdout.strip()) == (0, "phishing: new version (version 2)")
    listed = run_wachter("playbooks", "list", "--json", cwd=tmp_path, env=env)
    assert json.loads(listed.stdout) == [
        {"key": "phishing", "incident_type": "cyber", "version": 2, "tasks": 1, "title": "Phishing"}
    ]
    with database.unit_of_work() as session:
        actors = session.scalars(
            select(AuditEntry.actor).where(AuditEntry.target == "playbook:phishing")
        ).all()
    assert len(actors) == 2
    assert all(actor.startswith("cli:") for actor in actors)
