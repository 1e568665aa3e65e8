"""Console pages that need no account yet: the sign-in page and the language switch."""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.exceptions import BadRequest

from web.i18n import LANGUAGE_COOKIE, LANGUAGES
from web.security import safe_redirect_target

blueprint = Blueprint("console", __name__)
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


@blueprint.get("/")
def index() -> Response:
    return redirect(url_for("console.login"))  # type: ignore[return-value]


@blueprint.get("/login")
def login() -> str:
    return render_template("login.html")


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
