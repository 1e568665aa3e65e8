"""The TLS syslog receiver (RFC 5425): server authentication, mutual TLS, refusals.

Certificates are made for each test run with ``cryptography``: a CA, a server
certificate for 127.0.0.1, a client certificate from the same CA and one from a stranger.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
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

from core import FixedClock, Settings
from ingest.syslog import ReceiverStartError, SyslogReceivers
from ingest.syslog.receivers import server_context
from storage import Database
from storage.events import Event

MESSAGE = b"<38>1 2026-03-01T11:59:59Z vpn01 ocserv 77 - - user alice connected"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path
    stranger_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Wachter tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _certificate(subject, key, issuer, issuer_key, *, ca=False, server=False):
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(directory: Path, name: str, certificate, key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def make_pki(directory: Path) -> Pki:
    ca_key, stranger_ca_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name, stranger_ca_name = _name("Wachter test CA"), _name("Someone else's CA")
    ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
    ca_path, _ = _write(directory, "ca", ca, ca_key)
    paths = {}
    for name, issuer, issuer_key, server in (
        ("server", ca_name, ca_key, True),
        ("client", ca_name, ca_key, False),
        ("stranger", stranger_ca_name, stranger_ca_key, False),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _certificate(
            _name(f"{name}.example.org"), key, issuer, issuer_key, server=server
        )
        paths[name] = _write(directory, name, certificate, key)
    return Pki(ca_path, *paths["server"], *paths["client"], *paths["stranger"])


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def start(migrated_database, tmp_path, pki):
    started: list[SyslogReceivers] = []

    def start_tls(*, client_ca: Path | None = None, cert: Path | None = None):
        settings = Settings(
            data_dir=tmp_path,
            database_url="sqlite:///unused.db",
            syslog_udp=None,
            syslog_tcp=None,
            syslog_tls=("127.0.0.1", 0),
            syslog_tls_cert=cert or pki.server_cert,
            syslog_tls_key=pki.server_key,
            syslog_tls_client_ca=client_ca,
        )
        receivers = SyslogReceivers(settings, migrated_database, FixedClock())
        started.append(receivers)
        [listener] = receivers.start()
        assert listener.kind == "tls"
        return receivers, listener.port

    yield start_tls
    for receivers in started:
        receivers.stop()


def client_context(pki: Pki, *, cert: Path | None = None, key: Path | None = None):
    context = ssl.create_default_context(cafile=pki.ca)
    if cert and key:
        context.load_cert_chain(cert, key)
    return context


def send(port: int, context: ssl.SSLContext, payload: bytes) -> None:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1") as connection,
    ):
        connection.sendall(payload)
        connection.unwrap()


def stored(database: Database) -> list[dict]:
    with database.snapshot() as session:
        return [event.data for event in session.scalars(select(Event).order_by(Event.id))]


def wait_for_events(database: Database, count: int) -> list[dict]:
    deadline = time.monotonic() + 15
    while len(events := stored(database)) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(events) == count
    return events


def octet_counted(*messages: bytes) -> bytes:
    return b"".join(b"%d %s" % (len(message), message) for message in messages)


def test_messages_arrive_over_tls_with_server_authentication_only(start, pki, migrated_database):
    _, port = start()
    send(port, client_context(pki), octet_counted(MESSAGE, b"<13>second"))
    events = wait_for_events(migrated_database, 2)
    assert [event["event"]["original"] for event in events] == [MESSAGE.decode(), "<13>second"]
    assert "tls" not in events[0]


def test_mutual_tls_accepts_a_client_certificate_from_the_ca_and_records_it(
    start, pki, migrated_database
):
    _, port = start(client_ca=pki.ca)
    context = client_context(pki, cert=pki.client_cert, key=pki.client_key)
    send(port, context, MESSAGE + b"\n")
    [event] = wait_for_events(migrated_database, 1)
    assert event["event"]["original"] == MESSAGE.decode()
    assert event["tls"]["client"]["subject"] == "CN=client.example.org,O=Wachter tests"
    assert (event["host"]["name"], event["process"]["name"]) == ("vpn01", "ocserv")


def _refused(port: int, context: ssl.SSLContext) -> bool:
    """True when the server ends the connection: at the handshake (TLS 1.2) or at the first
    read after it (TLS 1.3 checks the client certificate after the client thinks it is done)."""
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as connection,
        ):
            connection.sendall(MESSAGE + b"\n")
            return connection.recv(1) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_mutual_tls_refuses_a_client_without_a_certificate(start, pki, migrated_database):
    receivers, port = start(client_ca=pki.ca)
    assert _refused(port, client_context(pki))
    receivers.stop()
    assert stored(migrated_database) == []


def test_mutual_tls_refuses_a_certificate_from_another_ca(start, pki, migrated_database):
    receivers, port = start(client_ca=pki.ca)
    assert _refused(port, client_context(pki, cert=pki.stranger_cert, key=pki.stranger_key))
    receivers.stop()
    assert stored(migrated_database) == []


def test_plain_tcp_on_the_tls_port_stores_nothing(start, migrated_database):
    receivers, port = start()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(MESSAGE + b"\n")
        with contextlib.suppress(ConnectionResetError):
            connection.recv(100)  # the server ends the failed handshake
    receivers.stop()
    assert stored(migrated_database) == []


def test_the_server_refuses_anything_older_than_tls_1_2(pki, tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        database_url="sqlite:///unused.db",
        syslog_tls=("127.0.0.1", 0),
        syslog_tls_cert=pki.server_cert,
        syslog_tls_key=pki.server_key,
        syslog_tls_client_ca=pki.ca,
    )
    context = server_context(settings)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert context.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("broken", "problem"),
    [
        ("missing", "cannot read the certificate or key: no such file or directory"),
        ("not-pem", "not a PEM certificate with its matching private key"),
        ("wrong-key", "not a PEM certificate with its matching private key"),
    ],
)
def test_an_unusable_certificate_stops_start_up_naming_the_setting(
    start, pki, tmp_path, broken, problem
):
    cert = {
        "missing": tmp_path / "missing.crt",
        "not-pem": tmp_path / "garbage.crt",
        "wrong-key": pki.client_cert,  # does not match the server key
    }[broken]
    (tmp_path / "garbage.crt").write_text("not a certificate\n")
    with pytest.raises(ReceiverStartError) as raised:
        start(cert=cert)
    assert raised.value.variable == "WACHTER_SYSLOG_TLS_CERT"
    assert str(raised.value).startswith(f"WACHTER_SYSLOG_TLS_CERT: {problem}")
    assert "\n" not in str(raised.value)


def test_an_unreadable_client_ca_stops_start_up_naming_the_setting(start, tmp_path):
    with pytest.raises(ReceiverStartError) as raised:
        start(client_ca=tmp_path / "no-such-ca.pem")
    assert str(raised.value) == (
        "WACHTER_SYSLOG_TLS_CLIENT_CA: cannot read the CA bundle: no such file or directory"
    )
    (tmp_path / "garbage.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    with pytest.raises(ReceiverStartError) as raised:
        start(client_ca=tmp_path / "garbage.pem")
    assert str(raised.value) == (
        "WACHTER_SYSLOG_TLS_CLIENT_CA: not a bundle of PEM CA certificates"
    )
