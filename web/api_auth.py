"""Bearer-token authentication for the JSON API: ``@require_token(Scope.ALERTS_READ)``.

Only ``Authorization: Bearer <token>`` is read. A token in the query string is refused
(401) even when it is valid and even when a valid header comes with it: URLs end up in
proxy logs, browser history and Referer headers, so such a token must be treated as
leaked, and accepting the request would teach clients the habit. The session cookie is
never looked at, which is why the API blueprint is exempt from CSRF.

Every failure is the same 401 with ``WWW-Authenticate: Bearer`` (the reason is logged,
not told); a valid token without the needed scope gets 403.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from access_control.actor import Actor
from access_control.errors import InsufficientScope, InvalidToken
from access_control.models import ApiToken
from access_control.tokens import Scope, authenticate, check_scope, record_use
from storage.database import READ_ONLY
from web.context import db_session, web_context
from web.security import request_id

P = ParamSpec("P")
R = TypeVar("R")

REALM = "wachter"
# Query parameters that carry credentials by convention (RFC 6750 2.3 and common APIs).
_CREDENTIAL_PARAMETERS = frozenset({"token", "access_token", "api_key", "apikey", "api-key"})
_LOOKS_LIKE_TOKEN = re.compile(r"wch_[A-Za-z0-9_-]{12}_")
_BEARER = re.compile(r"Bearer +(\S+) *", re.IGNORECASE | re.ASCII)
# Set on every view wrapped by ``require_token``; a test checks each API route has it.
SCOPE_ATTRIBUTE = "required_token_scope"

log = logging.getLogger("wachter.web")


def require_token(scope: Scope | None = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Allow the view only with a valid bearer token that has ``scope`` (``None``: any)."""

    def decorate(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
            authenticate_request(scope)
            return view(*args, **kwargs)

        setattr(guarded, SCOPE_ATTRIBUTE, scope or "any")
        return guarded

    return decorate


def authenticate_request(scope: Scope | None) -> ApiToken:
    """Check the request's token; put it on ``g.api_token`` and its actor on ``g.api_actor``.

    Refusals are audited by the error handler after it rolled the request back
    (``g.audit_denial``); a request without any token is not, as scanners send plenty.
    """
    if _has_token_in_query():
        log.warning(
            "API token refused: sent in the query string; rotate it",
            extra={"http.request.id": request_id()},
        )
        _audit_denial("token.rejected", {"reason": "token in the query string"})
        raise _unauthorized(error="invalid_request")
    presented = _bearer_token()
    if presented is None:
        log.info("API request without a bearer token", extra={"http.request.id": request_id()})
        raise _unauthorized()
    session, now = db_session(), web_context().clock.now()
    if not session.in_transaction():
        # Checking a token only reads: on SQLite a deferred transaction, so an API call
        # does not queue behind another request's write lock just to be let in.
        session.connection(execution_options={READ_ONLY: True})
    try:
        token = authenticate(
            session, presented=presented, scope=None, now=now, ip=request.remote_addr, record=False
        )
    except InvalidToken:
        _audit_denial("token.rejected", {"reason": "invalid token"})
        raise _unauthorized(error="invalid_token") from None
    session.commit()  # end the read; recording the use is a write transaction of its own
    record_use(session, token, now=now, ip=request.remote_addr)
    g.api_token = token
    g.api_actor = Actor(
        name=f"token:{token.name}",
        user_id=token.owner_id,
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
        request_id=request_id(),
    )
    if scope is not None:
        try:
            check_scope(token, scope)
        except InsufficientScope:
            _audit_denial(
                "authz.denied", {"reason": f"needs {scope}", "client": f"token:{token.id}"}
            )
            raise
    return token


def current_token() -> ApiToken:
    """The token of this API request (only inside a view guarded by ``require_token``)."""
    token: ApiToken = g.api_token
    return token


def current_actor() -> Actor:
    actor: Actor = g.api_actor
    return actor


def _has_token_in_query() -> bool:
    for name, value in request.args.items(multi=True):
        if name.lower() in _CREDENTIAL_PARAMETERS or _LOOKS_LIKE_TOKEN.search(value):
            return True
    return False


def _bearer_token() -> str | None:
    headers = request.headers.getlist("Authorization")
    if len(headers) != 1:
        return None  # none, or ambiguous
    match = _BEARER.fullmatch(headers[0])
    return match.group(1) if match else None


def _audit_denial(action: str, details: dict[str, str]) -> None:
    rule = request.url_rule.rule if request.url_rule else request.path
    g.audit_denial = (action, f"{request.method} {rule}", details)


def _unauthorized(error: str | None = None) -> Unauthorized:
    values: dict[str, str | None] = {"realm": REALM}
    if error:
        values["error"] = error
    return Unauthorized(www_authenticate=WWWAuthenticate("bearer", values))
