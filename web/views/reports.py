"""The aggression report for every member of staff: the form, drafts, "my reports", files
added later, and ``/api/v1/reports`` for officers' machines (see web/policy.py: every route
here needs REPORT_SUBMIT, which every signed-in member of staff has; the API needs a token
with ``reports:read``).

The form is phone-first and sends as multipart, so files go along with the report; its
body limit is the evidence upload's, set before anything reads the body. Only the fields
``staff_safety.report_input`` names are read: a posted status, reporter or incident id is
ignored (SECURITY_CASES #38). A report or draft of someone else is answered 404, exactly
like one that does not exist (#36). What the reporter sees of their report is
``reporter_view``: never the risk assessment, notes or other people's pseudonyms (#39).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final, ParamSpec
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext as _
from werkzeug.exceptions import NotFound as HttpNotFound

from access_control import record_audit
from access_control.models import User
from access_control.sessions import Stage
from access_control.tokens import Scope
from core import InvalidInput, NotFound
from core.i18n import N_
from incidents.evidence import (
    MAX_FILES_PER_REQUEST,
    EvidenceTooLarge,
    add_evidence,
    check_upload_count,
)
from staff_safety.models import Category, Location, ReportStatus, StaffReport
from staff_safety.report_facts import ReportFacts, list_reports, report_facts
from staff_safety.report_input import InvalidReport, ReportInput, parse_report_form
from staff_safety.reports import (
    delete_draft,
    draft_input,
    my_reports,
    own_draft,
    own_report,
    reporter_actor,
    reporter_view,
    save_draft,
    submit_report,
)
from staff_safety.updates import unseen_count
from staff_safety.vault import pseudonym_of_user
from web.api_auth import current_actor as api_actor
from web.api_auth import require_token
from web.auth import current_actor, current_session, current_user
from web.context import db_session, discard_changes, web_context, when_rendered
from web.views.api import blueprint as api
from web.views.evidence import FORM_OVERHEAD, max_file_bytes

P = ParamSpec("P")
blueprint = Blueprint("reports", __name__)
UPLOAD_FIELD: Final = "files"
FORM_FIELDS: Final = 40  # the report's own fields, with room to spare
_NUMBER: Final = re.compile(r"MEL-[0-9]{4}-[0-9]{5,12}", re.ASCII)
_DIGITS: Final = re.compile(r"[0-9]{1,12}", re.ASCII)
_UPLOADING: Final = ("reports.new", "reports.draft", "reports.add_evidence")
DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200


@blueprint.record_once
def _read_uploads_under_their_own_limit(state: BlueprintSetupState) -> None:
    state.app.before_request_funcs.setdefault(None, []).insert(0, _upload_limits)


def _upload_limits() -> None:
    if request.endpoint in _UPLOADING and request.method == "POST":
        request.max_content_length = max_file_bytes() + FORM_OVERHEAD
        request.max_form_parts = MAX_FILES_PER_REQUEST + FORM_FIELDS


@blueprint.app_context_processor
def _template_values() -> dict[str, object]:
    return {
        "unseen_report_updates": unseen_report_updates,
        "report_locations": list(Location),
        "report_categories": list(Category),
    }


def unseen_report_updates() -> int:
    """New updates on the signed-in user's reports, for the navigation (0 when none)."""
    if "unseen_report_updates" not in g:
        user, auth = current_user(), current_session()
        if g.get("request_failed") or user is None or auth is None or auth.stage != Stage.ACTIVE:
            return 0
        pseudonym = pseudonym_of_user(db_session(), web_context().vault, user.id)
        g.unseen_report_updates = unseen_count(db_session(), pseudonym) if pseudonym else 0
    count: int = g.unseen_report_updates
    return count


def on_the_form(view: Callable[P, Response | str]) -> Callable[P, Response | tuple[str, int] | str]:
    """A refused report is shown again with each reason beside its field (400; 413 for files)."""

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> Response | tuple[str, int] | str:
        try:
            return view(*args, **kwargs)
        except (InvalidInput, EvidenceTooLarge) as error:
            discard_changes()
            errors = _messages(error)
            status = 413 if isinstance(error, EvidenceTooLarge) else 400
            draft_id = kwargs.get("draft_id")
            draft_id = draft_id if isinstance(draft_id, int) else None
            return _form(request.form, errors=errors, draft_id=draft_id), status

    return wrapped


def _messages(error: InvalidInput | EvidenceTooLarge) -> dict[str, str]:
    if isinstance(error, InvalidReport):
        found = error.errors
    elif isinstance(error, InvalidInput):
        found = {error.field or "form": error}
    else:
        return {UPLOAD_FIELD: _(error.template, **error.params)}
    return {field: _(each.template, **each.params) for field, each in found.items()}


@blueprint.route("/reports/new", methods=["GET", "POST"])
@on_the_form
def new() -> Response | str:
    if request.method == "GET":
        return _form({})
    return _save_or_send(draft_id=None)


@blueprint.route("/reports/drafts/<int:draft_id>", methods=["GET", "POST"])
@on_the_form
def draft(draft_id: int) -> Response | str:
    report = own_draft(db_session(), web_context().vault, _user().id, draft_id)
    if request.method == "GET":
        data = draft_input(web_context().vault, report)
        return _form(_values_of(data), draft_id=report.id)
    return _save_or_send(draft_id=report.id)


@blueprint.post("/reports/drafts/<int:draft_id>/delete")
def delete(draft_id: int) -> Response:
    delete_draft(
        db_session(),
        web_context().vault,
        user_id=_user().id,
        draft_id=draft_id,
        actor=current_actor(),
        now=_now(),
    )
    flash(_("The draft was deleted."), "info")
    return redirect(url_for("reports.mine"), 303)  # type: ignore[return-value]


def _save_or_send(*, draft_id: int | None) -> Response:
    context, now = web_context(), _now()
    data = parse_report_form(request.form, timezone=context.settings.timezone, now=now)
    arguments: dict[str, Any] = {
        "user": _user(),
        "data": data,
        "draft_id": draft_id,
        "actor": current_actor(),
        "now": now,
    }
    if request.form.get("action") != "send":
        saved = save_draft(db_session(), context.vault, **arguments)
        flash(_("Your draft was saved. Only you can see it."), "info")
        return redirect(url_for("reports.draft", draft_id=saved.id), 303)  # type: ignore[return-value]
    uploads = _uploads()
    report = submit_report(db_session(), context.vault, **arguments)
    _add_files(report, uploads)
    return redirect(url_for("reports.show", number=report.number, sent=1), 303)  # type: ignore[return-value]


def _uploads() -> list[Any]:
    uploads = [sent for sent in request.files.getlist(UPLOAD_FIELD) if sent.filename]
    if uploads:
        check_upload_count(len(uploads))
    return uploads


def _add_files(report: StaffReport, uploads: list[Any]) -> None:
    assert report.incident_id is not None
    actor = reporter_actor(report.reporter_pseudonym, current_actor())
    for sent in uploads:
        add_evidence(
            db_session(),
            incident_id=report.incident_id,
            stream=sent.stream,
            filename=sent.filename or "",
            description=_("Added by the reporter."),
            actor=actor,
            now=_now(),
            data_dir=web_context().settings.data_dir,
            max_bytes=max_file_bytes(),
        )


@blueprint.get("/reports/mine")
def mine() -> str:
    reports = my_reports(db_session(), web_context().vault, _user().id)
    return render_template("reports/mine.html", reports=reports, timezone=_zone())


@blueprint.get("/reports/mine/<number>")
def show(number: str) -> str:
    report = _own_sent(number)
    view = reporter_view(db_session(), report, actor=current_actor(), now=_now())
    return render_template(
        "reports/show.html",
        view=view,
        sent=request.args.get("sent") == "1",
        timezone=_zone(),
        error=None,
    )


@blueprint.post("/reports/mine/<number>/evidence")
def add_evidence_later(number: str) -> Response | tuple[str, int]:
    report = _own_sent(number)
    try:
        uploads = [sent for sent in request.files.getlist(UPLOAD_FIELD) if sent.filename]
        check_upload_count(len(uploads))
        _add_files(report, uploads)
    except (InvalidInput, EvidenceTooLarge) as error:
        discard_changes()
        message = _(error.template, **error.params)
        status = 413 if isinstance(error, EvidenceTooLarge) else 400
        view = _view_after_rollback(report.number or number)
        return render_template(
            "reports/show.html", view=view, sent=False, timezone=_zone(), error=message
        ), status
    flash(_("Your files were added to the report."), "info")
    return redirect(url_for("reports.show", number=report.number), 303)  # type: ignore[return-value]


def _view_after_rollback(number: str) -> Any:
    # The rolled-back session may read again; marking seen and its audit are not kept.
    return reporter_view(db_session(), _own_sent(number), actor=current_actor(), now=_now())


def _own_sent(number: str) -> StaffReport:
    if not _NUMBER.fullmatch(number):
        raise NotFound(N_("No such report."))
    report = own_report(db_session(), web_context().vault, _user().id, number)
    if report.status != ReportStatus.SUBMITTED:
        raise NotFound(N_("No such report."))
    return report


def _form(values: Any, *, errors: dict[str, str] | None = None, draft_id: int | None = None) -> str:
    now_local = _now().astimezone(_zone())
    return render_template(
        "reports/form.html",
        values=values,
        errors=errors or {},
        draft_id=draft_id,
        today=now_local.date().isoformat(),
        evidence_max_mb=web_context().settings.evidence_max_mb,
        evidence_max_files=MAX_FILES_PER_REQUEST,
    )


def _values_of(data: ReportInput) -> dict[str, str]:
    """A draft's values as the form's fields (the time in the organisation's zone)."""
    local = data.occurred_at.astimezone(_zone()) if data.occurred_at else None
    answers = {True: "yes", False: "no", None: "not_sure"}
    return {
        "occurred_date": local.date().isoformat() if local else "",
        "occurred_time": local.strftime("%H:%M") if local else "",
        "location": data.location.value if data.location else "",
        "category": data.category.value if data.category else "",
        "description": data.description,
        "weapon": "1" if data.weapon else "",
        "injury": "1" if data.injury else "",
        "absence": "1" if data.absence else "",
        "others_present": data.others_present,
        "witness_names": "\n".join(data.witness_names),
        "victim": "me" if data.victim_is_reporter else "colleague",
        "victim_name": data.victim_name,
        "perpetrator_name": data.perpetrator_name,
        "perpetrator_case_reference": data.perpetrator_case_reference,
        "perpetrator_email": data.perpetrator_email,
        "perpetrator_phone": data.perpetrator_phone,
        "perpetrator_description": data.perpetrator_description,
        "wants_aftercare": answers[data.wants_aftercare],
        "wants_police_report": answers[data.wants_police_report],
    }


def _user() -> User:
    user = current_user()
    if user is None:  # the policy lets no one here without a session
        raise HttpNotFound()
    return user


def _zone() -> ZoneInfo:
    return ZoneInfo(web_context().settings.timezone)


def _now() -> datetime:
    return web_context().clock.now()


# /api/v1/reports: facts and pseudonyms for officers' machines, never free text -------------


@api.get("/reports", endpoint="list_reports")
@require_token(Scope.REPORTS_READ)
def list_reports_api() -> Response:
    before, limit = _cursor("before"), _cursor("limit")
    if limit is None:
        limit = DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(
            N_("The limit must be a whole number from 1 to %(limit)d."),
            field="limit",
            limit=MAX_LIMIT,
        )
    session = db_session()
    found = list_reports(
        session,
        category=request.args.get("category") or None,
        state=request.args.get("state") or None,
        before_id=before,
        limit=limit + 1,
    )
    page = found[:limit]
    when_rendered(
        partial(
            record_audit,
            actor=api_actor(),
            action="staff_report.read",
            target="staff_report:list",
            outcome="success",
            now=_now(),
            details={"before": before, "limit": limit, "count": len(page)},
        )
    )
    more = len(found) > limit
    return _json(
        data=[report_document(facts) for facts in page],
        next_before=str(page[-1].id) if more and page else None,
        has_more=more,
    )


@api.get("/reports/<number>", endpoint="get_report")
@require_token(Scope.REPORTS_READ)
def get_report_api(number: str) -> Response:
    if not _NUMBER.fullmatch(number):
        raise NotFound(N_("No such report."))
    session = db_session()
    facts = report_facts(session, number)
    when_rendered(
        partial(
            record_audit,
            actor=api_actor(),
            action="staff_report.read",
            target=f"staff_report:{facts.id}",
            outcome="success",
            now=_now(),
        )
    )
    return _json(**report_document(facts))


def report_document(facts: ReportFacts) -> dict[str, Any]:
    return {
        "number": facts.number,
        "submitted_at": _time(facts.submitted_at),
        "occurred_month": facts.occurred_month,
        "category": facts.category,
        "location": facts.location,
        "channel": facts.channel,
        "weapon": facts.weapon,
        "injury": facts.injury,
        "incident": {"reference": facts.incident_reference, "state": facts.incident_state},
        "people": {
            "reporter": facts.reporter,
            "victim": facts.victim,
            "perpetrator": facts.perpetrator,
            "witnesses": list(facts.witnesses),
        },
    }


def _json(**body: Any) -> Response:
    return jsonify(body)


def _cursor(name: str) -> int | None:
    text = request.args.get(name, "").strip()
    if not text:
        return None
    if not _DIGITS.fullmatch(text):
        raise InvalidInput(N_("The cursor must be a number from a previous answer."), field=name)
    return int(text)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
