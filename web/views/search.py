"""Search everywhere: one box in the top bar, answers from every list the user may read.

An incident reference goes straight to its incident; any other text shows the first
matches among alerts, incidents and rules, each with a link to the full filtered list, and
a link that searches the events for the same text (event search is its own page with its own
language, histogram and paging).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from flask import Blueprint, Response, redirect, render_template, request, url_for

from access_control import Permission, permissions_of, record_audit
from core import InvalidInput
from core.i18n import N_
from detection_rules.service import list_rules
from incidents.alerts import queries as alert_queries
from incidents.cases.lookup import REFERENCE, find_incidents
from web.auth import current_actor, current_user
from web.context import db_session, web_context, when_rendered
from web.forms import form_errors_in_place

blueprint = Blueprint("search", __name__)
MAX_QUERY = 200
SHOWN = 8


@blueprint.get("/search")
@form_errors_in_place("search/results.html")
def everywhere() -> str | Response:
    text = request.args.get("q", "").strip()
    if len(text) > MAX_QUERY:
        raise InvalidInput(
            N_("Search for at most %(limit)d characters."), field="q", limit=MAX_QUERY
        )
    user = current_user()
    granted = permissions_of(user.role) if user else Permission.NONE
    if REFERENCE.fullmatch(text.upper()) and Permission.INCIDENTS_READ in granted:
        found = find_incidents(db_session(), text, limit=1)
        if found and found[0].reference == text.upper():
            return redirect(url_for("incidents.show", incident_id=found[0].id))  # type: ignore[return-value]
    results: dict[str, list[object]] = {}
    if text:
        results = _matches(text, granted)
        when_rendered(
            partial(
                record_audit,
                actor=current_actor(),
                action="search.read",
                target="search:everywhere",
                outcome="success",
                now=_now(),
                details={"lists": ",".join(sorted(results))},
            )
        )
    return render_template("search/results.html", q=text, results=results, granted=granted)


def _matches(text: str, granted: Permission) -> dict[str, list[object]]:
    """The first few matches per list the user may read (one query each, newest first)."""
    session = db_session()
    results: dict[str, list[object]] = {}
    if Permission.ALERTS_READ in granted:
        filters = alert_queries.AlertFilters(status=alert_queries.ALL, text=text)
        results["alerts"] = list(alert_queries.list_alerts(session, filters).alerts[:SHOWN])
    if Permission.INCIDENTS_READ in granted:
        results["incidents"] = list(find_incidents(session, text, limit=SHOWN))
    if Permission.RULES_READ in granted:
        results["rules"] = list(list_rules(session, search=text, limit=SHOWN))
    return results


def _now() -> datetime:
    return web_context().clock.now()
