"""A security officer at work on the demo's alerts, through the incidents service.

The password-guessing alerts become one incident and the night-time administrator's alerts
another (each with its type's playbook and a comment); the spraying alert is acknowledged
and the locked account used by a forgotten backup script is closed as a false positive, so
the alert queue, the incident page and the deadlines show work in every state. Each step is
taken some minutes after its alerts were raised (never after ``now``), so time to acknowledge
and time to resolve have values as they would in life.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from detection_rules.models import DetectionRule
from incidents.alerts import acknowledge, close
from incidents.alerts.models import Alert, AlertStatus
from incidents.cases.comments import add_comment
from incidents.cases.service import open_incident_from_alerts

PASSWORD_GUESSED = ("wachter_brute_force_one_account", "wachter_success_after_failures")
NIGHT_ADMIN = ("wachter_windows_admin_created", "wachter_privileged_sign_in_outside_office_hours")
GUESSED_TITLE = "Wachtwoord van k.bos geraden via SSH op de bastion"
GUESSED_COMMENT = (
    "14 mislukte pogingen vanaf 203.0.113.45, daarna een geslaagde login. Account k.bos "
    "geblokkeerd en wachtwoord gereset; sessies op de bastion nagekeken."
)
NIGHT_COMMENT = (
    "adm.pbakker zegt niet te hebben ingelogd. svc-backup2 uitgeschakeld; onderzoek naar het "
    "RDP-adres 203.0.113.66 loopt."
)
SCRIPT_NOTE = (
    "Het back-upscript op srv-db-01 gebruikte nog het oude account r.dewit; script aangepast."
)


@dataclass
class Response:
    incidents: list[str] = field(default_factory=list)  # references
    acknowledged: int = 0
    closed: int = 0


def respond(session: Session, *, officer: Actor, now: datetime) -> Response:
    """Open the two incidents, acknowledge one alert, close one as a false positive."""
    done = Response()
    for rules, title, comment in (
        (PASSWORD_GUESSED, GUESSED_TITLE, GUESSED_COMMENT),
        (NIGHT_ADMIN, None, NIGHT_COMMENT),
    ):
        alerts = _new_alerts(session, rules)
        if not alerts:
            continue
        at = _after(alerts, minutes=12, now=now)
        incident = open_incident_from_alerts(
            session, alert_ids=[a.id for a in alerts], actor=officer, now=at, title=title
        )
        add_comment(
            session, incident_id=incident.id, body=comment, actor=officer, now=at + _minutes(9)
        )
        done.incidents.append(incident.reference)
    for alert in _new_alerts(session, ("wachter_password_spraying",)):
        acknowledge(session, alert.id, actor=officer, now=_after([alert], minutes=7, now=now))
        done.acknowledged += 1
    for alert in _new_alerts(session, ("wachter_linux_locked_account_used",)):
        at = _after([alert], minutes=40, now=now)
        close(
            session, alert.id, resolution="false_positive", note=SCRIPT_NOTE, actor=officer, now=at
        )
        done.closed += 1
    return done


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def _after(alerts: list[Alert], *, minutes: int, now: datetime) -> datetime:
    return min(max(alert.last_seen for alert in alerts) + _minutes(minutes), now)


def _new_alerts(session: Session, rule_names: tuple[str, ...]) -> list[Alert]:
    query = (
        select(Alert)
        .join(DetectionRule, DetectionRule.key == Alert.rule_key)
        .where(DetectionRule.name.in_(rule_names), Alert.status == AlertStatus.NEW.value)
        .order_by(Alert.id)
    )
    return list(session.scalars(query))
