"""Ingest offered at three times the sustainable rate for two minutes (marker ``long``).

First the test measures what this machine sustains: HTTP batches as fast as two senders
can get them acknowledged (15 s). That rate becomes the token's limit
(``WACHTER_INGEST_RATE_LIMIT``, the operator's statement of what the box takes), and for
two minutes the token is offered three times as much, while a syslog sender writes over
TCP, an officer reads the console and the SOC polls the alert feed. Shown: the excess is
refused with 429 and ``Retry-After`` (never a 5xx), the syslog sender is slowed by the
socket, not dropped; the server's memory stays bounded (peak reported); the console
answers every page (p95 reported); and after the burst every acknowledged event and every
syslog line sent is stored once and has passed through detection.

The figures are written to ``tests/reliability/figures/overload.json`` and printed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from storage import Database
from tests.support.live_load import (
    ConsoleUser,
    FeedPoller,
    HttpSender,
    ProcessSampler,
    SyslogSender,
    base_and_port,
    percentile,
    prepare_service,
    stored_and_processed,
    wait_until_processed,
    write_figures,
)
from tests.support.processes import clean_env, started

pytestmark = pytest.mark.long

BURST_SECONDS = float(os.environ.get("WACHTER_OVERLOAD_SECONDS", "120"))
CALIBRATION_SECONDS = 15
BATCH = 500


def sustainable_rate(tmp_path: Path, env: dict[str, str], token: str) -> float:
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
        base, _port = base_and_port(server)
        senders = [HttpSender(n, base, token, size=BATCH, period=0) for n in (90, 91)]
        for sender in senders:
            sender.start()
        time.sleep(CALIBRATION_SECONDS)
        figures = [sender.finish() for sender in senders]
        assert server.stop() == 0
    assert not [error for f in figures for error in f.errors], figures
    accepted = sum(f.accepted_events for f in figures)
    assert accepted > 0, figures
    return accepted / CALIBRATION_SECONDS


def test_three_times_the_sustainable_rate_is_refused_clearly_and_nothing_accepted_is_lost(
    tmp_path: Path,
) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"), WACHTER_SYSLOG_TCP="127.0.0.1:0",
                    WACHTER_LOG_LEVEL="WARNING", WACHTER_INGEST_RATE_LIMIT="999999")  # fmt: skip
    service = prepare_service(tmp_path, env)
    rate = sustainable_rate(tmp_path, env, service.token)
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    before, _ = stored_and_processed(database)

    env["WACHTER_INGEST_RATE_LIMIT"] = str(int(rate))
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
        base, port = base_and_port(server)
        sampler = ProcessSampler(server.process.pid, period=0.5)
        senders = [
            HttpSender(n, base, service.token, size=BATCH, period=4 * BATCH / (3 * rate))
            for n in range(4)
        ]  # four senders, together three times the rate
        syslog = SyslogSender(port, size=200, period=0.05)  # 4,000 lines/s offered
        officer = ConsoleUser(base, service, period=1.0)
        feed = FeedPoller(base, service.token, period=2.0)
        threads = [sampler, *senders, syslog, officer, feed]
        for thread in threads:
            thread.start()
        time.sleep(BURST_SECONDS)
        http = [sender.finish() for sender in senders]
        syslog_figures, console, polled = syslog.finish(), officer.finish(), feed.finish()

        accepted = sum(figures.accepted_events for figures in http)
        expected = before + accepted + syslog.sent
        caught_up = wait_until_processed(database, expected, timeout=300)
        samples = sampler.finish()
        assert server.stop() == 0
    database.dispose()

    statuses: dict[int, int] = {}
    for figures in http:
        for status, number in figures.statuses.items():
            statuses[status] = statuses.get(status, 0) + number
    report = {
        "sustainable_events_per_s": round(rate),
        "offered_events_per_s": round(3 * rate),
        "burst_s": BURST_SECONDS,
        "http_statuses": statuses,
        "accepted_events_per_s": round(accepted / BURST_SECONDS),
        "syslog_lines_per_s": round(syslog.sent / BURST_SECONDS),
        "peak_rss_mib": round(max(sample.rss_mib for sample in samples)),
        "peak_open_files": max(sample.open_files for sample in samples),
        "console_pages": len(console.durations),
        "console_p95_ms": round(1000 * percentile(console.durations, 0.95)),
        "console_max_ms": round(1000 * max(console.durations)),
        "console_lock_wait_p95_ms": round(1000 * percentile(console.lock_waits, 0.95)),
        "feed_polls": sum(polled.statuses.values()),
        "caught_up_after_s": round(caught_up, 1),
    }
    write_figures("overload", report, shown=report)

    assert set(statuses) == {202, 429}, statuses  # the excess refused, nothing failed
    waits = set().union(*(figures.retry_after for figures in http))
    assert waits, "no refusal said when to retry"
    assert waits <= {"1", "2"}, waits  # the rest of the two-second window
    assert not [error for f in http for error in f.errors], "an HTTP sender saw an error"
    assert not syslog_figures.errors, syslog_figures.errors
    # the limit holds: at most the rate plus its two-second burst
    assert accepted <= rate * (BURST_SECONDS + 2) + BATCH
    assert report["peak_rss_mib"] < 1024
    assert not console.errors, console.errors
    assert not polled.errors, polled.errors
    assert report["console_p95_ms"] < 3000
