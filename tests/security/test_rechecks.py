"""Re-confirming who you are inside a session: the current password and JSON step-up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from access_control.login import MFA_FAILURES_BEFORE_LOCK
from access_control.models import AuditEntry, User
from tests.security.helpers import account, csrf_token, is_anonymous, sign_in


def _change(client, current):
    return client.post(
        "/account/password",
        data={
            "csrf_token": csrf_token(client, "/account"),
            "current": current,
            "password": "drie blauwe fietsen in de regen",
            "password_again": "drie blauwe fietsen in de regen",
        },
    )


def test_a_wrong_current_password_is_audited_and_counted(app, client, clock, secrets, db_session):
    made = account(app, secrets, role="soc_analyst")
    sign_in(client, made, clock, secrets)
    response = _change(client, "not my password at all")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account")
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.action, entry.actor, entry.outcome) == (
        "auth.password_recheck.failure",
        made.username,
        "failure",
    )
    user = db_session.get(User, made.user_id)
    db_session.refresh(user)
    assert user.mfa_failures == 1
    assert user.password_hash is not None


def test_guessing_the_current_password_locks_the_account(app, client, clock, secrets, db_session):
    made = account(app, secrets, role="soc_analyst")
    sign_in(client, made, clock, secrets)
    for _ in range(MFA_FAILURES_BEFORE_LOCK):
        response = _change(client, "guess")
    assert response.headers["Location"].endswith("/login")
    assert is_anonymous(client)
    user = db_session.get(User, made.user_id)
    db_session.refresh(user)
    assert user.locked_at is not None


def test_the_right_current_password_changes_it(app, client, clock, secrets, db_session):
    made = account(app, secrets, role="soc_analyst")
    sign_in(client, made, clock, secrets)
    assert _change(client, made.password).status_code == 303
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert "user.password_changed" in actions
    assert "auth.password_recheck.failure" not in actions


def test_a_json_client_is_told_that_step_up_is_required(app, client, clock, secrets):
    made = account(app, secrets, role="admin")
    sign_in(client, made, clock, secrets)
    clock.advance(timedelta(minutes=11))
    response = client.post(
        "/account/recovery-codes",
        headers={"Accept": "application/json", "X-CSRFToken": csrf_token(client, "/account")},
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "step_up_required"
