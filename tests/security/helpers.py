"""Helpers of the abuse-case suite: accounts, codes, cookies, audit rows, generic bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from access_control.models import AuditEntry, User
from core import FixedClock
from storage import Database
from tests.factories import make_user
from tests.support.accounts import PASSWORD, Account, enrolled_user, submit_code, submit_password
from tests.support.csrf import csrf_token_from
from web.context import web_context

COOKIE = "__Host-session"
LOCAL = "127.0.0.1"  # the test client's REMOTE_ADDR
STEP = timedelta(seconds=30)
_CSRF_VALUE = re.compile(r'(name="csrf_token" value=")[^"]+(")')
# Codes a test submits as "wrong": never the real one (see ``wrong_code``).
_WRONG_CANDIDATES = ("135792", "246813", "579135", "802461", "913572")


class Registry:
    """The secrets of one test; values shorter than six characters are not secrets."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, text: str | None) -> str | None:
        if text and len(text) >= 6:
            self._values.add(text)
        return text

    def discard(self, text: str) -> None:
        """Not a secret after all (a guess at a well-known default, say)."""
        self._values.discard(text)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._values))

    def __contains__(self, text: object) -> bool:
        return text in self._values


# Accounts -----------------------------------------------------------------------------------


def account(app: Flask, secrets: Registry, *, role: str = "staff", **options: Any) -> Account:
    """An enrolled account (password + TOTP) whose password and secret are registered."""
    made = enrolled_user(app, role=role, **options)
    secrets.add(made.password)
    secrets.add(made.secret)
    return made


def password_only_user(app: Flask, secrets: Registry, *, username: str | None = None) -> Account:
    """An account with a password and no TOTP yet: the password step leads to enrolment."""
    with app.app_context():
        context = web_context()
        with context.database.unit_of_work() as session:
            overrides = {"username": username} if username else {}
            user = make_user(session, password_hash=context.hasher.hash(PASSWORD), **overrides)
            made = Account(user_id=user.id, username=user.username, password=PASSWORD, secret="")
    secrets.add(PASSWORD)
    return made


def code(made: Account, clock: FixedClock, secrets: Registry, *, steps: int = 0) -> str:
    """The account's TOTP code ``steps`` steps away from the app's clock (registered)."""
    value = made.code(clock.now(), steps=steps)
    secrets.add(value)
    return value


def code_of_secret(secret: str, when: datetime, *, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(when + steps * STEP)


def wrong_code(made: Account, clock: FixedClock) -> str:
    """A well-formed code that is not valid in the ±2-step neighbourhood of now."""
    near = {made.code(clock.now(), steps=offset) for offset in range(-2, 3)}
    return next(candidate for candidate in _WRONG_CANDIDATES if candidate not in near)


def sign_in(client: FlaskClient, made: Account, clock: FixedClock, secrets: Registry) -> None:
    """Password and code through the real routes; moves the clock one TOTP step on."""
    response = submit_password(client, made)
    assert response.status_code == 303, response.get_data(as_text=True)
    clock.advance(STEP)
    response = submit_code(client, code(made, clock, secrets))
    assert response.status_code == 303, response.get_data(as_text=True)


def pending_mfa(client: FlaskClient, made: Account) -> None:
    response = submit_password(client, made)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login/code"


# Pages, cookies, tokens ---------------------------------------------------------------------


def csrf_token(client: FlaskClient, page: str = "/login") -> str:
    return csrf_token_from(client.get(page).get_data(as_text=True))


def cookie_value(client: FlaskClient) -> str | None:
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie is not None else None


def client_with_cookie(app: Flask, value: str) -> FlaskClient:
    """A fresh client (another browser) that presents ``value`` as its session cookie."""
    other = app.test_client()
    other.set_cookie(COOKIE, value)
    return other


def is_signed_in(client: FlaskClient) -> bool:
    """Whether the client's cookie is a signed-in session (``/account`` answers 200)."""
    response = client.get("/account")
    if response.status_code == 200:
        return True
    assert response.status_code == 302, response.status_code
    return False


def is_anonymous(client: FlaskClient) -> bool:
    """Sent to sign in (not to the code page) when asking for a signed-in page."""
    response = client.get("/account")
    return response.status_code == 302 and response.headers["Location"].startswith("/login?")


def generic_body(response: TestResponse) -> str:
    """The body as a client compares it: without the CSRF token value and the request id."""
    text = _CSRF_VALUE.sub(r"\1…\2", response.get_data(as_text=True))
    return text.replace(response.headers.get("X-Request-ID", "-"), "…")


# Audit trail --------------------------------------------------------------------------------


def audit_entries(database: Database, action: str | None = None) -> list[AuditEntry]:
    with database.unit_of_work() as session:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        return list(session.scalars(query))


def audited(
    database: Database,
    action: str,
    *,
    actor: str,
    outcome: str,
    ip: str | None = LOCAL,
    count: int = 1,
    target: str | None = None,
    at: datetime | None = None,
    **details: Any,
) -> AuditEntry:
    """Exactly ``count`` entries of ``action``; the last one has these fields. Returns it."""
    entries = audit_entries(database, action)
    assert len(entries) == count, [(e.action, e.actor, e.details) for e in entries]
    entry = entries[-1]
    assert (entry.actor, entry.outcome, entry.ip) == (actor, outcome, ip)
    if target is not None:
        assert entry.target == target
    if at is not None:
        assert entry.occurred_at == at
    recorded = json.loads(entry.details)
    for key, value in details.items():
        assert recorded.get(key) == value, (key, recorded)
    return entry


def details_of(entry: AuditEntry) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(entry.details)
    return loaded


def get_user(database: Database, user_id: int) -> User:
    with database.unit_of_work() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user
