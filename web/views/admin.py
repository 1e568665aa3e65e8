"""Administration: accounts (USERS_ADMIN) and API tokens (TOKENS_ADMIN); see web/policy.py.

One-time secrets, an enrolment link or a new API token, are rendered into the response to
the POST that made them and nowhere else: never flashed (a flash lives in the session
cookie), never logged (the access log names the route pattern, not the page), never stored
(the database keeps digests only). Reloading that page repeats the POST, it does not
show the secret again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from access_control import Role, enrolment
from access_control import tokens as token_service
from access_control import users as user_service
from access_control.models import User
from core import InvalidInput
from web.auth import current_actor, current_user
from web.context import db_session, web_context
from web.forms import form_field

blueprint = Blueprint("admin", __name__, url_prefix="/admin")
MAX_TOKEN_DAYS = token_service.MAX_LIFETIME.days
_DAYS = re.compile(r"[0-9]{1,3}", re.ASCII)
Change = Callable[..., None]  # a users service: (session, *, user, actor, now) -> None


@blueprint.get("/users")
def users() -> str:
    return render_template(
        "admin/users.html",
        accounts=user_service.list_users(db_session()),
        roles=list(Role),
        state_of=user_service.user_state,
        me=current_user(),
    )


@blueprint.post("/users")
def create_user() -> tuple[str, int]:
    """A new account and its one-time enrolment link, shown in this response only."""
    database_session, actor, now = db_session(), current_actor(), _now()
    user = user_service.create_user(
        database_session,
        username=form_field("username"),
        display_name=form_field("display_name"),
        role=form_field("role"),
        actor=actor,
        now=now,
    )
    if form_field("email").strip():
        user_service.set_email(
            database_session, user=user, email=form_field("email"), actor=actor, now=now
        )
    token = enrolment.create_enrolment_link(database_session, user=user, actor=actor, now=now)
    return _show_link(user, token, title=_("Account created")), 201


@blueprint.post("/users/<path:username>/enrolment-link")
def new_enrolment_link(username: str) -> str:
    """A new link (a forgotten password, a lost first link); earlier links stop working."""
    user = user_service.get_user(db_session(), username)
    token = enrolment.create_enrolment_link(
        db_session(), user=user, actor=current_actor(), now=_now()
    )
    return _show_link(user, token, title=_("New enrolment link"))


@blueprint.post("/users/<path:username>/disable")
def disable_user(username: str) -> Response:
    user = _change(username, user_service.disable_user)
    return _done(
        "admin.users",
        _("%(name)s is disabled: their sessions and API tokens have ended.", name=user.username),
    )


@blueprint.post("/users/<path:username>/end-sessions")
def end_sessions(username: str) -> Response:
    user = _change(username, user_service.end_access)
    return _done(
        "admin.users",
        _("%(name)s is signed out everywhere and their API tokens have ended.", name=user.username),
    )


@blueprint.post("/users/<path:username>/enable")
def enable_user(username: str) -> Response:
    user = _change(username, user_service.enable_user)
    return _done("admin.users", _("%(name)s can sign in again.", name=user.username))


@blueprint.post("/users/<path:username>/unlock")
def unlock_user(username: str) -> Response:
    user = _change(username, user_service.unlock_user)
    return _done("admin.users", _("%(name)s is unlocked.", name=user.username))


@blueprint.post("/users/<path:username>/reset-mfa")
def reset_mfa(username: str) -> Response:
    user = _change(username, user_service.reset_mfa)
    return _done(
        "admin.users",
        _(
            "%(name)s sets up a new authenticator at the next sign-in; "
            "their sessions and API tokens have ended.",
            name=user.username,
        ),
    )


@blueprint.post("/users/<path:username>/role")
def change_role(username: str) -> Response:
    user = user_service.get_user(db_session(), username)
    user_service.change_role(
        db_session(), user=user, role=form_field("role"), actor=current_actor(), now=_now()
    )
    return _done(
        "admin.users",
        _("%(name)s has a new role; their sessions and API tokens have ended.", name=user.username),
    )


@blueprint.post("/users/<path:username>/email")
def change_email(username: str) -> Response:
    """Where the account's notifications go; an empty field removes the address."""
    user = user_service.get_user(db_session(), username)
    user_service.set_email(
        db_session(), user=user, email=form_field("email"), actor=current_actor(), now=_now()
    )
    return _done("admin.users", _("The e-mail address of %(name)s is saved.", name=user.username))


@blueprint.get("/tokens")
def tokens() -> str:
    database_session = db_session()
    return render_template(
        "admin/tokens.html",
        tokens=token_service.list_tokens(database_session),
        owners={user.id: user.username for user in user_service.list_users(database_session)},
        state_of=token_service.token_state,
        now=_now(),
        scopes=list(token_service.Scope),
        max_days=MAX_TOKEN_DAYS,
    )


@blueprint.post("/tokens")
def create_token() -> tuple[str, int]:
    """A token owned by the creating administrator, shown in this response only."""
    actor = current_actor()
    token, token_text = token_service.create_token(
        db_session(),
        name=form_field("name"),
        scopes=token_service.parse_scopes(",".join(request.form.getlist("scope"))),
        owner_id=actor.user_id,
        expires_in=timedelta(days=_lifetime_days()),
        actor=actor,
        now=_now(),
    )
    return render_template("admin/token_created.html", token=token, token_text=token_text), 201


@blueprint.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Response:
    token = token_service.revoke_token(
        db_session(), token_id=token_id, actor=current_actor(), now=_now()
    )
    return _done("admin.tokens", _("The token “%(name)s” is revoked.", name=token.name))


def _change(username: str, change: Change) -> User:
    user = user_service.get_user(db_session(), username)
    change(db_session(), user=user, actor=current_actor(), now=_now())
    return user


def _show_link(user: User, token: str, *, title: str) -> str:
    path = url_for("auth.enrolment_link", token=token)
    public_url = web_context().settings.public_url
    link = public_url.rstrip("/") + path if public_url else request.host_url.rstrip("/") + path
    return render_template(
        "admin/enrolment_link.html",
        title=title,
        account=user,
        link=link,
        valid_until=_now() + enrolment.ENROLMENT_TTL,
    )


def _lifetime_days() -> int:
    text = request.form.get("days", "").strip()
    if not _DAYS.fullmatch(text) or not 1 <= int(text) <= MAX_TOKEN_DAYS:
        message = _("Choose a lifetime of 1 to %(days)d days.", days=MAX_TOKEN_DAYS)
        raise InvalidInput(message, field="days")
    return int(text)


def _now() -> datetime:
    return web_context().clock.now()


def _done(endpoint: str, message: str) -> Response:
    flash(message, "info")
    return redirect(url_for(endpoint), 303)  # type: ignore[return-value]
