"""The signed-in user's own account: password, sessions, recovery codes, step-up, notices."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from access_control import audit, notices, recovery, sessions, users
from access_control import login as login_flow
from access_control.errors import WeakPassword
from access_control.login import Outcome
from access_control.models import AuthSession, User
from web.auth import current_actor, current_session, current_user, sign_out
from web.context import db_session, web_context
from web.forms import form_field
from web.security import safe_redirect_target

blueprint = Blueprint("account", __name__, url_prefix="/account")


def _me() -> tuple[User, AuthSession]:
    user, auth = current_user(), current_session()
    assert user is not None, "the policy table lets only signed-in users in"
    assert auth is not None
    return user, auth


@blueprint.get("")
def show() -> str:
    user, auth = _me()
    database_session = db_session()
    return render_template(
        "account/show.html",
        user=user,
        current=auth,
        sessions=sessions.list_sessions(database_session, user_id=user.id),
        recovery_left=recovery.remaining_recovery_codes(database_session, user=user),
        notices=[
            (notice, notices.details_of(notice))
            for notice in notices.unread_notices(database_session, user_id=user.id)
        ],
    )


@blueprint.post("/password")
def change_password() -> Response:
    user, auth = _me()
    context = web_context()
    checked = login_flow.recheck_password(
        db_session(),
        user=user,
        password=form_field("current"),
        hasher=context.hasher,
        actor=current_actor(),
        now=context.clock.now(),
    )
    if checked.outcome != Outcome.SIGNED_IN:
        return _wrong_current_password(locked=checked.outcome == Outcome.LOCKED)
    if request.form.get("password", "") != request.form.get("password_again", ""):
        raise WeakPassword(_("The two passwords differ."))
    users.set_password(
        db_session(),
        user=user,
        password=form_field("password"),
        hasher=context.hasher,
        actor=current_actor(),
        now=context.clock.now(),
        keep_session=auth,
    )
    flash(_("Your password was changed. Your other sessions and API tokens have ended."), "info")
    return redirect(url_for("account.show"), 303)  # type: ignore[return-value]


def _wrong_current_password(*, locked: bool) -> Response:
    """Not an exception: the failure must be committed (audit entry, MFA counter)."""
    if locked:
        sign_out()
        flash(_("Your account is locked. Ask an administrator to unlock it."), "error")
        return redirect(url_for("auth.login"), 303)  # type: ignore[return-value]
    flash(_("Your current password is not right."), "error")
    return redirect(url_for("account.show"), 303)  # type: ignore[return-value]


@blueprint.post("/logout-everywhere")
def logout_everywhere() -> Response:
    user, _auth = _me()
    ended = sessions.end_sessions_of(db_session(), user_id=user.id)
    audit.record(
        db_session(),
        actor=current_actor(),
        action="auth.logout",
        target=f"user:{user.username}",
        outcome="success",
        now=web_context().clock.now(),
        details={"everywhere": True, "logins_ended": ended},
    )
    sign_out()
    return redirect(url_for("auth.login"), 303)  # type: ignore[return-value]


@blueprint.post("/notices/read")
def mark_notices_read() -> Response:
    user, _auth = _me()
    notices.mark_read(db_session(), user_id=user.id, now=web_context().clock.now())
    flash(_("Security notices marked as read."), "info")
    return redirect(url_for("account.show", _anchor="notices"), 303)  # type: ignore[return-value]


@blueprint.route("/confirm", methods=["GET", "POST"])
def step_up() -> ResponseReturnValue:
    """Re-confirm password and code before a sensitive action (fresh for 10 minutes)."""
    next_page = safe_redirect_target(request.values.get("next"), default=url_for("account.show"))
    if request.method == "GET":
        return render_template("account/step_up.html", next_page=next_page)
    user, auth = _me()
    context = web_context()
    result = login_flow.step_up(
        db_session(),
        auth=auth,
        user=user,
        password=form_field("password"),
        code=form_field("code"),
        hasher=context.hasher,
        box=context.box,
        actor=current_actor(),
        now=context.clock.now(),
    )
    if result.outcome == Outcome.SIGNED_IN:
        return redirect(next_page, 303)
    if result.outcome == Outcome.LOCKED:
        sign_out()
        return redirect(url_for("auth.login"), 303)
    return render_template(
        "account/step_up.html", next_page=next_page, error=_("Password or code is not right.")
    ), 401


@blueprint.post("/recovery-codes")
def regenerate_recovery_codes() -> str:
    user, auth = _me()
    codes = users.regenerate_recovery_codes(
        db_session(),
        user=user,
        actor=current_actor(),
        now=web_context().clock.now(),
        keep_session=auth,
    )
    return render_template(
        "auth/recovery_codes.html", codes=codes, next_page=url_for("account.show")
    )


@blueprint.post("/reset-mfa")
def reset_own_mfa() -> Response:
    """Move to a new authenticator: TOTP is removed and set up again at the next sign-in."""
    user, _auth = _me()
    users.reset_mfa(db_session(), user=user, actor=current_actor(), now=web_context().clock.now())
    sign_out()
    flash(_("Your authenticator was removed. Sign in to set up a new one."), "info")
    return redirect(url_for("auth.login"), 303)  # type: ignore[return-value]
