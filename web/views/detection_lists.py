"""The detection lists in the console: the lists Sigma rules fill ``|expand`` placeholders
from (``%office_networks%``, ``%admin_accounts%``), the rules that use each, and changing
them without the server's command line (``wachter lists`` does the same).

RULES_READ looks (SOC analysts and officers), RULES_WRITE changes (security officers). A
list decides what a rule sees as "the office" or "an administrator": taking a value out can
blind a rule as surely as switching it off, so editing needs the same fresh password and
code confirmation as switching a rule off (web/policy.py). The confirmation is asked before
the form is shown, so nothing typed is lost to it.

A list may name people, so showing its values is an audited read, and the service records
each change with counts only (``detection_rules.service.set_list``). The four lists the
staff-safety measures keep (``staff_safety.detection_feed``: names, e-mail addresses and
phone numbers of perpetrators, from the identity vault) are shown by name and, to those who
may read aggression reports, size only, and cannot be changed here: the measures register
rebuilds them every five minutes, and their values are the vault's to reveal, with a reason.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Final

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from access_control import record_read
from core import Conflict, InvalidInput
from core.i18n import N_
from detection_rules.models import DetectionList, ListKind
from detection_rules.service import (
    MAX_LIST_VALUES,
    find_lists,
    get_list,
    list_values,
    rules_using_list,
    set_list,
)
from staff_safety.detection_feed import LISTS as MEASURE_LISTS
from web.auth import current_actor
from web.context import db_session, discard_changes, web_context, when_rendered

blueprint = Blueprint("lists", __name__)
# 10,000 addresses or account names; the service still refuses values over 500 characters.
MAX_VALUES_TEXT: Final = 2 * 1024 * 1024
VALUES_FIELD: Final = "values"
_MEASURE_LIST: Final = N_(
    "The list %(name)s is kept from the staff-safety measures register and cannot be "
    "changed by hand."
)


@blueprint.record_once
def _read_lists_under_their_own_limit(state: BlueprintSetupState) -> None:
    # A list is one large text field, over Flask's 500 KB for one field; CSRFProtect reads
    # the form in an app-wide before-request hook, so the limit is set ahead of it (as
    # web.views.rules does for its uploads). Setting it reads nothing.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _form_limit)


def _form_limit() -> None:
    if request.endpoint in {"lists.create", "lists.save"}:
        request.max_content_length = MAX_VALUES_TEXT
        request.max_form_memory_size = MAX_VALUES_TEXT


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {"kinds": list(ListKind), "measure_lists": MEASURE_LISTS}


@blueprint.get("/detection-lists")
def index() -> str:
    database_session = db_session()
    lists = find_lists(database_session)
    return render_template(
        "lists/index.html",
        lists=lists,
        sizes={row.name: len(list_values(row)) for row in lists},
        users={row.name: len(rules_using_list(database_session, row.name)) for row in lists},
    )


@blueprint.get("/detection-lists/<name>")
def show(name: str) -> str:
    database_session = db_session()
    row = get_list(database_session, name)
    values = list_values(row)
    if row.name not in MEASURE_LISTS:
        _record_values_read(row)
    return render_template(
        "lists/show.html",
        row=row,
        values=values,
        rules=rules_using_list(database_session, row.name),
    )


# A list named "new" (a name no rule pack uses) would be shown by `wachter lists show new`
# only: /detection-lists/new is the form, as /rules/import is beside /rules/<key>.
@blueprint.get("/detection-lists/new")
def new() -> str:
    return render_template("lists/edit.html", row=None, text="", kind=ListKind.STRINGS.value)


@blueprint.get("/detection-lists/<name>/edit")
def edit(name: str) -> str:
    row = _changeable(name)
    _record_values_read(row)
    return render_template(
        "lists/edit.html", row=row, text="\n".join(list_values(row)), kind=row.kind
    )


@blueprint.post("/detection-lists/new")
def create() -> ResponseReturnValue:
    name = request.form.get("name", "").strip()
    if name in MEASURE_LISTS:
        return _refused(None, InvalidInput(_MEASURE_LIST, field="name", name=name))
    if db_session().get(DetectionList, name) is not None:
        return _refused(
            None,
            InvalidInput(
                N_("A list %(name)s exists already: change it on its own page."),
                field="name",
                name=name,
            ),
        )
    return _save(None, name, request.form.get("kind", ""))


@blueprint.post("/detection-lists/<name>/edit")
def save(name: str) -> ResponseReturnValue:
    row = _changeable(name)
    return _save(row, row.name, row.kind)


def _save(row: DetectionList | None, name: str, kind: str) -> ResponseReturnValue:
    """Replace the list's values with the form's lines (blank lines dropped); nothing is
    stored when one value is refused, and the form comes back with the text as typed."""
    lines = [line for line in request.form.get(VALUES_FIELD, "").splitlines() if line.strip()]
    try:
        if len(lines) > MAX_LIST_VALUES:  # refused before a million lines are each parsed
            raise InvalidInput(
                N_("The list %(name)s would hold %(count)s values; at most %(limit)s."),
                field="values",
                name=name,
                count=len(lines),
                limit=MAX_LIST_VALUES,
            )
        saved = set_list(
            db_session(), name=name, kind=kind, values=lines, actor=current_actor(), now=_now()
        )
    except InvalidInput as error:
        return _refused(row, error)
    flash(
        _("The list %(name)s now holds %(count)d values; rules use them within seconds.")
        % {"name": saved.name, "count": len(list_values(saved))},
        "info",
    )
    return redirect(url_for("lists.show", name=saved.name), 303)


def _refused(row: DetectionList | None, error: InvalidInput) -> tuple[str, int]:
    discard_changes()
    page = render_template(
        "lists/edit.html",
        row=row,
        text=request.form.get(VALUES_FIELD, ""),
        kind=row.kind if row is not None else request.form.get("kind", ""),
        name=request.form.get("name", ""),
        error=_(error.template, **error.params),
    )
    return page, 400


def _changeable(name: str) -> DetectionList:
    row = get_list(db_session(), name)
    if row.name in MEASURE_LISTS:
        raise Conflict(_MEASURE_LIST, name=row.name)
    return row


def _record_values_read(row: DetectionList) -> None:
    when_rendered(
        partial(
            record_read,
            actor=current_actor(),
            record_type="detection_list",
            record_id=row.name,
            now=_now(),
        )
    )


def _now() -> datetime:
    return web_context().clock.now()
