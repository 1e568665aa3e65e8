"""Dutch first, English second: the locale of each request and the language switch."""

from __future__ import annotations

from typing import Any

from babel.numbers import format_decimal
from flask import Flask, request
from flask_babel import Babel, get_locale

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


def init_app(app: Flask) -> None:
    babel.init_app(app, default_locale=DEFAULT_LANGUAGE, locale_selector=select_language)
    app.context_processor(_template_globals)
    app.add_template_filter(percent)
