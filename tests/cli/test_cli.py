"""The real ``wachter`` command: start-up errors, migrations, serve and worker."""

from __future__ import annotations

import signal
import time
import uuid

import pytest
import requests
from sqlalchemy import select

from access_control import Actor
from access_control.audit import record
from core import SystemClock
from storage import Database, migrate
from storage.events import Event
from tests.support.processes import clean_env, run_wachter, started

HEAD = migrate.head_revision()


@pytest.fixture
def env(tmp_path):
    return clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))


def assert_one_line_config_error(result, variable):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error: {variable}: ")
    assert "Traceback" not in result.stderr + result.stdout


def test_version_names_the_release_and_schema(tmp_path, env):
    result = run_wachter("version", cwd=tmp_path, env=env)
    assert result.returncode == 0
    assert result.stdout.startswith(f"wachter 0.1.0 (schema {HEAD})")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nonsense", "expected a URL"),
        ("mysql://root@localhost/wachter", "unsupported database 'mysql'"),
        ("postgresql://wachter:letmein-secret@127.0.0.1:1/wachter", "Connection refused"),
    ],
)
@pytest.mark.parametrize("command", [("db", "upgrade"), ("serve", "--port", "0"), ("worker",)])
def test_a_wrong_database_url_stops_with_one_line_and_exit_2(tmp_path, env, url, expected, command):
    result = run_wachter(*command, cwd=tmp_path, env={**env, "WACHTER_DATABASE_URL": url})
    assert_one_line_config_error(result, "WACHTER_DATABASE_URL")
    assert expected in result.stderr
    assert "letmein-secret" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", [("db", "upgrade"), ("serve", "--port", "0"), ("worker",)])
def test_an_unwritable_data_dir_stops_with_one_line_and_exit_2(tmp_path, env, command):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_wachter(
        *command, cwd=tmp_path, env={**env, "WACHTER_DATA_DIR": str(blocker / "var")}
    )
    assert_one_line_config_error(result, "WACHTER_DATA_DIR")


def test_a_bad_port_and_a_misspelt_variable_stop_start_up(tmp_path, env):
    assert_one_line_config_error(
        run_wachter("serve", cwd=tmp_path, env={**env, "WACHTER_HTTP_PORT": "http"}),
        "WACHTER_HTTP_PORT",
    )
    result = run_wachter("serve", cwd=tmp_path, env={**env, "WACHTER_HTTP_PROT": "8080"})
    assert_one_line_config_error(result, "WACHTER_HTTP_PROT")
    assert "did you mean WACHTER_HTTP_PORT" in result.stderr


def test_db_upgrade_current_and_downgrade(tmp_path, env):
    upgraded = run_wachter("db", "upgrade", cwd=tmp_path, env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"Database schema at {HEAD}" in upgraded.stdout
    assert (
        run_wachter("db", "current", cwd=tmp_path, env=env).stdout.strip() == f"{HEAD}: up to date"
    )
    refused = run_wachter("db", "downgrade", "base", cwd=tmp_path, env=env)
    assert refused.returncode == 1  # no confirmation on a closed stdin: nothing happens
    assert (
        run_wachter("db", "current", cwd=tmp_path, env=env).stdout.strip() == f"{HEAD}: up to date"
    )
    downgraded = run_wachter("db", "downgrade", "base", "--yes", cwd=tmp_path, env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert (
        run_wachter("db", "current", cwd=tmp_path, env=env).stdout.strip()
        == f"empty: behind (latest is {HEAD})"
    )


def test_first_run_keeps_its_files_private(tmp_path, env):
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    data_dir = tmp_path / "var"
    assert oct(data_dir.stat().st_mode & 0o777) == "0o700"
    for path in data_dir.iterdir():
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"


def test_worker_refuses_an_unmigrated_database(tmp_path, env):
    result = run_wachter("worker", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "run `wachter db upgrade` first" in result.stderr


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def service_env(request, env):
    if request.param == "sqlite":
        yield env
        return
    cluster = request.getfixturevalue("postgres_cluster")
    name = f"wachter_cli_{uuid.uuid4().hex[:12]}"
    url = cluster.create_database(name)
    yield {**env, "WACHTER_DATABASE_URL": url}
    cluster.drop_database(name)


def test_serve_migrates_serves_the_console_and_stops_cleanly(tmp_path, service_env):
    with started("serve", "--port", "0", cwd=tmp_path, env=service_env) as service:
        base_url = service.wait_for_line("Wachter is running at ").split(" at ", 1)[1].rstrip("/")
        assert base_url.startswith("http://127.0.0.1:")
        ready = requests.get(f"{base_url}/readyz", timeout=10)
        assert ready.status_code == 200
        assert ready.json()["checks"]["database"] == "ok"
        login = requests.get(f"{base_url}/login", timeout=10)
        assert login.status_code == 200
        assert 'name="password"' in login.text
        assert login.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert requests.get(f"{base_url}/static/css/wachter.css", timeout=10).status_code == 200
        assert service.stop(signal.SIGTERM) == 0
    logged = "\n".join(service.stderr_lines)
    assert '"background jobs stopped"' in logged


def test_worker_runs_until_terminated(tmp_path, service_env):
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=service_env).returncode == 0
    with started("worker", cwd=tmp_path, env=service_env) as worker:
        worker.wait_for_line("Wachter worker running")
        worker.process.send_signal(signal.SIGUSR1)  # asks for the stacks; does not stop it
        deadline = time.monotonic() + 10
        while not any('"thread stacks"' in line for line in worker.stderr_lines):
            assert time.monotonic() < deadline, "no stack dump on SIGUSR1"
            time.sleep(0.05)
        assert worker.process.poll() is None
        assert worker.stop(signal.SIGTERM) == 0
    assert any('"stopping background jobs"' in line for line in worker.stderr_lines)


def test_serve_runs_the_ingest_jobs_its_own_sign_ins_become_events(tmp_path, env):
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    try:
        with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
            service.wait_for_line("Wachter is running at ")
            with database.unit_of_work() as session:
                record(
                    session,
                    actor=Actor(name="anonymous", ip="192.0.2.9"),
                    action="auth.password.failure",
                    target="user:mallory",
                    outcome="failure",
                    now=SystemClock().now(),
                )
            deadline = time.monotonic() + 20
            found = []
            while not found and time.monotonic() < deadline:
                time.sleep(0.5)
                with database.snapshot() as session:
                    found = [e.data for e in session.scalars(select(Event))]
            assert service.stop(signal.SIGTERM) == 0
    finally:
        database.dispose()
    assert [event["event"]["dataset"] for event in found] == ["wachter.auth"]
    assert found[0]["user"]["name"] == "mallory"
