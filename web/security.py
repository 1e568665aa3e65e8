"""Headers on every response, a request id, and safe redirect targets.

Written by hand (about forty lines) rather than with Flask-Talisman, whose last release
is from 2023: the policy is fixed, there is nothing to configure per route.
"""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlsplit

from flask import Flask, Response, g, request

from storage.database import write_lock_wait

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
HSTS = "max-age=31536000; includeSubDomains"
# Endpoints whose answers say for themselves how long they may be cached: static files and
# the public API description (web/views/openapi.py). Everything else is never stored.
_CACHEABLE = frozenset({"static", "openapi.document"})

log = logging.getLogger("wachter.web")


def init_app(app: Flask) -> None:
    app.before_request(_start)
    app.after_request(_finish)
    # After-request functions run last-registered first: put this one first in the list, so
    # it runs after all the others, the request's commit (and its audit entry) included.
    app.after_request_funcs.setdefault(None, []).insert(0, _server_timing)


def request_id() -> str:
    return str(g.get("request_id", "-"))


def _start() -> None:
    g.request_id = secrets.token_hex(8)
    g.request_started = time.perf_counter()
    write_lock_wait.set(0.0)


def _finish(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = HSTS
    if request.endpoint not in _CACHEABLE:
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Request-ID"] = request_id()
    # The route's pattern, not the path: paths carry one-time link tokens and ids, and
    # query strings search terms; none of them belongs in a log.
    route = request.url_rule.rule if request.url_rule is not None else "(no route)"
    elapsed = time.perf_counter() - g.get("request_started", 0.0)
    log.info(
        "%s %s %s",
        request.method,
        route,
        response.status_code,
        extra={
            "http.request.method": request.method,
            "url.path": route,
            "http.response.status_code": response.status_code,
            "event.duration": int(elapsed * 1e9),
            "http.request.id": request_id(),
        },
    )
    return response


def _server_timing(response: Response) -> Response:
    """The request's time in the app, commit included, and the part of it spent waiting
    for SQLite's write lock, for load generators and the browser's network panel."""
    elapsed = time.perf_counter() - g.get("request_started", time.perf_counter())
    waited = write_lock_wait.get()
    response.headers["Server-Timing"] = (
        f"app;dur={elapsed * 1000:.1f}, lock;dur={waited * 1000:.1f}"
    )
    return response


def safe_redirect_target(target: str | None, default: str = "/") -> str:
    """``target`` if it is a path on this site, otherwise ``default`` (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(character) < 0x20 or character == "\\" for character in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
