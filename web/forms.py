"""Reading form fields: one place that bounds their length.

Longer input is cut, so a credential over the limit fails like any wrong one (the services
refuse more than 1024 characters before hashing) and no field can grow a log or a query.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import render_template, request
from flask_babel import gettext
from werkzeug.datastructures import MultiDict

from core import InvalidInput
from core.i18n import N_
from web.context import discard_changes

P = ParamSpec("P")
R = TypeVar("R")

MAX_FIELD = 2048


def form_field(name: str) -> str:
    return request.form.get(name, "")[:MAX_FIELD]


def version_argument(args: MultiDict[str, str]) -> int | None:
    """The ``version`` query argument of a versioned thing's page (a rule, a playbook): None
    when absent, a number of at most nine digits, else the page's "does not exist"."""
    text = args.get("version", "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput(N_("That version does not exist."), field="version")
    return int(text)


def form_errors_in_place(
    template: str,
) -> Callable[[Callable[P, R]], Callable[P, R | tuple[str, int]]]:
    """Show a form's validation error (``InvalidInput``) on the form itself, status 400.

    The one place besides the error handler that catches domain errors, and only the
    "your input" kind: the request's changes are rolled back exactly as the handler would,
    then the page is rendered again with the reason (the fields stay empty on purpose:
    they may hold passwords).
    """

    def decorate(view: Callable[P, R]) -> Callable[P, R | tuple[str, int]]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R | tuple[str, int]:
            try:
                return view(*args, **kwargs)
            except InvalidInput as error:
                discard_changes()
                message = gettext(error.template, **error.params)
                return render_template(template, error=message, **kwargs), 400

        return wrapped

    return decorate
