"""The syslog receivers on real sockets (127.0.0.1, port 0) into SQLite and PostgreSQL:
UDP and TCP with both RFC 6587 framings, limits, hostile content, back-pressure, stop."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from core import FixedClock, Settings
from ingest.models import DeadLetter
from ingest.syslog import Limits, SyslogReceivers, writer
from ingest.syslog.framing import StreamFramer
from storage import Database
from storage.events import APPEND_LOCK, Event

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RFC3164 = (
    b"<38>Mar  1 11:59:58 bastion sshd[4242]: "
    b"Failed password for root from 192.0.2.7 port 40022 ssh2"
)
RFC5424 = (
    b'<34>1 2026-03-01T11:59:59.123Z web01 sshd 4243 ID47 [origin ip="10.0.0.9"] '
    b"Accepted publickey for alice from 192.0.2.8 port 51234 ssh2"
)


class Running:
    def __init__(self, receivers: SyslogReceivers, database: Database, ports: dict[str, int]):
        self.receivers = receivers
        self.database = database
        self.ports = ports

    def send_udp(self, *datagrams: bytes) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for datagram in datagrams:
                sender.sendto(datagram, ("127.0.0.1", self.ports["udp"]))

    def send_tcp(self, *pieces: bytes, pause: float = 0.0) -> None:
        with self.connect() as connection:
            for piece in pieces:
                connection.sendall(piece)
                time.sleep(pause)

    def connect(self) -> socket.socket:
        connection = socket.create_connection(("127.0.0.1", self.ports["tcp"]), timeout=10)
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection


@pytest.fixture
def start(migrated_database, tmp_path):
    """Start receivers on free ports (UDP and TCP) with optional ``Limits``."""
    started: list[SyslogReceivers] = []

    def start_receivers(limits: Limits | None = None, database: Database | None = None):
        settings = Settings(
            data_dir=tmp_path,
            database_url="sqlite:///unused.db",
            syslog_udp=("127.0.0.1", 0),
            syslog_tcp=("127.0.0.1", 0),
        )
        receivers = SyslogReceivers(
            settings, database or migrated_database, FixedClock(NOW), limits
        )
        started.append(receivers)
        listeners = receivers.start()
        return Running(receivers, migrated_database, {lis.kind: lis.port for lis in listeners})

    yield start_receivers
    for receivers in started:
        receivers.stop()


@pytest.fixture
def running(start) -> Running:
    return start()


def stored(database: Database) -> list[dict]:
    with database.snapshot() as session:
        return [event.data for event in session.scalars(select(Event).order_by(Event.id))]


def stored_flags(database: Database) -> list[str | None]:
    with database.snapshot() as session:
        return list(session.scalars(select(Event.flags).order_by(Event.id)))


def dead_letters(database: Database) -> list[DeadLetter]:
    with database.snapshot() as session:
        return list(session.scalars(select(DeadLetter).order_by(DeadLetter.id)))


def wait_for(condition, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.02)


def wait_for_events(database: Database, count: int, timeout: float = 15.0) -> list[dict]:
    events = wait_for(
        lambda: (found := stored(database)) and len(found) >= count and found, timeout
    )
    assert events, f"expected {count} events, found {len(stored(database))}"
    assert len(events) == count, [e["event"]["original"] for e in events]
    return events


def originals(events: list[dict]) -> list[str]:
    return [event["event"]["original"] for event in events]


def settle(running: Running) -> None:
    """Stop the receivers: everything they got is stored when this returns."""
    running.receivers.stop()


# UDP


def test_rfc3164_and_rfc5424_datagrams_arrive_as_events(running):
    running.send_udp(RFC3164 + b"\n", RFC5424)
    events = wait_for_events(running.database, 2)
    by_host = {event["host"]["name"]: event for event in events}
    bsd, ietf = by_host["bastion"], by_host["web01"]
    assert bsd["event"]["original"] == RFC3164.decode()
    assert ietf["event"]["original"] == RFC5424.decode()
    for event in events:
        assert event["log"]["source"]["address"] == "127.0.0.1"
        assert event["event"]["ingested"] == "2026-03-01T12:00:00Z"
        assert event["event"]["dataset"] == "system.auth"
        assert event["process"]["name"] == "sshd"
    assert bsd["log"]["syslog"]["facility"]["name"] == "auth"
    assert (bsd["event"]["outcome"], bsd["user"]["name"]) == ("failure", "root")
    assert bsd["source"]["ip"] == "192.0.2.7"
    assert ietf["@timestamp"] == "2026-03-01T11:59:59.123000Z"
    assert ietf["log"]["syslog"]["structured_data"] == {"origin": {"ip": "10.0.0.9"}}
    assert (ietf["event"]["outcome"], ietf["user"]["name"]) == ("success", "alice")


def test_an_empty_datagram_is_ignored(running):
    running.send_udp(b"", b"\n", b"\r\n", RFC3164)
    settle(running)
    assert originals(stored(running.database)) == [RFC3164.decode()]
    assert dead_letters(running.database) == []


# TCP framing


def test_lf_framed_lines_arrive_in_order(running):
    lines = [b"<13>Mar  1 11:00:00 host app: line %d" % number for number in range(50)]
    running.send_tcp(b"\n".join(lines) + b"\n")
    events = wait_for_events(running.database, 50)
    assert originals(events) == [line.decode() for line in lines]


def test_octet_counted_messages_arrive_and_may_hold_newlines(running):
    messages = [RFC5424, b"<13>Mar  1 11:00:00 host app: two\nlines", RFC3164]
    running.send_tcp(b"".join(b"%d %s" % (len(m), m) for m in messages))
    events = wait_for_events(running.database, 3)
    assert originals(events) == [message.decode() for message in messages]


@pytest.mark.parametrize("framing", ["lf", "octet-counting"])
def test_a_message_split_over_many_sends_arrives_whole(running, framing):
    messages = [RFC5424, RFC3164]
    if framing == "lf":
        stream = b"".join(message + b"\n" for message in messages)
    else:
        stream = b"".join(b"%d %s" % (len(message), message) for message in messages)
    pieces = [stream[offset : offset + 3] for offset in range(0, len(stream), 3)]
    running.send_tcp(*pieces, pause=0.002)
    assert originals(wait_for_events(running.database, 2)) == [m.decode() for m in messages]


@pytest.mark.parametrize("framing", ["lf", "octet-counting"])
def test_many_messages_in_one_send_all_arrive(running, framing):
    messages = [b"<13>Mar  1 11:00:00 host app: message %05d" % n for n in range(3000)]
    if framing == "lf":
        stream = b"".join(message + b"\n" for message in messages)
    else:
        stream = b"".join(b"%d %s" % (len(message), message) for message in messages)
    running.send_tcp(stream)
    assert originals(wait_for_events(running.database, 3000)) == [m.decode() for m in messages]


def test_crlf_and_a_trailing_nul_are_framing_not_content(running):
    running.send_tcp(b"<13>one\r\n<13>two\x00\n<13>three\n")
    assert originals(wait_for_events(running.database, 3)) == ["<13>one", "<13>two", "<13>three"]


def test_empty_lines_are_neither_events_nor_dead_letters(running):
    running.send_tcp(b"\n\n<13>only\n\r\n\n")
    settle(running)
    assert originals(stored(running.database)) == ["<13>only"]
    assert dead_letters(running.database) == []


def test_a_blank_message_is_a_dead_letter(running):
    running.send_tcp(b"   \n<13>after\n")
    settle(running)
    assert originals(stored(running.database)) == ["<13>after"]
    [dead] = dead_letters(running.database)
    assert dead.receiver == "syslog-tcp"
    assert dead.source == "127.0.0.1"
    assert dead.raw == "   "


def test_a_line_that_is_not_syslog_is_a_dead_letter_with_the_reason(running):
    running.send_tcp(b"just some text\n<13>Mar  1 11:00:00 host app: fine\n")
    settle(running)
    assert originals(stored(running.database)) == ["<13>Mar  1 11:00:00 host app: fine"]
    [dead] = dead_letters(running.database)
    assert dead.raw == "just some text"
    assert dead.reason == "no syslog header (expected <PRI> or a timestamp)"


def test_the_last_line_without_a_newline_counts_when_the_sender_closes(running):
    running.send_tcp(b"<13>first\n<13>last")
    assert originals(wait_for_events(running.database, 2)) == ["<13>first", "<13>last"]


def test_a_resent_message_is_stored_once(running):
    running.send_tcp(RFC5424 + b"\n")
    running.send_udp(RFC5424)
    settle(running)
    assert originals(stored(running.database)) == [RFC5424.decode()]


def test_two_receivers_share_a_configured_port(migrated_database, tmp_path):
    # What lets serve and several workers listen on one address (SO_REUSEPORT).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite:///unused.db",
        syslog_udp=("127.0.0.1", port),
        syslog_tcp=("127.0.0.1", port),
    )
    pair = [SyslogReceivers(settings, migrated_database, FixedClock(NOW)) for _ in range(2)]
    try:
        for receivers in pair:
            assert {(lis.kind, lis.port) for lis in receivers.start()} == {
                ("udp", port),
                ("tcp", port),
            }
        for number in range(20):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                connection.sendall(b"<13>connection %02d\n" % number)
    finally:
        for receivers in pair:
            receivers.stop()
    assert len(stored(migrated_database)) == 20


# Limits


@pytest.mark.parametrize("framing", ["lf", "octet-counting"])
def test_an_oversize_message_is_one_dead_letter_and_the_next_message_arrives(running, framing):
    huge = b"<13>" + b"A" * 100_000
    next_frame = b"\n<13>next\n" if framing == "lf" else b"8 <13>next"
    stream = (huge if framing == "lf" else b"%d %s" % (len(huge), huge)) + next_frame
    running.send_tcp(*[stream[offset : offset + 8192] for offset in range(0, len(stream), 8192)])
    assert originals(wait_for_events(running.database, 1)) == ["<13>next"]
    [dead] = dead_letters(running.database)
    assert dead.reason == "message of 100004 bytes is larger than the 64 KiB limit"
    assert dead.raw.startswith("<13>AAAA")
    assert dead.raw_size == 8192  # the first 8 KiB are kept


def test_a_datagram_of_nearly_64_kib_arrives_whole(running):
    largest = b"<13>" + b"B" * 65_000  # UDP over IPv4 carries at most 65 507 bytes
    running.send_udp(largest)
    assert originals(wait_for_events(running.database, 1)) == [largest.decode()]


def test_an_octet_count_that_is_not_a_number_closes_the_connection(running):
    with running.connect() as connection:
        connection.sendall(b"12x45 hello")
        assert _closed_by_peer(connection)
    settle(running)
    assert stored(running.database) == []
    [dead] = dead_letters(running.database)
    assert "octet-counting frame without a valid length" in dead.reason
    assert dead.raw == "12x45 hello"


def test_an_octet_count_of_a_billion_bytes_is_skipped_not_buffered(running):
    with running.connect() as connection:
        connection.sendall(b"999999999 " + b"C" * 1_000_000)
        running.send_tcp(b"<13>meanwhile\n")  # the receiver goes on serving others
        assert originals(wait_for_events(running.database, 1)) == ["<13>meanwhile"]
        assert len(running.receivers.queue) == 0  # the megabyte was dropped, not queued
    settle(running)
    [dead] = dead_letters(running.database)
    assert dead.reason == "message of 999999999 bytes is larger than the 64 KiB limit"
    assert dead.raw == "C" * 8192


def test_idle_connections_are_closed(start):
    running = start(Limits(idle_timeout=0.4))
    with running.connect() as connection:
        connection.sendall(b"<13>then silence\n")
        started = time.monotonic()
        assert _closed_by_peer(connection, timeout=5)
        assert time.monotonic() - started >= 0.3
    assert originals(wait_for_events(running.database, 1)) == ["<13>then silence"]


def test_connections_over_the_cap_are_refused(start, caplog):
    running = start(Limits(max_connections=2))
    first, second = running.connect(), running.connect()
    with first, second, running.connect() as third:
        assert _closed_by_peer(third)
        first.sendall(b"<13>still served\n")
    assert originals(wait_for_events(running.database, 1)) == ["<13>still served"]
    assert any("syslog connections refused" in r.getMessage() for r in caplog.records)


def _closed_by_peer(connection: socket.socket, timeout: float = 5.0) -> bool:
    connection.settimeout(timeout)
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


# Hostile content (SECURITY_CASES §5.8 #57, #58)


def test_invalid_utf8_is_stored_with_the_flag(running):
    running.send_tcp(b"<13>Mar  1 11:00:00 host app: caf\xe9 \xff\xfe\n")
    running.send_udp(b"<13>Mar  1 11:00:01 host app: \xc3\x28")
    events = wait_for_events(running.database, 2)
    assert sorted(originals(events)) == sorted(
        [
            "<13>Mar  1 11:00:00 host app: caf\\xe9 \\xff\\xfe",
            "<13>Mar  1 11:00:01 host app: \\xc3(",
        ]
    )
    assert all("invalid_utf8" in event["wachter"]["flags"] for event in events)
    assert all("invalid_utf8" in (flags or "") for flags in stored_flags(running.database))


INJECTIONS = [
    "<13>Mar  1 11:00:00 host app: ok\n2026-01-01 INFO user=admin login ok",
    "<13>Mar  1 11:00:00 host app: carriage\rreturn",
    "<13>Mar  1 11:00:00 host app: \x1b[2J\x1b[31mred alert\x1b[0m",
    "<13>Mar  1 11:00:00 host app: nul\x00inside",
    "<13>Mar  1 11:00:00 host app: line\u2028separator\u2029paragraph",
    "<13>Mar  1 11:00:00 host app: bidi \u202egnp.exe",
]


def test_log_injection_content_is_stored_verbatim_one_event_per_frame(running):
    frames = [message.encode() for message in INJECTIONS]
    running.send_tcp(b"".join(b"%d %s" % (len(frame), frame) for frame in frames))
    assert originals(wait_for_events(running.database, len(frames))) == INJECTIONS


def test_with_lf_framing_an_embedded_newline_ends_the_message(running):
    # What LF framing means, and why senders should use octet counting (docs/shippers.md):
    # the forged half is a line of its own, never part of the genuine event.
    first, forged = INJECTIONS[0].split("\n")
    running.send_tcp(INJECTIONS[0].encode() + b"\n" + INJECTIONS[3].encode() + b"\n")
    settle(running)
    assert originals(stored(running.database)) == [first, INJECTIONS[3]]
    [dead] = dead_letters(running.database)
    assert (dead.raw, dead.reason) == (forged, "no syslog header (expected <PRI> or a timestamp)")


def test_a_parser_crash_becomes_a_dead_letter_and_receiving_goes_on(running, monkeypatch, caplog):
    real = writer.parse_syslog

    def fragile(line, *, received):
        if "boom" in line:
            raise ZeroDivisionError("secret-content")
        return real(line, received=received)

    monkeypatch.setattr(writer, "parse_syslog", fragile)
    running.send_tcp(b"<13>boom\n<13>fine\n")
    assert originals(wait_for_events(running.database, 1)) == ["<13>fine"]
    settle(running)
    [dead] = dead_letters(running.database)
    assert dead.reason == "the message could not be processed (ZeroDivisionError)"
    assert "secret-content" not in caplog.text


# Back-pressure, failures, stop


@contextmanager
def database_held(database: Database):
    """Another transaction holds what the writer needs: SQLite's write lock, or the
    PostgreSQL advisory lock that orders event appends."""
    with database.engine.connect() as connection:
        transaction = connection.begin()  # SQLite: BEGIN IMMEDIATE takes the write lock
        if database.dialect == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPEND_LOCK})
        try:
            yield
        finally:
            transaction.rollback()


def test_backpressure_blocks_a_tcp_sender_and_every_line_arrives(start):
    limit = 100
    running = start(Limits(queue_messages=limit, batch_size=50))
    padding = b"p" * 4000
    lines = [b"<13>Mar  1 11:00:00 host app: %06d %s\n" % (n, padding) for n in range(6000)]
    stream = b"".join(lines)
    sent = 0
    with running.connect() as connection:
        with database_held(running.database):
            connection.settimeout(1.0)
            try:
                while sent < len(stream):
                    sent += connection.send(stream[sent : sent + 65536])
            except TimeoutError:
                pass
            assert sent < len(stream), "the sender was never held back"
            assert len(running.receivers.queue) <= limit
            assert stored(running.database) == []
        connection.settimeout(60)
        connection.sendall(stream[sent:])
    events = wait_for_events(running.database, len(lines), timeout=120)
    numbers = [event["event"]["original"].partition("app: ")[2][:6] for event in events]
    assert numbers == [f"{n:06d}" for n in range(6000)]  # all of them, in order


def test_udp_datagrams_beyond_a_full_queue_are_counted_and_logged(start, caplog):
    caplog.set_level(logging.WARNING, logger="wachter.syslog")
    running = start(Limits(queue_messages=5))
    with database_held(running.database):
        running.send_udp(*[b"<13>secret-datagram %03d" % n for n in range(100)])
        assert wait_for(lambda: running.receivers.dropped_datagrams > 0)
    settle(running)
    dropped = running.receivers.dropped_datagrams
    assert len(stored(running.database)) + dropped == 100
    warnings = [r for r in caplog.records if "syslog datagrams dropped" in r.getMessage()]
    assert warnings
    assert sum(getattr(r, "wachter.syslog.dropped_datagrams") for r in warnings) == dropped
    assert "secret-datagram" not in caplog.text


class FlakyDatabase(Database):
    """The real database, unreachable for its first ``failures`` transactions."""

    def __init__(self, database: Database, failures: int) -> None:
        super().__init__(database.engine)
        self.failures = failures

    @contextmanager
    def unit_of_work(self):
        if self.failures:
            self.failures -= 1
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        with super().unit_of_work() as session:
            yield session


def test_a_database_outage_is_retried_and_nothing_is_lost(start, migrated_database, caplog):
    flaky = FlakyDatabase(migrated_database, failures=3)
    running = start(database=flaky)
    running.send_tcp(b"<13>during the outage personal-data\n")
    assert originals(wait_for_events(running.database, 1)) == [
        "<13>during the outage personal-data"
    ]
    failures = [r for r in caplog.records if "storing syslog messages failed" in r.getMessage()]
    assert len(failures) == 3
    assert getattr(failures[0], "error.message") == "connection refused"
    assert "personal-data" not in caplog.text


def test_stop_gives_up_on_a_database_that_never_returns_and_says_how_much(
    start, migrated_database, caplog
):
    gone = FlakyDatabase(migrated_database, failures=10**9)
    running = start(Limits(database_grace=0.5), database=gone)
    running.send_tcp(b"<13>one\n<13>two\n")
    begun = time.monotonic()
    running.receivers.stop()
    assert time.monotonic() - begun < 10
    [lost] = [r for r in caplog.records if "not stored at shutdown" in r.getMessage()]
    assert getattr(lost, "wachter.syslog.unstored") == 2
    assert stored(migrated_database) == []


def test_stop_stores_every_line_sent_before_it(start):
    running = start()
    lines = [b"<13>Mar  1 11:00:00 host app: before stop %04d" % n for n in range(600)]
    running.send_tcp(b"\n".join(lines[:300]) + b"\n")
    running.send_udp(*lines[300:400])
    still_open = running.connect()
    still_open.sendall(b"".join(b"%d %s" % (len(line), line) for line in lines[400:]))
    still_open.sendall(b"50 <13>cut off mid")  # an incomplete frame when we stop
    running.receivers.stop()
    still_open.close()
    assert sorted(originals(stored(running.database))) == sorted(m.decode() for m in lines)
    [dead] = dead_letters(running.database)
    assert dead.reason == "connection ended inside a message"


# Framing alone, fuzzed: however the stream is cut, the same messages come out.

_LF_MESSAGES = st.lists(
    st.binary(min_size=1, max_size=200)
    .map(lambda body: b"<" + body.replace(b"\n", b" "))
    .filter(lambda message: not message.endswith((b"\r", b"\x00"))),
    min_size=1,
    max_size=20,
)
_ANY_MESSAGES = st.lists(
    st.binary(min_size=1, max_size=300).filter(lambda m: not m.endswith((b"\r", b"\n", b"\x00"))),
    min_size=1,
    max_size=20,
)


def _cut(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(stream), *(cut % (len(stream) + 1) for cut in cuts)})
    return [stream[start:end] for start, end in itertools.pairwise(points)]


def _frame_all(pieces: list[bytes]) -> list:
    framer = StreamFramer()
    out = [entry for piece in pieces for entry in framer.feed(piece)]
    return out + framer.finish()


@settings(max_examples=300, deadline=None)
@given(messages=_LF_MESSAGES, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_lf_framing_is_independent_of_how_the_stream_is_cut(messages, cuts):
    stream = b"".join(message + b"\n" for message in messages)
    assert _frame_all(_cut(stream, cuts)) == messages


@settings(max_examples=300, deadline=None)
@given(messages=_ANY_MESSAGES, cuts=st.lists(st.integers(min_value=0), max_size=30))
def test_octet_counting_is_independent_of_how_the_stream_is_cut(messages, cuts):
    stream = b"".join(b"%d %s" % (len(message), message) for message in messages)
    assert _frame_all(_cut(stream, cuts)) == messages


@settings(max_examples=100, deadline=None)
@given(junk=st.binary(min_size=1, max_size=2000), cuts=st.lists(st.integers(0), max_size=10))
def test_framing_never_holds_more_than_a_message_whatever_arrives(junk, cuts):
    framer = StreamFramer(max_message=64)
    for piece in _cut(junk * 50, cuts):
        for entry in framer.feed(piece):
            assert len(entry if isinstance(entry, bytes) else entry.raw) <= 8192
        assert framer.buffered <= 64 + len(piece) + 2
