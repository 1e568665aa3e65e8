"""rsyslog, the default shipper on Linux, forwarding to Wachter with the example configuration
``docs/shippers/rsyslog.conf``: a real ``rsyslogd`` run as the test user reads a file
(``imfile``) and sends its lines with omfwd (TCP, octet-counted, RFC 5424) to the receiver.

The test renders the example itself (only the address, the retry interval and a test input
in front of it change), so the example in the documentation is what is tested.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from core import FixedClock, Settings
from ingest.syslog import SyslogReceivers
from storage import Database
from storage.events import Event
from tests.conftest import unavailable

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "shippers" / "rsyslog.conf"
MODULE_DIRECTORIES = ("/usr/lib/*/rsyslog", "/usr/lib/rsyslog", "/usr/lib64/rsyslog")
LINES = [
    "Failed password for root from 192.0.2.7 port 40022 ssh2",
    "Failed password for invalid user admin from 192.0.2.7 port 40023 ssh2",
    "Accepted publickey for jürgen from 192.0.2.8 port 40024 ssh2",
]


def rsyslogd() -> tuple[str, Path]:
    binary = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")
    modules = next(
        (
            found.parent
            for pattern in MODULE_DIRECTORIES
            for found in Path("/").glob(pattern.lstrip("/") + "/imfile.so")
        ),
        None,
    )
    if binary is None or modules is None:
        unavailable("rsyslogd (with imfile) not found; install Debian's rsyslog (make test does)")
    assert binary is not None
    assert modules is not None
    return binary, modules


def render(*, port: int, work: Path, source: Path) -> str:
    """The example with Wachter at 127.0.0.1:``port``, retrying every second, behind an
    input that reads ``source`` as sshd's auth messages."""
    example = EXAMPLE.read_text(encoding="utf-8")
    for old, new, times in (
        ('target="wachter.example.org"', 'target="127.0.0.1"', 2),  # TCP and TLS
        ('port="5514"', f'port="{port}"', 1),
        ('action.resumeInterval="10"', 'action.resumeInterval="1"', 2),
    ):
        assert example.count(old) == times, f"the example no longer says {old}"
        example = example.replace(old, new)
    test_input = (
        f'global(workDirectory="{work}")\n'
        'module(load="imfile")\n'
        f'input(type="imfile" File="{source}" Tag="sshd" Facility="authpriv" Severity="info")\n'
    )
    return test_input + example


@contextmanager
def running_rsyslogd(tmp_path: Path, port: int) -> Iterator[Path]:
    """rsyslogd in the foreground with the rendered example; yields the file it reads."""
    binary, modules = rsyslogd()
    work, source = tmp_path / "rsyslog", tmp_path / "auth.log"
    work.mkdir()
    source.touch()
    config = tmp_path / "rsyslog.conf"
    config.write_text(render(port=port, work=work, source=source), encoding="utf-8")
    output = (tmp_path / "rsyslogd.out").open("w")
    process = subprocess.Popen(
        [binary, "-n", "-f", str(config), "-i", str(tmp_path / "rsyslogd.pid"), "-M", str(modules)],
        stdout=output,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)
        assert process.poll() is None, (tmp_path / "rsyslogd.out").read_text()
        yield source
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


def append(path: Path, lines: list[str]) -> None:
    with path.open("a", encoding="utf-8") as log_file:
        log_file.write("".join(f"{line}\n" for line in lines))


def start_receivers(database: Database, tmp_path: Path, port: int) -> SyslogReceivers:
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite:///unused.db",
        syslog_udp=None,
        syslog_tcp=("127.0.0.1", port),
    )
    receivers = SyslogReceivers(settings, database, FixedClock())
    receivers.start()
    return receivers


def wait_for_events(database: Database, count: int, timeout: float = 30) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        with database.snapshot() as session:
            events = [e.data for e in session.scalars(select(Event).order_by(Event.id))]
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count, [e["event"]["original"] for e in events]
            return events
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def database(migrated_database) -> Database:
    rsyslogd()  # skip (or fail under CI) before any setup when rsyslogd is missing
    return migrated_database


def test_rsyslog_with_the_example_config_delivers_file_lines_as_events(database, tmp_path):
    port = free_port()
    receivers = start_receivers(database, tmp_path, port)
    try:
        with running_rsyslogd(tmp_path, port) as source:
            append(source, LINES)
            events = wait_for_events(database, len(LINES))
    finally:
        receivers.stop()
    assert [event["message"] for event in events] == LINES
    for event in events:
        assert event["event"]["original"].startswith("<86>1 ")  # authpriv.info, RFC 5424
        assert event["event"]["dataset"] == "system.auth"
        assert event["process"]["name"] == "sshd"
    assert [event["user"]["name"] for event in events] == ["root", "admin", "jürgen"]
    assert [event["event"]["outcome"] for event in events] == ["failure", "failure", "success"]


def test_rsyslog_keeps_messages_while_wachter_is_down_and_delivers_them_after(database, tmp_path):
    port = free_port()
    with running_rsyslogd(tmp_path, port) as source:
        append(source, LINES[:2])
        time.sleep(2)  # rsyslog tries, finds nobody listening, and queues
        receivers = start_receivers(database, tmp_path, port)
        try:
            append(source, LINES[2:])
            events = wait_for_events(database, len(LINES))
        finally:
            receivers.stop()
    assert sorted(event["message"] for event in events) == sorted(LINES)
