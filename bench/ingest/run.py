"""Ingest throughput of a real ``wachter serve`` on embedded SQLite, against the peer the
issue names: the same events written by a plain ``executemany`` loop, in the same run.

    .venv/bin/python bench/ingest/run.py               # 5 minutes per phase (the issue's figure)
    .venv/bin/python bench/ingest/run.py --duration 60

Each phase runs its own ``wachter serve`` on an empty database: (1) HTTP NDJSON, batches
of 1,000 events over keep-alive connections from separate client processes, counted when
acknowledged (202 comes after the commit); (2) syslog over one TCP connection (RFC 6587
octet counting), counted when stored (syslog has no acknowledgement). After each, the
peer: the rows the phase stored, in the same order, written into an empty database of
the same schema by sqlite3's ``executemany`` in batches of 1,000 with the same PRAGMAs
(only the writing is timed). The server's resident memory is sampled every second.
Prints a Markdown table for bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

WACHTER = Path(sys.executable).with_name("wachter")
BATCH = 1000
PLACEHOLDER = b"#########"  # replaced by a batch number, so every event is unique


def event_template() -> bytes:
    """1,000 events of the kinds Wachter receives: sign-ins, web access, Windows logons."""
    lines = []
    for index in range(BATCH):
        kind = index % 3
        common = {
            "@timestamp": f"2026-11-29T10:{index % 60:02d}:{index % 60:02d}Z",
            "event": {"id": f"{PLACEHOLDER.decode()}-{index:04d}"},
            "host": {"name": f"host{index % 20:02d}.example.nl"},
        }
        if kind == 0:
            common["event"].update(category=["authentication"], outcome="failure")
            common.update(
                user={"name": f"user{index % 97}"}, source={"ip": f"10.1.{index % 200}.7"}
            )
            common["message"] = f"Failed password for user{index % 97} from 10.1.0.7 port {index}"
        elif kind == 1:
            common["event"].update(category=["web"], outcome="success")
            common.update(
                url={"original": f"/cases/{index}?page=2"}, http={"response": {"status_code": 200}}
            )
            common["source"] = {"ip": f"192.0.2.{index % 250}"}
        else:
            common.update(
                EventID=4624, Channel="Security", Computer="DC01", TargetUserName=f"u{index}"
            )
        lines.append(orjson.dumps(common))
    return b"\n".join(lines) + b"\n"


def syslog_template() -> bytes:
    lines = []
    for index in range(BATCH):
        message = (
            "<38>1 2026-11-29T10:00:00.000Z web01 sshd 4711 - - "
            f"Failed password for user{index % 97} from 10.2.{index % 200}.9 port {index} ssh2"
            f" seq={PLACEHOLDER.decode()}-{index:04d}"
        ).encode()
        lines.append(b"%d %s" % (len(message), message))
    return b"".join(lines)


def numbered(template: bytes, number: int) -> bytes:
    return template.replace(PLACEHOLDER, b"%09d" % number)


def http_client(url: str, token: str, start: int, step: int, stop_at: float, acked) -> None:  # type: ignore[no-untyped-def]
    """One keep-alive connection posting batches until ``stop_at`` (runs in its own process)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    template, number = event_template(), start
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    while time.monotonic() < stop_at:
        connection.request(
            "POST", "/api/v1/events", body=numbered(template, number), headers=headers
        )
        response = connection.getresponse()
        response.read()
        if response.status != 202:
            raise SystemExit(f"HTTP {response.status}")
        with acked.get_lock():
            acked.value += BATCH
        number += step
    connection.close()


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


class MemorySampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.running = pid, [], True

    def run(self) -> None:
        while self.running:
            self.samples.append(resident_kib(self.pid))
            time.sleep(1)


def count_events(database: Path) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as connection:
        return connection.execute("SELECT count(*) FROM event").fetchone()[0]


def run(command: list[str], env: dict[str, str], cwd: Path) -> str:
    return subprocess.run(
        command, env=env, cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def start_server(env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[str], str, int]:
    server = subprocess.Popen(
        [str(WACHTER), "serve", "--port", "0"], env=env, cwd=cwd, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = port = None
    assert server.stdout is not None
    for line in server.stdout:
        if line.startswith("Wachter is running at "):
            url = line.split(" at ")[1].strip().rstrip("/")
        found = re.search(r"Syslog \(tcp\) receiving on [^\s]+:(\d+)", line)
        if found:
            port = int(found.group(1))
        if url and port:
            threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
            return server, url, port
    raise SystemExit("wachter serve did not start")


def http_phase(url: str, token: str, seconds: float, clients: int) -> tuple[int, float]:
    acked = multiprocessing.Value("q", 0)
    started = time.monotonic()
    stop_at = started + seconds
    workers = [
        multiprocessing.Process(target=http_client, args=(url, token, n, clients, stop_at, acked))
        for n in range(clients)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return acked.value, time.monotonic() - started


def syslog_phase(port: int, database: Path, seconds: float, before: int) -> tuple[int, float]:
    template, sent, number = syslog_template(), 0, 0
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port)) as connection:
        while time.monotonic() - started < seconds:
            connection.sendall(numbered(template, number))
            number, sent = number + 1, sent + BATCH
    while count_events(database) < before + sent:  # stored, not just sent
        time.sleep(0.2)
        if time.monotonic() - started > seconds * 3 + 60:
            raise SystemExit("syslog lines went missing")
    return sent, time.monotonic() - started


def peer_phase(source: Path, workdir: Path, env: dict[str, str], name: str) -> float:
    """The rows a phase stored, in the same order, written by a plain ``executemany`` loop
    into an empty database of the same schema (same PRAGMAs, batches of 1,000). Only the
    writing is timed; reading the rows from the phase's database is not."""
    peer_env = {**env, "WACHTER_DATA_DIR": str(workdir / name)}
    run([str(WACHTER), "db", "upgrade"], peer_env, workdir)
    columns = (
        "source, event_key, timestamp, ingested, dataset, host_name, user_name, source_ip,"
        " outcome, flags, document"
    )
    reader = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    rows = reader.execute(f"SELECT {columns} FROM event ORDER BY id")
    target = sqlite3.connect(workdir / name / "wachter.db", isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=FULL")
    insert = f"INSERT INTO event ({columns}) VALUES ({', '.join('?' * 11)})"
    written, writing = 0, 0.0
    while batch := rows.fetchmany(BATCH):
        started = time.monotonic()
        target.execute("BEGIN IMMEDIATE")
        target.executemany(insert, batch)
        target.execute("COMMIT")
        writing += time.monotonic() - started
        written += len(batch)
    reader.close()
    target.close()
    return written / writing


def serving(workdir: Path, name: str) -> dict[str, str]:
    """An environment for a server of its own (each phase starts from an empty database)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACHTER_")}
    env.update(
        WACHTER_DATA_DIR=str(workdir / name), WACHTER_INGEST_RATE_LIMIT="999999",
        WACHTER_LOG_LEVEL="WARNING", WACHTER_SYSLOG_UDP="off", WACHTER_SYSLOG_TCP="127.0.0.1:0",
    )  # fmt: skip
    run([str(WACHTER), "db", "upgrade"], env, workdir)
    return env


def measured(workdir: Path, name: str, phase: Callable[..., tuple[int, float]]) -> dict[str, Any]:
    """Run ``phase`` against a fresh ``wachter serve``; its rate, memory and peer rate."""
    env = serving(workdir, name)
    token = run(
        [str(WACHTER), "token", "add", "--name", "bench", "--scope", "events:write"], env, workdir
    ).strip()
    server, url, port = start_server(env, workdir)
    sampler = MemorySampler(server.pid)
    sampler.start()
    try:
        count, seconds = phase(
            url=url, token=token, port=port, database=workdir / name / "wachter.db"
        )
    finally:
        sampler.running = False
        server.terminate()
        server.wait(60)
    peer = peer_phase(workdir / name / "wachter.db", workdir, env, f"{name}-peer")
    return {"rate": count / seconds, "count": count, "memory": sampler.samples, "peer": peer}


def memory_line(samples: list[int]) -> str:
    """Resident memory after 10 %, 25 %, 50 %, 75 % and 100 % of the phase, in MiB."""
    points = [samples[min(len(samples) - 1, int(len(samples) * f))] for f in (0.1, 0.25, 0.5, 0.75)]
    return " / ".join(f"{kib / 1024:.0f}" for kib in [*points, samples[-1]])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=300, help="seconds per phase [300]")
    parser.add_argument("--clients", type=int, default=2, help="HTTP client processes [2]")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="wachter-bench-"))
    try:
        http = measured(
            workdir,
            "http",
            lambda url, token, **_: http_phase(url, token, options.duration, options.clients),
        )
        syslog = measured(
            workdir,
            "syslog",
            lambda port, database, **_: syslog_phase(port, database, options.duration, 0),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"| measure (2 cores, embedded SQLite, {options.duration:.0f} s per phase) | value |")
    print("|---|---|")
    for label, phase in (
        (
            f"HTTP NDJSON, acknowledged events/s ({options.clients} clients, batches of {BATCH})",
            http,
        ),
        ("syslog TCP (octet counting, one connection), stored lines/s", syslog),
    ):
        print(f"| {label} | {phase['rate']:,.0f} ({phase['count']:,} in all) |")
        print(f"| peer: plain `executemany` of the same rows, rows/s | {phase['peer']:,.0f} |")
        print(f"| ratio to the peer | {phase['rate'] / phase['peer']:.2f} |")
        print(
            "| server memory at 10/25/50/75/100 % of the phase, MiB"
            f" | {memory_line(phase['memory'])} |"
        )


if __name__ == "__main__":
    main()
