"""Alerts in the console: the queue with its filters and bulk actions, one alert with its
detections, entities and related alerts, and the suppressions and alert policies that
shape what becomes an alert (see web/policy.py for who may do what).

Reading: ALERTS_READ; one alert also needs EVENTS_READ (it links to the events and lists
the entities taken from them). Alerts carry entities out of events (accounts, addresses),
so the queue and an alert are audited reads, as /events and /detections are.
Acknowledging and closing: ALERTS_WRITE. Escalating and merging into an incident: the
incident service, so INCIDENTS_WRITE too (checked here, per action). Suppressions and
policies change what detection reports: RULES_WRITE, and making a suppression needs a
fresh step-up, as switching a rule off does.

A refused change (bad input, or a state that does not allow it) is undone and the page is
shown again with the reason, status 400 or 409; the page shown is a read, audited as one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Final, ParamSpec

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from access_control import Permission, permissions_of, record_audit, record_read
from core import Conflict, InvalidInput, PermissionDenied
from core.i18n import N_
from incidents import alerts as alert_service
from incidents.alerts import AlertFilters, BulkOutcome
from incidents.alerts.models import SEVERITIES, AlertStatus, Resolution
from incidents.alerts.suppressions import LATEST_HITS
from incidents.cases.lookup import get_incident, get_incident_by_reference
from incidents.cases.models import IncidentType
from incidents.cases.service import add_alerts_to_incident, open_incident_from_alerts
from web.auth import current_actor, current_user
from web.context import db_session, web_context, when_rendered
from web.forms import form_field

blueprint = Blueprint("alerts", __name__)
P = ParamSpec("P")
BULK_ACTIONS: Final = ("acknowledge", "close", "escalate", "merge")
FILTER_NAMES: Final = ("status", "severity", "rule", "q", "entity")
_NUMBER = re.compile(r"[0-9]{1,18}", re.ASCII)


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "severities": [severity.value for severity in SEVERITIES],
        "statuses": [status.value for status in AlertStatus],
        "resolutions": [resolution.value for resolution in Resolution],
        "incident_types": [kind.value for kind in IncidentType],
    }


def refused_in_place(
    page: Callable[..., str],
) -> Callable[[Callable[P, Response]], Callable[P, Response | tuple[str, int]]]:
    """Show a refused change on ``page(error=…, **view arguments)``: 400 or 409."""

    def decorate(view: Callable[P, Response]) -> Callable[P, Response | tuple[str, int]]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response | tuple[str, int]:
            try:
                return view(*args, **kwargs)
            except (InvalidInput, Conflict) as error:
                db_session().rollback()  # the change only: the page shown is read (and audited)
                message = _(error.template, **error.params)
                status = 400 if isinstance(error, InvalidInput) else 409
                return page(error=message, **kwargs), status

        return wrapped

    return decorate


# The queue ---------------------------------------------------------------------------------


@blueprint.get("/alerts")
def index() -> str | tuple[str, int]:
    try:
        return queue_page(request.args)
    except InvalidInput as error:  # a bad filter: say so above an empty queue
        return render_template("alerts/index.html", error=_(error.template, **error.params)), 400


def queue_page(args: Mapping[str, str], *, error: str | None = None) -> str:
    filters, page = _filters(args), _page_number(args.get("page", ""))
    session = db_session()
    found = alert_service.list_alerts(session, filters, page=page)
    shown = {name: value for name in FILTER_NAMES if (value := args.get(name, "").strip())}
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="alert.read",
            target="alert:list",
            outcome="success",
            now=_now(),
            details={**shown, "page": page},
        )
    )
    return render_template(
        "alerts/index.html",
        found=found,
        filters=shown,
        entities_of=alert_service.entities_of_alert,
        error=error,
        newest=alert_service.newest_alert_id(session),
    )


@blueprint.get("/alerts/news")
def news() -> str:
    """How many alerts the open queue has gained since it was shown (htmx polls this).

    A count under the queue's own filters, no alert content: not an audited read (the
    queue's page, which shows the alerts, is).
    """
    after = request.args.get("after", "")
    if not _NUMBER.fullmatch(after):
        raise InvalidInput(N_("That page does not exist."), field="after")
    shown = {name: value for name in FILTER_NAMES if (value := request.args.get(name, "").strip())}
    count = alert_service.count_new_alerts(db_session(), _filters(shown), after_id=int(after))
    return render_template("alerts/_news.html", count=count, filters=shown)


@blueprint.post("/alerts/bulk")
@refused_in_place(lambda error: queue_page(request.form, error=error))
def bulk() -> Response:
    action = form_field("action")
    if action not in BULK_ACTIONS:
        raise InvalidInput(N_("Choose what to do with the selected alerts."), field="action")
    alert_ids = alert_service.check_alert_ids(_alert_ids(request.form.getlist("alert_id")))
    if action in ("escalate", "merge"):
        return _into_incident(action, alert_ids)
    session, actor, now = db_session(), current_actor(), _now()
    if action == "acknowledge":
        outcome = alert_service.bulk_acknowledge(session, alert_ids, actor=actor, now=now)
    else:
        outcome = alert_service.bulk_close(
            session,
            alert_ids,
            resolution=form_field("resolution"),
            note=form_field("note"),
            actor=actor,
            now=now,
        )
    _flash_outcome(action, outcome)
    return _back_to_queue()


def _into_incident(action: str, alert_ids: list[int]) -> Response:
    user = current_user()
    if user is None or Permission.INCIDENTS_WRITE not in permissions_of(user.role):
        raise PermissionDenied(N_("Only people who handle incidents can put alerts into one."))
    session, actor, now = db_session(), current_actor(), _now()
    if action == "escalate":
        incident = open_incident_from_alerts(session, alert_ids=alert_ids, actor=actor, now=now)
        flash(_("Incident %(reference)s is open.", reference=incident.reference), "info")
    else:
        target = get_incident_by_reference(session, form_field("reference"))
        incident = add_alerts_to_incident(
            session, incident_id=target.id, alert_ids=alert_ids, actor=actor, now=now
        )
        flash(_("The alerts were added to %(reference)s.", reference=incident.reference), "info")
    return redirect(url_for("incidents.show", incident_id=incident.id), 303)  # type: ignore[return-value]


def _flash_outcome(action: str, outcome: BulkOutcome) -> None:
    done = len(outcome.changed)
    if action == "acknowledge":
        flash(ngettext("%(num)d alert acknowledged.", "%(num)d alerts acknowledged.", done), "info")
    else:
        flash(ngettext("%(num)d alert closed.", "%(num)d alerts closed.", done), "info")
    if outcome.skipped:
        flash(
            _(
                "Passed over, their status does not allow it: %(ids)s.",
                ids=", ".join(str(alert_id) for alert_id in outcome.skipped),
            ),
            "info",
        )


def _back_to_queue() -> Response:
    kept: dict[str, Any] = {
        name: value for name in FILTER_NAMES if (value := form_field(name).strip())
    }
    try:
        _filters(kept)
    except InvalidInput:
        kept = {}  # the queue as it comes, rather than a page that refuses its filters
    return redirect(url_for("alerts.index", **kept), 303)  # type: ignore[return-value]


# One alert ---------------------------------------------------------------------------------


@blueprint.get("/alerts/<int:alert_id>")
def show(alert_id: int) -> str:
    return alert_page(alert_id)


def alert_page(alert_id: int, *, error: str | None = None) -> str:
    session = db_session()
    alert = alert_service.get_alert(session, alert_id)
    when_rendered(
        partial(
            record_read, actor=current_actor(), record_type="alert", record_id=alert.id, now=_now()
        )
    )
    return render_template(
        "alerts/show.html",
        alert=alert,
        entities=alert_service.entities_of_alert(alert),
        tags=alert_service.tags_of_alert(alert),
        group=alert_service.group_of_alert(alert),
        detections=alert_service.alert_detections(session, alert.id),
        related=alert_service.related_alerts(session, alert),
        incident_reference=get_incident(session, alert.incident_id).reference
        if alert.incident_id
        else None,
        error=error,
    )


@blueprint.post("/alerts/<int:alert_id>/acknowledge")
@refused_in_place(alert_page)
def acknowledge(alert_id: int) -> Response:
    alert_service.acknowledge(db_session(), alert_id, actor=current_actor(), now=_now())
    flash(_("Alert %(id)d acknowledged.", id=alert_id), "info")
    return redirect(url_for("alerts.show", alert_id=alert_id), 303)  # type: ignore[return-value]


@blueprint.post("/alerts/<int:alert_id>/close")
@refused_in_place(alert_page)
def close(alert_id: int) -> Response:
    alert_service.close(
        db_session(),
        alert_id,
        resolution=form_field("resolution"),
        note=form_field("note"),
        actor=current_actor(),
        now=_now(),
    )
    flash(_("Alert %(id)d closed.", id=alert_id), "info")
    return redirect(url_for("alerts.show", alert_id=alert_id), 303)  # type: ignore[return-value]


# Suppressions and policies -----------------------------------------------------------------


@blueprint.get("/alerts/suppressions")
def suppressions() -> str:
    return suppressions_page()


def suppressions_page(*, error: str | None = None) -> str:
    session = db_session()
    found = alert_service.list_suppressions(session)
    return render_template(
        "alerts/suppressions.html",
        suppressions=found,
        hits=alert_service.latest_hits(session, [suppression.id for suppression in found]),
        conditions_of=_condition_lines,
        is_active=functools.partial(alert_service.is_active, now=_now()),
        latest_hits=LATEST_HITS,
        max_days=alert_service.MAX_DAYS,
        max_conditions=alert_service.MAX_CONDITIONS,
        error=error,
    )


@blueprint.post("/alerts/suppressions")
@refused_in_place(suppressions_page)
def create_suppression() -> Response:
    now = _now()
    suppression = alert_service.create_suppression(
        db_session(),
        conditions=alert_service.parse_condition_lines(form_field("conditions")),
        owner=form_field("owner"),
        reason=form_field("reason"),
        expires_at=now + timedelta(days=_days(form_field("days"))),
        rule_key=form_field("rule"),
        actor=current_actor(),
        now=now,
    )
    flash(_("Suppression %(id)d is in force.", id=suppression.id), "info")
    return redirect(url_for("alerts.suppressions"), 303)  # type: ignore[return-value]


@blueprint.post("/alerts/suppressions/<int:suppression_id>/revoke")
@refused_in_place(lambda error, suppression_id: suppressions_page(error=error))
def revoke_suppression(suppression_id: int) -> Response:
    alert_service.revoke_suppression(
        db_session(), suppression_id, actor=current_actor(), now=_now()
    )
    flash(_("Suppression %(id)d is revoked.", id=suppression_id), "info")
    return redirect(url_for("alerts.suppressions"), 303)  # type: ignore[return-value]


@blueprint.get("/alerts/policies")
def policies() -> str:
    return policies_page()


def policies_page(*, error: str | None = None) -> str:
    return render_template(
        "alerts/policies.html", policies=alert_service.list_policies(db_session()), error=error
    )


@blueprint.post("/alerts/policies")
@refused_in_place(policies_page)
def create_policy() -> Response:
    policy = alert_service.create_policy(
        db_session(),
        name=form_field("name"),
        rule_key=form_field("rule"),
        tag=form_field("tag"),
        min_severity=form_field("min_severity"),
        raise_to=form_field("raise_to"),
        open_incident=form_field("open_incident") == "yes",
        incident_type=form_field("incident_type") or IncidentType.CYBER.value,
        actor=current_actor(),
        now=_now(),
    )
    flash(_("The policy “%(name)s” applies to new alerts.", name=policy.name), "info")
    return redirect(url_for("alerts.policies"), 303)  # type: ignore[return-value]


@blueprint.post("/alerts/policies/<int:policy_id>/disable")
@refused_in_place(lambda error, policy_id: policies_page(error=error))
def disable_policy(policy_id: int) -> Response:
    policy = alert_service.disable_policy(
        db_session(), policy_id, actor=current_actor(), now=_now()
    )
    flash(_("The policy “%(name)s” is off.", name=policy.name), "info")
    return redirect(url_for("alerts.policies"), 303)  # type: ignore[return-value]


# Reading the request -----------------------------------------------------------------------


def _filters(values: Mapping[str, str]) -> AlertFilters:
    """The queue's filters from the query (or the bulk form's copy of it)."""

    def value(name: str) -> str | None:
        return values.get(name, "").strip() or None

    return AlertFilters(
        status=value("status") or alert_service.OPEN,
        severity=value("severity"),
        rule_key=value("rule"),
        text=value("q"),
        entity=value("entity"),
    )


def _page_number(text: str) -> int:
    text = text.strip()
    if not text:
        return 1
    if not _NUMBER.fullmatch(text):
        raise InvalidInput(N_("That page does not exist."), field="page")
    return int(text)


def _alert_ids(texts: list[str]) -> list[int]:
    if len(texts) > alert_service.MAX_BULK:
        raise InvalidInput(
            N_("Select at most %(limit)d alerts at a time."),
            field="alert_ids",
            limit=alert_service.MAX_BULK,
        )
    if not all(_NUMBER.fullmatch(text) for text in texts):
        raise InvalidInput(N_("Select alerts from the list."), field="alert_ids")
    return [int(text) for text in texts]


def _days(text: str) -> int:
    if not _NUMBER.fullmatch(text.strip()) or not 1 <= int(text) <= alert_service.MAX_DAYS:
        raise InvalidInput(
            N_("A suppression lasts 1 to %(days)d days."),
            field="days",
            days=alert_service.MAX_DAYS,
        )
    return int(text)


def _condition_lines(stored: str) -> list[str]:
    """A suppression's conditions as console lines; stored text that no longer reads as
    conditions is shown as it is (the job leaves such a suppression out)."""
    try:
        return [condition.as_text() for condition in alert_service.load_conditions(stored)]
    except InvalidInput:
        return [stored]


def _now() -> datetime:
    return web_context().clock.now()
