"""Incident playbooks in the console: the playbooks with their current version, one
playbook's tasks at any version, a version as YAML to adapt, and importing a playbook file
(``wachter playbooks import`` does the same on the server).

INCIDENTS_READ looks (SOC analysts and officers), INCIDENTS_WRITE imports (security
officers; web/policy.py). A playbook holds no personal data, so looking is not audited; an
import is, by ``incidents.cases.playbooks.import_playbook`` (its version and SHA-256). A file
that is not a playbook is refused whole with the reason, and nothing is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.utils import secure_filename

from core import InvalidInput
from core.i18n import N_
from incidents.cases.playbook_history import (
    get_playbook,
    playbook_versions,
    playbook_yaml,
    version_of,
)
from incidents.cases.playbooks import (
    MAX_PLAYBOOK_BYTES,
    ImportOutcome,
    import_playbook,
    list_playbooks,
    tasks_of,
)
from web.auth import current_actor
from web.context import db_session, web_context
from web.forms import form_errors_in_place, version_argument
from web.views.deadlines import span_text

blueprint = Blueprint("playbooks", __name__)
UPLOAD_FIELD: Final = "playbook"
YAML_SUFFIXES: Final = (".yml", ".yaml")


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    return {
        "max_playbook_bytes": MAX_PLAYBOOK_BYTES,
        "span_minutes": lambda minutes: span_text(timedelta(minutes=minutes)),
    }


@blueprint.get("/playbooks")
def index() -> str:
    database_session = db_session()
    playbooks = list_playbooks(database_session)
    tasks = {
        playbook.key: len(tasks_of(version_of(database_session, playbook, None)))
        for playbook in playbooks
    }
    return render_template("playbooks/index.html", playbooks=playbooks, tasks=tasks)


# A playbook keyed "import" would be reached by `wachter playbooks list` only:
# /playbooks/import is the form, as /rules/import is beside /rules/<key>.
@blueprint.get("/playbooks/import")
def import_form() -> str:
    return render_template("playbooks/import.html")


@blueprint.post("/playbooks/import")
@form_errors_in_place("playbooks/import.html")
def upload() -> ResponseReturnValue:
    upload = request.files.get(UPLOAD_FIELD)
    name = secure_filename(upload.filename or "") if upload is not None else ""
    if upload is None or not name:
        raise InvalidInput(N_("Choose a playbook file (.yml or .yaml)."), field=UPLOAD_FIELD)
    if not name.lower().endswith(YAML_SUFFIXES):
        raise InvalidInput(
            N_("%(name)s is not a .yml or .yaml file."), field=UPLOAD_FIELD, name=name
        )
    # One byte over the limit is enough for parse_playbook to refuse it with the reason.
    text = upload.stream.read(MAX_PLAYBOOK_BYTES + 1)
    now = web_context().clock.now()
    result = import_playbook(db_session(), text, source=name, actor=current_actor(), now=now)
    messages = {
        ImportOutcome.CREATED: _("Playbook %(key)s imported as version %(version)d."),
        ImportOutcome.NEW_VERSION: _(
            "Playbook %(key)s has a new version %(version)d: new incidents get its tasks; "
            "open incidents keep theirs."
        ),
        ImportOutcome.UNCHANGED: _(
            "Playbook %(key)s is unchanged: the file is its current version %(version)d."
        ),
    }
    flash(messages[result.outcome] % {"key": result.key, "version": result.version}, "info")
    return redirect(url_for("playbooks.show", key=result.key), 303)


@blueprint.get("/playbooks/<key>")
def show(key: str) -> str:
    database_session = db_session()
    playbook = get_playbook(database_session, key)
    shown = version_of(database_session, playbook, version_argument(request.args))
    versions = playbook_versions(database_session, playbook)
    return render_template(
        "playbooks/show.html",
        playbook=playbook,
        shown=shown,
        tasks=tasks_of(shown),
        versions=versions,
        counts={version.version: len(tasks_of(version)) for version in versions},
    )


@blueprint.get("/playbooks/<key>/playbook.yml")
def download(key: str) -> Response:
    database_session = db_session()
    playbook = get_playbook(database_session, key)
    shown = version_of(database_session, playbook, version_argument(request.args))
    filename = f"{playbook.key}-v{shown.version}.yml"
    return Response(
        playbook_yaml(playbook, shown),
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
