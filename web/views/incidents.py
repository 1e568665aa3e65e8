"""Incidents in the console: the list, opening one by hand, and the incident page with its
state, fields, alerts, tasks, comments, timeline, entities, related incidents and alerts,
and merges (INCIDENTS_READ to look: SOC analysts and officers; INCIDENTS_WRITE to change:
security officers; see web/policy.py).

Every change goes through ``incidents.cases``, which audits it and writes the timeline;
every look at an incident (and at the list) is an audited read. A form's refusal (bad
input, or a transition the state machine does not allow) is shown on the incident page
itself, with what was typed kept, after the change was rolled back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Final, ParamSpec

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from access_control import record_audit
from core import Conflict, InvalidInput
from core.i18n import N_
from incidents.alerts.models import Severity
from incidents.cases import comments, merge, related, tasks
from incidents.cases.fields import assignable_users
from incidents.cases.lookup import get_incident, get_incident_by_reference
from incidents.cases.models import IncidentType, TaskStatus, Tlp
from incidents.cases.service import (
    OPEN,
    IncidentChanges,
    create_incident,
    list_incidents,
    transition,
    update_fields,
)
from incidents.cases.states import State
from incidents.entities import EntityKind
from web.auth import current_actor, current_user
from web.context import db_session, web_context, when_rendered
from web.forms import form_errors_in_place, form_field
from web.views.events import page_cursor
from web.views.incident_page import incident_page, people_named, people_options

P = ParamSpec("P")
blueprint = Blueprint("incidents", __name__)
PAGE_SIZE: Final = 50
MAX_TEXT: Final = 20_000  # the longest free text a service accepts (a description)
_NUMBER: Final = re.compile(r"[0-9]{1,12}", re.ASCII)
_LOCAL_TIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2})?", re.ASCII
)


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "incident_types": list(IncidentType),
        "severities": list(Severity),
        "tlps": list(Tlp),
        "states": list(State),
        "task_statuses": list(TaskStatus),
        "entity_kinds": list(EntityKind),
        "assignable": lambda: assignable_users(db_session()),
        "people_options": people_options,
    }


@blueprint.get("/incidents")
@form_errors_in_place("incidents/index.html")
def index() -> str:
    filters = _list_filters(request.args)
    before, user = page_cursor(request.args), current_user()
    session = db_session()
    found = list_incidents(
        session,
        state=filters.get("state"),
        incident_type=filters.get("type"),
        severity=filters.get("severity"),
        assignee_id=user.id if filters.get("assignee") == "me" and user else None,
        before_id=before,
        limit=PAGE_SIZE + 1,
    )
    _audit_list(filters, before)
    shown = found[:PAGE_SIZE]
    older = shown[-1].id if len(found) > PAGE_SIZE else None
    return render_template(
        "incidents/index.html",
        incidents=shown,
        filters=filters,
        before=before,
        older=older,
        people=people_named(shown),
    )


@blueprint.route("/incidents/new", methods=["GET", "POST"])
@form_errors_in_place("incidents/new.html")
def new() -> str | Response:
    if request.method == "GET":
        return render_template("incidents/new.html")
    incident = create_incident(
        db_session(),
        title=form_field("title"),
        description=_long_field("description"),
        incident_type=form_field("type"),
        severity=form_field("severity"),
        tlp=form_field("tlp"),
        assignee_id=_user_id(request.form, "assignee_id"),
        reviewer_id=_user_id(request.form, "reviewer_id"),
        actor=current_actor(),
        now=_now(),
    )
    flash(_("Incident %(reference)s is open.", reference=incident.reference), "info")
    return _to_incident(incident.id)


@blueprint.get("/incidents/<int:incident_id>")
def show(incident_id: int) -> str:
    return incident_page(incident_id)


def on_incident_page(view: Callable[P, Response]) -> Callable[P, Response | tuple[str, int]]:
    """Show a refused change on the incident page (400 bad input, 409 not in this state)."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response | tuple[str, int]:
        try:
            return view(*args, **kwargs)
        except (InvalidInput, Conflict) as error:
            # Undo the change only; the page shown next is a read and is audited as one.
            db_session().rollback()
            message = _(error.template, **error.params)
            status = 400 if isinstance(error, InvalidInput) else 409
            incident_id = int(kwargs["incident_id"])  # type: ignore[call-overload]
            return incident_page(incident_id, error=message, error_for=request.endpoint), status

    return wrapped


@blueprint.post("/incidents/<int:incident_id>/transition")
@on_incident_page
def change_state(incident_id: int) -> Response:
    incident = transition(
        db_session(),
        incident_id,
        form_field("to")[:40],
        resolution=form_field("resolution") or None,
        summary=_long_field("summary"),
        actor=current_actor(),
        now=_now(),
    )
    flash(_("%(reference)s moved to a new state.", reference=incident.reference), "info")
    return _to_incident(incident_id)


@blueprint.post("/incidents/<int:incident_id>/edit")
@on_incident_page
def edit(incident_id: int) -> Response:
    changes = IncidentChanges(
        title=form_field("title"),
        description=_long_field("description"),
        severity=form_field("severity"),
        tlp=form_field("tlp"),
        assignee_id=_user_id(request.form, "assignee_id"),
        reviewer_id=_user_id(request.form, "reviewer_id"),
    )
    update_fields(db_session(), incident_id, changes, actor=current_actor(), now=_now())
    flash(_("The incident was saved."), "info")
    return _to_incident(incident_id)


@blueprint.post("/incidents/<int:incident_id>/comments")
@on_incident_page
def add_comment(incident_id: int) -> Response:
    comments.add_comment(
        db_session(),
        incident_id=incident_id,
        body=_long_field("body"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_incident(incident_id, anchor="comments")


@blueprint.post("/incidents/<int:incident_id>/comments/<int:comment_id>/edit")
@on_incident_page
def edit_comment(incident_id: int, comment_id: int) -> Response:
    comments.edit_comment(
        db_session(),
        incident_id=incident_id,
        comment_id=comment_id,
        body=_long_field("body"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_incident(incident_id, anchor=f"comment-{comment_id}")


@blueprint.post("/incidents/<int:incident_id>/tasks")
@on_incident_page
def add_task(incident_id: int) -> Response:
    tasks.add_task(
        db_session(),
        incident_id=incident_id,
        title=form_field("title"),
        description=_long_field("description"),
        assignee_id=_user_id(request.form, "assignee_id"),
        due_at=_due_at(request.form),
        actor=current_actor(),
        now=_now(),
    )
    return _to_incident(incident_id, anchor="tasks")


@blueprint.post("/incidents/<int:incident_id>/tasks/<int:task_id>")
@on_incident_page
def update_task(incident_id: int, task_id: int) -> Response:
    tasks.update_task(
        db_session(),
        incident_id=incident_id,
        task_id=task_id,
        status=form_field("status"),
        assignee_id=_user_id(request.form, "assignee_id"),
        due_at=_due_at(request.form),
        actor=current_actor(),
        now=_now(),
    )
    return _to_incident(incident_id, anchor=f"task-{task_id}")


@blueprint.post("/incidents/<int:incident_id>/entities")
@on_incident_page
def add_entity(incident_id: int) -> Response:
    related.add_entity(
        db_session(),
        incident_id=incident_id,
        kind=form_field("kind")[:40],
        value=form_field("value"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_incident(incident_id, anchor="entities")


@blueprint.post("/incidents/<int:incident_id>/merge")
@on_incident_page
def merge_into(incident_id: int) -> Response:
    session = db_session()
    target = get_incident_by_reference(session, form_field("reference"))
    merge.merge_incidents(
        session, source_id=incident_id, target_id=target.id, actor=current_actor(), now=_now()
    )
    source = get_incident(session, incident_id)
    flash(
        _(
            "%(source)s was merged into %(target)s.",
            source=source.reference,
            target=target.reference,
        ),
        "info",
    )
    return _to_incident(target.id)


@blueprint.post("/incidents/merges/<int:merge_id>/unmerge")
def unmerge(merge_id: int) -> Response:
    session = db_session()
    undone = merge.unmerge(session, merge_id=merge_id, actor=current_actor(), now=_now())
    source = get_incident(session, undone.source_incident_id)
    flash(_("%(reference)s was un-merged.", reference=source.reference), "info")
    return _to_incident(source.id)


def _list_filters(args: MultiDict[str, str]) -> dict[str, str]:
    choices = {
        "state": {OPEN, *State},
        "type": set(IncidentType),
        "severity": set(Severity),
        "assignee": {"me"},
    }
    filters = {}
    for name, allowed in choices.items():
        value = args.get(name, "").strip()
        if value and value not in allowed:
            raise InvalidInput(N_("Choose a filter value from the list."), field=name)
        if value:
            filters[name] = value
    return filters


def _audit_list(filters: dict[str, str], before: int | None) -> None:
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="incident.read",
            target="incident:list",
            outcome="success",
            now=_now(),
            details={**filters, "before": before},
        )
    )


def _user_id(form: MultiDict[str, str], name: str) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise InvalidInput(N_("Choose an active security officer from the list."), field=name)
    return int(text)


def _due_at(form: MultiDict[str, str]) -> datetime | None:
    """A due date from ``<input type="datetime-local">``, read as UTC (the page says so)."""
    text = form.get("due_at", "").strip()
    if not text:
        return None
    try:
        if not _LOCAL_TIME.fullmatch(text):
            raise ValueError(text)
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(
            N_("Give the due date as a date and time (UTC)."), field="due_at"
        ) from None


def _long_field(name: str) -> str:
    """A free-text field (description, comment, summary): the services check its length,
    so it is cut only just past the longest they accept, never silently shortened."""
    return request.form.get(name, "")[: MAX_TEXT + 1]


def _to_incident(incident_id: int, *, anchor: str | None = None) -> Response:
    return redirect(url_for("incidents.show", incident_id=incident_id, _anchor=anchor), 303)  # type: ignore[return-value]


def _now() -> datetime:
    return web_context().clock.now()
