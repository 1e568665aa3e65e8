"""Staff-safety records in the console: the police dossier, statistics and retention (see
web/policy.py: EXPORT with a fresh step-up for the dossier and the CSV, REPORTS_READ for the
statistics and retention pages, INCIDENTS_WRITE to set or release a legal hold).

The dossier and the CSV are attachments that are never cached; producing them is audited
(the dossier by ``staff_safety.dossier``, the CSV here, with the period and the file's
SHA-256). The statistics page shows the exact counts to officers, who may read every report
anyway; only the CSV, which leaves Wachter, has its small cells suppressed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from functools import partial
from typing import Final

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from access_control import record_audit
from core import InvalidInput
from core.i18n import N_
from staff_safety.dossier import generate_dossier
from staff_safety.retention import (
    cases_on_hold,
    release_legal_hold,
    retention_years,
    set_legal_hold,
)
from staff_safety.statistics import (
    Period,
    month_of,
    report_statistics,
    statistics_csv,
    years_with_reports,
)
from web.auth import current_actor
from web.context import db_session, web_context, when_rendered
from web.forms import form_field
from web.i18n import current_language
from web.views.evidence import content_disposition

blueprint = Blueprint("staff_records", __name__)
MAX_REASON_FIELD: Final = 600


@blueprint.get("/staff-safety/cases/<int:incident_id>/dossier.pdf")
def dossier(incident_id: int) -> Response:
    document = generate_dossier(
        db_session(),
        incident_id,
        settings=web_context().settings,
        actor=current_actor(),
        now=_now(),
        language=current_language(),
        translate=_,
    )
    return _attachment(document, "application/pdf", f"police-dossier-{incident_id}.pdf")


@blueprint.get("/staff-safety/statistics")
def statistics() -> str:
    period = _period()
    session = db_session()
    stats = report_statistics(session, period=period, timezone=web_context().settings.timezone)
    _audit("staff_statistics.read", period)
    return render_template(
        "staff_safety/statistics.html",
        stats=stats,
        year=int(period.first[:4]),
        years=years_with_reports(session, today=_now().date()),
    )


@blueprint.get("/staff-safety/statistics.csv")
def statistics_export() -> Response:
    period = _period()
    stats = report_statistics(db_session(), period=period, timezone=web_context().settings.timezone)
    document = statistics_csv(stats).encode("utf-8")
    _audit("staff_statistics.exported", period, sha256=hashlib.sha256(document).hexdigest())
    name = f"staff-safety-statistics-{period.first[:4]}.csv"
    return _attachment(document, "text/csv; charset=utf-8", name)


@blueprint.post("/staff-safety/cases/<int:incident_id>/legal-hold")
def legal_hold(incident_id: int) -> Response:
    set_legal_hold(db_session(), incident_id, _reason(), current_actor(), _now())
    flash(_("The case is on legal hold: it is not purged until the hold is released."), "info")
    return redirect(url_for("staff_safety.case", incident_id=incident_id), 303)  # type: ignore[return-value]


@blueprint.post("/staff-safety/cases/<int:incident_id>/legal-hold/release")
def release_hold(incident_id: int) -> Response:
    release_legal_hold(db_session(), incident_id, _reason(), current_actor(), _now())
    flash(_("The legal hold was released: the retention period applies again."), "info")
    return redirect(url_for("staff_safety.case", incident_id=incident_id), 303)  # type: ignore[return-value]


@blueprint.get("/staff-safety/retention")
def retention() -> str:
    session = db_session()
    held = cases_on_hold(session)
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="staff_retention.read",
            target="staff_retention",
            outcome="success",
            now=_now(),
            details={"held": len(held)},
        )
    )
    return render_template(
        "staff_safety/retention.html",
        table=retention_years(web_context().settings),
        held=held,
    )


def _period() -> Period:
    """The year asked for (``?year=2026``), else the current year in the organisation's zone."""
    raw = request.args.get("year", "")
    if not raw:
        return Period.year(int(month_of(_now(), web_context().settings.timezone)[:4]))
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        raise InvalidInput(N_("Give a year like 2026."), field="year")
    return Period.year(int(raw))


def _reason() -> str:
    return form_field("reason")[:MAX_REASON_FIELD]


def _audit(action: str, period: Period, **details: str) -> None:
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action=action,
            target="staff_statistics",
            outcome="success",
            now=_now(),
            details={"first": period.first, "last": period.last, **details},
        )
    )


def _attachment(document: bytes, content_type: str, name: str) -> Response:
    response = Response(document, content_type=content_type)
    response.headers["Content-Disposition"] = content_disposition(name)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _now() -> datetime:
    return web_context().clock.now()
