"""The CEF sender against a real collector on 127.0.0.1: plain TCP and TLS, exactly once in
order when all goes well, the cursor left alone when it does not, and delivery once the
collector is back. Runs on SQLite and PostgreSQL.

The collector is a ``socketserver`` that keeps every byte each connection sent; frames are
split by their octet counts and every CEF line parsed back. Certificates are made per run
with ``cryptography``: a CA, a server certificate for 127.0.0.1 and localhost, and a
stranger CA that Wachter must not trust.
"""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import struct
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from incidents.alerts.models import IncidentsCursor
from incidents.feeds import cef_sender
from incidents.feeds.cef_sender import Backoff, send_cef
from incidents.feeds.changes import record_alert_change
from incidents.feeds.models import AlertFeedEntry
from tests.support.incident_factories import make_alert

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WAIT_S = 10


# The collector ------------------------------------------------------------------------------


class Collector(socketserver.ThreadingTCPServer):
    """Keeps what each connection sent, once the client closed its end."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(
        self,
        port: int = 0,
        *,
        tls: ssl.SSLContext | None = None,
        reset: bool = False,
        refuse: bool = False,
    ):
        self.tls, self.reset, self.refuse = tls, reset, refuse
        self.refused = threading.Event()
        self.connections: list[bytes] = []
        self.closed = threading.Condition()
        super().__init__(("127.0.0.1", port), _Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def shutdown_request(self, request) -> None:
        if self.reset:  # no orderly close: straight to close(), which resets
            self.close_request(request)
        else:
            super().shutdown_request(request)

    def received(self) -> bytes:
        return b"".join(self.connections)

    def wait_for_connections(self, count: int) -> None:
        with self.closed:
            assert self.closed.wait_for(lambda: len(self.connections) >= count, WAIT_S)


class _Handler(socketserver.BaseRequestHandler):
    server: Collector

    def handle(self) -> None:
        connection = self.request
        if self.server.refuse:  # over its connection limit: closed unread, at once
            connection.close()
            self.server.refused.set()
            return
        if self.server.reset:  # dies with our bytes unread: the kernel sends a reset
            connection.recv(10)
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        connection.settimeout(WAIT_S)
        try:
            if self.server.tls is not None:
                connection = self.server.tls.wrap_socket(connection, server_side=True)
            chunks = []
            while data := connection.recv(65536):
                chunks.append(data)
            if isinstance(connection, ssl.SSLSocket):
                connection = connection.unwrap()  # answer the client's close_notify
        except (ssl.SSLError, OSError):
            return  # a refused handshake: nothing received
        with self.server.closed:
            self.server.connections.append(b"".join(chunks))
            self.server.closed.notify_all()


def split_frames(stream: bytes) -> list[str]:
    messages = []
    while stream:
        length, _, rest = stream.partition(b" ")
        assert length.isdigit(), stream[:30]
        messages.append(rest[: int(length)].decode())
        stream = rest[int(length) :]
    return messages


def parsed(message: str) -> tuple[str, dict[str, str]]:
    """(the syslog header, the extensions) of one message; a compact reader of the spec."""
    syslog, _, cef = message.partition(" - alert - ")
    extensions = cef.split("|", 7)[7] if cef.count("|") >= 7 else ""
    pairs = re.findall(r"([A-Za-z0-9]+)=((?:\\.|[^\\=])*?)(?= [A-Za-z0-9]+=|$)", extensions)
    return syslog, dict(pairs)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# Certificates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    ca: Path
    stranger_ca: Path
    server_cert: Path
    server_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(subject, public_key, issuer, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(IPv4Address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, certificate: x509.Certificate) -> Path:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    directory = tmp_path_factory.mktemp("cef-pki")
    ca_key, stranger_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in "abc")
    ca_name, stranger_name = _name("Wachter test CA"), _name("Someone else's CA")
    ca = _sign(ca_name, ca_key.public_key(), ca_name, ca_key, ca=True)
    stranger = _sign(stranger_name, stranger_key.public_key(), stranger_name, stranger_key, ca=True)
    server = _sign(_name("collector"), server_key.public_key(), ca_name, ca_key, ca=False)
    key_path = directory / "server.key"
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Pki(
        ca=_pem(directory / "ca.crt", ca),
        stranger_ca=_pem(directory / "stranger.crt", stranger),
        server_cert=_pem(directory / "server.crt", server),
        server_key=key_path,
    )


def server_context(pki: Pki) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    return context


# Alerts and the sender ----------------------------------------------------------------------


@pytest.fixture
def collectors():
    started: list[Collector] = []

    def start(port: int = 0, **options) -> Collector:
        collector = Collector(port, **options)
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()


def write_alert_changes(database, count: int) -> list[tuple[int, int]]:
    """``count`` alert changes in the feed; (feed id, alert id) in feed order."""
    with database.unit_of_work() as session:
        alerts = [make_alert(session, title=f"Alert | {number} = x") for number in range(count)]
        entries = [record_alert_change(session, a, change="created", now=NOW) for a in alerts]
        return [(entry.id, entry.alert_id) for entry in entries]


def run_sender(database, port: int, *, backoff: Backoff, now=NOW, tls=False, ca=None) -> bool:
    with database.unit_of_work() as session:
        return send_cef(
            session,
            now=now,
            target=("127.0.0.1", port),
            tls=tls,
            ca_file=ca,
            backoff=backoff,
            hostname="wachter-test",
        )


def cursor(database) -> int:
    with database.unit_of_work() as session:
        position = session.scalar(
            select(IncidentsCursor.position).where(IncidentsCursor.name == "cef")
        )
        return position or 0


# Tests --------------------------------------------------------------------------------------


def test_every_alert_change_arrives_once_in_order_over_tcp(
    migrated_database, collectors, monkeypatch
):
    monkeypatch.setattr(cef_sender, "BATCH", 3)
    written = write_alert_changes(migrated_database, 7)
    collector, backoff = collectors(), Backoff()
    runs = []
    while more := run_sender(migrated_database, collector.port, backoff=backoff):
        runs.append(more)
    runs.append(more)
    assert runs == [True, True, False]  # 3 + 3 + 1
    collector.wait_for_connections(3)
    messages = split_frames(collector.received())
    assert [int(parsed(m)[1]["externalId"]) for m in messages] == [a for _, a in written]
    for message in messages:
        syslog, extensions = parsed(message)
        assert re.fullmatch(r"<163>1 2026-03-02T12:00:00\.000Z wachter-test wachter", syslog)
        assert extensions["cat"] == "created"
        assert extensions["msg"].startswith(f"Alert {extensions['externalId']} created")
    assert cursor(migrated_database) == written[-1][0]
    # Nothing is sent twice: the next run finds nothing and opens no connection.
    assert run_sender(migrated_database, collector.port, backoff=backoff) is False
    assert len(collector.connections) == 3


def test_later_alert_changes_follow_from_the_cursor(migrated_database, collectors):
    collector, backoff = collectors(), Backoff()
    first = write_alert_changes(migrated_database, 2)
    run_sender(migrated_database, collector.port, backoff=backoff)
    second = write_alert_changes(migrated_database, 2)
    run_sender(migrated_database, collector.port, backoff=backoff)
    collector.wait_for_connections(2)
    first_batch, second_batch = (split_frames(c) for c in collector.connections)
    assert [int(parsed(m)[1]["externalId"]) for m in first_batch] == [a for _, a in first]
    assert [int(parsed(m)[1]["externalId"]) for m in second_batch] == [a for _, a in second]


def test_tls_with_a_trusted_ca_delivers(migrated_database, collectors, pki):
    written = write_alert_changes(migrated_database, 3)
    collector = collectors(tls=server_context(pki))
    run_sender(migrated_database, collector.port, backoff=Backoff(), tls=True, ca=pki.ca)
    collector.wait_for_connections(1)
    messages = split_frames(collector.received())
    assert [int(parsed(m)[1]["externalId"]) for m in messages] == [a for _, a in written]
    assert cursor(migrated_database) == written[-1][0]


def test_tls_with_an_untrusted_certificate_sends_nothing_and_keeps_the_cursor(
    migrated_database, collectors, pki, caplog
):
    write_alert_changes(migrated_database, 2)
    collector = collectors(tls=server_context(pki))
    caplog.set_level("WARNING", logger="wachter.incidents.cef")
    sent = run_sender(
        migrated_database, collector.port, backoff=Backoff(), tls=True, ca=pki.stranger_ca
    )
    assert sent is False
    assert cursor(migrated_database) == 0
    assert collector.received() == b""
    [record] = caplog.records
    assert "CERTIFICATE_VERIFY_FAILED" in record.getMessage()
    assert "CEF:" not in record.getMessage()
    assert "Alert |" not in record.getMessage()


def test_tls_checks_the_collector_name_not_only_its_ca(migrated_database, collectors, pki):
    write_alert_changes(migrated_database, 1)
    collector = collectors(tls=server_context(pki))
    with migrated_database.unit_of_work() as session:
        sent = send_cef(
            session,
            now=NOW,
            target=("127.0.0.2", collector.port),  # not in the certificate
            tls=True,
            ca_file=pki.ca,
            backoff=Backoff(),
        )
    assert sent is False
    assert cursor(migrated_database) == 0


def test_a_collector_that_is_down_keeps_the_cursor_and_gets_everything_once_back(
    migrated_database, collectors
):
    written = write_alert_changes(migrated_database, 4)
    port, backoff = free_port(), Backoff()
    assert run_sender(migrated_database, port, backoff=backoff) is False  # refused
    assert cursor(migrated_database) == 0
    collector = collectors(port)
    # Backing off: two seconds later the sender does not even try.
    skipped = run_sender(migrated_database, port, backoff=backoff, now=NOW + timedelta(seconds=2))
    assert skipped is False
    assert collector.connections == []
    assert cursor(migrated_database) == 0
    run_sender(migrated_database, port, backoff=backoff, now=NOW + timedelta(seconds=5))
    collector.wait_for_connections(1)
    messages = split_frames(collector.received())
    assert [int(parsed(m)[1]["externalId"]) for m in messages] == [a for _, a in written]
    assert cursor(migrated_database) == written[-1][0]
    assert backoff.failures == 0


def test_a_collector_that_resets_the_connection_keeps_the_cursor(migrated_database, collectors):
    write_alert_changes(migrated_database, 3)
    collector, backoff = collectors(reset=True), Backoff()
    assert run_sender(migrated_database, collector.port, backoff=backoff) is False
    assert cursor(migrated_database) == 0
    assert backoff.failures == 1


def test_a_collector_that_closes_before_the_batch_arrives_keeps_the_cursor(
    migrated_database, collectors, monkeypatch
):
    """Like rsyslog over its session limit: accepted, closed unread. Its close (FIN) can
    reach us before the reset our bytes earn, so seeing the close is not enough."""
    write_alert_changes(migrated_database, 3)
    collector = collectors(refuse=True)
    real_connect = socket.create_connection

    def connect_after_the_collector_closed(*args, **kwargs):
        connection = real_connect(*args, **kwargs)
        assert collector.refused.wait(WAIT_S)
        return connection

    monkeypatch.setattr(cef_sender.socket, "create_connection", connect_after_the_collector_closed)
    assert run_sender(migrated_database, collector.port, backoff=Backoff()) is False
    assert cursor(migrated_database) == 0


def test_no_database_transaction_is_open_while_the_collector_is_written_to(
    migrated_database, collectors, monkeypatch
):
    """On SQLite an open write transaction would lock out every other writer (ingest
    included) for as long as a slow collector takes; the sender holds none."""
    write_alert_changes(migrated_database, 1)
    collector = collectors()
    written_meanwhile = []
    real_deliver = cef_sender.deliver

    def slow_collector(payload, **target):
        # Another writer commits while the batch is on its way: it must not wait.
        written_meanwhile.extend(write_alert_changes(migrated_database, 1))
        real_deliver(payload, **target)

    monkeypatch.setattr(cef_sender, "deliver", slow_collector)
    run_sender(migrated_database, collector.port, backoff=Backoff())
    assert len(written_meanwhile) == 1
    # The batch read before the write: the cursor stops at it, the new entry goes next time.
    with migrated_database.unit_of_work() as session:
        feed_ids = session.scalars(select(AlertFeedEntry.id).order_by(AlertFeedEntry.id)).all()
    assert cursor(migrated_database) == feed_ids[0]
