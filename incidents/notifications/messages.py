"""What a notification says: the e-mail's subject and body, and the webhook's JSON body.

The recipient's language is unknown, so every e-mail says it twice, Dutch first, then
English. It says no more than the recipient may see in the console, and less where it
can: the incident's reference, its title, the deadline and a link to the incident; never
alerts, entities, comments or people. A webhook body carries no free text at all (no
title): it goes to another system, which can follow the link with its own access.

Outbox payload keys read here: ``reference``, ``title``, ``type`` (the incident type),
``severity``, ``deadline`` (a deadline kind) and ``due_at`` (ISO 8601); others are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from incidents.notifications.models import Notification

MAX_TITLE = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")
_SIGNATURE = (
    "-- \n"
    "Dit bericht is automatisch verstuurd door Wachter; antwoorden worden niet gelezen.\n"
    "This message was sent automatically by Wachter; replies are not read.\n"
)
# (Dutch, English) for each kind of deadline.
_DEADLINE_NAMES = {
    "acknowledge": ("in behandeling nemen", "acknowledge"),
    "contain": ("indammen", "contain"),
    "resolve": ("afhandelen", "resolve"),
    # staff safety (staff_safety.deadlines.DeadlineKind)
    "police_report": (
        "besluit over aangifte (2 werkdagen)",
        "police-report decision (2 working days)",
    ),
    "aftercare_contact": ("contact voor nazorg (72 uur)", "aftercare contact (72 hours)"),
    "aftercare_reoffer": ("nazorg opnieuw aanbieden (2 weken)", "offer aftercare again (2 weeks)"),
    "check_in_6_weeks": ("contactmoment na 6 weken", "check-in after 6 weeks"),
    "check_in_3_months": ("contactmoment na 3 maanden", "check-in after 3 months"),
}
# (Dutch subject, English subject, Dutch opening line, English opening line) per kind.
_KINDS = {
    "deadline_breach": (
        "Termijn verstreken",
        "Deadline missed",
        "Een termijn van dit incident is verstreken zonder dat die gehaald is.",
        "A deadline of this incident passed without being met.",
    ),
    "assignment": (
        "Incident aan u toegewezen",
        "Incident assigned to you",
        "Dit incident is aan u toegewezen.",
        "This incident has been assigned to you.",
    ),
    "escalation": (
        "Alerts geëscaleerd naar incident",
        "Alerts escalated to incident",
        "Alerts zijn geëscaleerd naar dit incident.",
        "Alerts have been escalated to this incident.",
    ),
}
_UNKNOWN_KIND = (
    "Melding over incident",
    "Notification about incident",
    "Er is iets veranderd aan dit incident.",
    "Something changed in this incident.",
)


@dataclass(frozen=True)
class MessageSettings:
    base_url: str  # settings.base_url: links point into the console
    timezone: str = "Europe/Amsterdam"  # times in e-mails, named with their zone


@dataclass(frozen=True)
class EmailText:
    subject: str
    body: str


def one_line(value: object, limit: int = MAX_TITLE) -> str:
    """``value`` as one line of plain text: control and direction characters become spaces."""
    text = _CONTROL.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def incident_link(base_url: str, incident_id: int | None) -> str | None:
    return f"{base_url.rstrip('/')}/incidents/{incident_id}" if incident_id is not None else None


def payload_of(notification: Notification) -> dict[str, object]:
    loaded = orjson.loads(notification.payload or "{}")
    return loaded if isinstance(loaded, dict) else {}


def email_text(notification: Notification, settings: MessageSettings) -> EmailText:
    """Subject and body, Dutch first and English second."""
    payload = payload_of(notification)
    reference = one_line(payload.get("reference") or f"#{notification.incident_id}", 40)
    subject_nl, subject_en, opening_nl, opening_en = _KINDS.get(notification.kind, _UNKNOWN_KIND)
    link = incident_link(settings.base_url, notification.incident_id)
    title = one_line(payload["title"]) if payload.get("title") else None
    deadline = _deadline_lines(payload, settings.timezone)
    dutch = [opening_nl, "", f"Incident: {reference}"]
    english = [opening_en, "", f"Incident: {reference}"]
    if title:
        dutch.append(f"Titel: {title}")
        english.append(f"Title: {title}")
    if deadline:
        dutch.append(deadline[0])
        english.append(deadline[1])
    if link:
        dutch.append(f"Bekijk het incident: {link}")
        english.append(f"Open the incident: {link}")
    body = "\n".join([*dutch, "", "---", "", *english, "", _SIGNATURE])
    return EmailText(subject=f"[Wachter] {subject_nl} / {subject_en}: {reference}", body=body)


def _deadline_lines(payload: Mapping[str, object], timezone: str) -> tuple[str, str] | None:
    kind, due_text = payload.get("deadline"), payload.get("due_at")
    if not isinstance(kind, str) or not isinstance(due_text, str):
        return None
    dutch_name, english_name = _DEADLINE_NAMES.get(kind, (one_line(kind, 40),) * 2)
    try:
        due_at = datetime.fromisoformat(due_text).astimezone(ZoneInfo(timezone))
    except ValueError:
        return None
    when = due_at.strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"Termijn: {dutch_name}, verstreken op {when}",
        f"Deadline: {english_name}, passed at {when}",
    )


def webhook_body(notification: Notification, settings: MessageSettings) -> str:
    """JSON in the Standard Webhooks shape: ``type``, ``timestamp``, ``data``."""
    payload = payload_of(notification)
    data: dict[str, object] = {
        "notification_id": notification.id,
        "kind": notification.kind,
        "incident_id": notification.incident_id,
        "link": incident_link(settings.base_url, notification.incident_id),
    }
    for key, name in (
        ("reference", "reference"),
        ("type", "incident_type"),
        ("severity", "severity"),
        ("deadline", "deadline"),
        ("due_at", "due_at"),
    ):
        value = payload.get(key)
        if isinstance(value, str | int):
            data[name] = value
    body = {
        "type": f"incident.{notification.kind}",
        "timestamp": notification.created_at.isoformat(),
        "data": data,
    }
    return orjson.dumps(body).decode()
