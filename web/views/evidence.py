"""Evidence in the console: uploading files to an incident, downloading them, their chain of
custody, and the incident report as PDF (see web/policy.py: INCIDENTS_READ to look and
download, INCIDENTS_WRITE to upload, EXPORT with a fresh step-up for the report).

Uploads are multipart with their own body limit, ``WACHTER_EVIDENCE_MAX_MB`` plus 64 KiB
for the envelope, set before anything reads the body (CSRFProtect reads the form in an
app-wide hook): a larger body is refused with 413 before it is buffered. What a file is,
is decided by ``incidents.evidence`` from its bytes; the client's Content-Type and name are
not trusted. Downloads are always attachments of type ``application/octet-stream``, with
``nosniff`` and ``Content-Security-Policy: sandbox``, so no browser renders or runs them;
the name goes out as an ASCII fallback and as RFC 6266 ``filename*`` (no CR/LF can get in).

The evidence section of the incident page (``evidence/_section.html``, included by
``incidents/show.html``) reads the incident's evidence through ``incident_evidence``.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from functools import partial
from typing import Final
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask_babel import gettext, ngettext
from flask_wtf.csrf import CSRFError
from werkzeug.wsgi import wrap_file

from access_control import record_audit
from core import DomainError, InvalidInput
from core.i18n import N_
from incidents.evidence import (
    MAX_FILES_PER_REQUEST,
    EvidenceIntegrityError,
    EvidenceTooLarge,
    add_evidence,
    check_upload_count,
    custody,
    get_evidence,
    incident_evidence,
    open_for_download,
)
from incidents.reports import incident_report_pdf
from web.auth import current_actor, record_after_rollback
from web.context import db_session, discard_changes, web_context, when_rendered
from web.errors import handle_error
from web.forms import form_field

blueprint = Blueprint("evidence", __name__)
UPLOAD_FIELD: Final = "files"
MEBIBYTE: Final = 1024 * 1024
# The multipart envelope around the files: boundaries, part headers, the other fields.
FORM_OVERHEAD: Final = 64 * 1024
# Parts besides the files (CSRF token, description) and a margin, so that a few files too
# many get the form's clear message; far more parts are refused (413) while parsing.
_OTHER_PARTS: Final = 8
_RFC5987_SAFE: Final = "!#$&+^`|~"


@blueprint.record_once
def _read_uploads_under_their_own_limit(state: BlueprintSetupState) -> None:
    # Setting the limits reads nothing: the policy check still comes before any body is read.
    state.app.before_request_funcs.setdefault(None, []).insert(0, _upload_limits)


def _upload_limits() -> None:
    if request.endpoint == "evidence.upload":
        request.max_content_length = max_file_bytes() + FORM_OVERHEAD
        request.max_form_parts = MAX_FILES_PER_REQUEST + _OTHER_PARTS


@blueprint.app_context_processor
def _template_values() -> dict[str, object]:
    return {
        "incident_evidence": lambda incident_id: incident_evidence(db_session(), incident_id),
        "evidence_max_mb": web_context().settings.evidence_max_mb,
        "evidence_max_files": MAX_FILES_PER_REQUEST,
        "incident_page": incident_page,
    }


@blueprint.get("/incidents/<int:incident_id>/evidence")
def index(incident_id: int) -> str:
    section = incident_evidence(db_session(), incident_id)
    _audit_read(f"incident:{incident_id}", listed=len(section.evidence))
    return render_template("evidence/index.html", incident=section.incident)


@blueprint.post("/incidents/<int:incident_id>/evidence")
def upload(incident_id: int) -> Response:
    uploads = [sent for sent in request.files.getlist(UPLOAD_FIELD) if sent.filename]
    check_upload_count(len(uploads))
    description = form_field("description")
    for sent in uploads:
        add_evidence(
            db_session(),
            incident_id=incident_id,
            stream=sent.stream,
            filename=sent.filename or "",
            description=description,
            actor=current_actor(),
            now=_now(),
            data_dir=web_context().settings.data_dir,
            max_bytes=max_file_bytes(),
        )
    count = len(uploads)
    flash(
        ngettext("%(num)d file added as evidence.", "%(num)d files added as evidence.", count),
        "info",
    )
    return redirect(incident_page(incident_id), 303)  # type: ignore[return-value]


@blueprint.get("/evidence/<int:evidence_id>/download")
def download(evidence_id: int) -> Response:
    verified = open_for_download(
        db_session(),
        evidence_id=evidence_id,
        actor=current_actor(),
        now=_now(),
        data_dir=web_context().settings.data_dir,
    )
    response = Response(
        wrap_file(request.environ, verified.file),
        mimetype="application/octet-stream",
        direct_passthrough=True,
    )
    response.headers["Content-Length"] = str(verified.evidence.size)
    response.headers["Content-Disposition"] = content_disposition(verified.evidence.original_name)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox"
    return response


@blueprint.get("/evidence/<int:evidence_id>/custody")
def custody_log(evidence_id: int) -> str:
    session = db_session()
    evidence = get_evidence(session, evidence_id)
    entries = custody(session, evidence.id)
    _audit_read(f"evidence:{evidence.id}", listed=len(entries))
    return render_template(
        "evidence/custody.html",
        evidence=evidence,
        entries=entries,
        incident_url=incident_page(evidence.incident_id),
    )


@blueprint.get("/incidents/<int:incident_id>/report.pdf")
def report(incident_id: int) -> Response:
    document = incident_report_pdf(
        db_session(), incident_id, actor=current_actor(), now=_now(), translate=gettext
    )
    response = Response(document, mimetype="application/pdf")
    response.headers["Content-Disposition"] = content_disposition(
        f"incident-{incident_id}-report.pdf"
    )
    return response


@blueprint.errorhandler(InvalidInput)
def _refused_upload(error: InvalidInput) -> Response | tuple[str, int]:
    """A refused file: nothing of the upload is kept, the refusal is audited, and the form
    is shown again with the reason (400)."""
    return _upload_refused(error, status=400)


@blueprint.errorhandler(EvidenceTooLarge)
def _too_large(error: EvidenceTooLarge) -> Response | tuple[str, int]:
    """Over the size of a file or the incident's quota: the same, with status 413."""
    return _upload_refused(error, status=413)


def _upload_refused(error: DomainError, *, status: int) -> Response | tuple[str, int]:
    if request.endpoint != "evidence.upload":
        response = handle_error(error)
        assert isinstance(response, Response)
        return response
    discard_changes()  # files already kept by this upload go with its rollback
    incident_id = (request.view_args or {}).get("incident_id")
    # Refusals are worth seeing (someone trying HTML as a PDF); the reason's template
    # names the rule that refused, never the file or its content.
    record_after_rollback(
        "evidence.refused", f"incident:{incident_id}", "failure", {"reason": error.template}
    )
    message = gettext(error.template, **error.params)
    return render_template("evidence/upload.html", error=message, incident_id=incident_id), status


@blueprint.errorhandler(CSRFError)
def _unreadable_upload(error: CSRFError) -> Response | tuple[str, int]:
    """A refused upload says why when its body could not be read (SECURITY_CASES 54).

    Werkzeug drops a malformed multipart body whole (no boundary, cut short, a part header
    that is not UTF-8), so the CSRF check finds no token: the refusal is audited as
    ``csrf.rejected`` as always, and the form is shown again with the likely reason.
    """
    response = handle_error(error)
    if request.endpoint != "evidence.upload":
        assert isinstance(response, Response)
        return response
    message = gettext(_upload_problem())
    incident_id = (request.view_args or {}).get("incident_id")
    return render_template("evidence/upload.html", error=message, incident_id=incident_id), 400


@blueprint.errorhandler(EvidenceIntegrityError)
def _integrity_failed(error: EvidenceIntegrityError) -> Response:
    # The failure's audit and custody entries are the point of the check: commit them
    # before the one error handler rolls the request back (nothing else was changed).
    db_session().commit()
    response = handle_error(error)
    assert isinstance(response, Response)
    return response


def _upload_problem() -> str:
    if request.mimetype != "multipart/form-data":
        return N_("Evidence must be sent as a form with files (multipart/form-data).")
    if not request.mimetype_params.get("boundary"):
        return N_("The upload has no multipart boundary, so its files cannot be read.")
    return N_(
        "The upload could not be read: its multipart body is malformed or incomplete, or "
        "the form had expired. Choose the files and send them again."
    )


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the exact name as RFC 6266 ``filename*``."""
    return (
        f'attachment; filename="{ascii_fallback(name)}"; '
        f"filename*=UTF-8''{quote(name, safe=_RFC5987_SAFE)}"
    )


def ascii_fallback(name: str) -> str:
    """Printable ASCII without quotes, backslashes or percent signs (browsers decode those)."""
    decomposed = unicodedata.normalize("NFKD", name)
    text = "".join(
        character if 0x20 <= ord(character) < 0x7F and character not in '"\\%' else "_"
        for character in decomposed
        if not unicodedata.combining(character)
    )
    return text.strip() or "evidence"


def incident_page(incident_id: int) -> str:
    """The incident's page, at its evidence section."""
    return url_for("incidents.show", incident_id=incident_id, _anchor="evidence")


def max_file_bytes() -> int:
    return web_context().settings.evidence_max_mb * MEBIBYTE


def _audit_read(target: str, *, listed: int) -> None:
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="evidence.read",
            target=target,
            outcome="success",
            now=_now(),
            details={"listed": listed},
        )
    )


def _now() -> datetime:
    return web_context().clock.now()
