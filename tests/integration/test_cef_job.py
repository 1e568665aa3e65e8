"""The CEF sender as a background job: scheduled only when a collector is configured, and
run by the job runner like any other job (lease, commit)."""

from __future__ import annotations

import socketserver
import threading
from datetime import UTC, datetime

from sqlalchemy import select

from core import FixedClock, Settings
from incidents.alerts.models import IncidentsCursor
from incidents.feeds import cef_sender
from incidents.feeds.changes import record_alert_change
from tests.conftest import TEST_ENCRYPTION_KEY
from tests.support.incident_factories import make_alert
from wachter.jobs import BackgroundJobs, jobs_for

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def settings(tmp_path, **overrides) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url="sqlite:///unused.db",
        encryption_keys=(TEST_ENCRYPTION_KEY,),  # other jobs need one
        **overrides,
    )


def test_the_job_is_scheduled_only_when_a_collector_is_configured(tmp_path):
    names = [job.name for job in jobs_for(settings(tmp_path))]
    assert "incidents.send_cef" not in names
    configured = jobs_for(settings(tmp_path, cef_syslog=("127.0.0.1", 6514)))
    [job] = [job for job in configured if job.name == "incidents.send_cef"]
    assert job.interval.total_seconds() == 2


class _Collector(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self) -> None:
        self.received = bytearray()
        super().__init__(("127.0.0.1", 0), _Reader)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()


class _Reader(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        self.request.settimeout(10)
        while data := self.request.recv(65536):
            self.server.received.extend(data)


def test_the_job_runner_sends_the_feed_and_commits_the_cursor(
    migrated_database, tmp_path, monkeypatch
):
    monkeypatch.setattr(cef_sender, "_PROCESS_BACKOFF", cef_sender.Backoff())
    with migrated_database.unit_of_work() as session:
        entry = record_alert_change(session, make_alert(session), change="created", now=NOW)
    collector = _Collector()
    try:
        configured = settings(tmp_path, cef_syslog=("127.0.0.1", collector.server_address[1]))
        [job] = [job for job in jobs_for(configured) if job.name == "incidents.send_cef"]
        runner = BackgroundJobs(migrated_database, [job], clock=FixedClock(NOW), holder="w1")
        assert runner.run_once(job)
    finally:
        collector.shutdown()
        collector.server_close()
    assert b"CEF:0|Wachter|Wachter|" in collector.received
    with migrated_database.unit_of_work() as session:
        position = session.scalar(
            select(IncidentsCursor.position).where(IncidentsCursor.name == "cef")
        )
    assert position == entry.id
