"""Helpers for the administration page tests (tests/web/test_admin.py, test_audit_viewer.py)."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from access_control import Actor
from access_control import audit as audit_trail
from access_control.models import AuditEntry, AuthSession, User
from access_control.tokens import Scope, create_token
from core import FixedClock
from tests.support.accounts import Account, enrolled_user, post_form, sign_in
from tests.support.csrf import csrf_token_from


def sign_in_admin(app: Flask, client: FlaskClient, clock: FixedClock) -> Account:
    """The administrator ``beheerder``, signed in with ``client``."""
    account = enrolled_user(app, role="admin", username="beheerder")
    sign_in(client, account, clock)
    return account


def signed_in_client(app: Flask, account: Account, clock) -> FlaskClient:
    other = app.test_client()
    sign_in(other, account, clock)
    return other


def post(client: FlaskClient, path: str, data: dict | None = None, **options):
    """POST with the CSRF token of this client's session, read from a page it may see."""
    token = csrf_token_from(client.get("/account").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, **(data or {})}, **options)


def step_up(client: FlaskClient, account: Account, clock) -> None:
    """Confirm with password and a fresh code at /account/confirm."""
    clock.advance(timedelta(seconds=30))
    response = post_form(
        client,
        "/account/confirm",
        "/account/confirm",
        {"password": account.password, "code": account.code(clock.now()), "next": "/admin/users"},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.location == "/admin/users"


def fetch_user(database, username: str) -> User:
    with database.unit_of_work() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def sessions_of(database, user_id: int) -> int:
    with database.unit_of_work() as session:
        query = select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user_id)
        return session.scalar(query)


def audit_entries(database, action: str) -> list[AuditEntry]:
    with database.unit_of_work() as session:
        query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        return list(session.scalars(query))


def issue_token(database, clock, *, owner_id: int | None = None, name: str = "siem") -> str:
    with database.unit_of_work() as session:
        _token, token_text = create_token(
            session,
            name=name,
            scopes={Scope.ALERTS_READ},
            owner_id=owner_id,
            expires_in=timedelta(days=30),
            actor=Actor.system(),
            now=clock.now(),
        )
    return token_text


def bearer(token_text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_text}"}


def row(page: str, element_id: str) -> str:
    match = re.search(rf'<tr id="{element_id}".*?</tr>', page, re.DOTALL)
    assert match, f"no row {element_id}"
    return match.group(0)


def readonly_value(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}" type="text" readonly value="([^"]+)"', page)
    assert match, f"no read-only field {element_id}"
    return html.unescape(match.group(1))


def entry_ids(page: str) -> list[int]:
    return [int(number) for number in re.findall(r'<tr id="entry-(\d+)"', page)]


def record(database, action: str, *, when: datetime, target: str = "test:1", **fields) -> int:
    with database.unit_of_work() as session:
        entry = audit_trail.record(
            session,
            actor=Actor(name=fields.pop("actor", "tester")),
            action=action,
            target=target,
            outcome=fields.pop("outcome", "success"),
            now=when,
        )
        return entry.id
