"""Accounts for web tests, signed in through the real login routes.

``enrolled_user`` makes an account with a password and a confirmed TOTP secret;
``sign_in`` walks /login → /login/code with the test client, like a browser would.
Codes are computed for the app's fixed clock, so nothing depends on wall time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from access_control.models import User
from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from core import FixedClock
from tests.factories import make_user
from tests.support.csrf import csrf_token_from
from web.context import web_context

PASSWORD = "lange zin met paarse olifanten 2026"


@dataclass
class Account:
    user_id: int
    username: str
    password: str
    secret: str

    def code(self, at: datetime, *, steps: int = 0) -> str:
        return pyotp.TOTP(self.secret).at(at + timedelta(seconds=30 * steps))


def enrolled_user(
    app: Flask, *, role: str = "staff", username: str | None = None, password: str = PASSWORD
) -> Account:
    """An active account with password and TOTP, committed in the test's transaction."""
    with app.app_context():
        context = web_context()
        hasher: PasswordHasher = context.hasher
        box: SecretBox = context.box
        secret = pyotp.random_base32(32)
        with context.database.unit_of_work() as session:
            overrides = {"username": username} if username else {}
            user: User = make_user(
                session,
                role=role,
                password_hash=hasher.hash(password),
                totp_secret=box.encrypt(secret),
                totp_enrolled_at=context.clock.now(),
                **overrides,
            )
            return Account(
                user_id=user.id, username=user.username, password=password, secret=secret
            )


def post_form(
    client: FlaskClient, page: str, target: str, data: dict[str, str], **options: object
) -> TestResponse:
    """GET ``page`` for its CSRF token, then POST ``data`` to ``target``."""
    token = csrf_token_from(client.get(page).get_data(as_text=True))
    return client.post(target, data={"csrf_token": token, **data}, **options)


def submit_password(
    client: FlaskClient, account: Account, *, password: str | None = None, **options: object
) -> TestResponse:
    return post_form(
        client,
        "/login",
        "/login",
        {"username": account.username, "password": password or account.password},
        **options,
    )


def submit_code(client: FlaskClient, code: str, **options: object) -> TestResponse:
    return post_form(client, "/login/code", "/login/code", {"code": code}, **options)


def sign_in(client: FlaskClient, account: Account, clock: FixedClock) -> TestResponse:
    """Password and code; leaves the client signed in. Advances the clock one TOTP step."""
    response = submit_password(client, account)
    assert response.status_code == 303, response.get_data(as_text=True)
    clock.advance(timedelta(seconds=30))
    response = submit_code(client, account.code(clock.now()))
    assert response.status_code == 303, response.get_data(as_text=True)
    return response
