"""Ingest throughput of a real ``wachter serve`` on embedded SQLite, against the peer the
issue names: the same events written by a plain ``executemany`` loop, in the same run.

    .venv/bin/python bench/ingest/run.py               # 5 minutes per phase (the issue's figure)
    .venv/bin/python bench/ingest/run.py --duration 60

Phases: (1) HTTP NDJSON, batches of 1,000 events over keep-alive connections from a
separate client process, counted when acknowledged (202 comes after the commit);
(2) syslog over TCP (RFC 6587 octet counting), counted when stored (syslog has no
acknowledgement); (3) the peer: the rows phase 1 stored, copied into an empty database of
the same schema with sqlite3's ``executemany`` in batches of 1,000, same PRAGMAs. The
server's resident memory is sampled every second. Prints a Markdown table for
bench/README.md.
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
from pathlib import Path
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


def peer_phase(source: Path, workdir: Path, env: dict[str, str], rows: int) -> float:
    """The same rows, written by a plain executemany loop into an empty copy of the schema."""
    peer_env = {**env, "WACHTER_DATA_DIR": str(workdir / "peer")}
    run([str(WACHTER), "db", "upgrade"], peer_env, workdir)
    columns = (
        "source, event_key, timestamp, ingested, dataset, host_name, user_name, source_ip,"
        " outcome, flags, document"
    )
    with sqlite3.connect(source) as reader:
        data = reader.execute(
            f"SELECT {columns} FROM event ORDER BY id LIMIT ?", (rows,)
        ).fetchall()
    target = sqlite3.connect(workdir / "peer" / "wachter.db", isolation_level=None)
    target.execute("PRAGMA journal_mode=WAL")
    target.execute("PRAGMA synchronous=FULL")
    marks = ", ".join("?" * 11)
    started = time.monotonic()
    for offset in range(0, len(data), BATCH):
        target.execute("BEGIN IMMEDIATE")
        target.executemany(
            f"INSERT INTO event ({columns}) VALUES ({marks})", data[offset : offset + BATCH]
        )
        target.execute("COMMIT")
    elapsed = time.monotonic() - started
    target.close()
    return len(data) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=300, help="seconds per phase [300]")
    parser.add_argument("--clients", type=int, default=2, help="HTTP client processes [2]")
    options = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="wachter-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("WACHTER_")}
    env.update(
        WACHTER_DATA_DIR=str(workdir / "var"), WACHTER_INGEST_RATE_LIMIT="999999",
        WACHTER_LOG_LEVEL="WARNING", WACHTER_SYSLOG_UDP="off", WACHTER_SYSLOG_TCP="127.0.0.1:0",
    )  # fmt: skip
    database = workdir / "var" / "wachter.db"
    try:
        run([str(WACHTER), "db", "upgrade"], env, workdir)
        token = run(
            [str(WACHTER), "token", "add", "--name", "bench", "--scope", "events:write"],
            env,
            workdir,
        ).strip()
        server, url, port = start_server(env, workdir)
        sampler = MemorySampler(server.pid)
        sampler.start()
        try:
            http_events, http_seconds = http_phase(url, token, options.duration, options.clients)
            memory_after_http = len(sampler.samples)
            stored = count_events(database)
            syslog_lines, syslog_seconds = syslog_phase(port, database, options.duration, stored)
        finally:
            sampler.running = False
            server.terminate()
            server.wait(60)
        peer_rate = peer_phase(database, workdir, env, min(http_events, 500_000))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    http_rate, syslog_rate = http_events / http_seconds, syslog_lines / syslog_seconds
    http_memory = sampler.samples[5:memory_after_http] or sampler.samples
    print(f"| measure (2 cores, embedded SQLite, {options.duration:.0f} s per phase) | value |")
    print("|---|---|")
    print(
        f"| HTTP NDJSON, acknowledged events/s ({options.clients} clients, batches of {BATCH})"
        f" | {http_rate:,.0f} |"
    )
    print(f"| syslog TCP (octet counting), stored lines/s | {syslog_rate:,.0f} |")
    print(f"| peer: plain `executemany` of the same rows, events/s | {peer_rate:,.0f} |")
    print(f"| ratio HTTP / peer | {http_rate / peer_rate:.2f} |")
    print(f"| ratio syslog / peer | {syslog_rate / peer_rate:.2f} |")
    print(
        "| server memory during HTTP, MiB: first / peak / last | "
        f"{http_memory[0] / 1024:.0f} / {max(http_memory) / 1024:.0f}"
        f" / {http_memory[-1] / 1024:.0f} |"
    )
    print(f"| server memory, whole run, peak MiB | {max(sampler.samples) / 1024:.0f} |")


if __name__ == "__main__":
    main()
