"""E-mail notifications against a real SMTP server (aiosmtpd on 127.0.0.1): plain SMTP,
STARTTLS with a login, implicit TLS; no fallback to plain text; a server that is down is
retried with growing waits and given up after the last attempt; e-mail switched off fails
once, clearly. The message says what it should and carries no secret or address beyond
its recipient's. SQLite and PostgreSQL."""

from __future__ import annotations

import email
import email.policy
import logging
import ssl
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address
from itertools import pairwise

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from access_control.models import User
from incidents.notifications.delivery import (
    EMAIL_OFF,
    MAX_ATTEMPTS,
    Channels,
    deliver_notifications,
    retry_delay,
)
from incidents.notifications.email import SmtpSettings
from incidents.notifications.messages import MessageSettings
from incidents.notifications.models import Notification
from incidents.notifications.outbox import NotificationKind, enqueue
from tests.factories import make_user
from tests.support.incident_factories import make_incident
from tests.support.postgres import free_port

NOW = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)
SMTP_USER, SMTP_PASSWORD = "wachter-mailer", "smtp-wachtwoord-dat-geheim-blijft"
MESSAGES = MessageSettings(base_url="https://wachter.example.nl", timezone="Europe/Amsterdam")


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    messages: list[tuple[str, list[str], email.message.EmailMessage]] = field(default_factory=list)
    logins: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        accepted = isinstance(auth_data, LoginPassword) and auth_data == (
            SMTP_USER.encode(),
            SMTP_PASSWORD.encode(),
        )
        if accepted:
            self.logins.append(auth_data.login)
        return AuthResult(success=accepted)


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="module")
def tls() -> Tls:
    """A CA and a certificate for 127.0.0.1 signed by it, made for this run."""
    now = datetime.now(UTC)

    def certificate(subject, key, issuer, issuer_key, *, ca):
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
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]),
                critical=False,
            )
        return builder.sign(issuer_key, hashes.SHA256())

    def name(common_name):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = certificate(name("test CA"), ca_key, name("test CA"), ca_key, ca=True)
    server = certificate(name("smtp.test"), server_key, name("test CA"), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    key_pem = server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = f"{folder}/server.crt", f"{folder}/server.key"
        with open(cert_path, "wb") as cert_file:
            cert_file.write(server.public_bytes(pem))
        with open(key_path, "wb") as key_file:
            key_file.write(key_pem)
        server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cadata=ca.public_bytes(pem).decode())
    return Tls(server=server_context, client=client_context)


@pytest.fixture
def smtp_server():
    """Start an SMTP server on a free loopback port; stopped after the test."""
    started: list[Controller] = []

    def start(inbox: Inbox, **options) -> int:
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return port

    yield start
    for controller in started:
        controller.stop()


def channels(port: int, security: str = "none", **options) -> Channels:
    smtp = SmtpSettings(
        host="127.0.0.1", port=port, security=security, sender="wachter@example.nl", **options
    )
    return Channels(messages=MESSAGES, smtp=smtp, box=None)


@pytest.fixture
def queued(db_session):
    """One deadline-breach e-mail to an officer, waiting to be sent."""
    officer = make_user(db_session, role="security_officer", email="officer@example.nl")
    incident = make_incident(db_session, reference="INC-2026-00042", title="Phishing")
    [notification] = enqueue(
        db_session,
        kind=NotificationKind.DEADLINE_BREACH,
        incident_id=incident.id,
        user_ids=[officer.id],
        payload={
            "reference": incident.reference,
            "title": incident.title,
            "deadline": "acknowledge",
            "due_at": "2026-03-02T10:15:00+00:00",
        },
        now=NOW,
    )
    return notification


def stored(db_session, notification_id: int) -> Notification:
    db_session.expire_all()
    return db_session.get(Notification, notification_id)


def test_an_email_reaches_the_smtp_server_with_subject_and_recipient(
    db_session, queued, smtp_server, caplog
):
    inbox = Inbox()
    port = smtp_server(inbox)
    caplog.set_level(logging.INFO, logger="wachter.incidents.notifications")
    assert deliver_notifications(db_session, now=NOW, channels=channels(port)) == 1

    [(sender, recipients, message)] = inbox.messages
    assert sender == "wachter@example.nl"
    assert recipients == ["officer@example.nl"]
    assert message["Subject"] == "[Wachter] Termijn verstreken / Deadline missed: INC-2026-00042"
    body = message.get_content()
    assert body.index("Titel: Phishing") < body.index("Title: Phishing")
    assert "https://wachter.example.nl/incidents/" in body
    sent = stored(db_session, queued.id)
    assert (sent.status, sent.attempts, sent.sent_at, sent.last_error) == ("sent", 1, NOW, None)
    assert "officer@example.nl" not in caplog.text
    assert f"'wachter.notification_id': {queued.id}" in str(
        [record.__dict__ for record in caplog.records]
    )


def test_starttls_with_a_login_sends_and_keeps_the_password_to_itself(
    db_session, queued, smtp_server, tls, caplog
):
    inbox = Inbox()
    port = smtp_server(
        inbox,
        tls_context=tls.server,
        require_starttls=True,
        authenticator=inbox.authenticate,
        auth_require_tls=True,
        auth_required=True,
    )
    caplog.set_level(logging.DEBUG)
    secure = channels(
        port,
        "starttls",
        username=SMTP_USER,
        password=SMTP_PASSWORD,
        ssl_context=tls.client,
    )
    deliver_notifications(db_session, now=NOW, channels=secure)

    assert inbox.logins == [SMTP_USER.encode()]
    [(_sender, _recipients, message)] = inbox.messages
    assert SMTP_PASSWORD not in message.as_string()
    assert stored(db_session, queued.id).status == "sent"
    assert SMTP_PASSWORD not in caplog.text
    assert SMTP_PASSWORD not in repr(secure)


def test_implicit_tls_sends(db_session, queued, smtp_server, tls):
    inbox = Inbox()
    port = smtp_server(inbox, ssl_context=tls.server)
    deliver_notifications(
        db_session, now=NOW, channels=channels(port, "tls", ssl_context=tls.client)
    )
    assert len(inbox.messages) == 1
    assert stored(db_session, queued.id).status == "sent"


def test_starttls_never_falls_back_to_plain_text(db_session, queued, smtp_server, tls):
    inbox = Inbox()
    port = smtp_server(inbox)  # offers no STARTTLS
    deliver_notifications(
        db_session, now=NOW, channels=channels(port, "starttls", ssl_context=tls.client)
    )
    assert inbox.messages == []
    failed = stored(db_session, queued.id)
    assert failed.status == "pending"
    assert "STARTTLS" in failed.last_error


def test_an_untrusted_certificate_is_refused(db_session, queued, smtp_server, tls):
    inbox = Inbox()
    port = smtp_server(inbox, tls_context=tls.server, require_starttls=True)
    deliver_notifications(db_session, now=NOW, channels=channels(port, "starttls"))
    assert inbox.messages == []
    assert "CERTIFICATE_VERIFY_FAILED" in stored(db_session, queued.id).last_error


def test_a_server_that_is_down_is_retried_with_growing_waits_then_given_up(db_session, queued):
    down = channels(free_port())  # nothing listens there
    now, waits = NOW, []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert deliver_notifications(db_session, now=now, channels=down) == 1
        notification = stored(db_session, queued.id)
        assert notification.attempts == attempt
        assert "ConnectionRefusedError" in notification.last_error
        if attempt < MAX_ATTEMPTS:
            assert notification.status == "pending"
            waits.append(notification.next_attempt_at - now)
            # Not before the wait is over.
            assert deliver_notifications(db_session, now=now + waits[-1] / 2, channels=down) == 0
            now = notification.next_attempt_at
    assert notification.status == "failed"
    assert waits == [retry_delay(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert waits[0] == timedelta(seconds=30)
    assert all(later == 2 * earlier for earlier, later in pairwise(waits))
    assert deliver_notifications(db_session, now=now + timedelta(days=1), channels=down) == 0


def test_email_switched_off_fails_once_with_a_clear_reason(db_session, queued):
    off = Channels(messages=MESSAGES, smtp=None, box=None)
    deliver_notifications(db_session, now=NOW, channels=off)
    failed = stored(db_session, queued.id)
    assert (failed.status, failed.attempts, failed.last_error) == ("failed", 1, EMAIL_OFF)
    assert deliver_notifications(db_session, now=NOW + timedelta(days=1), channels=off) == 0


def test_a_recipient_without_an_address_or_account_fails_without_retrying(
    db_session, queued, smtp_server
):
    inbox = Inbox()
    port = smtp_server(inbox)
    recipient = db_session.get(Notification, queued.id).recipient_user_id
    db_session.get(User, recipient).email = None
    db_session.flush()
    deliver_notifications(db_session, now=NOW, channels=channels(port))
    failed = stored(db_session, queued.id)
    assert (failed.status, failed.last_error) == ("failed", "the recipient has no e-mail address")
    assert inbox.messages == []


def test_a_batch_goes_over_one_connection_and_one_refusal_spares_the_others(
    db_session, smtp_server
):
    class Picky(Inbox):
        async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802
            if address.startswith("refused"):
                return "550 5.1.1 <refused@example.nl>: no such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    inbox = Picky()
    port = smtp_server(inbox)
    incident = make_incident(db_session)
    users = [
        make_user(db_session, email=f"{name}@example.nl", role="security_officer")
        for name in ("first", "refused", "third")
    ]
    enqueue(
        db_session,
        kind=NotificationKind.ESCALATION,  # a subject with "ë": encoded for the header
        incident_id=incident.id,
        user_ids=[user.id for user in users],
        payload={"reference": incident.reference},
        now=NOW,
    )
    assert deliver_notifications(db_session, now=NOW, channels=channels(port)) == 3
    assert sorted(recipients[0] for _s, recipients, _m in inbox.messages) == [
        "first@example.nl",
        "third@example.nl",
    ]
    rows = {
        row.recipient_user_id: row
        for row in db_session.scalars(
            select(Notification).execution_options(populate_existing=True)
        )
    }
    refused = rows[users[1].id]
    assert refused.status == "pending"
    assert refused.last_error == "recipient refused by the server (SMTP 550)"
    assert "refused@example.nl" not in refused.last_error
    assert rows[users[0].id].status == rows[users[2].id].status == "sent"
