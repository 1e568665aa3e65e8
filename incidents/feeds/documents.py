"""The alert as an ECS document: what the pull API, the stream, webhooks and CEF send.

Field names follow ECS (``event.kind: alert``, ``rule.*``, ``threat.*``, ``related.*``)
with Wachter's own alert state under ``wachter.alert``, including the console path of the
alert (``wachter.alert.path``, relative: the feed does not know the public URL). People
appear only as pseudonyms: every entity that is not an IP address or a host name
(accounts, e-mail addresses, phone numbers, case references, the identity vault's person
pseudonyms) is replaced by ``feeds.pseudonyms``; IP addresses and host names stay,
because a SOC acts on them. Free text written by people (a resolution note) and the
values a correlation grouped by are left out: either may name someone.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import orjson

from incidents.alerts.models import Alert
from incidents.entities import EntityKind
from incidents.feeds.pseudonyms import Pseudonymiser

# ECS event.severity: a number, higher is worse (Elastic's detection engine uses these).
SEVERITY_SCORE = {"informational": 1, "low": 21, "medium": 47, "high": 73, "critical": 99}
# Entity kinds a SOC acts on as they are; every other kind leaves Wachter as a pseudonym.
CLEAR_KINDS = frozenset({EntityKind.IP, EntityKind.HOST})
ATTACK_FRAMEWORK = "MITRE ATT&CK"
_ATTACK_SITE = "https://attack.mitre.org"
# Sigma's tactic tags (``attack.credential_access``; newer rules write hyphens) → ATT&CK.
TACTICS: dict[str, tuple[str, str]] = {
    "reconnaissance": ("TA0043", "Reconnaissance"),
    "resource_development": ("TA0042", "Resource Development"),
    "initial_access": ("TA0001", "Initial Access"),
    "execution": ("TA0002", "Execution"),
    "persistence": ("TA0003", "Persistence"),
    "privilege_escalation": ("TA0004", "Privilege Escalation"),
    "defense_evasion": ("TA0005", "Defense Evasion"),
    "credential_access": ("TA0006", "Credential Access"),
    "discovery": ("TA0007", "Discovery"),
    "lateral_movement": ("TA0008", "Lateral Movement"),
    "collection": ("TA0009", "Collection"),
    "command_and_control": ("TA0011", "Command and Control"),
    "exfiltration": ("TA0010", "Exfiltration"),
    "impact": ("TA0040", "Impact"),
}
_TACTIC_BY_ID = {tactic_id.lower(): name for name, (tactic_id, _title) in TACTICS.items()}
_TECHNIQUE = re.compile(r"^attack\.(t\d{4})(?:\.(\d{3}))?$", re.I)


def alert_document(alert: Alert, pseudonyms: Pseudonymiser) -> dict[str, Any]:
    """The ECS document of ``alert`` as it is now, with people replaced by pseudonyms."""
    entities = [(EntityKind(kind), value) for kind, value in orjson.loads(alert.entities)]
    shown = [
        (kind, value if kind in CLEAR_KINDS else pseudonyms.pseudonym(kind, value))
        for kind, value in entities
    ]
    tags: list[str] = orjson.loads(alert.tags)
    document: dict[str, Any] = {
        "@timestamp": _time(alert.last_seen),
        "event": {
            "kind": "alert",
            "id": f"wachter-alert-{alert.id}",
            "module": "wachter",
            "dataset": "wachter.alerts",
            "severity": SEVERITY_SCORE.get(alert.severity, 1),
            "risk_score": float(SEVERITY_SCORE.get(alert.severity, 1)),
            "created": _time(alert.created_at),
            "start": _time(alert.first_seen),
            "end": _time(alert.last_seen),
        },
        "rule": {
            "id": alert.rule_key,
            "name": alert.title,
            "version": str(alert.rule_version),
            "ruleset": "wachter",
        },
        "tags": tags,
        "related": _related(shown),
        "wachter": {"alert": _alert_state(alert)},
    }
    threat = threat_fields(tags)
    if threat:
        document["threat"] = threat
    document.update(_first_of_each(shown))
    return document


def threat_fields(tags: list[str]) -> dict[str, Any]:
    """ECS ``threat.*`` from Sigma's ``attack.*`` tags; empty when the rule has none."""
    tactics: list[tuple[str, str]] = []
    techniques: set[str] = set()
    subtechniques: set[str] = set()
    for tag in tags:
        lowered = tag.lower()
        if not lowered.startswith("attack."):
            continue
        name = lowered.removeprefix("attack.").replace("-", "_")
        name = _TACTIC_BY_ID.get(name, name)
        if name in TACTICS and TACTICS[name] not in tactics:
            tactics.append(TACTICS[name])
        elif match := _TECHNIQUE.match(lowered):
            technique = match.group(1).upper()
            techniques.add(technique)
            if match.group(2):
                subtechniques.add(f"{technique}.{match.group(2)}")
    if not tactics and not techniques:
        return {}
    threat: dict[str, Any] = {"framework": ATTACK_FRAMEWORK}
    if tactics:
        threat["tactic"] = {
            "id": [tactic_id for tactic_id, _ in tactics],
            "name": [title for _, title in tactics],
            "reference": [f"{_ATTACK_SITE}/tactics/{tactic_id}/" for tactic_id, _ in tactics],
        }
    if techniques:
        ordered = sorted(techniques)
        threat["technique"] = {
            "id": ordered,
            "reference": [f"{_ATTACK_SITE}/techniques/{t}/" for t in ordered],
        }
        if subtechniques:
            subs = sorted(subtechniques)
            threat["technique"]["subtechnique"] = {
                "id": subs,
                "reference": [f"{_ATTACK_SITE}/techniques/{s.replace('.', '/')}/" for s in subs],
            }
    return threat


def _alert_state(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "version": alert.version,
        "status": alert.status,
        "resolution": alert.resolution,
        "severity": alert.severity,
        "count": alert.count,
        "fingerprint": alert.fingerprint,
        "incident_id": alert.incident_id,
        "updated": _time(alert.updated_at),
        "path": f"/alerts/{alert.id}",
    }


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


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
