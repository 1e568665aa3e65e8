"""The alert feed over HTTP for SOC tools (token scope ``alerts:read``; docs/feeds.md).

``GET /api/v1/alerts?after=CURSOR&limit=N&min_severity=S``: the feed entries after the
cursor, oldest first, and the cursor to ask with next. ``GET /api/v1/alerts/stream``: the
same entries as server-sent events, resumed from ``Last-Event-ID`` (or ``?after=``).

A stream polls the feed every ``POLL_SECONDS`` with a short read-only session of its own
(the request's session is committed and closed before the first byte is streamed), sends
a comment line when it has been quiet for ``HEARTBEAT_SECONDS`` so proxies keep the
connection, and ends after ``STREAM_SECONDS``: clients reconnect with ``Last-Event-ID``,
and no server thread is held for good. At most half the server's threads stream at once
(503 with ``Retry-After`` beyond that), so the console stays reachable.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import orjson
from flask import Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import ServiceUnavailable

from access_control import record_audit
from access_control.tokens import Scope
from incidents.alerts.models import Severity
from incidents.feeds import FeedItem, parse_cursor, parse_limit, parse_min_severity, read_feed
from storage import Database
from storage.database import READ_ONLY
from web.api_auth import current_actor, require_token
from web.context import db_session, web_context
from web.slots import thread_share
from web.views.api import blueprint

STREAM_SECONDS = 300.0
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0
STREAM_BATCH = 100
RETRY_MILLISECONDS = 3000  # the reconnection delay a client should use after the end
_SLOTS_KEY = "wachter.alert_stream_slots"

log = logging.getLogger("wachter.web")


@blueprint.get("/alerts")
@require_token(Scope.ALERTS_READ)
def alert_feed() -> Response:
    """Feed entries after ``after`` (default: from the start), at most ``limit`` (1-1000)."""
    after = parse_cursor(request.args.get("after"))
    limit = parse_limit(request.args.get("limit"))
    min_severity = parse_min_severity(request.args.get("min_severity"))
    session = db_session()
    page = read_feed(session, after=after, limit=limit, min_severity=min_severity)
    _audit_read(after=after, returned=len(page.items), min_severity=min_severity, mode="pull")
    return jsonify(data=[item.document for item in page.items], next_cursor=str(page.next_cursor))


@blueprint.get("/alerts/stream")
@require_token(Scope.ALERTS_READ)
def alert_stream() -> Response:
    """Server-sent events: ``id: <feed id>``, ``event: alert``, ``data: <document>``."""
    after = parse_cursor(request.headers.get("Last-Event-ID") or request.args.get("after"))
    min_severity = parse_min_severity(request.args.get("min_severity"))
    slots = _stream_slots()
    if not slots.acquire(blocking=False):
        raise ServiceUnavailable(retry_after=int(RETRY_MILLISECONDS / 1000) or 1)
    try:
        _audit_read(after=after, returned=None, min_severity=min_severity, mode="stream")
    except BaseException:
        slots.release()
        raise
    response = Response(
        _events(web_context().database, after, min_severity),
        mimetype="text/event-stream",
        headers={"X-Accel-Buffering": "no"},  # proxies pass events on at once
    )
    response.call_on_close(slots.release)  # also when the client leaves before the first byte
    return response


def _events(database: Database, after: int, min_severity: Severity | None) -> Iterator[str]:
    yield f"retry: {RETRY_MILLISECONDS}\n\n"
    started = last_sent = time.monotonic()
    cursor = after
    while True:
        try:
            with database.sessions() as session:  # short, and ended before the next poll
                # Only reads: on SQLite a deferred transaction, which takes no write lock.
                session.connection(execution_options={READ_ONLY: True})
                page = read_feed(
                    session, after=cursor, limit=STREAM_BATCH, min_severity=min_severity
                )
        except SQLAlchemyError:
            log.warning("alert stream ended: the database could not be read", exc_info=True)
            return
        for item in page.items:
            yield frame(item)
        cursor, now = page.next_cursor, time.monotonic()
        if page.items:
            last_sent = now
        if now - started >= STREAM_SECONDS:
            return
        if len(page.items) == STREAM_BATCH:
            continue  # a backlog: read on at once
        if now - last_sent >= HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            last_sent = now
        pause(max(0.0, min(POLL_SECONDS, started + STREAM_SECONDS - now)))


def pause(seconds: float) -> None:
    """Wait between polls (a real wait: the stream's thread has nothing else to do)."""
    time.sleep(seconds)


def frame(item: FeedItem) -> str:
    """One event; the JSON is one line (orjson escapes line breaks inside strings)."""
    return f"id: {item.id}\nevent: alert\ndata: {orjson.dumps(item.document).decode()}\n\n"


def _stream_slots() -> threading.BoundedSemaphore:
    return thread_share(_SLOTS_KEY, max(1, web_context().settings.http_threads // 2))


def _audit_read(
    *, after: int, returned: int | None, min_severity: Severity | None, mode: str
) -> None:
    record_audit(
        db_session(),
        actor=current_actor(),
        action="alert_feed.read",
        target=f"alert_feed:{mode}",
        outcome="success",
        now=web_context().clock.now(),
        details={
            "after": after,
            "returned": returned,
            "min_severity": min_severity.value if min_severity else None,
        },
    )
