"""The measures register in the console: the list (filters by status, kind and person), the
proposal form of a case, the second officer's decision and ending a measure (see
web/policy.py: REPORTS_READ to look, INCIDENTS_WRITE as well to change).

``staff_safety.measures`` does the work; this module parses the forms and renders. A
refused change (bad input 400, already decided 409, deciding one's own proposal 403) is
rolled back and shown on the register, next to the field or the measure it concerns. People
appear by pseudonym only; opening the register is audited as a read.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import date
from functools import partial
from typing import Final, ParamSpec

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from access_control import record_audit
from core import Conflict, InvalidInput, PermissionDenied
from core.i18n import N_
from incidents.cases.fields import assignable_users
from staff_safety import measures
from staff_safety.detection_feed import local_day
from staff_safety.models import ContactMode, MeasureKind, MeasureStatus
from staff_safety.vault_crypto import is_pseudonym
from web.auth import current_actor
from web.context import db_session, web_context, when_rendered
from web.forms import form_field

P = ParamSpec("P")
blueprint = Blueprint("staff_measures", __name__)
PAGE_SIZE: Final = 100
_NUMBER: Final = re.compile(r"[0-9]{1,12}", re.ASCII)
_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
_STATUS: Final = {403: PermissionDenied, 409: Conflict}


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "measure_kinds": list(MeasureKind),
        "measure_statuses": list(MeasureStatus),
        "contact_modes": list(ContactMode),
        "is_due_for_review": measures.is_due_for_review,
    }


def on_register(view: Callable[P, Response]) -> Callable[P, Response | tuple[str, int]]:
    """Show a refused change on the register, the form's values kept (never committed)."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response | tuple[str, int]:
        try:
            return view(*args, **kwargs)
        except (InvalidInput, Conflict, PermissionDenied) as error:
            db_session().rollback()
            status = next((code for code, kind in _STATUS.items() if isinstance(error, kind)), 400)
            measure_id, incident_id = kwargs.get("measure_id"), kwargs.get("incident_id")
            page = _register_page(
                {},
                incident_id if isinstance(incident_id, int) else None,
                error=_(error.template, **error.params),
                field=error.field if isinstance(error, InvalidInput) else None,
                measure_id=measure_id if isinstance(measure_id, int) else None,
            )
            return page, status

    return wrapped


@blueprint.get("/staff-safety/measures")
def register() -> str | tuple[str, int]:
    try:
        filters = _filters(request.args)
    except InvalidInput as error:
        return _register_page(
            {}, None, error=_(error.template, **error.params), field="filter"
        ), 400
    return _register_page(filters, _incident_arg())


@blueprint.post("/staff-safety/cases/<int:incident_id>/measures")
@on_register
def propose(incident_id: int) -> Response:
    form = request.form
    measure = measures.propose_measure(
        db_session(),
        incident_id=incident_id,
        perpetrator_pseudonym=form_field("perpetrator_pseudonym")[:20],
        kind=form_field("kind")[:40],
        legal_basis=form_field("legal_basis"),
        starts_on=_date(form, "starts_on"),
        ends_on=_date(form, "ends_on"),
        review_on=_date(form, "review_on"),
        expires_on=_date(form, "expires_on"),
        house_rules=form_field("house_rules"),
        contact_mode=form_field("contact_mode")[:40] or None,
        contact_user_id=_number(form, "contact_user_id"),
        note=form_field("note"),
        actor=current_actor(),
        now=web_context().clock.now(),
    )
    flash(_("The measure was proposed; a second officer must approve it."), "info")
    return _to_register(measure.perpetrator_pseudonym)


@blueprint.post("/staff-safety/measures/<int:measure_id>/decide")
@on_register
def decide(measure_id: int) -> Response:
    choice = form_field("decision")
    if choice not in ("approve", "reject"):
        raise InvalidInput(N_("Approve or reject."), field="decision")
    measure = measures.decide_measure(
        db_session(),
        web_context().vault,
        measure_id,
        approve=choice == "approve",
        note=form_field("note"),
        actor=current_actor(),
        now=web_context().clock.now(),
        timezone=web_context().settings.timezone,
    )
    flash(_("The decision on the measure was saved."), "info")
    return _to_register(measure.perpetrator_pseudonym)


@blueprint.post("/staff-safety/measures/<int:measure_id>/end")
@on_register
def end(measure_id: int) -> Response:
    measure = measures.end_measure(
        db_session(),
        web_context().vault,
        measure_id,
        reason=form_field("reason"),
        actor=current_actor(),
        now=web_context().clock.now(),
        timezone=web_context().settings.timezone,
    )
    flash(_("The measure was ended."), "info")
    return _to_register(measure.perpetrator_pseudonym)


def _register_page(
    filters: dict[str, str],
    incident_id: int | None,
    *,
    error: str | None = None,
    field: str | None = None,
    measure_id: int | None = None,
) -> str:
    session, now = db_session(), web_context().clock.now()
    found = measures.find_measures(
        session,
        status=MeasureStatus(filters["status"]) if "status" in filters else None,
        kind=MeasureKind(filters["kind"]) if "kind" in filters else None,
        pseudonym=filters.get("person"),
        limit=PAGE_SIZE,
    )
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="staff_measure.read",
            target="staff_measure:list",
            outcome="success",
            now=now,
            details={**filters, "shown": len(found)},
        )
    )
    return render_template(
        "staff_safety/measures.html",
        measures=found,
        filters=filters,
        today=local_day(now, web_context().settings.timezone),
        incident_id=incident_id,
        perpetrators=measures.perpetrators_of(session, incident_id) if incident_id else [],
        contact_people=assignable_users(session) if incident_id else [],
        form=request.form if request.method == "POST" else MultiDict(),
        error=error,
        error_field=field,
        error_measure=measure_id,
    )


def _filters(args: MultiDict[str, str]) -> dict[str, str]:
    choices: dict[str, set[str]] = {
        "status": {str(value) for value in MeasureStatus},
        "kind": {str(value) for value in MeasureKind},
    }
    filters: dict[str, str] = {}
    for name, allowed in choices.items():
        value = args.get(name, "").strip()
        if value and value not in allowed:
            raise InvalidInput(N_("Choose a filter value from the list."), field=name)
        if value:
            filters[name] = value
    person = args.get("person", "").strip().upper()[:20]
    if person and not is_pseudonym(person):
        raise InvalidInput(N_("Give a pseudonym like P-7KQM-X3TD."), field="person")
    if person:
        filters["person"] = person
    return filters


def _incident_arg() -> int | None:
    text = request.args.get("incident", "").strip()
    return int(text) if _NUMBER.fullmatch(text) else None


def _date(form: MultiDict[str, str], name: str) -> date | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(N_("Give the date as year-month-day."), field=name) from None


def _number(form: MultiDict[str, str], name: str) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    if not _NUMBER.fullmatch(text):
        raise InvalidInput(N_("Choose the one contact person, an active user."), field=name)
    return int(text)


def _to_register(pseudonym: str) -> Response:
    return redirect(url_for("staff_measures.register", person=pseudonym), 303)  # type: ignore[return-value]
