"""Tasks of an incident: from its playbook or added by hand, with assignee, due date, status.

A task belongs to one incident: asking for it under another incident's id is ``NotFound``,
so a form cannot change another incident's task by editing the URL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor
from core import InvalidInput, NotFound
from core.i18n import N_
from incidents.cases.fields import check_assignable
from incidents.cases.history import record_change
from incidents.cases.lookup import writable_incident
from incidents.cases.models import IncidentTask, TaskStatus

MAX_TITLE: Final = 300
MAX_DESCRIPTION: Final = 5000
_FINISHED: Final = frozenset({TaskStatus.DONE, TaskStatus.SKIPPED})


def _title(title: str) -> str:
    text = title.strip()
    if not text or len(text) > MAX_TITLE:
        raise InvalidInput(
            N_("A task needs a title of 1 to %(limit)d characters."), field="title", limit=MAX_TITLE
        )
    return text


def _status(status: str) -> TaskStatus:
    try:
        return TaskStatus(status)
    except ValueError:
        raise InvalidInput(
            N_("Choose a task status: %(choices)s."), field="status", choices=", ".join(TaskStatus)
        ) from None


def add_task(
    session: Session,
    *,
    incident_id: int,
    title: str,
    description: str = "",
    assignee_id: int | None = None,
    due_at: datetime | None = None,
    actor: Actor,
    now: datetime,
) -> IncidentTask:
    incident = writable_incident(session, incident_id)
    if len(description.strip()) > MAX_DESCRIPTION:
        raise InvalidInput(
            N_("A description is at most %(limit)d characters."),
            field="description",
            limit=MAX_DESCRIPTION,
        )
    task = IncidentTask(
        incident_id=incident.id,
        origin_incident_id=incident.id,
        title=_title(title),
        description=description.strip(),
        playbook_task_key=None,
        assignee_id=check_assignable(session, assignee_id, field="assignee_id"),
        due_at=due_at,
        status=TaskStatus.OPEN.value,
        created_at=now,
        created_by=actor.name,
    )
    session.add(task)
    session.flush()
    record_change(
        session,
        incident,
        action="task_added",
        kind="task_added",
        actor=actor,
        now=now,
        details={"task_id": task.id, "assignee_id": task.assignee_id},
    )
    return task


def update_task(
    session: Session,
    *,
    incident_id: int,
    task_id: int,
    status: str,
    assignee_id: int | None,
    due_at: datetime | None,
    actor: Actor,
    now: datetime,
) -> IncidentTask:
    """Set the task's status, assignee and due date (a form sends all three)."""
    incident = writable_incident(session, incident_id)
    task = session.get(IncidentTask, task_id)
    if task is None or task.incident_id != incident.id:
        raise NotFound(N_("There is no task %(id)s on this incident."), id=task_id)
    values = {
        "status": _status(status).value,
        "assignee_id": check_assignable(session, assignee_id, field="assignee_id"),
        "due_at": due_at,
    }
    changed = sorted(name for name, value in values.items() if getattr(task, name) != value)
    if not changed:
        return task
    if "status" in changed:
        finished = values["status"] in _FINISHED
        task.completed_at = now if finished else None
        task.completed_by = actor.name if finished else None
    for name in changed:
        setattr(task, name, values[name])
    record_change(
        session,
        incident,
        action="task_changed",
        kind="task_changed",
        actor=actor,
        now=now,
        details={"task_id": task.id, "fields": ",".join(changed), "status": task.status},
    )
    return task


def tasks_of(session: Session, incident_id: int) -> list[IncidentTask]:
    """The incident's tasks: open ones first by due date, then the finished ones."""
    tasks = session.scalars(
        select(IncidentTask)
        .where(IncidentTask.incident_id == incident_id)
        .order_by(IncidentTask.id)
    )
    return sorted(
        tasks,
        key=lambda task: (
            task.status in _FINISHED,
            task.due_at is None,
            task.due_at.timestamp() if task.due_at else 0,
            task.id,
        ),
    )
