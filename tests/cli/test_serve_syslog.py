"""``wachter serve`` and ``wachter worker`` run the syslog receivers: they announce the
bound ports, store what arrives, flush on SIGTERM, and refuse a port that is taken."""

from __future__ import annotations

import signal
import socket
import time

import pytest
from sqlalchemy import select

from storage import Database
from storage.events import Event
from tests.support.processes import clean_env, run_wachter, started

ANY_PORT = "127.0.0.1:0"


@pytest.fixture
def env(tmp_path):
    return clean_env(
        WACHTER_DATA_DIR=str(tmp_path / "var"),
        WACHTER_SYSLOG_UDP=ANY_PORT,
        WACHTER_SYSLOG_TCP=ANY_PORT,
    )


def announced_ports(service) -> dict[str, int]:
    ports = {}
    for kind in ("udp", "tcp"):
        line = service.wait_for_line(f"Syslog ({kind}) receiving on 127.0.0.1:")
        ports[kind] = int(line.rsplit(":", 1)[1])
    return ports


def originals(tmp_path) -> list[str]:
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    try:
        with database.snapshot() as session:
            return [event.data["event"]["original"] for event in session.scalars(select(Event))]
    finally:
        database.dispose()


def wait_for_originals(tmp_path, count: int) -> list[str]:
    deadline = time.monotonic() + 20
    while len(found := originals(tmp_path)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return sorted(found)


def send(ports: dict[str, int], udp_line: bytes, tcp_lines: list[bytes]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(udp_line, ("127.0.0.1", ports["udp"]))
    with socket.create_connection(("127.0.0.1", ports["tcp"]), timeout=10) as connection:
        connection.sendall(b"".join(line + b"\n" for line in tcp_lines))


def test_serve_announces_its_syslog_ports_and_stores_a_line_sent_to_each(tmp_path, env):
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
        ports = announced_ports(service)
        service.wait_for_line("Wachter is running at ")
        send(ports, b"<13>Mar  1 11:00:00 host app: over udp", [b"<13>over tcp"])
        assert wait_for_originals(tmp_path, 2) == [
            "<13>Mar  1 11:00:00 host app: over udp",
            "<13>over tcp",
        ]
        assert service.stop(signal.SIGTERM) == 0


def test_sigterm_stores_every_line_received_before_it(tmp_path, env):
    lines = [b"<13>Mar  1 11:00:00 host app: line %04d" % n for n in range(2000)]
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
        ports = announced_ports(service)
        service.wait_for_line("Wachter is running at ")
        send(ports, b"<13>the datagram", lines)
        assert service.stop(signal.SIGTERM) == 0
    stored = originals(tmp_path)
    assert len(stored) == 2001
    assert sorted(stored) == sorted([line.decode() for line in lines] + ["<13>the datagram"])


def test_worker_receives_syslog_too(tmp_path, env):
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    with started("worker", cwd=tmp_path, env=env) as worker:
        ports = announced_ports(worker)
        worker.wait_for_line("Wachter worker running")
        send(ports, b"<13>to the worker over udp", [b"<13>to the worker over tcp"])
        assert wait_for_originals(tmp_path, 2) == [
            "<13>to the worker over tcp",
            "<13>to the worker over udp",
        ]
        assert worker.stop(signal.SIGTERM) == 0


@pytest.mark.parametrize(("kind", "variable"), [("tcp", "TCP"), ("udp", "UDP")])
def test_a_taken_port_stops_start_up_with_one_line_naming_the_setting(
    tmp_path, env, kind, variable
):
    family = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, family) as squatter:
        squatter.bind(("127.0.0.1", 0))
        if kind == "tcp":
            squatter.listen()
        port = squatter.getsockname()[1]
        taken = {**env, f"WACHTER_SYSLOG_{variable}": f"127.0.0.1:{port}"}
        result = run_wachter("serve", "--port", "0", cwd=tmp_path, env=taken)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"Error: WACHTER_SYSLOG_{variable}: cannot listen on 127.0.0.1:{port}: "
        "address already in use"
    ], result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_switched_off_receivers_announce_nothing(tmp_path):
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))  # both off
    with started("serve", "--port", "0", cwd=tmp_path, env=env) as service:
        before_running = []  # the receivers announce themselves before the web server
        while not (line := service.lines.get(timeout=60)).startswith("Wachter is running at "):
            before_running.append(line)
        assert service.stop(signal.SIGTERM) == 0
    assert not any(line.startswith("Syslog") for line in before_running)
