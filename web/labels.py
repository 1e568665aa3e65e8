"""The incident side's closed sets in the reader's language, for every template.

Python, not Jinja macros: a macro call costs tens of microseconds, and the incident page
shows a few hundred of these labels (states, task statuses, timeline kinds, the entity
kinds of every related item); as dictionary lookups they are about 7% of that page's
rendering less (bench/console). An unknown value is shown as stored, hidden characters
marked (the ``visible`` filter); an empty resolution is a dash.
"""

from __future__ import annotations

from flask import Flask
from markupsafe import Markup

from core.i18n import N_
from incidents.reports import labels as report_labels
from staff_safety.cases import split_case_title
from staff_safety.labels import CATEGORIES
from web.i18n import request_translations
from web.views.events import visible

# The report's words for states and resolutions (``incidents.reports.labels``), and the
# incident list's filter value for every state but closed.
STATES = {**report_labels.STATES, "open": N_("open (not closed)")}
RESOLUTIONS = report_labels.RESOLUTIONS

TASK_STATUSES = {
    "open": N_("to do"),
    "in_progress": N_("in progress"),
    "done": N_("done"),
    "skipped": N_("skipped"),
}

TIMELINE_KINDS = {
    "created": N_("opened"),
    "state_changed": N_("state changed"),
    "assigned": N_("assigned"),
    "fields_changed": N_("fields changed"),
    "playbook_applied": N_("playbook applied"),
    "alert_added": N_("alerts added"),
    "comment_added": N_("comment added"),
    "comment_edited": N_("comment edited"),
    "task_added": N_("task added"),
    "task_changed": N_("task changed"),
    "entity_added": N_("entity added"),
    "evidence_added": N_("evidence added"),
    "merged": N_("merged"),
    "unmerged": N_("un-merged"),
    "deadline_breached": N_("deadline breached"),
    "report_exported": N_("report exported"),
}

ENTITY_KINDS = {
    "ip": N_("IP address"),
    "account": N_("account"),
    "host": N_("host"),
    "email": N_("e-mail address"),
    "phone": N_("phone number"),
    "case_reference": N_("case reference"),
    "person_pseudonym": N_("person (pseudonym)"),
}

INCIDENT_TYPES = {
    "cyber": N_("cyber"),
    "physical": N_("physical security"),
    "staff_safety": N_("staff safety"),
}


def _label(labels: dict[str, str], value: object) -> str | Markup:
    text = labels.get(value) if isinstance(value, str) else None
    if text is not None:
        return request_translations().ugettext(text)
    return visible(value)


def state_label(value: object) -> str | Markup:
    return _label(STATES, value)


def resolution_label(value: object) -> str | Markup:
    return _label(RESOLUTIONS, value) if value else "\N{EM DASH}"


def task_status_label(value: object) -> str | Markup:
    return _label(TASK_STATUSES, value)


def timeline_label(value: object) -> str | Markup:
    return _label(TIMELINE_KINDS, value)


def entity_kind_label(value: object) -> str | Markup:
    return _label(ENTITY_KINDS, value)


def type_label(value: object) -> str | Markup:
    return _label(INCIDENT_TYPES, value)


def incident_title(title: object, incident_type: object) -> str | Markup:
    """An incident's title; a staff-safety incident's category in the reader's language.

    ``staff_safety.cases`` titles the incident a report opens "<report number> <category>"
    (its stored key: the title names no one and is written in no language) and reads such a
    title back. Shown as stored, "MEL-2026-00030 verbal_abuse" reads as a code; any other
    title, and one an officer has edited, is shown as it stands.
    """
    parts = None
    if incident_type == "staff_safety" and isinstance(title, str):
        parts = split_case_title(title)
    if parts is not None:
        number, category = parts
        translated = request_translations().ugettext(CATEGORIES[category.value])
        return visible(number) + Markup(" ") + translated
    return visible(title)


def init_app(app: Flask) -> None:
    for label in (
        incident_title,
        state_label,
        resolution_label,
        task_status_label,
        timeline_label,
        entity_kind_label,
        type_label,
    ):
        app.add_template_global(label)
