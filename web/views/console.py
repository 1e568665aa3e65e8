"""The console's start: where each visitor belongs, the dashboard, the language switch."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from access_control import Permission, permissions_of
from web.auth import current_user
from web.i18n import LANGUAGE_COOKIE, LANGUAGES
from web.security import safe_redirect_target

blueprint = Blueprint("console", __name__)
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


@blueprint.get("/")
def index() -> Response:
    """Each visitor to where they belong: sign-in, the next login step, or their start page."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))  # type: ignore[return-value]
    if Permission.CONSOLE in permissions_of(user.role):
        return redirect(url_for("console.dashboard"))  # type: ignore[return-value]
    if Permission.REPORT_SUBMIT in permissions_of(user.role):
        # Staff come to report, or to see what became of a report.
        return redirect(url_for("reports.mine"))  # type: ignore[return-value]
    return redirect(url_for("account.show"))  # type: ignore[return-value]


@blueprint.get("/dashboard")
def dashboard() -> str:
    return render_template("console/dashboard.html", user=current_user())


@blueprint.post("/language")
def set_language() -> Response:
    language = request.form.get("language", "")
    if language not in LANGUAGES:
        raise BadRequest()
    response: Response = redirect(safe_redirect_target(request.form.get("next")), code=303)  # type: ignore[assignment]
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_MAX_AGE,
        secure=True,
        httponly=True,
        samesite="Lax",
    )
    return response
