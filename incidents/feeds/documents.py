"""The alert as an ECS document: what the pull API, the stream, webhooks and CEF send.

Field names follow ECS (``event.kind: alert``, ``rule.*``, ``threat.*``, ``related.*``)
with Wachter's own alert state under ``wachter.alert``. People appear only as
pseudonyms: accounts, e-mail addresses, phone numbers and case references are replaced by
``feeds.pseudonyms``; IP addresses and host names stay, because a SOC acts on them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from incidents.alerts.models import Alert
from incidents.entities import PERSONAL_KINDS, EntityKind
from incidents.feeds.pseudonyms import Pseudonymiser

# ECS event.severity: a number, higher is worse (Elastic's detection engine uses these).
SEVERITY_SCORE = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}
_TECHNIQUE = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)


def alert_document(alert: Alert, pseudonyms: Pseudonymiser) -> dict[str, Any]:
    entities = [(EntityKind(kind), value) for kind, value in orjson.loads(alert.entities)]
    shown = [
        (kind, pseudonyms.pseudonym(kind, value) if kind in PERSONAL_KINDS else value)
        for kind, value in entities
    ]
    tags: list[str] = orjson.loads(alert.tags)
    document: dict[str, Any] = {
        "@timestamp": _time(alert.last_seen),
        "event": {
            "kind": "alert",
            "id": f"wachter-alert-{alert.id}",
            "severity": SEVERITY_SCORE.get(alert.severity, 1),
            "created": _time(alert.created_at),
            "start": _time(alert.first_seen),
            "end": _time(alert.last_seen),
        },
        "rule": {"id": alert.rule_key, "name": alert.title, "version": str(alert.rule_version)},
        "tags": tags,
        "related": _related(shown),
        "wachter": {
            "alert": {
                "id": alert.id,
                "version": alert.version,
                "status": alert.status,
                "resolution": alert.resolution,
                "severity": alert.severity,
                "count": alert.count,
                "fingerprint": alert.fingerprint,
                "incident_id": alert.incident_id,
            }
        },
    }
    techniques = sorted({m.group(1).upper() for t in tags if (m := _TECHNIQUE.match(t))})
    if techniques:
        document["threat"] = {
            "framework": "MITRE ATT&CK",
            "technique": {"id": techniques},
        }
    document.update(_first_of_each(shown))
    return document


def _related(shown: list[tuple[EntityKind, str]]) -> dict[str, list[str]]:
    related: dict[str, list[str]] = {}
    for kind, value in shown:
        key = {EntityKind.IP: "ip", EntityKind.HOST: "hosts"}.get(kind, "user")
        if value not in related.setdefault(key, []):
            related[key].append(value)
    return related


def _first_of_each(shown: list[tuple[EntityKind, str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for kind, value in shown:
        if kind == EntityKind.IP:
            fields.setdefault("source", {"ip": value})
        elif kind == EntityKind.ACCOUNT:
            fields.setdefault("user", {"name": value})
        elif kind == EntityKind.HOST:
            fields.setdefault("host", {"name": value})
    return fields


def _time(value: Any) -> str:
    return str(value.isoformat().replace("+00:00", "Z"))
