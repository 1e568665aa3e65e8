"""Deadlines in the console: the overview of open incidents by urgency, recent breaches,
MTTA/MTTR and breaches per month (INCIDENTS_READ), and the failed notifications with their
reasons and a retry (FEEDS_ADMIN); see web/policy.py.

The overview shows incident titles, so looking at it is an audited read, like the
incident list; filters are allow-listed (incident type) and bounded (months). A retry is a
POST with CSRF and is audited by ``outbox.retry_notification``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import partial
from typing import Final

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from access_control import record_audit
from core import InvalidInput
from core.i18n import N_
from incidents.cases.models import IncidentType
from incidents.deadlines import (
    DEADLINE_KINDS,
    current_table,
    monthly_metrics,
    open_deadlines,
    recent_breaches,
)
from incidents.deadlines.metrics import MAX_MONTHS
from incidents.deadlines.sla import format_duration
from incidents.notifications import failed_notifications, retry_notification
from web.auth import current_actor
from web.context import db_session, web_context, when_rendered
from web.forms import form_errors_in_place

blueprint = Blueprint("deadlines", __name__)
DEFAULT_MONTHS: Final = 6
RECENT_BREACHES: Final = 20
_MONTHS = re.compile(r"[0-9]{1,2}", re.ASCII)


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "incident_types": [incident_type.value for incident_type in IncidentType],
        "deadline_kinds": [kind.value for kind in DEADLINE_KINDS],
        "max_months": MAX_MONTHS,
        "span": span_text,
        "table_duration": format_duration,
    }


@blueprint.get("/deadlines")
@form_errors_in_place("deadlines/index.html")
def overview() -> str:
    incident_type, months = _filters(request.args)
    session, now = db_session(), _now()
    table = current_table(web_context().settings.deadlines_file)
    upcoming = open_deadlines(session, table=table, now=now, incident_type=incident_type)
    figures = monthly_metrics(session, now=now, months=months, incident_type=incident_type)
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="incident.read",
            target="incident:deadlines",
            outcome="success",
            now=now,
            details={"type": incident_type, "incidents": len(upcoming)},
        )
    )
    return render_template(
        "deadlines/index.html",
        upcoming=upcoming,
        breaches=recent_breaches(session, incident_type=incident_type, limit=RECENT_BREACHES),
        months=list(reversed(figures)),  # newest first
        table=table,
        now=now,
    )


@blueprint.get("/admin/notifications")
def failed() -> str:
    return render_template(
        "deadlines/notifications.html", failed=failed_notifications(db_session())
    )


@blueprint.post("/admin/notifications/<int:notification_id>/retry")
def retry(notification_id: int) -> Response:
    retry_notification(
        db_session(), notification_id=notification_id, actor=current_actor(), now=_now()
    )
    flash(_("Notification %(id)d will be sent again shortly.", id=notification_id), "info")
    return redirect(url_for("deadlines.failed"), 303)  # type: ignore[return-value]


def span_text(span: timedelta) -> str:
    """``2 d 3 h``, ``3 h 5 min``, ``4 min``: the two largest units, the sign left off."""
    minutes = int(abs(span.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        text = _("%(days)d d %(hours)d h", days=days, hours=hours)
    elif hours:
        text = _("%(hours)d h %(minutes)d min", hours=hours, minutes=minutes)
    else:
        text = _("%(minutes)d min", minutes=minutes)
    return str(text)


def _filters(args: MultiDict[str, str]) -> tuple[str | None, int]:
    incident_type = args.get("type", "").strip() or None
    if incident_type is not None and incident_type not in {t.value for t in IncidentType}:
        raise InvalidInput(N_("Choose an incident type from the list."), field="type")
    months_text = args.get("months", "").strip()
    if not months_text:
        return incident_type, DEFAULT_MONTHS
    if not _MONTHS.fullmatch(months_text) or not 1 <= int(months_text) <= MAX_MONTHS:
        raise InvalidInput(N_("Choose 1 to %(limit)d months."), field="months", limit=MAX_MONTHS)
    return incident_type, int(months_text)


def _now() -> datetime:
    return web_context().clock.now()
