"""Dutch first, English second: the locale of each request and the language switch."""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from babel.support import NullTranslations
from flask import Flask, g, request
from flask_babel import Babel, get_locale, get_translations

LANGUAGES = {"nl": "Nederlands", "en": "English"}
DEFAULT_LANGUAGE = "nl"
LANGUAGE_COOKIE = "wachter_language"

babel = Babel()


def select_language() -> str:
    """The language cookie, else the browser's preference among ours, else Dutch."""
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES.keys()) or DEFAULT_LANGUAGE


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def percent(value: float | None) -> str:
    """A share in the reader's notation, one decimal: 3,3% in Dutch, 3.3% in English."""
    if value is None:
        return "—"
    return f"{format_decimal(value, format='0.0', locale=current_language())}%"


def _template_globals() -> dict[str, Any]:
    return {"current_language": current_language, "languages": LANGUAGES}


def request_translations() -> NullTranslations:
    """The request's catalogue, looked up once per request and kept on ``g``.

    Flask-Babel's template callables look it up again for every string (about ten
    context-local lookups each, some 400 strings on an incident page; bench/console). The
    locale is fixed for a request: it comes from the cookie or the browser, and the language
    switch answers with a redirect.
    """
    found: NullTranslations | None = g.get("_wachter_translations")
    if found is None:
        found = g._wachter_translations = get_translations()
    return found


def init_app(app: Flask) -> None:
    babel.init_app(app, default_locale=DEFAULT_LANGUAGE, locale_selector=select_language)
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda text: request_translations().ugettext(text),
        ngettext=lambda one, many, n: request_translations().ungettext(one, many, n),
        pgettext=lambda context, text: request_translations().upgettext(context, text),
        npgettext=lambda context, one, many, n: request_translations().unpgettext(
            context, one, many, n
        ),
        newstyle=True,
    )
    app.context_processor(_template_globals)
    app.add_template_filter(percent)
