"""The JSON API under ``/api/v1``, for machines with a bearer token (``Authorization: Bearer``).

Every view is guarded by ``web.api_auth.require_token``; none reads the session cookie,
so the blueprint is exempt from CSRF (there is no ambient credential to forge a request
with). Adding a cookie-authenticated view here would need CSRF back: put it elsewhere.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request
from flask.sansio.blueprints import BlueprintSetupState
from flask_babel import gettext

from access_control.tokens import Scope, scopes_of
from core import InvalidInput
from core.i18n import N_
from ingest import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ingest.search import EventSearchUnavailable
from web.api_auth import current_token, require_token
from web.context import discard_changes
from web.security import request_id
from web.views.events import run_search

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
_LIMIT = re.compile(r"[0-9]{1,9}", re.ASCII)


@blueprint.record_once
def _exempt_from_csrf(state: BlueprintSetupState) -> None:
    # web.app's CSRFProtect (it imports this module, so it is looked up, not imported);
    # create_app binds it with init_app before it registers the blueprints.
    state.app.extensions["csrf"].exempt(blueprint)


@blueprint.get("/token")
@require_token()
def token_introspection() -> Response:
    """What the presented token is: for SOC tooling to check its credential and expiry."""
    token = current_token()
    return jsonify(
        name=token.name,
        scopes=sorted(scopes_of(token)),
        expires_at=token.expires_at.isoformat(),
    )


@blueprint.get("/events")
@require_token(Scope.EVENTS_READ)
def search_events() -> Response:
    """Events matching ``q`` (Lucene syntax), newest first; ``next`` pages back.

    Arguments: ``q``, ``since``, ``until`` (ISO 8601 or ``now-24h``), ``before`` (the
    previous answer's ``next``), ``limit`` (default 50, at most 500). A query that cannot
    be run is a 400 whose message says why and where; in scale-out mode, a search cluster
    that cannot answer is a 503. Every search is audited.
    """
    page = run_search(request.args, limit=_limit(request.args.get("limit", "")))
    return jsonify(
        events=[{"id": event.id, "event": event.document} for event in page.events],
        next=page.next_before,
    )


@blueprint.errorhandler(EventSearchUnavailable)
def _search_unavailable(error: EventSearchUnavailable) -> tuple[Response, int]:
    """503 in the shape of every API error: the cluster is away, the request was fine."""
    discard_changes()
    message = gettext(error.template, **error.params)
    body = {"status": 503, "code": "unavailable", "message": message, "request_id": request_id()}
    return jsonify(error=body), 503


def _limit(text: str) -> int:
    if not text:
        return DEFAULT_PAGE_SIZE
    if not _LIMIT.fullmatch(text) or int(text) < 1:
        raise InvalidInput(
            N_("The limit must be a whole number from 1 to %(limit)d."),
            field="limit",
            limit=MAX_PAGE_SIZE,
        )
    return int(text)
