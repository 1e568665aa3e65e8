"""Fixtures of the abuse-case suite: every log record is captured and checked for secrets.

``secrets`` (autouse) captures every log record at DEBUG on the root logger and, when the
test ends, fails it if any registered secret appears in a record's message, arguments,
extra fields or formatted traceback (SECURITY_CASES 66). The app's test clients register
what they send and receive on their own: ``password``/``current``/``code`` form fields and
every ``__Host-session`` cookie value. Tests add the rest (TOTP secrets, recovery codes,
link tokens, API tokens) with ``secrets.add(text)``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from http.cookies import SimpleCookie
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from storage import Database
from tests.security.helpers import COOKIE, Registry

# Attributes every LogRecord has; anything else on a record came in through ``extra``.
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {
    "message",
    "asctime",
}
SECRET_FIELDS = ("password", "password_again", "current", "code")


def _texts(record: logging.LogRecord) -> Iterator[tuple[str, str]]:
    yield "message", record.getMessage()
    yield "msg", str(record.msg)
    args = record.args if isinstance(record.args, tuple) else (record.args,)
    for index, arg in enumerate(args or ()):
        yield f"args[{index}]", repr(arg)
    for name, value in vars(record).items():
        if name not in _STANDARD:
            yield f"extra {name!r}", repr(value)
    if record.exc_info:
        yield "traceback", logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        yield "exc_text", record.exc_text
    if record.stack_info:
        yield "stack_info", record.stack_info


def _finder(secret: str) -> Callable[[str], bool]:
    if secret.isdigit():  # six digits inside a longer number or a hex id are a coincidence
        pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(secret)}(?![0-9A-Za-z])")
        return lambda text: pattern.search(text) is not None
    return lambda text: secret in text


def find_leaks(records: Iterable[logging.LogRecord], secrets: Iterable[str]) -> list[str]:
    """Where each secret shows up in the records: ``logger: field: secret…``."""
    finders = [(secret, _finder(secret)) for secret in secrets]
    leaks = []
    for record in records:
        for field, value in _texts(record):
            for secret, found in finders:
                if found(value):
                    leaks.append(f"{record.name}: {field}: {secret[:12]}…")
    return leaks


@pytest.fixture(autouse=True)
def secrets(caplog: pytest.LogCaptureFixture) -> Iterator[Registry]:
    """Register a test's secrets; at teardown none may appear in any log record."""
    caplog.set_level(logging.DEBUG)
    registry = Registry()
    yield registry
    records = caplog.get_records("setup") + caplog.get_records("call")
    leaks = find_leaks(records, registry)
    assert not leaks, f"secrets in the logs: {leaks}"


@pytest.fixture(autouse=True)
def audit_without_secrets(request: pytest.FixtureRequest, secrets: Registry) -> Iterator[None]:
    """At teardown no audit row of the test holds one of its secrets (actor, target,
    user agent, details: every column)."""
    if "rollback_database" not in request.fixturenames:
        yield
        return
    database: Database = request.getfixturevalue("rollback_database")
    yield
    with database.unit_of_work() as session:
        rows = [repr(tuple(row)) for row in session.execute(text("SELECT * FROM audit_entry"))]
    leaks = [
        f"audit entry: {secret[:12]}…" for secret in secrets for row in rows if _finder(secret)(row)
    ]
    assert not leaks, f"secrets in the audit trail: {leaks}"


class RecordingClient(FlaskClient):
    """A test client that registers the secrets it sends and the session cookies it gets."""

    registry: Registry

    def open(self, *args: Any, **kwargs: Any) -> Any:
        data = kwargs.get("data")
        if isinstance(data, dict):
            for field in SECRET_FIELDS:
                value = data.get(field)
                for item in value if isinstance(value, list | tuple) else [value]:
                    if isinstance(item, str):
                        self.registry.add(item)
        for header in _cookie_headers(kwargs.get("headers")):
            self.registry.add(header)
        response = super().open(*args, **kwargs)
        for header in response.headers.getlist("Set-Cookie"):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            if COOKIE in cookie:
                self.registry.add(cookie[COOKIE].value)
        return response


def _cookie_headers(headers: object) -> list[str]:
    if isinstance(headers, dict):
        return [value for name, value in headers.items() if name.lower() == "cookie"]
    return []


@pytest.fixture
def app(app: Flask, secrets: Registry) -> Flask:
    """The usual app (both backends) whose test clients record secrets."""
    app.test_client_class = type("Client", (RecordingClient,), {"registry": secrets})
    return app
