"""``/api/v1/incidents``: incidents for machines with a bearer token (docs/incidents.md).

``GET /api/v1/incidents`` (scope ``incidents:read``) pages by id, oldest first:
``after`` is the previous answer's ``next_cursor``, ``limit`` 1..200 (default 50), and
``state``, ``type``, ``severity`` filter from their closed sets. ``GET
/api/v1/incidents/<id>`` adds the alerts, tasks and entities. ``POST /api/v1/incidents``
(``incidents:write``) opens an incident from a JSON object; a field it does not know is
refused (400), so nobody can set a state, a creator or a time this way. People appear in
entities only as pseudonyms, as in every feed. Every read and every change is audited.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import partial
from typing import Any, Final

from flask import Response, jsonify, request, url_for
from werkzeug.exceptions import UnsupportedMediaType

from access_control import record_audit, record_read
from access_control.tokens import Scope
from core import InvalidInput
from core.i18n import N_
from incidents.cases.alert_links import alerts_of
from incidents.cases.lookup import get_incident
from incidents.cases.models import Incident
from incidents.cases.related import entities_of
from incidents.cases.service import allowed_states, create_incident, list_incidents
from incidents.cases.tasks import tasks_of
from incidents.entities import PERSONAL_KINDS, EntityKind
from incidents.feeds.pseudonyms import pseudonymiser
from web.api_auth import current_actor, require_token
from web.context import db_session, web_context, when_rendered
from web.views.api import blueprint

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
_NUMBER: Final = re.compile(r"[0-9]{1,12}", re.ASCII)
_MAX_USER_ID: Final = 2**31 - 1  # user_account.id is an INTEGER; larger overflows the driver
_TEXT_FIELDS: Final = ("title", "description", "type", "severity", "tlp", "playbook")
_USER_FIELDS: Final = ("assignee_id", "reviewer_id")
_REQUIRED: Final = ("title", "type", "severity")


@blueprint.get("/incidents", endpoint="list_incidents")
@require_token(Scope.INCIDENTS_READ)
def list_incidents_api() -> Response:
    after, limit = _number(request.args, "after"), _limit(request.args)
    session = db_session()
    found = list_incidents(
        session,
        state=request.args.get("state") or None,
        incident_type=request.args.get("type") or None,
        severity=request.args.get("severity") or None,
        after_id=after or 0,
        limit=limit + 1,
    )
    page = found[:limit]
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="incident.read",
            target="incident:list",
            outcome="success",
            now=_now(),
            details={"after": after, "limit": limit, "count": len(page)},
        )
    )
    cursor = page[-1].id if page else after
    return jsonify(
        data=[incident_document(incident) for incident in page],
        next_cursor=None if cursor is None else str(cursor),
        has_more=len(found) > limit,
    )


@blueprint.get("/incidents/<int:incident_id>", endpoint="get_incident")
@require_token(Scope.INCIDENTS_READ)
def get_incident_api(incident_id: int) -> Response:
    session = db_session()
    incident = get_incident(session, incident_id)
    when_rendered(
        partial(
            record_read,
            actor=current_actor(),
            record_type="incident",
            record_id=incident.id,
            now=_now(),
        )
    )
    return jsonify(_full_document(incident))


@blueprint.post("/incidents", endpoint="create_incident")
@require_token(Scope.INCIDENTS_WRITE)
def create_incident_api() -> tuple[Response, int, dict[str, str]]:
    values = _incident_fields(_json_object())
    incident = create_incident(
        db_session(),
        title=values["title"],
        description=values.get("description", ""),
        incident_type=values["type"],
        severity=values["severity"],
        tlp=values.get("tlp", "amber"),
        assignee_id=values.get("assignee_id"),
        reviewer_id=values.get("reviewer_id"),
        playbook_key=values.get("playbook"),
        actor=current_actor(),
        now=_now(),
    )
    location = url_for("api.get_incident", incident_id=incident.id)
    return jsonify(_full_document(incident)), 201, {"Location": location}


def incident_document(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "reference": incident.reference,
        "title": incident.title,
        "description": incident.description,
        "type": incident.type,
        "severity": incident.severity,
        "tlp": incident.tlp,
        "state": incident.state,
        "next_states": [str(state) for state in allowed_states(incident)],
        "resolution": incident.resolution,
        "summary": incident.summary,
        "assignee_id": incident.assignee_id,
        "reviewer_id": incident.reviewer_id,
        "merged_into_id": incident.merged_into_id,
        "playbook_version_id": incident.playbook_version_id,
        "created_at": _time(incident.created_at),
        "created_by": incident.created_by,
        "updated_at": _time(incident.updated_at),
        "acknowledged_at": _time(incident.acknowledged_at),
        "contained_at": _time(incident.contained_at),
        "closed_at": _time(incident.closed_at),
    }


def _full_document(incident: Incident) -> dict[str, Any]:
    session = db_session()
    names = pseudonymiser(session, _now())
    document = incident_document(incident)
    document["alerts"] = [alert.id for alert in alerts_of(session, incident.id)]
    document["tasks"] = [
        {
            "id": task.id,
            "title": task.title,
            "status": task.status,
            "assignee_id": task.assignee_id,
            "due_at": _time(task.due_at),
            "playbook_task_key": task.playbook_task_key,
        }
        for task in tasks_of(session, incident.id)
    ]
    document["entities"] = [
        {
            "kind": entity.kind,
            "value": names.pseudonym(EntityKind(entity.kind), entity.value)
            if entity.kind in PERSONAL_KINDS
            else entity.value,
        }
        for entity in entities_of(session, incident.id)
    ]
    return document


def _json_object() -> dict[str, Any]:
    if (request.mimetype or "").lower() != "application/json":
        raise UnsupportedMediaType()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput(N_("The body must be a JSON object."), field="body")
    return body


def _incident_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The known fields of ``body`` with their types checked; any other field is refused."""
    for name in body:
        if name not in _TEXT_FIELDS and name not in _USER_FIELDS:
            raise InvalidInput(
                N_("Unknown field \u201c%(name)s\u201d."), field=str(name)[:60], name=str(name)[:60]
            )
    for name in _REQUIRED:
        if name not in body:
            raise InvalidInput(
                N_("The field \u201c%(name)s\u201d is required."), field=name, name=name
            )
    for name in _TEXT_FIELDS:
        if name in body and not isinstance(body[name], str):
            raise InvalidInput(
                N_("The field \u201c%(name)s\u201d must be text."), field=name, name=name
            )
    for name in _USER_FIELDS:
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_USER_ID
        ):
            raise InvalidInput(
                N_("The field \u201c%(name)s\u201d must be a user id or null."),
                field=name,
                name=name,
            )
    return body


def _number(args: Any, name: str) -> int | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise InvalidInput(N_("The cursor must be a number from a previous answer."), field=name)
    return int(text)


def _limit(args: Any) -> int:
    limit = _number(args, "limit")
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            N_("The limit must be a whole number from 1 to %(limit)d."),
            field="limit",
            limit=MAX_LIMIT,
        )
    return limit


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return web_context().clock.now()
