"""``wachter demo``: the sample goes through Wachter's own paths, once, and never into real data.

One run on a fresh SQLite database (three days of events, to keep the suite fast) is shared
by the tests that read what it made; the refusal and the serve hint have their own empty
installations.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from access_control import Actor, users
from access_control.models import AuditEntry, User
from core import Settings, SystemClock
from detection_rules.models import DetectionRule
from incidents.alerts.models import Alert
from incidents.cases.models import Incident, IncidentAlert
from ingest.models import DeadLetter
from staff_safety.models import StaffCase, StaffReport
from storage import Database, migrate
from storage.events import Event
from tests.support.processes import clean_env, run_wachter, started
from wachter.cli.demo import load_if_allowed
from wachter.demo.events import SOURCES


@dataclass(frozen=True)
class Loaded:
    folder: Path
    env: dict[str, str]
    output: str
    database: Database


def _database(folder: Path) -> Database:
    return Database.from_url(f"sqlite:///{folder / 'var' / 'wachter.db'}")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory) -> Iterator[Loaded]:
    folder = tmp_path_factory.mktemp("demo")
    env = clean_env(WACHTER_DATA_DIR=str(folder / "var"), WACHTER_LOG_LEVEL="warning")
    result = run_wachter("demo", "--days", "3", cwd=folder, env=env, timeout=180)
    assert result.returncode == 0, result.stderr
    database = _database(folder)
    yield Loaded(folder, env, result.stdout, database)
    database.dispose()


def _count(database: Database, query) -> int:
    with database.snapshot() as session:
        return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def test_the_demo_stores_events_of_every_demo_source_and_rejects_the_malformed_lines(loaded):
    with loaded.database.snapshot() as session:
        per_source = dict(
            session.execute(select(Event.source, func.count()).group_by(Event.source)).all()
        )
        rejected = session.scalar(select(func.count()).select_from(DeadLetter))
    assert all(per_source.get(source, 0) > 0 for source in SOURCES), per_source
    assert rejected == 3
    assert "3 rejected lines" in loaded.output


def test_the_demo_raises_alerts_of_several_pack_rules_and_opens_incidents_from_them(loaded):
    with loaded.database.snapshot() as session:
        rules = set(
            session.scalars(
                select(DetectionRule.name).join(Alert, Alert.rule_key == DetectionRule.key)
            )
        )
        linked = session.scalar(select(func.count()).select_from(IncidentAlert))
        closed = session.scalar(select(func.count()).where(Alert.resolution == "false_positive"))
    assert {
        "wachter_brute_force_one_account",
        "wachter_password_spraying",
        "wachter_badge_and_vpn_apart",
        "wachter_windows_admin_created",
    } <= rules
    assert linked >= 2
    assert closed == 1


def test_the_demo_sends_aggression_reports_whose_cases_officers_moved_on(loaded):
    with loaded.database.snapshot() as session:
        reports = session.scalar(select(func.count()).select_from(StaffReport))
        cases = session.scalar(select(func.count()).select_from(StaffCase))
        states = dict(
            session.execute(
                select(Incident.state, func.count())
                .where(Incident.type == "staff_safety")
                .group_by(Incident.state)
            ).all()
        )
    assert reports == cases == 30
    assert states["aftercare"] == 1  # the physical violence, a police report filed
    assert states["closed"] > 0
    assert states["reported"] > 0  # the last days' reports: their deadlines still run


def test_the_demo_prints_each_step_a_summary_and_where_to_sign_in(loaded):
    assert loaded.output.count("  · ") >= 6
    assert "Demo sample loaded in " in loaded.output
    assert "/enrol/" in loaded.output
    assert "demo-s.dekker" in loaded.output


def test_a_second_demo_run_says_the_sample_is_there_and_writes_nothing(loaded, capsys):
    # In-process (the command's own function): a subprocess would add seconds to the suite.
    settings = Settings.from_env(loaded.env)
    before = [_count(loaded.database, select(model)) for model in (Event, AuditEntry, User)]

    summary = load_if_allowed(settings, loaded.database, seed=1, days=3, force=True)

    assert summary is None
    assert "already loaded; nothing written" in capsys.readouterr().out
    assert [_count(loaded.database, select(model)) for model in (Event, AuditEntry, User)] == before


def test_the_demo_refuses_an_installation_in_use_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "var").mkdir()
    settings = Settings.from_env(clean_env(WACHTER_DATA_DIR=str(tmp_path / "var")))
    database = _database(tmp_path)
    try:
        migrate.upgrade(database)
        with database.unit_of_work() as session:
            for name in ("j.devries", "p.bakker"):  # the first admin is allowed; two staff not
                users.create_user(
                    session, username=name, display_name=name, role="staff",
                    actor=Actor.command_line(), now=SystemClock().now(),
                )  # fmt: skip
        audit_before = _count(database, select(AuditEntry))

        with pytest.raises(SystemExit) as refused:
            load_if_allowed(settings, database, seed=1, days=3, force=False)

        assert refused.value.code == 1
        message = capsys.readouterr().err
        assert "Refused: this installation is in use (2 accounts" in message
        assert "Nothing written" in message
        assert _count(database, select(Event)) == 0
        assert _count(database, select(User)) == 2
        assert _count(database, select(AuditEntry)) == audit_before
    finally:
        database.dispose()


def test_serve_without_a_terminal_prints_the_demo_hint_and_does_not_wait(tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
        service.wait_for_line("First run: no administrator yet.", timeout=60)
        service.wait_for_line("To explore with a realistic sample: wachter demo", timeout=10)
        service.wait_for_line("Sign in at ", timeout=10)
        assert service.stop(signal.SIGTERM) == 0
