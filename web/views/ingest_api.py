"""``POST /api/v1/events``: shippers deliver events over HTTP (docs/ingest.md).

NDJSON or a JSON array, optionally gzip. The answer is ``202`` with what became of each
item, and it is only sent once the events are committed (the view commits them before
it answers; a failed commit is a 500), so a shipper that saw 202 may forget the batch.
Limits: 10 MiB as sent, 64 MiB after gzip, a per-token rate in events per second (429
with ``Retry-After`` beyond it; other tokens are unaffected), and a quarter of the request
threads for all ingest requests together (429 with ``Retry-After: 1`` beyond it).
"""

from __future__ import annotations

import logging
import math
import time
import zlib

from flask import Response, current_app, jsonify, request
from limits import RateLimitItemPerSecond
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import RequestEntityTooLarge, TooManyRequests, UnsupportedMediaType

from access_control.tokens import Scope
from core import InvalidInput
from core.i18n import N_
from ingest import (
    Batch,
    BodyError,
    DocumentParser,
    LineParser,
    ParserOptions,
    get_parser,
    receive_body,
)
from web.api_auth import current_token, require_token
from web.context import db_session, web_context
from web.security import request_id
from web.slots import thread_share
from web.views.api import blueprint

MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
BURST_SECONDS = 2
_CONTENT_TYPES = frozenset(
    {
        "",
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonlines",
        "application/json-seq",
        "application/vnd.elasticsearch+x-ndjson",
        "text/plain",
    }
)
# Media types that say "one JSON object per line" (so a line that is an array is an error).
_NDJSON_TYPES = frozenset(
    {
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonlines",
        "application/json-seq",
        "application/vnd.elasticsearch+x-ndjson",
    }
)
_LIMITER_KEY = "wachter.ingest_limiter"
_SLOTS_KEY = "wachter.ingest_slots"

log = logging.getLogger("wachter.ingest")


@blueprint.post("/events")
@require_token(Scope.EVENTS_WRITE)
def ingest_events() -> tuple[Response, int]:
    # A quarter of the request threads at most: under overload the rest stay free for the
    # console and the other calls, and a shipper past the share is told to come back.
    slots = thread_share(_SLOTS_KEY, max(1, web_context().settings.http_threads // 4))
    if not slots.acquire(blocking=False):
        raise TooManyRequests(retry_after=1)
    try:
        return _ingest()
    finally:
        slots.release()


def _ingest() -> tuple[Response, int]:
    token = current_token()
    # Authentication wrote its bookkeeping; commit it now so this request holds no
    # transaction (on SQLite: no write lock) while it parses, only while it stores.
    db_session().commit()
    parser = _requested_parser()
    body = _read_body()
    batch = Batch(
        receiver="http",
        source=f"http:{token.id}",
        ingested=web_context().clock.now(),
        origin=f"token:{token.name}",
    )
    try:
        ndjson = (request.mimetype or "").lower() in _NDJSON_TYPES
        receive_body(body, batch=batch, parser=parser, ndjson=ndjson)
    except BodyError as error:
        raise InvalidInput(
            N_("The body is not a batch of events: %(reason)s"), field="body", reason=str(error)
        ) from None
    _check_rate(token.id, len(batch))
    with web_context().database.writer() as session:
        receipt = batch.store(session)  # committed here, before the 202 is written
    log.info(
        "events received",
        extra={
            "http.request.id": request_id(),
            "wachter.token_id": token.id,
            "wachter.events.accepted": receipt.accepted,
            "wachter.events.duplicates": receipt.duplicates,
            "wachter.events.rejected": len(receipt.rejected),
        },
    )
    rejected = [{"index": item.index, "error": item.reason} for item in receipt.rejected]
    answer = {"accepted": receipt.accepted, "duplicates": receipt.duplicates, "rejected": rejected}
    return jsonify(answer), 202


def _requested_parser() -> DocumentParser | LineParser | None:
    name = request.args.get("format", "").strip()
    if not name:
        return None
    options = ParserOptions(badge_mapping=web_context().settings.badge_mapping)
    parser = get_parser(name, options)
    if not isinstance(parser, DocumentParser | LineParser):
        raise InvalidInput(
            N_("Format \u201c%(name)s\u201d reads whole files; use wachter ingest for it."),
            field="format",
            name=name,
        )
    return parser


def _read_body() -> bytes:
    media_type = (request.mimetype or "").lower()
    if media_type not in _CONTENT_TYPES:
        raise UnsupportedMediaType()
    request.max_content_length = MAX_BODY_BYTES
    body = request.get_data(cache=False)
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType()
    return _gunzip(body)


def _gunzip(body: bytes) -> bytes:
    """Decompress with a ceiling: a gzip bomb stops at the limit instead of filling memory."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = decompressor.decompress(body, MAX_DECOMPRESSED_BYTES)
    except zlib.error:
        raise InvalidInput(N_("The body is not valid gzip."), field="body") from None
    if decompressor.unconsumed_tail:
        raise RequestEntityTooLarge()
    if not decompressor.eof:
        raise InvalidInput(N_("The gzip body is cut short."), field="body")
    return data


def _check_rate(token_id: int, events: int) -> None:
    limiter: FixedWindowRateLimiter = current_app.extensions.setdefault(
        _LIMITER_KEY, FixedWindowRateLimiter(MemoryStorage())
    )
    per_second = web_context().settings.ingest_rate_limit
    window = RateLimitItemPerSecond(per_second * BURST_SECONDS, BURST_SECONDS)
    if events > window.amount:
        raise InvalidInput(
            N_("Send at most %(limit)d events per request."), field="body", limit=window.amount
        )
    key = str(token_id)
    if events and not limiter.hit(window, key, cost=events):
        reset_at = limiter.get_window_stats(window, key).reset_time
        # The limiter counts on the wall clock, so the wait is measured on it too.
        retry = max(1, math.ceil(reset_at - time.time()))
        raise TooManyRequests(retry_after=retry)
