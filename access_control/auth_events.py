"""Wachter's own authentication events as ECS documents, read from the audit trail.

The detection engine watches the console like any other system (DESIGN.md: "the service
watches itself with the same rules"): ingest pulls these with ``authentication_events``
and feeds them through the same pipeline, logsource ``product: wachter, service: auth``.
The audit trail stays the single source; ECS is a view of it.

Sign-ins, MFA and token use are ``authentication`` events about ``user.name``. Creating an
account and changing its role are ``iam`` events, as ECS and the Windows parser write them:
``user.name`` is who acted, ``user.target.name`` the account acted on (the rule pack's
"administrator account created" reads them).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from access_control.models import AuditEntry

DATASET = "wachter.auth"
_PREFIXES = ("auth.", "mfa.")
_ALSO = ("user.locked", "user.created", "user.role_changed")
# Account management: ECS event.type per action (category iam).
_IAM_TYPES = {"user.created": ["user", "creation"], "user.role_changed": ["user", "change"]}
# ECS event.type per action; anything else authentication-related is "info".
_TYPES = {
    "auth.login.success": ["start"],
    "auth.logout": ["end"],
    "auth.password.success": ["info"],
    "user.locked": ["change"],
}


def as_ecs(entry: AuditEntry) -> dict[str, Any]:
    details = json.loads(entry.details or "{}")
    username = entry.target.removeprefix("user:") if entry.target.startswith("user:") else None
    document: dict[str, Any] = {
        "@timestamp": entry.occurred_at.isoformat().replace("+00:00", "Z"),
        "event": {
            "kind": "event",
            "category": ["authentication"],
            "type": _TYPES.get(entry.action, ["info"]),
            "action": entry.action,
            "outcome": {"success": "success"}.get(entry.outcome, "failure"),
            "dataset": DATASET,
            "module": "wachter",
            "provider": "wachter",
            "id": str(entry.id),
        },
        "wachter": {"logsource": {"product": "wachter", "service": "auth"}, "details": details},
    }
    if entry.action in _IAM_TYPES:
        document["event"].update(category=["iam"], type=_IAM_TYPES[entry.action])
        document["user"] = {"name": entry.actor}
        if username:
            document["user"]["target"] = {"name": username}
    elif username and username != "?":
        document["user"] = {"name": username}
    if entry.ip:
        document["source"] = {"ip": entry.ip}
    if entry.user_agent:
        document["user_agent"] = {"original": entry.user_agent}
    if "reason" in details:
        document["event"]["reason"] = str(details["reason"])
    return document


def authentication_events(
    session: Session, *, after_id: int = 0, limit: int = 1000
) -> list[dict[str, Any]]:
    """Authentication events after audit entry ``after_id``, oldest first (a pull cursor)."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.id > after_id)
        .where(
            or_(
                *(AuditEntry.action.startswith(prefix) for prefix in _PREFIXES),
                AuditEntry.action.in_(_ALSO),
            )
        )
        .order_by(AuditEntry.id)
        .limit(max(1, min(limit, 10000)))
    )
    return [as_ecs(entry) for entry in session.scalars(query)]
