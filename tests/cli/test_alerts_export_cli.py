"""The real ``wachter alerts export --stix`` against a SQLite database with stored alerts:
the bundle in a file or on standard output, the audit entry, and refusals that say why."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import stix2
from sqlalchemy import select

from access_control.models import AuditEntry
from incidents.alerts.models import AlertEntity
from storage import Database
from tests.support.incident_factories import make_alert
from tests.support.processes import clean_env, run_wachter

SEEN = datetime.now(UTC) - timedelta(hours=2)  # the command's clock is the real one


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A migrated data directory with two alerts (one IPv4, one IPv6 and an account)."""
    root = tmp_path_factory.mktemp("alerts-export")
    upgraded = run_wachter(
        "db", "upgrade", cwd=root, env=clean_env(WACHTER_DATA_DIR=str(root / "var"))
    )
    assert upgraded.returncode == 0, upgraded.stderr
    database = Database.from_url(f"sqlite:///{root / 'var' / 'wachter.db'}")
    try:
        with database.unit_of_work() as session:
            for entities in (
                [["ip", "203.0.113.7"]],
                [["ip", "2001:db8::7"], ["account", "alice.jansen"]],
            ):
                alert = make_alert(
                    session,
                    entities=orjson.dumps(entities).decode(),
                    first_seen=SEEN,
                    last_seen=SEEN,
                    created_at=SEEN,
                    updated_at=SEEN,
                )
                for kind, value in entities:
                    session.add(AlertEntity(alert_id=alert.id, kind=kind, value=value))
    finally:
        database.dispose()
    return root / "var"


@pytest.fixture
def env(tmp_path, template):
    shutil.copytree(template, tmp_path / "var")
    return clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))


def exports(tmp_path) -> list[AuditEntry]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    try:
        with database.unit_of_work() as session:
            query = select(AuditEntry).where(AuditEntry.action == "alerts.exported")
            return list(session.scalars(query))
    finally:
        database.dispose()


def test_the_export_writes_a_stix_file_and_is_audited(tmp_path, env):
    output = tmp_path / "out" / "bundle.json"
    output.parent.mkdir()
    result = run_wachter(
        "alerts", "export", "--stix", "--output", str(output), cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert "Exported 2 alerts: 2 indicators, 2 sightings" in result.stderr
    bundle = stix2.parse(output.read_text())
    patterns = sorted(o.pattern for o in bundle.objects if o.type == "indicator")
    assert patterns == ["[ipv4-addr:value = '203.0.113.7']", "[ipv6-addr:value = '2001:db8::7']"]
    assert "alice" not in output.read_text()
    assert output.stat().st_mode & 0o077 == 0  # an export is readable by its owner only
    assert [p.name for p in output.parent.iterdir()] == ["bundle.json"]  # no temporary left
    [entry] = exports(tmp_path)
    assert entry.actor.startswith("cli:")
    details = json.loads(entry.details)
    assert (details["alerts"], details["indicators"], details["sightings"]) == (2, 2, 2)
    assert details["destination"] == "file"


def test_without_output_the_bundle_goes_to_standard_output(tmp_path, env):
    since = (SEEN - timedelta(hours=1)).isoformat()
    result = run_wachter("alerts", "export", "--stix", "--since", since, cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    bundle = stix2.parse(result.stdout)
    assert len([o for o in bundle.objects if o.type == "sighting"]) == 2
    [entry] = exports(tmp_path)
    assert json.loads(entry.details)["destination"] == "stdout"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--stix", "--since", "yesterday"], "is not an ISO 8601 time"),
        ([], "choose a format: --stix"),
    ],
)
def test_a_bad_request_says_why_and_exports_nothing(tmp_path, env, arguments, message):
    output = tmp_path / "bundle.json"
    result = run_wachter(
        "alerts", "export", *arguments, "--output", str(output), cwd=tmp_path, env=env
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert not output.exists()
    assert exports(tmp_path) == []
