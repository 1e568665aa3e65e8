"""What notifications say (Dutch first, then English; nothing beyond reference, title,
deadline and link), the webhook body (no free text), SMTP failure reasons (no addresses)
and the retry schedule."""

from __future__ import annotations

import smtplib
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import orjson
import pytest

from core import ConfigError
from incidents.notifications.delivery import FIRST_RETRY, MAX_RETRY, retry_delay
from incidents.notifications.email import SmtpSettings, build_message, describe
from incidents.notifications.messages import (
    MessageSettings,
    email_text,
    one_line,
    webhook_body,
)
from incidents.notifications.models import Notification

CREATED = datetime(2026, 3, 2, 10, 16, tzinfo=UTC)
SETTINGS = MessageSettings(base_url="https://wachter.example.nl/", timezone="Europe/Amsterdam")


def notification(kind: str = "deadline_breach", **payload: object) -> Notification:
    values: dict[str, object] = {
        "reference": "INC-2026-00042",
        "title": "Phishing at the service desk",
        "type": "cyber",
        "severity": "critical",
        "deadline": "acknowledge",
        "due_at": "2026-03-02T10:15:00+00:00",
    }
    values.update(payload)
    return Notification(
        id=7,
        kind=kind,
        channel="email",
        incident_id=42,
        payload=orjson.dumps(values).decode(),
        created_at=CREATED,
    )


def test_a_breach_email_says_it_in_dutch_first_then_in_english():
    text = email_text(notification(), SETTINGS)
    assert text.subject == "[Wachter] Termijn verstreken / Deadline missed: INC-2026-00042"
    dutch, english = text.body.split("\n---\n")
    assert "Termijn: in behandeling nemen, verstreken op 2026-03-02 11:15 CET" in dutch
    assert "Titel: Phishing at the service desk" in dutch
    assert "Bekijk het incident: https://wachter.example.nl/incidents/42" in dutch
    assert "Deadline: acknowledge, passed at 2026-03-02 11:15 CET" in english
    assert "Open the incident: https://wachter.example.nl/incidents/42" in english


def test_a_staff_safety_breach_names_its_deadline_in_both_languages():
    text = email_text(notification(deadline="police_report", type="staff_safety"), SETTINGS)
    dutch, english = text.body.split("\n---\n")
    assert "Termijn: besluit over aangifte (2 werkdagen), verstreken op" in dutch
    assert "Deadline: police-report decision (2 working days), passed at" in english


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        ("assignment", "Incident aan u toegewezen / Incident assigned to you"),
        ("escalation", "Alerts geëscaleerd naar incident / Alerts escalated to incident"),
        ("something_new", "Melding over incident / Notification about incident"),
    ],
)
def test_each_kind_has_its_own_subject(kind, subject):
    text = email_text(notification(kind, deadline=None, due_at=None), SETTINGS)
    assert text.subject == f"[Wachter] {subject}: INC-2026-00042"
    assert "Termijn" not in text.body


def test_an_email_says_nothing_beyond_reference_title_deadline_and_link():
    text = email_text(
        notification(reporter="Jan Jansen", entities="10.0.0.1", comment="geheim"), SETTINGS
    )
    for leaked in ("Jan Jansen", "10.0.0.1", "geheim"):
        assert leaked not in text.body


def test_control_and_direction_characters_in_a_title_cannot_forge_lines():
    text = email_text(notification(title="Lek\r\nBcc: iedereen@example.nl\u202e"), SETTINGS)
    assert "Titel: Lek Bcc: iedereen@example.nl" in text.body
    assert "\r" not in text.body
    assert "\u202e" not in text.body
    assert one_line("x" * 400).endswith("…")
    assert len(one_line("x" * 400)) == 300


def test_the_message_carries_the_headers_and_refuses_a_header_injection():
    text = email_text(notification(), SETTINGS)
    message = build_message(
        sender="wachter@example.nl",
        recipient="officer@example.nl",
        text=text,
        message_key="notification-7",
        now=CREATED,
    )
    assert message["To"] == "officer@example.nl"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@example.nl>")
    with pytest.raises(ValueError, match=r"linefeed|carriage"):
        build_message(
            sender="wachter@example.nl",
            recipient="a@example.nl\r\nBcc: b@example.nl",
            text=text,
            message_key="notification-7",
            now=CREATED,
        )


def test_a_webhook_body_has_no_free_text():
    body = orjson.loads(webhook_body(notification(), SETTINGS))
    assert body["type"] == "incident.deadline_breach"
    assert body["timestamp"] == "2026-03-02T10:16:00+00:00"
    assert body["data"] == {
        "notification_id": 7,
        "kind": "deadline_breach",
        "incident_id": 42,
        "link": "https://wachter.example.nl/incidents/42",
        "reference": "INC-2026-00042",
        "incident_type": "cyber",
        "severity": "critical",
        "deadline": "acknowledge",
        "due_at": "2026-03-02T10:15:00+00:00",
    }


def test_smtp_failure_reasons_never_name_an_address():
    refused = smtplib.SMTPRecipientsRefused({"bob@example.nl": (550, b"<bob@example.nl> unknown")})
    assert describe(refused) == "recipient refused by the server (SMTP 550)"
    bounced = smtplib.SMTPDataError(554, b"5.7.1 <bob@example.nl>: Relay access denied")
    assert describe(bounced) == "SMTP 554: 5.7.1 <<address>>: Relay access denied"
    login = smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials for alice@example.nl")
    assert describe(login) == "the SMTP server refused the login (SMTP 535)"


def test_a_password_is_never_sent_in_plain_text():
    with pytest.raises(ConfigError, match="WACHTER_SMTP_USERNAME"):
        SmtpSettings(
            host="mail.example.nl",
            port=25,
            security="none",
            sender="wachter@example.nl",
            username="wachter",
            password="geheim",
        )
    assert "geheim" not in repr(
        SmtpSettings(
            host="mail.example.nl",
            port=587,
            security="starttls",
            sender="wachter@example.nl",
            username="wachter",
            password="geheim",
        )
    )


def test_retries_back_off_exponentially_up_to_six_hours():
    delays = [retry_delay(attempts) for attempts in range(1, 12)]
    assert delays[:4] == [FIRST_RETRY, FIRST_RETRY * 2, FIRST_RETRY * 4, FIRST_RETRY * 8]
    assert all(later >= earlier for earlier, later in pairwise(delays))
    assert retry_delay(1000) == MAX_RETRY == timedelta(hours=6)
