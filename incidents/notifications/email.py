"""E-mail over SMTP (``smtplib``): plain, STARTTLS or implicit TLS, as the settings say.

STARTTLS is required when chosen: a server that does not offer it fails the delivery,
it never falls back to plain text. A password is only ever sent over an encrypted
connection (``WACHTER_SMTP_SECURITY=none`` with a username is refused when the job is
set up). Certificates are checked against the system's trust store (tests hand in their
own ``ssl.SSLContext``). Failure reasons are kept short and free of addresses, since they
are stored and shown to administrators; the password never appears in them.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from core import ConfigError, Settings
from incidents.notifications.messages import EmailText

TIMEOUT_SECONDS = 10.0
MAX_REASON = 300
_ADDRESS = re.compile(r"[^\s<>\"'@,;:()]+@[^\s<>\"'@,;:()]+")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str  # starttls, tls or none
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = TIMEOUT_SECONDS
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.security not in ("starttls", "tls", "none"):
            raise ConfigError("WACHTER_SMTP_SECURITY", "expected one of starttls, tls, none")
        if self.username and self.security == "none":
            raise ConfigError(
                "WACHTER_SMTP_USERNAME",
                "a password is never sent over an unencrypted connection; "
                "set WACHTER_SMTP_SECURITY to starttls or tls",
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSettings | None:
        """None when no SMTP host is set: e-mail is off."""
        if settings.smtp_host is None:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )


def build_message(
    *, sender: str, recipient: str, text: EmailText, message_key: str, now: datetime
) -> EmailMessage:
    """The message; ``ValueError`` when an address cannot go into a header."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = text.subject
    message["Date"] = format_datetime(now)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=message_key, domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message.set_content(text.body)
    return message


def describe(error: BaseException) -> str:
    """A short reason without addresses (servers echo them in their replies)."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = sorted({code for code, _reply in error.recipients.values()})
        reason = f"recipient refused by the server (SMTP {', '.join(map(str, codes))})"
    elif isinstance(error, smtplib.SMTPAuthenticationError):
        reason = f"the SMTP server refused the login (SMTP {error.smtp_code})"
    elif isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        reason = f"SMTP {error.smtp_code}: {text}"
    else:
        reason = f"{type(error).__name__}: {error}"
    return _ADDRESS.sub("<address>", " ".join(reason.split()))[:MAX_REASON]


class SmtpMailer:
    """Sends a batch of messages over one connection."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def send_all(self, messages: Sequence[EmailMessage]) -> list[str | None]:
        """One result per message: None when the server took it, else the reason."""
        if not messages:
            return []
        try:
            client = self._connect()
        except (smtplib.SMTPException, OSError) as error:
            return [describe(error)] * len(messages)
        results: list[str | None] = [None] * len(messages)
        try:
            for index, message in enumerate(messages):
                try:
                    client.send_message(message)
                except smtplib.SMTPServerDisconnected as error:
                    results[index:] = [describe(error)] * (len(messages) - index)
                    break
                except smtplib.SMTPException as error:  # this message only
                    results[index] = describe(error)
                except OSError as error:  # the connection broke (SMTPException is one too)
                    results[index:] = [describe(error)] * (len(messages) - index)
                    break
        finally:
            _quit(client)
        return results

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        context = settings.ssl_context or ssl.create_default_context()
        client: smtplib.SMTP
        if settings.security == "tls":
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        try:
            if settings.security == "starttls":
                client.starttls(context=context)
            if settings.username:
                client.login(settings.username, settings.password or "")
        except BaseException:
            _quit(client)
            raise
        return client


def _quit(client: smtplib.SMTP) -> None:
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()
