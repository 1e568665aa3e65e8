"""The one error handler: JSON under /api and for operations probes, a page elsewhere.

Never a stack trace or a database message: unexpected errors are logged with the request
id and the user gets the id to quote.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from access_control.errors import StepUpRequired
from core import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied
from storage import DatabaseFault, database_fault
from web.auth import record_after_rollback
from web.context import discard_changes
from web.security import request_id

log = logging.getLogger("wachter.web")

_DOMAIN_STATUS: list[tuple[type[DomainError], int]] = [
    (StepUpRequired, 401),  # before PermissionDenied, its parent
    (NotFound, 404),
    (PermissionDenied, 403),
    (Conflict, 409),
    (InvalidInput, 400),
]
_TITLES = {
    400: _l("The request could not be understood"),
    401: _l("Please sign in"),
    403: _l("You may not do this"),
    404: _l("Page not found"),
    405: _l("This action is not allowed here"),
    409: _l("This conflicts with the current state"),
    413: _l("The request is too large"),
    415: _l("This type of content is not accepted here"),
    429: _l("Too many requests; please wait a moment"),
    500: _l("Something went wrong on our side"),
    503: _l("The service is temporarily unavailable"),
}
_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}
_JSON_PATHS = ("/healthz", "/readyz", "/api")


def init_app(app: Flask) -> None:
    app.register_error_handler(Exception, handle_error)


def handle_error(error: Exception) -> Response | HTTPException:
    if isinstance(error, HTTPException) and (error.code or 500) < 400:
        return error  # routing redirects (e.g. a missing trailing slash) are not errors
    discard_changes()
    _audit_refusal(error)
    fault = _database_fault(error)
    status, message, headers = fault or _describe(error)
    if status >= 500 and fault is None:
        cause = getattr(error, "original_exception", None) or error
        log.error("unhandled error", exc_info=cause, extra={"http.request.id": request_id()})
    accept = request.accept_mimetypes  # no Accept header means any type (RFC 9110 12.5.1)
    wants_json = request.path in _JSON_PATHS or request.path.startswith("/api/")
    if wants_json or (accept and not accept.accept_html):
        body = {
            "error": {
                "status": status,
                "code": "step_up_required"
                if isinstance(error, StepUpRequired)
                else _CODES.get(status, "error"),
                "message": message,
                "request_id": request_id(),
            }
        }
        response = jsonify(body)
        response.status_code = status
    else:
        response = Response(
            render_template(
                "error.html",
                status=status,
                title=_TITLES.get(status, message),
                language_next="/",  # an error page never echoes the requested path
                message=message,
                request_id=request_id(),
            ),
            status=status,
        )
    for name, value in headers:
        response.headers[name] = value
    return response


def _audit_refusal(error: Exception) -> None:
    """Refusals the policy or CSRF layer made are audited after the rollback."""
    denial = g.pop("audit_denial", None)
    if denial is None and isinstance(error, CSRFError):
        denial = (
            "csrf.rejected",
            f"{request.method} {request.path}",
            {"reason": error.description},
        )
    if denial is not None:
        action, target, details = denial
        record_after_rollback(action, target, "denied", details)


def _translated(error: DomainError) -> str:
    """The domain's English text (marked with core.i18n.N_) in the reader's language."""
    return str(gettext(error.template, **error.params))


def _describe(error: Exception) -> tuple[int, str, list[tuple[str, str]]]:
    if isinstance(error, HTTPException):
        status = error.code or 500
        headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
        return status, str(_TITLES.get(status, error.name)), headers
    if isinstance(error, DomainError):
        message = _translated(error)
        for kind, status in _DOMAIN_STATUS:
            if isinstance(error, kind):
                return status, message, []
        return 400, message, []
    return 500, str(_TITLES[500]), []


# A database that is busy, full or away is a 503 that says so and when to try again, not an
# "internal error": nothing of the request was stored (its transaction is rolled back).
_FAULTS = {
    DatabaseFault.BUSY: (_l("The database is busy. Nothing was stored; try again in a moment."), 5),
    DatabaseFault.UNREACHABLE: (
        _l("The database cannot be reached. Nothing was stored; try again in a moment."),
        10,
    ),
    DatabaseFault.FULL: (
        _l("The database's disk is full. Nothing was stored; an administrator must make room."),
        60,
    ),
}


def _database_fault(error: Exception) -> tuple[int, str, list[tuple[str, str]]] | None:
    fault = database_fault(getattr(error, "original_exception", None) or error)
    if fault is None:
        return None
    message, retry_after = _FAULTS[fault]
    log.error(
        "database fault",
        extra={"wachter.database_fault": str(fault), "http.request.id": request_id()},
    )
    return 503, str(message), [("Retry-After", str(retry_after))]
