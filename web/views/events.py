"""Event search and the dead letters in the console (EVENTS_READ: SOC analysts, officers).

Both pages show what others sent us, so both are audited reads, and both show it as data:
escaped by Jinja, and with control characters, line and paragraph separators, bidi and
other invisible format characters shown as marked escapes (``\\x1b``, ``\\u2028``), so a
forged log line, a terminal escape or a reordered text cannot pass for something else
(SECURITY_CASES.md §5.8 #57, #64). A row opens with ``<details>``: no script needed.

The query language is ``ingest.search``'s; ``run_search`` is shared with the JSON API. In
scale-out mode ``ingest.search.find_events`` runs it on the cluster (one client per app);
a cluster that cannot answer gives the search page again with a 503 and the reason.

Opened without a search (the menu's link), the page shows the last 24 hours, as Kibana and
Splunk open on a recent range: a chart over every stored event is one bar of today beside
months of nothing, and with a million events over 30 days the page takes 155 ms instead of 58
(bench.console.profile, in process). An empty *From* (``?since=``) searches every event.

Above the results, ``ingest.search.histogram`` counts the matching events per time bucket
(drawn in ``events/_histogram.html``: SVG and a table, no script); the search's audit entry
covers it. Beside the search box are the user's saved searches (``ingest.saved_searches``):
saving and deleting are POST forms, running one is a link to this page.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import orjson
from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext, ngettext
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from access_control import record_audit, record_read
from core import InvalidInput
from core.i18n import N_
from ingest import DEFAULT_PAGE_SIZE, EventPage, count_dead_letters, list_dead_letters
from ingest.models import SavedSearch
from ingest.saved_searches import delete_saved_search, list_saved_searches, save_search
from ingest.search import EventSearchUnavailable, find_events
from ingest.search.histogram import find_event_histogram
from storage.events import last_event_id
from storage.search import SearchBackend, backend_for
from web.auth import current_actor
from web.context import db_session, discard_changes, web_context, when_rendered
from web.event_histogram import draw
from web.forms import form_errors_in_place, form_field

blueprint = Blueprint("events", __name__)
PAGE_SIZE = DEFAULT_PAGE_SIZE
MAX_TIME_TEXT = 64  # longer is no time we read; keeps the audit entry small too
OPENING_RANGE = "now-24h"  # what the page shows when it is opened without a search
MAX_CURSOR_TEXT = 64  # a page cursor is at most 39 characters
_NUMBER = re.compile(r"[0-9]{1,19}", re.ASCII)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_SEARCH_BACKEND = "wachter.event_search_backend"  # one client (and its pool) per app


@blueprint.context_processor
def _template_values() -> dict[str, object]:
    # A function, so only the search page (also when it shows an error) reads them.
    return {"saved_searches": _own_saved_searches}


def _own_saved_searches() -> list[SavedSearch]:
    user_id = current_actor().user_id
    return [] if user_id is None else list_saved_searches(db_session(), user_id=user_id)


@blueprint.get("/events")
@form_errors_in_place("events/search.html")
def search() -> str:
    now = web_context().clock.now()
    opening = not request.args  # nothing asked: the last 24 hours
    asked = MultiDict({"since": OPENING_RANGE}) if opening else request.args
    page = run_search(asked, limit=PAGE_SIZE, now=now)
    filters = {
        name: value for name in ("q", "since", "until") if (value := asked.get(name, "").strip())
    }
    histogram = find_event_histogram(
        db_session(),
        settings=web_context().settings,
        backend=search_backend(),
        query=filters.get("q", ""),
        since=filters.get("since"),
        until=filters.get("until"),
        now=now,
    )
    # Opened bare and nothing found: a quiet day, or an empty store (then the page says how
    # events get in). Asked for nothing but found nothing: the store is empty too.
    quiet = opening and not page.events and last_event_id(db_session()) > 0
    return render_template(
        "events/search.html",
        page=page,
        search_args=asked,
        filters=filters,
        opening=opening,
        quiet=quiet,
        searched=not opening and (bool(filters) or "before" in request.args),
        histogram=draw(histogram, query=filters.get("q"))
        if histogram and histogram.total
        else None,
    )


@blueprint.post("/events/saved")
@form_errors_in_place("events/search.html")
def save() -> Response:
    """Keep the search in the form (``q``, ``since``, ``until``) as ``name``; then run it."""
    saved = save_search(
        db_session(),
        actor=current_actor(),
        name=form_field("name"),
        query=form_field("q"),
        since=form_field("since"),
        until=form_field("until"),
        now=web_context().clock.now(),
    )
    flash(gettext("Search saved as “%(name)s”.", name=saved.name), "info")
    target = url_for("events.search", **saved_search_arguments(saved))  # type: ignore[arg-type]
    return redirect(target, 303)  # type: ignore[return-value]


@blueprint.post("/events/saved/<int:saved_search_id>/delete")
def delete_saved(saved_search_id: int) -> Response:
    """Delete one of the user's own saved searches (anyone else's: 404)."""
    saved = delete_saved_search(
        db_session(),
        actor=current_actor(),
        saved_search_id=saved_search_id,
        now=web_context().clock.now(),
    )
    flash(gettext("Saved search “%(name)s” deleted.", name=saved.name), "info")
    return redirect(url_for("events.search"), 303)  # type: ignore[return-value]


@blueprint.app_template_global()
def saved_search_arguments(saved: SavedSearch) -> dict[str, str]:
    """The search page's arguments that run ``saved``."""
    asked = {"q": saved.query, "since": saved.since, "until": saved.until}
    return {name: value for name, value in asked.items() if value}


@blueprint.get("/ingest/dead-letters")
def dead_letters() -> str:
    before = page_cursor(request.args)
    database_session = db_session()
    found = list_dead_letters(database_session, before_id=before, limit=PAGE_SIZE + 1)
    total = count_dead_letters(database_session)
    when_rendered(
        partial(
            record_read,
            actor=current_actor(),
            record_type="dead_letter",
            record_id="list",
            now=web_context().clock.now(),
        )
    )
    return render_template(
        "events/dead_letters.html",
        letters=found[:PAGE_SIZE],
        total=total,
        before=before,
        older=found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None,
    )


def run_search(args: MultiDict[str, str], *, limit: int, now: datetime | None = None) -> EventPage:
    """Search with the query-string arguments ``q``, ``since``, ``until``, ``before``.

    The search is recorded in the audit trail with what was asked (never what was found):
    reading events is reading personal data. ``now`` (default: the clock's) lets a page
    read ``now-24h`` once for the search and its histogram.
    """
    query, since, until = args.get("q", ""), _time_text(args, "since"), _time_text(args, "until")
    before = _cursor_text(args)
    database_session, now = db_session(), now or web_context().clock.now()
    page = find_events(
        database_session,
        settings=web_context().settings,
        backend=search_backend(),
        query=query,
        since=since or None,
        until=until or None,
        before=before,
        limit=limit,
        now=now,
    )
    when_rendered(
        partial(
            record_audit,
            actor=current_actor(),
            action="event.read",
            target="event:search",
            outcome="success",
            now=now,
            details={"query": query, "since": since, "until": until, "before": before},
        )
    )
    return page


def search_backend() -> SearchBackend | None:
    """The cluster's client in scale-out mode (made once per app), None when embedded."""
    settings = web_context().settings
    if settings.is_embedded:
        return None
    if _SEARCH_BACKEND not in current_app.extensions:
        current_app.extensions[_SEARCH_BACKEND] = backend_for(settings)
    backend: SearchBackend = current_app.extensions[_SEARCH_BACKEND]
    return backend


@blueprint.errorhandler(EventSearchUnavailable)
def search_unavailable(error: EventSearchUnavailable) -> tuple[str, int]:
    """The search page again, saying the cluster is away: 503, nothing audited or kept."""
    discard_changes()
    message = gettext(error.template, **error.params)
    return render_template("events/search.html", error=message), 503


def page_cursor(args: MultiDict[str, str]) -> int | None:
    """The ``before`` argument: an id to page back from (the range is checked later)."""
    text = args.get("before", "").strip()
    if not text:
        return None
    if not _NUMBER.fullmatch(text) or int(text) < 1:
        raise InvalidInput(N_("That page does not exist."), field="before")
    return int(text)


def _cursor_text(args: MultiDict[str, str]) -> str | None:
    """``before`` as given (the search reads it), refused at once when no cursor is that long."""
    text = args.get("before", "").strip()
    if len(text) > MAX_CURSOR_TEXT:
        raise InvalidInput(N_("That page does not exist."), field="before")
    return text or None


def _time_text(args: MultiDict[str, str], name: str) -> str:
    text = args.get(name, "").strip()
    if len(text) > MAX_TIME_TEXT:
        raise InvalidInput(
            N_("A time is at most %(limit)d characters."), field=name, limit=MAX_TIME_TEXT
        )
    return text


@blueprint.app_template_filter("histogram_step")
def histogram_step(step: timedelta) -> str:
    """A bucket size in words: "5 minutes", "1 hour", "7 days"."""
    minutes = int(step.total_seconds()) // 60
    if minutes < 60:
        words = ngettext("%(num)d minute", "%(num)d minutes", minutes)
    elif minutes < 24 * 60:
        words = ngettext("%(num)d hour", "%(num)d hours", minutes // 60)
    else:
        words = ngettext("%(num)d day", "%(num)d days", minutes // (24 * 60))
    return str(words)


@blueprint.app_template_filter("visible")
def visible(text: object) -> Markup:
    """``text`` escaped for HTML, its invisible characters shown as marked escapes."""
    return Markup("") if text is None else _mark_hidden(str(text), json_escapes=False)


@blueprint.app_template_filter("event_json")
def event_json(document: Any) -> Markup:
    """A document as indented JSON (still valid JSON), invisible characters marked."""
    return _mark_hidden(document_text(document), json_escapes=True)


def document_text(document: Any) -> str:
    """``json.dumps(document, indent=2, ensure_ascii=False)``, by orjson where it can.

    orjson writes the same text many times faster (a search page shows 50 documents),
    floats in the shortest form as they are stored (``1e-9``, not ``1e-09``); what it
    refuses (a lone surrogate, an integer past 64 bits: a cluster's document may hold
    either) goes through ``json``.
    """
    try:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()
    except orjson.JSONEncodeError:
        return json.dumps(document, indent=2, ensure_ascii=False)


def _mark_hidden(text: str, *, json_escapes: bool) -> Markup:
    if json_escapes:  # keep the indentation's own line breaks (json.dumps escaped the rest)
        if text.replace("\n", "").isprintable():  # the usual document: one escape, not per line
            return escape(text)
        return Markup("\n").join(_mark_line(line, json_escapes=True) for line in text.split("\n"))
    return _mark_line(text, json_escapes=False)


def _mark_line(text: str, *, json_escapes: bool) -> Markup:
    # str.isprintable is False for controls, format characters (bidi, zero-width), line
    # and paragraph separators, surrogates, private-use, unassigned code points and
    # spaces other than " ": everything that could hide or pose as something else.
    if text.isprintable():
        return escape(text)
    shown: list[Markup] = []
    start = 0
    for position, character in enumerate(text):
        if character.isprintable():
            continue
        shown.append(escape(text[start:position]))
        code = f"U+{ord(character):04X}"
        hidden = escape(_escaped(character, json_escapes=json_escapes))
        shown.append(Markup('<mark class="hidden-character" title="%s">%s</mark>') % (code, hidden))
        if character == "\n":
            shown.append(Markup("\n"))  # still visible as \n, and multi-line input stays readable
        start = position + 1
    shown.append(escape(text[start:]))
    return Markup("").join(shown)


def _escaped(character: str, *, json_escapes: bool) -> str:
    number = ord(character)
    if json_escapes:
        if number > 0xFFFF:  # as a UTF-16 surrogate pair, the way JSON writes it
            high, low = divmod(number - 0x10000, 0x400)
            return f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}"
        return f"\\u{number:04x}"
    if character in _NAMED:
        return _NAMED[character]
    if number <= 0xFF:
        return f"\\x{number:02x}"
    return f"\\u{number:04x}" if number <= 0xFFFF else f"\\U{number:08x}"
