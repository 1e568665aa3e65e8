"""Sigma rules in the console: the list (with each rule's detections and false-positive
share), one rule with its versions and a "test this rule" box, switching rules on and off
(on the rule's page or on the list's row), and importing rules (RULES_READ to look and to
test: SOC analysts and officers; RULES_WRITE to change: security officers; see
web/policy.py). The test box and the counts are in ``web.views.rule_trial``.

htmx: a test answers with the result fragment, a switch made on the list with the row, an
import with the page htmx selects the report from; without JavaScript each is a plain POST.

Every change goes through ``detection_rules.service``, which records it in the audit trail
with the acting user. An import shows its whole report: each rule that was refused with
``file:line: message``, and what became of the others (one bad file never holds back the
rest). Rule texts are shown as data: escaped by Jinja, invisible characters marked.

Uploads: ``.yml``/``.yaml`` files and ``.zip`` archives of them, at most
``MAX_UPLOAD_BYTES`` in all, which is ``detection_rules.loading``'s limit for one rule file;
what an archive may inflate to is bounded by its ``ArchiveLimits``, as for ``wachter rules
import``. An archive is written to a private temporary folder for ``read_rule_sources``
(which reads paths, never extracts) and the folder's name is kept out of every report.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Final

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.utils import secure_filename

from core import InvalidInput
from core.i18n import N_
from detection_rules.errors import DetectionRuleError
from detection_rules.loading import ArchiveLimits, RuleSource, read_rule_sources
from detection_rules.models import DetectionRule, RuleKind
from detection_rules.service import (
    ImportOutcome,
    disable_rule,
    enable_rule,
    get_rule,
    get_rule_version,
    import_rules,
    install_packs,
    list_rules,
    rule_versions,
)
from detection_rules.service.trial import DEFAULT_RECENT, MAX_PASTED_EVENTS, RECENT_CHOICES
from incidents.alerts import rule_feedback
from web.auth import current_actor
from web.context import db_session, discard_changes, web_context
from web.forms import form_errors_in_place, version_argument
from web.views.rule_trial import MAX_FORM_BYTES, RuleCounts, is_htmx, rule_counts, run_trial

blueprint = Blueprint("rules", __name__)
UPLOAD_FIELD: Final = "rules"
ARCHIVE_LIMITS: Final = ArchiveLimits()
MAX_UPLOAD_BYTES: Final = ARCHIVE_LIMITS.max_member_bytes  # loading's limit for one rule file
YAML_SUFFIXES: Final = (".yml", ".yaml")
# The multipart envelope around the files: boundaries, headers, the CSRF field.
_FORM_OVERHEAD: Final = 64 * 1024
MAX_SEARCH: Final = 200
ENABLED_FILTERS: Final = {"on": True, "off": False}
FROM_LIST: Final = "list"  # a switch made on the list: back to the list, or just its row


@blueprint.record_once
def _read_uploads_under_their_own_limit(state: BlueprintSetupState) -> None:
    # CSRFProtect reads the form, and with it the upload, in an app-wide before-request
    # hook, under the app's 1 MiB limit; the import's own limit must be set ahead of it.
    # Setting the limit reads nothing: the policy check still comes before any body is read.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _upload_limit)


def _upload_limit() -> None:
    if request.endpoint == "rules.upload":
        request.max_content_length = MAX_UPLOAD_BYTES + _FORM_OVERHEAD
    elif request.endpoint == "rules.trial":  # pasted events: a large text field, bounded
        request.max_content_length = MAX_FORM_BYTES
        request.max_form_memory_size = MAX_FORM_BYTES


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "outcomes": ImportOutcome,
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "max_members": ARCHIVE_LIMITS.max_members,
        "max_inflated_bytes": ARCHIVE_LIMITS.max_total_bytes,
        "recent_choices": RECENT_CHOICES,
        "default_recent": DEFAULT_RECENT,
        "max_pasted_events": MAX_PASTED_EVENTS,
        "no_counts": RuleCounts(),
    }


@blueprint.get("/rules")
@form_errors_in_place("rules/index.html")
def index() -> str:
    enabled, kind, search = _list_filters(request.args)
    found = list_rules(db_session(), enabled=enabled, kind=kind, search=search or None)
    filtered = enabled is not None or kind is not None or bool(search)
    counts = rule_counts(_now())  # detections (30 days) and false-positive feedback per rule
    return render_template("rules/index.html", rules=found, filtered=filtered, counts=counts)


@blueprint.get("/rules/<path:key>")
def show(key: str) -> str:
    return _rule_page(key, version_argument(request.args))


def _rule_page(key: str, version: int | None = None, trial: dict[str, object] | None = None) -> str:
    database_session = db_session()
    rule = get_rule(database_session, key)
    shown = get_rule_version(database_session, rule.key, version)
    return render_template(
        "rules/show.html",
        rule=rule,
        shown=shown,
        versions=list(reversed(rule_versions(database_session, rule.key))),
        feedback=rule_feedback(database_session, rule.key).get(rule.key),
        counts=rule_counts(_now(), rule.key).get(rule.key, RuleCounts()),
        **(trial or {}),
    )


@blueprint.post("/rules/<path:key>/test")
def trial(key: str) -> ResponseReturnValue:
    """Test the rule on pasted or stored events; the result, or why not, on the page."""
    try:
        shown: dict[str, object] = {"trial": run_trial(key)}
        status = 200
    except InvalidInput as error:  # the form's own error, in place (as web.forms does)
        discard_changes()
        shown, status = {"trial_error": _(error.template, **error.params)}, 400
    shown["trial_text"] = request.form.get("events", "")
    if is_htmx():
        return render_template("rules/_trial_result.html", **shown), status
    return _rule_page(key, trial=shown), status


@blueprint.post("/rules/<path:key>/enable")
def enable(key: str) -> ResponseReturnValue:
    rule = enable_rule(db_session(), key, actor=current_actor(), now=_now())
    message = _("The rule “%(title)s” is on: it is applied to new events.", title=rule.title)
    return _switched(rule, message)


@blueprint.post("/rules/<path:key>/disable")
def disable(key: str) -> ResponseReturnValue:
    rule = disable_rule(db_session(), key, actor=current_actor(), now=_now())
    message = _(
        "The rule “%(title)s” is off: it detects nothing until it is switched on again. "
        "Its versions and detections stay.",
        title=rule.title,
    )
    return _switched(rule, message)


def _switched(rule: DetectionRule, message: str) -> ResponseReturnValue:
    """From the list with htmx: its row again (and the message for screen readers);
    otherwise the message on the next page: the list or the rule's page."""
    from_list = request.form.get("next") == FROM_LIST
    if from_list and is_htmx():
        counts = rule_counts(_now(), rule.key).get(rule.key, RuleCounts())
        return render_template("rules/_rule_row.html", rule=rule, counts=counts, status=message)
    flash(message, "info")
    target = url_for("rules.index") if from_list else url_for("rules.show", key=rule.key)
    return redirect(target, 303)


@blueprint.get("/rules/import")
def import_form() -> str:
    return render_template("rules/import.html")


@blueprint.post("/rules/import")
@form_errors_in_place("rules/import.html")
def upload() -> str:
    sources = uploaded_sources(request.files.getlist(UPLOAD_FIELD))
    report = import_rules(db_session(), sources, actor=current_actor(), now=_now())
    return render_template("rules/import.html", report=report)


@blueprint.post("/rules/import-pack")
def import_pack() -> str:
    """Wachter's own rule pack now, as every start of the service installs it."""
    report = install_packs(db_session(), actor=current_actor(), now=_now())
    return render_template("rules/import.html", report=report, pack=True)


def uploaded_sources(uploads: Iterable[FileStorage]) -> list[RuleSource]:
    """The rule files of an upload: YAML files as they are, archives read member by member."""
    chosen = [upload for upload in uploads if upload.filename]
    if not chosen:
        raise InvalidInput(N_("Choose a .yml, .yaml or .zip file to import."), field="rules")
    sources: list[RuleSource] = []
    for upload in chosen:
        name = secure_filename(upload.filename or "")
        data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise InvalidInput(
                N_("%(name)s is larger than %(limit)s bytes."),
                field="rules",
                name=name,
                limit=MAX_UPLOAD_BYTES,
            )
        if name.lower().endswith(".zip"):
            sources.extend(_archive_sources(name, data))
        elif name.lower().endswith(YAML_SUFFIXES):
            sources.append(RuleSource(name, data))
        else:
            raise InvalidInput(
                N_("%(name)s is not a .yml, .yaml or .zip file."),
                field="rules",
                name=name or "?",
            )
    return sources


def _archive_sources(name: str, data: bytes) -> list[RuleSource]:
    with tempfile.TemporaryDirectory(prefix="wachter-rules-") as folder:
        archive = Path(folder, name)
        archive.write_bytes(data)
        prefix = str(archive.parent) + os.sep
        try:
            return [
                RuleSource(source.path.removeprefix(prefix), source.data)
                for source in read_rule_sources([archive], limits=ARCHIVE_LIMITS)
            ]
        except DetectionRuleError as error:
            # The same refusal, with the archive named as uploaded, not by the server's folder.
            params = {
                key: value.replace(prefix, "") if isinstance(value, str) else value
                for key, value in error.params.items()
            }
            raise DetectionRuleError(error.template, field=error.field, **params) from None


def _list_filters(args: MultiDict[str, str]) -> tuple[bool | None, RuleKind | None, str]:
    enabled_text, kind_text = args.get("enabled", "").strip(), args.get("kind", "").strip()
    search = args.get("q", "").strip()
    if enabled_text and enabled_text not in ENABLED_FILTERS:
        raise InvalidInput(N_("Choose on or off from the list."), field="enabled")
    if kind_text and kind_text not in {kind.value for kind in RuleKind}:
        raise InvalidInput(N_("Choose a kind of rule from the list."), field="kind")
    if len(search) > MAX_SEARCH:
        raise InvalidInput(
            N_("Search for at most %(limit)d characters."), field="q", limit=MAX_SEARCH
        )
    enabled = ENABLED_FILTERS[enabled_text] if enabled_text else None
    return enabled, RuleKind(kind_text) if kind_text else None, search


def _now() -> datetime:
    return web_context().clock.now()
