"""Detections in the console: what the rules found, newest first, and one detection with its
explanation next to the events it points at (ALERTS_READ and EVENTS_READ: SOC analysts and
officers; see web/policy.py).

A detection carries values out of events (a correlation's group: an account, an address)
and its page shows the events themselves, so both pages are audited reads, as /events is:
the list records its filters, a detection records which events were shown. The events are
shown as data (escaped, invisible characters marked, ``web.views.events``' filters). Alerts
(``web.views.alerts``) are made of detections; these pages show why each one fired.
"""

from __future__ import annotations

from functools import partial
from typing import Final

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from access_control import record_audit
from core import InvalidInput
from core.i18n import N_
from detection_rules.models import KEY_LENGTH
from detection_rules.service import (
    detection_events,
    explanation_of,
    find_rule,
    get_detection,
    group_of,
    list_detections,
)
from web.auth import current_actor
from web.context import db_session, web_context, when_rendered
from web.forms import form_errors_in_place
from web.views.events import page_cursor

blueprint = Blueprint("detections", __name__)
PAGE_SIZE: Final = 50
LEVELS: Final = ("informational", "low", "medium", "high", "critical")  # Sigma's levels


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {"levels": LEVELS}


@blueprint.get("/detections")
@form_errors_in_place("detections/index.html")
def index() -> str:
    rule_key, level = _filters(request.args)
    before = page_cursor(request.args)
    database_session, now = db_session(), web_context().clock.now()
    found = list_detections(
        database_session,
        rule_key=rule_key or None,
        level=level or None,
        limit=PAGE_SIZE + 1,
        before_id=before,
    )
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="detection.read",
            target="detection:list",
            outcome="success",
            now=now,
            details={"rule": rule_key, "level": level, "before": before},
        )
    )
    shown = found[:PAGE_SIZE]
    return render_template(
        "detections/index.html",
        detections=[(detection, group_of(detection)) for detection in shown],
        filters={name: value for name, value in (("rule", rule_key), ("level", level)) if value},
        before=before,
        older=shown[-1].id if len(found) > PAGE_SIZE else None,
    )


@blueprint.get("/detections/<int:detection_id>")
def show(detection_id: int) -> str:
    database_session, now = db_session(), web_context().clock.now()
    detection = get_detection(database_session, detection_id)
    events = detection_events(database_session, detection)
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="event.read",
            target=f"detection:{detection.id}",
            outcome="success",
            now=now,
            # Which events were shown (the audit trail keeps scalars: ids joined by commas).
            details={
                "events": ",".join(str(event.id) for event in events.events),
                "missing": ",".join(str(event_id) for event_id in events.missing),
                # A scheduled search's detection: the cluster documents shown (index/id).
                **(
                    {"documents": ",".join(f"{doc.index}/{doc.id}" for doc in events.documents)}
                    if events.documents
                    else {}
                ),
            },
        )
    )
    return render_template(
        "detections/show.html",
        detection=detection,
        rule=find_rule(database_session, detection.rule_key),
        explanation=explanation_of(detection),
        group=group_of(detection),
        events=events,
    )


def _filters(args: MultiDict[str, str]) -> tuple[str, str]:
    rule_key, level = args.get("rule", "").strip(), args.get("level", "").strip()
    if len(rule_key) > KEY_LENGTH:
        raise InvalidInput(
            N_("A rule key is at most %(limit)d characters."), field="rule", limit=KEY_LENGTH
        )
    if level and level not in LEVELS:
        raise InvalidInput(N_("Choose a level from the list."), field="level")
    return rule_key, level
