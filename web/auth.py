"""Who is asking, and may they: the session's user, the policy check, denial audits.

The Flask session (a signed cookie, ``__Host-session``) carries only the random session
token and the CSRF token; everything else lives server-side in ``auth_session`` and is
read fresh on every request, so a role change or a revoked session counts at once.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import Forbidden, Unauthorized

from access_control import Actor, Permission, Role, notices, permissions_of, sessions
from access_control import audit as audit_trail
from access_control.errors import StepUpRequired
from access_control.models import AuthSession, User
from access_control.sessions import Stage
from web.context import db_session, web_context, when_rendered
from web.policy import Access, Rule, rule_for
from web.security import request_id, safe_redirect_target

SESSION_TOKEN = "sid"  # noqa: S105 - a key name, not a secret
NEXT_PAGE = "next"
_UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
log = logging.getLogger("wachter.web")


ROLE_LABELS = {
    Role.ADMIN: _l("Administrator"),
    Role.SECURITY_OFFICER: _l("Security officer"),
    Role.SOC_ANALYST: _l("SOC analyst"),
    Role.STAFF: _l("Staff member"),
    Role.AUDITOR: _l("Auditor"),
}


def init_app(app: Flask) -> None:
    app.before_request(_load_identity)
    app.before_request(_enforce_policy)
    app.context_processor(_template_helpers)


def _template_helpers() -> dict[str, Any]:
    def user_permissions() -> list[str]:
        user = current_user()
        granted = permissions_of(user.role) if user else Permission.NONE
        return [
            permission.name
            for permission in Permission
            if permission in granted and permission.name
        ]

    def role_label(role: str) -> str:
        try:
            return str(ROLE_LABELS[Role(role)])
        except ValueError:
            return role

    return {
        "user_permissions": user_permissions,
        "role_label": role_label,
        "unread_notice_count": unread_notice_count,
    }


def unread_notice_count() -> int:
    """Unread security notices of the signed-in user: one COUNT per request, 0 if none.

    Not on a failed request: after its rollback a query would open a new transaction.
    """
    if "unread_notices" not in g:
        user, auth = current_user(), current_session()
        if g.get("request_failed") or user is None or auth is None or auth.stage != Stage.ACTIVE:
            return 0
        g.unread_notices = notices.count_unread(db_session(), user_id=user.id)
    count: int = g.unread_notices
    return count


def current_user() -> User | None:
    user: User | None = g.get("user")
    return user


def current_session() -> AuthSession | None:
    auth: AuthSession | None = g.get("auth")
    return auth


def current_actor() -> Actor:
    """The person signed in, or the API token of this request, or anonymous."""
    api_actor: Actor | None = g.get("api_actor")
    if api_actor is not None:
        return api_actor
    # Who signed in, as read when the request began, not from the ORM object: after the
    # error handler's rollback that object is expired, and reloading it would begin a
    # transaction (on SQLite: take the write lock) before the refusal is audited in a
    # transaction of its own, which then waits, fails and is lost.
    name, user_id = g.get("identity") or ("anonymous", None)
    return Actor(
        name=name,
        user_id=user_id,
        ip=request.remote_addr,
        user_agent=request.user_agent.string or None,
        request_id=request_id(),
    )


def sign_in(token: str, *, next_page: str | None = None) -> None:
    """Put a new session token in a brand-new cookie session (new CSRF token too)."""
    session.clear()
    session[SESSION_TOKEN] = token
    if next_page:
        session[NEXT_PAGE] = next_page


def sign_out() -> None:
    session.clear()


def record_after_rollback(
    action: str, target: str, outcome: str, details: dict[str, Any] | None = None
) -> None:
    """Audit a refusal in a transaction of its own: the request's own work is rolled back."""
    with web_context().database.unit_of_work() as audit_session:
        audit_trail.record(
            audit_session,
            actor=current_actor(),
            action=action,
            target=target,
            outcome=outcome,
            now=web_context().clock.now(),
            details=details,
        )


def _load_identity() -> None:
    g.user = g.auth = g.identity = None
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str):
        return
    database_session, now = db_session(), web_context().clock.now()
    auth = sessions.load_session(database_session, token=token, now=now, touch=False)
    if auth is None:
        session.pop(SESSION_TOKEN, None)
        return
    # A page view writes the last-seen time after rendering, as its audit entry: written
    # here it held SQLite's write lock through the whole view (bench/console).
    when_rendered(partial(sessions.touch_session, auth=auth, now=now))
    g.auth = auth
    g.user = database_session.get(User, auth.user_id)
    g.identity = (g.user.username, g.user.id) if g.user is not None else None


def _enforce_policy() -> ResponseReturnValue | None:
    if request.endpoint is None:
        return None  # routing failed: 404/405 follow
    rule = rule_for(request.endpoint, request.method)
    if rule is None:
        log.error(
            "route missing from the policy table", extra={"wachter.endpoint": request.endpoint}
        )
        _deny("route not in policy")
    assert rule is not None
    if request.method in _UNSAFE and rule.access != Access.TOKEN:
        _refuse_cross_site()
    if rule.access in (Access.PUBLIC, Access.TOKEN):
        return None
    auth = current_session()
    if auth is None:
        return _sign_in_first()
    return _check_stage(rule, auth)


def _check_stage(rule: Rule, auth: AuthSession) -> ResponseReturnValue | None:
    wanted = {Access.MFA_PENDING: Stage.MFA, Access.ENROL_PENDING: Stage.ENROL}.get(rule.access)
    if rule.access == Access.ANY_SESSION:
        return None
    if wanted is not None:
        return None if auth.stage == wanted else _continue_where_you_are(auth)
    if auth.stage != Stage.ACTIVE:
        return _continue_where_you_are(auth)
    user = current_user()
    assert user is not None
    if rule.permission not in permissions_of(user.role):
        _deny(f"needs {rule.permission.name}")
    if rule.step_up and not sessions.has_fresh_step_up(auth, web_context().clock.now()):
        return _step_up_first()
    return None


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _sign_in_first() -> Response:
    if _wants_json():
        raise Unauthorized()
    if request.headers.get("HX-Request") == "true":
        # An htmx refresh after the session ended: htmx would follow a redirect and swap the
        # sign-in page into a panel. HX-Redirect makes it load the sign-in page as a page,
        # returning to the page the person was on (only a path of this site).
        current = urlsplit(request.headers.get("HX-Current-URL", "")).path
        on_page = safe_redirect_target(current, default="") or None
        response = Response(status=204)
        response.headers["HX-Redirect"] = url_for("auth.login", next=on_page)
        return response
    target = request.full_path.rstrip("?") if request.method == "GET" else None
    return redirect(url_for("auth.login", next=target))  # type: ignore[return-value]


def _continue_where_you_are(auth: AuthSession) -> Response:
    if _wants_json():
        raise Unauthorized()
    page = "auth.mfa" if auth.stage == Stage.MFA else "auth.enrol_totp"
    if auth.stage == Stage.ACTIVE:
        page = "console.index"
    return redirect(url_for(page))  # type: ignore[return-value]


def _step_up_first() -> Response:
    if _wants_json():
        raise StepUpRequired()  # 401, code "step_up_required"
    back = request.full_path.rstrip("?") if request.method == "GET" else _referrer_path()
    return redirect(url_for("account.step_up", next=back), code=303)  # type: ignore[return-value]


def _referrer_path() -> str | None:
    referrer = request.referrer or ""
    host = request.host_url
    return "/" + referrer[len(host) :] if referrer.startswith(host) else None


def _refuse_cross_site() -> None:
    """A browser's cross-site POST never reaches a cookie-authenticated action (ASVS 3.5)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    own_origin = request.host_url.rstrip("/")
    if fetch_site == "cross-site" or (origin is not None and origin != own_origin):
        g.audit_denial = (
            "csrf.rejected",
            f"{request.method} {request.path}",
            {"reason": "cross-site"},
        )
        raise Forbidden()


def _deny(reason: str) -> None:
    rule = request.url_rule.rule if request.url_rule else request.path
    g.audit_denial = ("authz.denied", f"{request.method} {rule}", {"reason": reason})
    raise Forbidden()
