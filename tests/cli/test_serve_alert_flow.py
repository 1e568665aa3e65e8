"""The whole flow in a running ``wachter serve``: an event becomes a detection, an alert and
an entry of the SOC feed, read with a token; people appear there only as pseudonyms.

Wachter's own sign-ins are the event (they enter the event stream from the audit trail),
and the rule pack's "Wachter sign-in with a recovery code" rule detects one: nothing here
is mocked or called in-process, the jobs of ``serve`` do all of it.
"""

from __future__ import annotations

import signal
import time

import requests
from sqlalchemy import func, select

from access_control import Actor
from access_control.audit import record
from core import SystemClock
from incidents.cases.models import Playbook
from storage import Database
from tests.support.processes import clean_env, run_wachter, started

RECOVERY_CODE_RULE = "Wachter sign-in with a recovery code"


def _feed(base_url: str, token: str) -> list[dict]:
    deadline, found = time.monotonic() + 30, []
    while not found and time.monotonic() < deadline:
        time.sleep(0.5)
        answer = requests.get(
            f"{base_url}/api/v1/alerts",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert "mallory" not in answer.text
        found = answer.json()["data"]
    return found


def test_a_sign_in_with_a_recovery_code_reaches_the_soc_feed_as_an_alert_with_a_pseudonym(tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    made = run_wachter(
        "token", "add", "--name", "soc", "--scope", "alerts:read", cwd=tmp_path, env=env
    )
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    try:
        with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
            line = service.wait_for_line("Wachter is running at ")
            base_url = line.split(" at ", 1)[1].rstrip("/")
            with database.unit_of_work() as session:
                record(
                    session,
                    actor=Actor(name="mallory", ip="192.0.2.9"),
                    action="auth.login.success",
                    target="user:mallory",
                    outcome="success",
                    now=SystemClock().now(),
                    details={"method": "recovery"},
                )
            alerts = _feed(base_url, token)
            with database.snapshot() as session:
                playbooks = session.scalar(select(func.count()).select_from(Playbook))
            assert service.stop(signal.SIGTERM) == 0
    finally:
        database.dispose()
    assert [alert["rule"]["name"] for alert in alerts] == [RECOVERY_CODE_RULE]
    alert = alerts[0]
    assert alert["event"]["kind"] == "alert"
    assert alert["source"]["ip"] == "192.0.2.9"
    assert alert["user"]["name"].startswith("psn-")
    assert playbooks == 3  # serve installed the shipped playbooks, one per incident type
