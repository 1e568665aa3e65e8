"""The happy path through the real routes, which every abuse case departs from."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from access_control.models import AuditEntry, AuthSession
from tests.support.accounts import enrolled_user, sign_in, submit_code, submit_password
from tests.support.csrf import csrf_token_from


def test_password_then_code_signs_in_and_logout_ends_the_session(app, client, clock, db_session):
    account = enrolled_user(app, role="security_officer")
    response = submit_password(client, account)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/login/code")
    assert client.get("/dashboard").status_code == 302  # a pending session has no privileges
    clock.advance(timedelta(seconds=30))
    response = submit_code(client, account.code(clock.now()))
    assert response.status_code == 303
    assert client.get("/dashboard").status_code == 200
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    signing_in = [action for action in actions if action.startswith("auth.")]
    assert signing_in[-2:] == ["auth.password.success", "auth.login.success"]
    page = client.get("/account").get_data(as_text=True)
    assert "Mijn account" in page
    client.post("/logout", data={"csrf_token": csrf_token_from(page)})
    assert client.get("/dashboard").status_code == 302
    assert db_session.scalars(select(AuthSession)).all() == []


def test_sign_in_helper_leaves_the_client_signed_in(app, client, clock):
    account = enrolled_user(app, role="admin")
    sign_in(client, account, clock)
    assert client.get("/account").status_code == 200
