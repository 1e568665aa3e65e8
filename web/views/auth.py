"""Signing in: password, then a TOTP code (or enrolment), first-admin setup, enrolment links."""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from access_control import enrolment, sessions, totp, users
from access_control import login as login_flow
from access_control.enrolment import Purpose
from access_control.errors import WeakPassword
from access_control.login import Outcome, Result
from access_control.models import AuthSession, EnrolmentLink, User
from access_control.roles import Role
from access_control.sessions import Stage
from web.auth import NEXT_PAGE, current_actor, current_session, current_user, sign_in, sign_out
from web.context import db_session, web_context
from web.forms import form_errors_in_place, form_field
from web.security import safe_redirect_target

blueprint = Blueprint("auth", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("auth/login.html", next_page=request.args.get("next", ""))
    context = web_context()
    result = login_flow.password_step(
        db_session(),
        username=form_field("username"),
        password=form_field("password"),
        hasher=context.hasher,
        actor=current_actor(),
        now=context.clock.now(),
    )
    if result.token is None:
        return _login_failed(result)
    sign_in(result.token, next_page=safe_redirect_target(request.form.get("next"), default=""))
    return redirect(
        url_for("auth.mfa" if result.outcome == Outcome.MFA_NEEDED else "auth.enrol_totp"), 303
    )


def _login_failed(result: Result) -> ResponseReturnValue:
    if result.outcome == Outcome.THROTTLED:
        error = _(
            "Too many failed attempts from your address. Try again in %(minutes)d minutes.",
            minutes=max(1, result.retry_after // 60),
        )
        page = render_template("auth/login.html", error=error, next_page="")
        return page, 429, {"Retry-After": str(result.retry_after)}
    page = render_template(
        "auth/login.html",
        error=_("Invalid username or password."),
        next_page=request.form.get("next", ""),
    )
    return page, 401


@blueprint.route("/login/code", methods=["GET", "POST"])
def mfa() -> ResponseReturnValue:
    if request.method == "GET":
        return render_template("auth/mfa.html")
    auth, user = _pending()
    context = web_context()
    result = login_flow.mfa_step(
        db_session(),
        auth=auth,
        user=user,
        code=form_field("code"),
        box=context.box,
        actor=current_actor(),
        now=context.clock.now(),
    )
    return _after_code(result, template="auth/mfa.html")


def _after_code(result: Result, *, template: str) -> ResponseReturnValue:
    if result.outcome == Outcome.SIGNED_IN and result.token:
        next_page = session.get(NEXT_PAGE) or url_for("console.index")
        sign_in(result.token)
        if result.recovery_codes:
            return render_template(
                "auth/recovery_codes.html", codes=result.recovery_codes, next_page=next_page
            )
        return redirect(next_page, 303)
    if result.outcome in (Outcome.RESTART, Outcome.LOCKED):
        sign_out()
        flash(
            _("Please sign in again.")
            if result.outcome == Outcome.RESTART
            else _("Your account is locked. Ask an administrator to unlock it."),
            "error",
        )
        return redirect(url_for("auth.login"), 303)
    if result.outcome == Outcome.THROTTLED:
        return (
            render_template(template, error=_("Too many codes tried. Wait a minute.")),
            429,
            {"Retry-After": str(result.retry_after)},
        )
    return render_template(
        template, error=_("That code is not valid. Try the next one."), **_enrolment_view()
    ), 401


@blueprint.route("/login/enrol", methods=["GET", "POST"])
def enrol_totp() -> ResponseReturnValue:
    auth, user = _pending()
    context = web_context()
    if request.method == "GET":
        secret = login_flow.enrolment_secret(
            db_session(), auth=auth, user=user, box=context.box, now=context.clock.now()
        )
        return render_template("auth/enrol_totp.html", **_enrolment_view(secret))
    result = login_flow.confirm_enrolment(
        db_session(),
        auth=auth,
        user=user,
        code=form_field("code"),
        box=context.box,
        actor=current_actor(),
        now=context.clock.now(),
    )
    return _after_code(result, template="auth/enrol_totp.html")


def _enrolment_view(secret: str | None = None) -> dict[str, str]:
    """The QR code and secret of the pending enrolment, to show again after a wrong code."""
    user, auth = current_user(), current_session()
    if auth is None or auth.stage != Stage.ENROL or user is None:
        return {}
    if secret is None:
        if user.totp_pending_secret is None:
            return {}
        secret = web_context().box.decrypt(user.totp_pending_secret)
    uri = totp.provisioning_uri(secret, username=user.username)
    return {"secret": secret, "qr_code": totp.qr_code_svg_data_uri(uri)}


@blueprint.post("/logout")
def logout() -> Response:
    auth = current_session()
    if auth is not None:
        login_flow.sign_out(
            db_session(), auth=auth, actor=current_actor(), now=web_context().clock.now()
        )
    sign_out()
    return redirect(url_for("auth.login"), 303)  # type: ignore[return-value]


@blueprint.route("/setup/<token>", methods=["GET", "POST"])
@form_errors_in_place("auth/setup.html")
def setup(token: str) -> ResponseReturnValue:
    """The first administrator chooses a name and password, then enrols TOTP."""
    database_session, now = db_session(), web_context().clock.now()
    if users.has_administrator(database_session):
        raise enrolment.InvalidLink()
    link = enrolment.find_valid_link(
        database_session, token=token, purpose=Purpose.FIRST_ADMIN, now=now
    )
    if request.method == "GET":
        return render_template("auth/setup.html")
    _check_repeated_password()
    user = users.create_user(
        database_session,
        username=form_field("username"),
        display_name=form_field("display_name"),
        role=Role.ADMIN,
        actor=current_actor(),
        now=now,
    )
    return _password_chosen(user, link)


@blueprint.route("/enrol/<token>", methods=["GET", "POST"])
@form_errors_in_place("auth/enrolment_link.html")
def enrolment_link(token: str) -> ResponseReturnValue:
    """A new (or reset) account chooses its password; TOTP follows unless already enrolled."""
    database_session, now = db_session(), web_context().clock.now()
    link = enrolment.find_valid_link(
        database_session, token=token, purpose=Purpose.ENROLMENT, now=now
    )
    user = database_session.get(User, link.user_id) if link.user_id else None
    if user is None or not user.is_active:
        raise enrolment.InvalidLink()
    if request.method == "GET":
        return render_template("auth/enrolment_link.html", user=user)
    _check_repeated_password()
    return _password_chosen(user, link)


def _password_chosen(user: User, link: EnrolmentLink) -> Response:
    context, database_session, now = web_context(), db_session(), web_context().clock.now()
    users.set_password(
        database_session,
        user=user,
        password=form_field("password"),
        hasher=context.hasher,
        actor=current_actor(),
        now=now,
    )
    enrolment.consume_link(database_session, link=link, now=now)
    # A password reset never signs anyone in past MFA (SECURITY_CASES 12).
    stage = Stage.MFA if user.totp_secret is not None else Stage.ENROL
    sign_in(
        sessions.start_session(
            database_session, user=user, stage=stage, actor=current_actor(), now=now
        )
    )
    return redirect(url_for("auth.mfa" if stage == Stage.MFA else "auth.enrol_totp"), 303)  # type: ignore[return-value]


def _check_repeated_password() -> None:
    if form_field("password") != form_field("password_again"):
        raise WeakPassword(_("The two passwords differ."))


def _pending() -> tuple[AuthSession, User]:
    auth, user = current_session(), current_user()
    assert auth is not None, "the policy table lets only a pending session in"
    assert user is not None
    return auth, user
