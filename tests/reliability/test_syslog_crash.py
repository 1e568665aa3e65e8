"""``kill -9`` of ``wachter serve`` during sustained syslog-TCP ingest.

Syslog has no acknowledgement (docs/ingest.md): what the receiver had read but not yet
stored is lost with the process, and a sender that must not lose anything buffers and
re-sends (rsyslog's disk-assisted queue). What Wachter promises, and this test shows:
nothing stored is torn or doubled by the kill, the database is intact, and when the
senders re-send everything they sent, every message is stored exactly once.
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from storage import Database
from storage.events import Event
from tests.support.processes import RunningProcess, clean_env, run_wachter, started, wait_until

SENDERS = 3
MESSAGES = 20_000  # per sender
RATE = 1_500  # messages per second per sender while the kill comes: sustained, not a flood


def message(sender: int, number: int) -> bytes:
    return (
        f"<134>1 2026-01-01T00:00:00.000Z web-{sender} app - - - "
        f"sender {sender} message {number} user=svc_backup action=login"
    ).encode()


def octet_counted(payload: bytes) -> bytes:
    return b"%d %s" % (len(payload), payload)


class Sender(threading.Thread):
    """Sends its messages over one connection, in chunks of 100 (at ``rate`` per second,
    if given), until done or cut off."""

    def __init__(self, number: int, port: int, *, rate: float | None = None) -> None:
        super().__init__(daemon=True)
        self.number, self.port, self.rate = number, port, rate
        self.sent = 0  # messages handed to the kernel (sendall returned)
        self.cut_off = False

    def run(self) -> None:
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as connection:
            for start in range(0, MESSAGES, 100):
                if self.rate is not None:
                    time.sleep(max(0.0, began + start / self.rate - time.monotonic()))
                chunk = b"".join(
                    octet_counted(message(self.number, n))
                    for n in range(start, min(start + 100, MESSAGES))
                )
                try:
                    connection.sendall(chunk)
                except OSError:
                    self.cut_off = True
                    return
                self.sent = min(start + 100, MESSAGES)


def tcp_port(server: RunningProcess) -> int:
    line = server.wait_for_line("Syslog (tcp) receiving on 127.0.0.1:")
    return int(line.rsplit(":", 1)[1])


def stored_originals(database: Database) -> list[str]:
    with database.snapshot() as session:
        return [event.data["event"]["original"] for event in session.scalars(select(Event))]


def count(database: Database) -> int:
    with database.snapshot() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def test_kill_9_during_syslog_tcp_ingest_tears_and_doubles_nothing_and_a_resend_completes_it(
    tmp_path: Path,
) -> None:
    env = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"), WACHTER_SYSLOG_TCP="127.0.0.1:0")
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    path = tmp_path / "var" / "wachter.db"
    database = Database.from_url(f"sqlite:///{path}")
    try:
        with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
            port = tcp_port(server)
            senders = [Sender(number, port, rate=RATE) for number in range(SENDERS)]
            for sender in senders:
                sender.start()
            wait_until(lambda: count(database) >= 5_000, "5,000 messages stored before the kill")
            server.stop(signal.SIGKILL)
            for sender in senders:
                sender.join(30)
        assert any(sender.sent < MESSAGES for sender in senders), "the kill came after the end"

        # The database is whole, and what it holds is whole messages, each once.
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        sent = {message(s.number, n).decode() for s in senders for n in range(s.sent)}
        stored = stored_originals(database)
        assert len(stored) == len(set(stored)), "a message was stored twice"
        assert set(stored) <= sent, "a stored message is not one that was sent whole"

        # Each sender re-sends from its first message (a disk-assisted queue's replay):
        # what was stored is not doubled, what was lost arrives, and the rest follows.
        with started("serve", "--port", "0", cwd=tmp_path, env=env) as server:
            port = tcp_port(server)
            resenders = [Sender(number, port) for number in range(SENDERS)]
            for sender in resenders:
                sender.start()
            for sender in resenders:
                sender.join(120)
                assert sender.sent == MESSAGES
                assert not sender.cut_off
            total = SENDERS * MESSAGES
            wait_until(lambda: count(database) >= total, f"{total:,} messages stored")
            assert server.stop() == 0
        stored = stored_originals(database)
        assert len(stored) == total
        assert set(stored) == {
            message(s, n).decode() for s in range(SENDERS) for n in range(MESSAGES)
        }
    finally:
        database.dispose()
