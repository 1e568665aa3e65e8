"""The incident page: everything about one incident on one page, its look an audited read.

Rendered by the incident views (``web.views.incidents``) for a plain look and again, with
the refusal and what was typed, when a form on the page was refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Any

import orjson
from flask import render_template, request
from markupsafe import Markup
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from access_control import record_read
from access_control.models import User
from incidents.cases import comments, merge, related, tasks
from incidents.cases.alert_links import alerts_of
from incidents.cases.lookup import get_incident
from incidents.cases.models import Incident, PlaybookVersion
from incidents.cases.service import allowed_states
from incidents.cases.states import State, machine_for
from incidents.cases.timeline import entries
from web.auth import current_actor
from web.context import db_session, web_context, when_rendered


def incident_page(
    incident_id: int, *, error: str | None = None, error_for: str | None = None
) -> str:
    """The incident page, its look recorded as a read of the incident."""
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
    found = related.related(session, incident.id)
    merged_into = merge.merge_of(session, incident.id)
    values: dict[str, Any] = {
        "incident": incident,
        "next_states": allowed_states(incident),
        "resolutions": {
            state: machine_for(incident.type).resolutions_from(incident.state)
            for state in allowed_states(incident)
            if state == State.CLOSED
        },
        "alerts": alerts_of(session, incident.id),
        "tasks": tasks.tasks_of(session, incident.id),
        "threads": comments.comment_threads(session, incident.id),
        "timeline": [
            (entry, orjson.loads(entry.details)) for entry in entries(session, incident.id)
        ],
        "entities": related.entities_of(session, incident.id),
        "related": found,
        "merges_into": merge.merges_into(session, incident.id),
        "merged_into": merged_into,
        "merge_target": session.get(Incident, incident.merged_into_id)
        if incident.merged_into_id
        else None,
        "playbook": session.get(PlaybookVersion, incident.playbook_version_id)
        if incident.playbook_version_id
        else None,
        "error": error,
        "error_for": error_for,
        "form": request.form if error else MultiDict(),
        "me": current_actor().name,
    }
    values["people"] = people_named([incident], values["tasks"])
    values["incident_names"] = _incident_names(session, values["merges_into"])
    return render_template("incidents/show.html", **values)


def people_named(incidents: list[Incident], task_rows: list[Any] | None = None) -> dict[int, str]:
    """Display names of the accounts an incident or task names."""
    ids = {
        value for incident in incidents for value in (incident.assignee_id, incident.reviewer_id)
    }
    ids |= {task.assignee_id for task in task_rows or []}
    ids.discard(None)
    if not ids:
        return {}
    rows = db_session().execute(select(User.id, User.display_name).where(User.id.in_(ids)))
    return dict(rows.all())


def people_options(people: list[User], selected: object, empty_label: str) -> Markup:
    """``<option>``s for an account select: ``empty_label`` first, then ``people``.

    Python rather than a template macro: the incident page has a select per task (a
    playbook brings a dozen) over every assignable account, and the macro's per-option
    cost was about a tenth of the page's rendering (bench/console).
    """
    chosen = "" if selected is None else str(selected)
    options = [Markup('<option value="">%s</option>') % empty_label]
    for person in people:
        mark = Markup(" selected") if str(person.id) == chosen else Markup("")
        options.append(
            Markup('<option value="%s"%s>%s (%s)</option>')
            % (person.id, mark, person.display_name, person.username)
        )
    return Markup("\n").join(options)


def _incident_names(session: Any, merges: list[Any]) -> dict[int, str]:
    ids = [row.source_incident_id for row in merges]
    if not ids:
        return {}
    query = select(Incident.id, Incident.reference).where(Incident.id.in_(ids))
    return dict(session.execute(query).all())


def _now() -> datetime:
    return web_context().clock.now().astimezone(UTC)
