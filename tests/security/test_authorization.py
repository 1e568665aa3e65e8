"""SECURITY_CASES §5.5: roles, object and field access, demotion, tokens, step-up (#36-#42).

The route-inventory test (every route x method x role against web/policy.py) is in
test_route_inventory.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from access_control.actor import Actor
from access_control.models import AuthSession, RecoveryCode, User
from access_control.tokens import Scope, create_token
from tests.security.helpers import (
    account,
    audit_entries,
    audited,
    code,
    csrf_token,
    details_of,
    get_user,
    is_anonymous,
    is_signed_in,
    sign_in,
    wrong_code,
)
from tests.support.accounts import post_form

NEW_PASSWORD = "oranje tulpen in de vensterbank"


# 37: function level -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("staff", 403),
        ("soc_analyst", 200),
        ("security_officer", 200),
        ("auditor", 200),
        ("admin", 200),
    ],
)
def test_the_console_is_for_console_roles_only(
    app, client, clock, rollback_database, secrets, role, status
):
    me = account(app, secrets, role=role, username="mia")
    sign_in(client, me, clock, secrets)
    response = client.get("/dashboard")
    assert response.status_code == status
    denied = audit_entries(rollback_database, "authz.denied")
    if status == 403:
        assert len(denied) == 1
        entry = denied[0]
        assert (entry.actor, entry.outcome, entry.ip, entry.target) == (
            "mia",
            "denied",
            "127.0.0.1",
            "GET /dashboard",
        )
        assert details_of(entry) == {"reason": "needs CONSOLE"}
        assert entry.request_id == response.headers["X-Request-ID"]
        assert entry.occurred_at == clock.now()
        json_response = client.get("/dashboard", headers={"Accept": "application/json"})
        assert (json_response.status_code, json_response.get_json()["error"]["code"]) == (
            403,
            "forbidden",
        )
    else:
        assert denied == []


@pytest.mark.parametrize(
    "path", ["/dashboard", "/account", "/account/confirm", "/login/code", "/login/enrol"]
)
def test_anonymous_visitors_of_a_page_are_sent_to_sign_in(client, rollback_database, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={path}"
    json_response = client.get(path, headers={"Accept": "application/json"})
    assert json_response.status_code == 401
    assert json_response.get_json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "path", ["/account/password", "/account/logout-everywhere", "/account/reset-mfa", "/logout"]
)
def test_anonymous_posts_change_nothing(client, rollback_database, path):
    token = csrf_token(client)
    response = client.post(path, data={"csrf_token": token, "password": NEW_PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    assert audit_entries(rollback_database) == []


def test_the_api_answers_anonymous_callers_with_json_401(client):
    response = client.get("/api/v1/token")
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/v1/nothing-here").get_json()["error"]["code"] == "not_found"


# 38-39: mass assignment and field-level reads -----------------------------------------------------


def test_extra_fields_on_the_password_form_change_nothing_but_the_password(
    app, client, clock, rollback_database, secrets
):
    me = account(app, secrets, role="staff", username="sam")
    victim = account(app, secrets, role="admin", username="vic")
    sign_in(client, me, clock, secrets)
    before_me, before_victim = (
        get_user(rollback_database, me.user_id),
        get_user(rollback_database, victim.user_id),
    )
    response = post_form(
        client,
        "/account",
        "/account/password",
        {
            "current": me.password,
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
            "role": "admin",
            "is_admin": "1",
            "is_active": "0",
            "user_id": str(victim.user_id),
            "id": str(victim.user_id),
            "username": "vic",
            "display_name": "Owned",
            "locked_at": "",
            "mfa_failures": "0",
            "totp_secret": "",
        },
    )
    assert response.status_code == 303
    after_me, after_victim = (
        get_user(rollback_database, me.user_id),
        get_user(rollback_database, victim.user_id),
    )
    assert (after_me.role, after_me.username, after_me.display_name, after_me.is_active) == (
        before_me.role,
        before_me.username,
        before_me.display_name,
        True,
    )
    assert after_me.totp_secret == before_me.totp_secret
    assert after_me.password_hash != before_me.password_hash
    assert after_victim.password_hash == before_victim.password_hash
    assert (after_victim.role, after_victim.display_name) == ("admin", before_victim.display_name)
    audited(
        rollback_database,
        "user.password_changed",
        actor="sam",
        outcome="success",
        target="user:sam",
    )
    assert client.get("/dashboard").status_code == 403  # still staff


def test_the_account_page_shows_no_stored_secret_and_no_one_elses_sessions(
    app, client, clock, rollback_database, secrets
):
    me = account(app, secrets, role="staff", username="sam")
    other = account(app, secrets, role="security_officer", username="olga")
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "192.0.2.99"
    sign_in(elsewhere, other, clock, secrets)
    sign_in(client, me, clock, secrets)
    post_form(client, "/account", "/account/recovery-codes", {})
    page = client.get("/account").get_data(as_text=True)
    with rollback_database.unit_of_work() as session:
        stored = [
            *session.scalars(select(AuthSession.id)),
            *session.scalars(select(RecoveryCode.code_hash)),
            *[user.password_hash for user in session.scalars(select(User))],
        ]
    assert len(stored) >= 13
    for value in stored:
        assert value not in page
    assert me.secret not in page
    assert "192.0.2.99" not in page  # olga's session is hers alone
    assert "olga" not in page


# 40: a demotion counts at the next request --------------------------------------------------------


def test_a_demoted_officer_is_judged_by_the_new_role_at_the_next_request(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    assert client.get("/dashboard").status_code == 200
    with rollback_database.unit_of_work() as session:  # even without the session purge
        session.execute(update(User).where(User.id == officer.user_id).values(role="staff"))
    assert client.get("/dashboard").status_code == 403
    audited(
        rollback_database, "authz.denied", actor="olga", outcome="denied", target="GET /dashboard"
    )
    assert is_signed_in(client)  # the session stands; its rights follow the role


# 41: API tokens (the rest is in tests/web/test_api_tokens.py) -------------------------------------


def test_a_session_cookie_is_no_api_credential(app, client, clock, secrets):
    officer = account(app, secrets, role="security_officer")
    sign_in(client, officer, clock, secrets)
    response = client.get("/api/v1/token")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_in_a_console_query_string_is_no_credential_either(
    app, client, clock, rollback_database, secrets
):
    with rollback_database.unit_of_work() as session:
        _token, token_text = create_token(
            session,
            name="probe",
            scopes={Scope.INCIDENTS_READ},
            owner_id=None,
            expires_in=timedelta(days=1),
            actor=Actor.system(),
            now=clock.now(),
        )
    secrets.add(token_text)
    assert client.get(f"/dashboard?token={token_text}").headers["Location"].startswith("/login")
    assert client.get("/api/v1/token", query_string={"access_token": token_text}).status_code == 401
    assert audited(
        rollback_database, "token.rejected", actor="anonymous", outcome="denied"
    ).target == ("GET /api/v1/token")


# 42: step-up --------------------------------------------------------------------------------------


def step_up(client, made, clock, secrets, *, password=None, value=None):
    return post_form(
        client,
        "/account/confirm",
        "/account/confirm",
        {
            "password": password or made.password,
            "code": value or code(made, clock, secrets),
            "next": "/account",
        },
    )


def regenerate(client):
    token = csrf_token(client, "/account")
    return client.post(
        "/account/recovery-codes",
        data={"csrf_token": token},
        headers={"Referer": "http://localhost/account"},
    )


def test_a_sensitive_action_needs_a_confirmation_younger_than_ten_minutes(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    clock.advance(timedelta(minutes=9, seconds=59))
    assert regenerate(client).status_code == 200  # the login itself is a fresh confirmation
    clock.advance(timedelta(seconds=61))  # eleven minutes after signing in
    response = regenerate(client)
    assert (response.status_code, response.headers["Location"]) == (
        303,
        "/account/confirm?next=/account",
    )
    json_response = client.post(
        "/account/recovery-codes",
        data={"csrf_token": csrf_token(client, "/account")},
        headers={"Accept": "application/json"},
    )
    assert json_response.status_code == 401
    assert client.get(response.headers["Location"]).status_code == 200
    confirmed = step_up(client, officer, clock, secrets)
    assert (confirmed.status_code, confirmed.headers["Location"]) == (303, "/account")
    audited(
        rollback_database,
        "auth.step_up.success",
        actor="olga",
        outcome="success",
        target="user:olga",
    )
    clock.advance(timedelta(minutes=9, seconds=59))
    assert regenerate(client).status_code == 200
    clock.advance(timedelta(seconds=1))
    assert regenerate(client).status_code == 303
    assert len(audit_entries(rollback_database, "mfa.recovery_codes_regenerated")) == 2


def test_a_session_signed_in_two_hours_ago_must_confirm_again(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    for _ in range(12):
        clock.advance(timedelta(minutes=10))
        assert client.get("/dashboard").status_code == 200
    assert regenerate(client).status_code == 303
    assert step_up(client, officer, clock, secrets).status_code == 303
    assert regenerate(client).status_code == 200


@pytest.mark.parametrize("wrong", ["password", "code", "replayed code"])
def test_a_failed_confirmation_is_audited_and_counts_towards_the_mfa_lock(
    app, client, clock, rollback_database, secrets, wrong
):
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    login_code = code(officer, clock, secrets)
    clock.advance(timedelta(minutes=11))
    options = {
        "password": {"password": "niet het goede wachtwoord"},
        "code": {"value": wrong_code(officer, clock)},
        "replayed code": {"value": login_code},
    }[wrong]
    if wrong == "replayed code":
        clock.advance(-timedelta(minutes=11) + timedelta(seconds=10))  # still the login's step
    response = step_up(client, officer, clock, secrets, **options)
    assert response.status_code == 401
    audited(
        rollback_database,
        "auth.step_up.failure",
        actor="olga",
        outcome="failure",
        target="user:olga",
    )
    assert get_user(rollback_database, officer.user_id).mfa_failures == 1
    assert audit_entries(rollback_database, "auth.step_up.success") == []


def test_ten_failed_confirmations_lock_the_account_and_sign_it_out(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    for attempt in range(10):
        response = step_up(client, officer, clock, secrets, value=wrong_code(officer, clock))
        assert response.status_code == (303 if attempt == 9 else 401)
    assert response.headers["Location"] == "/login"
    assert is_anonymous(client)
    audited(rollback_database, "user.locked", actor="olga", outcome="success", mfa_failures=10)
    assert len(audit_entries(rollback_database, "auth.step_up.failure")) == 10
    assert get_user(rollback_database, officer.user_id).locked_at == clock.now()
