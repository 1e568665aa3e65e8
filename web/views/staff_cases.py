"""Staff-safety cases in the console: the list of open cases, the case page with the workflow
and its forms, four-eyes decisions, and revealing who a pseudonym is (see web/policy.py:
REPORTS_READ to look, INCIDENTS_WRITE as well to change, IDENTITY_REVEAL with a fresh step-up
to reveal).

The workflow is ``staff_safety.workflow`` (with ``aftercare`` and ``police``): this module
parses the forms and renders. A refused change (bad input 400, a missing step 409, deciding
one's own request 403) is shown on the case page after the change was rolled back. People
are shown by pseudonym; a name appears only on the reveal page, once, never cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Final, ParamSpec
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from access_control import Permission, permissions_of, record_audit, record_read
from access_control.models import User
from core import Conflict, InvalidInput, NotFound, PermissionDenied
from core.i18n import N_
from incidents.cases.fields import assignable_users
from staff_safety import aftercare, approvals, measures, police, vault, workflow
from staff_safety.calendar import WorkingDays
from staff_safety.case_view import CaseView, case_view, list_cases, pseudonyms_of, state_filters
from staff_safety.models import Approval, PoliceDecision, RiskLevel
from web.auth import current_actor, current_user
from web.context import db_session, web_context, when_rendered
from web.forms import form_field
from web.views.events import page_cursor

P = ParamSpec("P")
blueprint = Blueprint("staff_safety", __name__)
PAGE_SIZE: Final = 50
MAX_TEXT: Final = 20_000
_NUMBER: Final = re.compile(r"[0-9]{1,12}", re.ASCII)
_LOCAL_TIME: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}", re.ASCII)
_EUROS: Final = re.compile(r"([0-9]{1,9})(?:[.,]([0-9]{1,2}))?", re.ASCII)


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "risk_levels": list(RiskLevel),
        "police_decisions": list(PoliceDecision),
        "aftercare_steps": list(aftercare.AftercareStep),
        "local_time": _local_time,
        "zone_name": web_context().settings.timezone,
    }


def _calendar() -> WorkingDays:
    return WorkingDays(web_context().settings.timezone)


def _local_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    zone = ZoneInfo(web_context().settings.timezone)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@blueprint.get("/staff-safety")
def cases() -> str:
    state = request.args.get("state", "").strip() or "open"
    before = page_cursor(request.args)
    found = list_cases(
        db_session(),
        state=state,
        before_id=before,
        limit=PAGE_SIZE + 1,
        calendar=_calendar(),
        now=_now(),
    )
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="staff_case.read",
            target="staff_case:list",
            outcome="success",
            now=_now(),
            details={"state": state, "before": before},
        )
    )
    shown = found[:PAGE_SIZE]
    older = shown[-1].incident.id if len(found) > PAGE_SIZE else None
    return render_template(
        "staff_safety/cases.html", rows=shown, state=state, states=state_filters(), older=older
    )


@blueprint.get("/staff-safety/cases/<int:incident_id>")
def case(incident_id: int) -> str:
    return case_page(incident_id)


def case_page(incident_id: int, *, error: str | None = None, error_for: str | None = None) -> str:
    """The case page, its look recorded as a read of the case."""
    session = db_session()
    view = case_view(session, incident_id, calendar=_calendar(), now=_now())
    when_rendered(
        partial(
            record_read,
            actor=current_actor(),
            record_type="staff_case",
            record_id=incident_id,
            now=_now(),
        )
    )
    return render_template(
        "staff_safety/case.html",
        view=view,
        error=error,
        error_for=error_for,
        form=request.form if error else MultiDict(),
        officers=_names(session, view),
        assignable=assignable_users(session) if _can_write() else [],
        me=current_actor().user_id,
    )


def _names(session: Session, view: CaseView) -> dict[int, str]:
    """Display names of the officers the page names (officers are not pseudonymised)."""
    ids = {view.case.responsible_manager_id, view.incident.assignee_id}
    ids |= {a.requested_by_user_id for a in view.approvals} | {
        a.decided_by_user_id for a in view.approvals
    }
    ids.discard(None)
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all())


def _can_write() -> bool:
    user = current_user()
    return user is not None and Permission.INCIDENTS_WRITE in permissions_of(user.role)


def on_case_page(view: Callable[P, Response]) -> Callable[P, Response | tuple[str, int]]:
    """Show a refused change on the case page (400 input, 403 four eyes, 409 a missing step)."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response | tuple[str, int]:
        try:
            return view(*args, **kwargs)
        except (InvalidInput, Conflict, PermissionDenied) as error:
            db_session().rollback()  # undo the change only; the page shown next is a read
            message = _(error.template, **error.params)
            status = {InvalidInput: 400, Conflict: 409}.get(type(error), 403)
            incident_id = int(kwargs["incident_id"])  # type: ignore[call-overload]
            return case_page(incident_id, error=message, error_for=request.endpoint), status

    return wrapped


@blueprint.post("/staff-safety/cases/<int:incident_id>/advance")
@on_case_page
def advance(incident_id: int) -> Response:
    workflow.advance(
        db_session(),
        incident_id,
        form_field("to")[:40],
        resolution=form_field("resolution") or None,
        summary=_long_field("summary"),
        actor=current_actor(),
        now=_now(),
    )
    flash(_("The case moved to its next step."), "info")
    return _to_case(incident_id)


@blueprint.post("/staff-safety/cases/<int:incident_id>/first-care")
@on_case_page
def first_care(incident_id: int) -> Response:
    workflow.record_first_care(
        db_session(),
        incident_id=incident_id,
        note=form_field("note"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "first-care")


@blueprint.post("/staff-safety/cases/<int:incident_id>/register")
@on_case_page
def register(incident_id: int) -> Response:
    workflow.register(
        db_session(),
        incident_id=incident_id,
        risk_level=form_field("risk_level")[:40],
        risk_assessment=_long_field("risk_assessment"),
        severity=form_field("severity")[:40] or None,
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "registration")


@blueprint.post("/staff-safety/cases/<int:incident_id>/police/decision")
@on_case_page
def police_decision(incident_id: int) -> Response:
    police.record_decision(
        db_session(),
        incident_id=incident_id,
        decision=form_field("decision")[:40],
        reason=form_field("reason"),
        domicile=form_field("domicile"),
        ela_flag=request.form.get("ela_flag") == "on",
        organisation_address=web_context().settings.organisation_address,
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "police")


@blueprint.post("/staff-safety/cases/<int:incident_id>/police/filing")
@on_case_page
def police_filing(incident_id: int) -> Response:
    police.record_filing(
        db_session(),
        incident_id=incident_id,
        filed_at=_moment("filed_at"),
        registration_number=form_field("registration_number"),
        unit=form_field("unit"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "police")


@blueprint.post("/staff-safety/cases/<int:incident_id>/police/prosecution")
@on_case_page
def police_prosecution(incident_id: int) -> Response:
    police.record_prosecution(
        db_session(),
        incident_id=incident_id,
        decision=form_field("prosecution_decision"),
        outcome=form_field("outcome"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "police")


@blueprint.post("/staff-safety/cases/<int:incident_id>/police/damage")
@on_case_page
def police_damage(incident_id: int) -> Response:
    police.record_damage(
        db_session(),
        incident_id=incident_id,
        statement=_long_field("damage_statement"),
        amount_cents=_cents("damage_amount"),
        recovered_cents=_cents("damage_recovered"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "police")


@blueprint.post("/staff-safety/cases/<int:incident_id>/aftercare")
@on_case_page
def record_aftercare(incident_id: int) -> Response:
    aftercare.record_aftercare(
        db_session(),
        incident_id=incident_id,
        step=form_field("step")[:40],
        at=_moment("at"),
        note=form_field("note"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "aftercare")


@blueprint.post("/staff-safety/cases/<int:incident_id>/manager")
@on_case_page
def manager(incident_id: int) -> Response:
    text = form_field("responsible_manager_id").strip()
    if text and not _NUMBER.fullmatch(text):
        raise InvalidInput(
            N_("Choose an active security officer from the list."), field="responsible_manager_id"
        )
    workflow.set_responsible_manager(
        db_session(),
        incident_id=incident_id,
        user_id=int(text) if text else None,
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "manager")


@blueprint.post("/staff-safety/cases/<int:incident_id>/evaluation")
@on_case_page
def evaluation(incident_id: int) -> Response:
    workflow.record_evaluation(
        db_session(),
        incident_id=incident_id,
        evaluation=_long_field("evaluation"),
        actor=current_actor(),
        now=_now(),
    )
    return _to_case(incident_id, "evaluation")


@blueprint.post("/staff-safety/cases/<int:incident_id>/approvals/<int:approval_id>/decide")
@on_case_page
def decide(incident_id: int, approval_id: int) -> Response:
    session = db_session()
    approval = session.get(Approval, approval_id)
    if approval is None or approval.incident_id != incident_id:
        raise NotFound(N_("No such approval."))
    choice = form_field("decision")
    if choice not in ("approve", "reject"):
        raise InvalidInput(N_("Approve or reject."), field="decision")
    decided = approvals.decide(
        session,
        approval_id,
        approve=choice == "approve",
        note=form_field("note"),
        actor=current_actor(),
        now=_now(),
    )
    settings = web_context().settings
    measures.settle_measure(
        session,
        web_context().vault,
        decided,
        actor=current_actor(),
        now=_now(),
        timezone=settings.timezone,
    )
    return _to_case(incident_id, "approvals")


@blueprint.route("/staff-safety/people/<pseudonym>/reveal", methods=["GET", "POST"])
def reveal(pseudonym: str) -> Response | tuple[str, int] | str:
    session = db_session()
    incident_id = _incident_param()
    view = case_view(session, incident_id, calendar=_calendar(), now=_now())
    if pseudonym not in pseudonyms_of(view):
        raise NotFound(N_("No such person."))
    values = {"view": view, "pseudonym": pseudonym}
    if request.method == "GET":
        return render_template("staff_safety/reveal.html", **values)
    try:
        identity = vault.reveal(
            session,
            web_context().vault,
            pseudonym,
            reason=form_field("reason"),
            actor=current_actor(),
            now=_now(),
            context=f"incident:{incident_id}",
        )
    except InvalidInput as error:
        message = _(error.template, **error.params)
        return render_template("staff_safety/reveal.html", error=message, **values), 400
    response = Response(render_template("staff_safety/reveal.html", identity=identity, **values))
    response.headers["Cache-Control"] = "no-store"
    return response


def _incident_param() -> int:
    text = (request.form.get("incident") or request.args.get("incident") or "").strip()
    if not _NUMBER.fullmatch(text):
        raise NotFound(N_("No such person."))
    return int(text)


def _moment(name: str) -> datetime:
    """A time from ``<input type="datetime-local">`` in the organisation's zone; empty: now."""
    text = form_field(name).strip()
    if not text:
        return _now()
    try:
        if not _LOCAL_TIME.fullmatch(text):
            raise ValueError(text)
        zone = ZoneInfo(web_context().settings.timezone)
        return datetime.fromisoformat(text).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        raise InvalidInput(N_("Give a date and time."), field=name) from None


def _cents(name: str) -> int | None:
    text = form_field(name).strip().removeprefix("€").strip()
    if not text:
        return None
    match = _EUROS.fullmatch(text)
    if match is None:
        raise InvalidInput(N_("Give an amount in euros, like 125,50."), field=name)
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def _long_field(name: str) -> str:
    return request.form.get(name, "")[: MAX_TEXT + 1]


def _to_case(incident_id: int, anchor: str | None = None) -> Response:
    target = url_for("staff_safety.case", incident_id=incident_id, _anchor=anchor)
    return redirect(target, 303)  # type: ignore[return-value]


def _now() -> datetime:
    return web_context().clock.now().astimezone(UTC)
