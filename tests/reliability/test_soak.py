"""A 30-minute mixed load on one ``wachter serve`` (marker ``long``): no growth trend.

HTTP batches and syslog over TCP at a steady, sustainable rate, detection running on
them (the process-start rule and the failed-sign-in correlation), an officer reading the
console and the SOC polling the alert feed, for ``WACHTER_SOAK_MINUTES`` (30). The server's
resident memory and open file descriptors are sampled every 10 s. Shown: after the first
quarter (start-up) neither grows (glibc's arenas had kept what threads freed: ADR 0029).
The last quarter's median memory is within 15 % (plus 16 MiB) of the second quarter's
(single samples move by ±35 MiB), and the open files within 8; every request was
answered without an error and everything sent was stored and detected. The second half's
least-squares slope of memory is reported with the figures.

The samples are written to ``tests/reliability/figures/soak.json``.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import pytest

from storage import Database
from tests.support.live_load import (
    ConsoleUser,
    FeedPoller,
    HttpSender,
    ProcessSampler,
    Sample,
    SyslogSender,
    base_and_port,
    percentile,
    prepare_service,
    wait_until_processed,
    write_figures,
)
from tests.support.processes import clean_env, started

pytestmark = pytest.mark.long

MINUTES = float(os.environ.get("WACHTER_SOAK_MINUTES", "30"))


def quarter_medians(samples: list[Sample]) -> tuple[tuple[float, float], tuple[float, float]]:
    """(memory, open files) medians of the second and of the last quarter."""
    quarter = len(samples) // 4
    second, last = samples[quarter : 2 * quarter], samples[3 * quarter :]

    def medians(part: list[Sample]) -> tuple[float, float]:
        return (
            statistics.median(s.rss_mib for s in part),
            statistics.median(s.open_files for s in part),
        )

    return medians(second), medians(last)


def second_half_slope(samples: list[Sample]) -> float:
    """MiB per minute, least squares over the second half of the run."""
    half = samples[len(samples) // 2 :]
    fit = statistics.linear_regression([s.at / 60 for s in half], [s.rss_mib for s in half])
    return fit.slope


def test_thirty_minutes_of_mixed_load_grow_neither_memory_nor_open_files(tmp_path: Path) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"), WACHTER_SYSLOG_TCP="127.0.0.1:0",
                    WACHTER_LOG_LEVEL="WARNING")  # fmt: skip
    service = prepare_service(tmp_path, env)
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
        base, port = base_and_port(server)
        sampler = ProcessSampler(server.process.pid, period=10)
        http = [HttpSender(n, base, service.token, size=200, period=1.0) for n in range(2)]
        syslog = SyslogSender(port, size=100, period=0.5)
        officer = ConsoleUser(base, service, period=2.0)
        feed = FeedPoller(base, service.token, period=5.0)
        load = [*http, syslog, officer, feed]
        for thread in [sampler, *load]:
            thread.start()
        time.sleep(MINUTES * 60)
        figures = [thread.finish() for thread in load]
        expected = sum(sender.figures.accepted_events for sender in http) + syslog.sent
        wait_until_processed(database, expected, timeout=120)
        samples = sampler.finish()
        assert server.stop() == 0
    database.dispose()

    (memory_before, files_before), (memory_after, files_after) = quarter_medians(samples)
    report = {
        "minutes": MINUTES,
        "events_stored": expected,
        "console_pages": len(officer.figures.durations),
        "console_p95_ms": round(1000 * percentile(officer.figures.durations, 0.95)),
        "feed_entries": feed.entries,
        "rss_mib_second_quarter": round(memory_before, 1),
        "rss_mib_last_quarter": round(memory_after, 1),
        "open_files_second_quarter": files_before,
        "open_files_last_quarter": files_after,
        "rss_mib_per_minute_second_half": round(second_half_slope(samples), 2),
        "samples": [[s.at, round(s.rss_mib, 1), s.open_files] for s in samples],
    }
    write_figures("soak", report, shown={k: v for k, v in report.items() if k != "samples"})

    assert not [error for f in figures for error in f.errors], figures
    assert len(samples) >= 8, "too few samples for a trend"
    assert memory_after <= memory_before * 1.15 + 16, report
    assert files_after <= files_before + 8, report
