"""SECURITY_CASES §5.3: sessions and cookies (#22-#28)."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from access_control import users
from access_control.actor import Actor
from access_control.models import AuthSession, User
from access_control.tokens import Scope, create_token
from tests.conftest import TEST_SECRET_KEY
from tests.security.helpers import (
    COOKIE,
    STEP,
    account,
    audit_entries,
    audited,
    client_with_cookie,
    code,
    cookie_value,
    details_of,
    is_anonymous,
    is_signed_in,
    pending_mfa,
    sign_in,
)
from tests.support.accounts import post_form, submit_code, submit_password


def live_sessions(database):
    with database.unit_of_work() as session:
        return list(session.scalars(select(AuthSession)))


def cookie_data(app, value):
    return app.session_interface.get_signing_serializer(app).loads(value)


def signed_cookie(app, data, *, key=TEST_SECRET_KEY):
    serializer = app.session_interface.get_signing_serializer(app)
    if key != TEST_SECRET_KEY:
        serializer = URLSafeTimedSerializer(
            key,
            salt=serializer.salt,
            serializer=serializer.serializer,
            signer_kwargs=serializer.signer_kwargs,
        )
    return serializer.dumps(data)


def bearer(text):
    return {"Authorization": f"Bearer {text}"}


# 22: fixation ------------------------------------------------------------------------------------


def test_a_planted_cookie_is_replaced_after_the_password_and_again_after_the_code(
    app, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    attacker = app.test_client()
    attacker.get("/login")
    planted = cookie_value(attacker)
    victim = client_with_cookie(app, planted)
    submit_password(victim, officer)
    after_password = cookie_value(victim)
    clock.advance(STEP)
    submit_code(victim, code(officer, clock, secrets))
    after_code = cookie_value(victim)
    assert len({planted, after_password, after_code}) == 3
    assert cookie_data(app, after_password)["sid"] != cookie_data(app, after_code)["sid"]
    assert is_signed_in(victim)
    assert is_anonymous(attacker)
    assert is_anonymous(client_with_cookie(app, planted))
    assert is_anonymous(client_with_cookie(app, after_password))  # the pending id died
    assert [auth.stage for auth in live_sessions(rollback_database)] == ["active"]
    audited(rollback_database, "auth.password.success", actor="anonymous", outcome="success")
    audited(rollback_database, "auth.login.success", actor="olga", outcome="success")


# 23: logout ---------------------------------------------------------------------------------------


def test_after_logout_the_old_cookie_is_anonymous(app, client, clock, rollback_database, secrets):
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    signed_in_cookie = cookie_value(client)
    response = post_form(client, "/account", "/logout", {})
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    audited(rollback_database, "auth.logout", actor="olga", outcome="success", target="user:olga")
    assert live_sessions(rollback_database) == []
    replay = client_with_cookie(app, signed_in_cookie)
    assert is_anonymous(replay)
    json_replay = replay.get("/dashboard", headers={"Accept": "application/json"})
    assert json_replay.status_code == 401


# 24: timeouts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "idle"),
    [("security_officer", 15), ("soc_analyst", 15), ("admin", 15), ("auditor", 15), ("staff", 30)],
)
def test_an_idle_session_ends_after_its_limit(
    app, client, clock, rollback_database, secrets, role, idle
):
    me = account(app, secrets, role=role)
    sign_in(client, me, clock, secrets)
    clock.advance(timedelta(minutes=idle) - timedelta(seconds=1))
    assert is_signed_in(client)  # activity: the idle clock starts again
    signed_in_cookie = cookie_value(client)
    clock.advance(timedelta(minutes=idle))
    assert client.get("/account", headers={"Accept": "application/json"}).status_code == 401
    assert is_anonymous(client)
    assert is_anonymous(client_with_cookie(app, signed_in_cookie))
    assert audit_entries(rollback_database, "auth.login.success")[0].actor == me.username


def test_activity_never_extends_a_session_past_twelve_hours(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer")
    sign_in(client, officer, clock, secrets)
    started = clock.now()
    while clock.now() < started + timedelta(hours=12) - timedelta(minutes=10):
        clock.advance(timedelta(minutes=10))
        assert client.get("/dashboard").status_code == 200, clock.now() - started
    clock.advance(started + timedelta(hours=12) - timedelta(seconds=1) - clock.now())
    assert client.get("/dashboard").status_code == 200
    clock.advance(timedelta(seconds=2))
    assert client.get("/dashboard").status_code == 302
    assert is_anonymous(client)
    assert live_sessions(rollback_database) == []


def test_a_login_waiting_for_its_code_lasts_ten_minutes(app, client, clock, secrets):
    officer = account(app, secrets, role="security_officer")
    pending_mfa(client, officer)
    clock.advance(timedelta(minutes=10))
    late = client.post("/login/code", data={"code": code(officer, clock, secrets)})
    assert (late.status_code, late.headers["Location"]) == (302, "/login")


# 25: revocation -----------------------------------------------------------------------------------


@pytest.fixture
def two_sessions_and_a_token(app, clock, rollback_database, secrets):
    """An officer signed in on two browsers and owning an API token that works."""
    officer = account(app, secrets, role="security_officer", username="olga")
    admin = account(app, secrets, role="admin", username="adam")
    first, second = app.test_client(), app.test_client()
    sign_in(first, officer, clock, secrets)
    sign_in(second, officer, clock, secrets)
    with rollback_database.unit_of_work() as session:
        _token, token_text = create_token(
            session,
            name="olga-script",
            scopes={Scope.ALERTS_READ},
            owner_id=officer.user_id,
            expires_in=timedelta(days=30),
            actor=Actor.system(),
            now=clock.now(),
        )
    secrets.add(token_text)
    assert first.get("/api/v1/token", headers=bearer(token_text)).status_code == 200
    return officer, Actor(name="adam", user_id=admin.user_id), first, second, token_text


def test_a_password_change_ends_the_other_sessions_and_the_tokens(
    app, clock, rollback_database, secrets, two_sessions_and_a_token
):
    officer, _admin, first, second, token_text = two_sessions_and_a_token
    new_password = "een nieuwe zin met blauwe giraffen"
    response = post_form(
        first,
        "/account",
        "/account/password",
        {"current": officer.password, "password": new_password, "password_again": new_password},
    )
    assert response.status_code == 303
    assert is_signed_in(first)  # the session that changed it stays
    assert is_anonymous(second)
    assert first.get("/api/v1/token", headers=bearer(token_text)).status_code == 401
    audited(rollback_database, "user.password_changed", actor="olga", outcome="success")
    revoked = audited(
        rollback_database,
        "user.access_revoked",
        actor="olga",
        outcome="success",
        reason="password changed",
    )
    assert details_of(revoked) == {
        "reason": "password changed",
        "logins_ended": 1,
        "api_access_revoked": 1,
    }
    audited(rollback_database, "token.revoked", actor="olga", outcome="success")


ADMIN_CHANGES = {
    "role change": lambda session, user, actor, now: users.change_role(
        session, user=user, role="staff", actor=actor, now=now
    ),
    "account disabled": lambda session, user, actor, now: users.disable_user(
        session, user=user, actor=actor, now=now
    ),
    "MFA reset": lambda session, user, actor, now: users.reset_mfa(
        session, user=user, actor=actor, now=now
    ),
}


@pytest.mark.parametrize("change", list(ADMIN_CHANGES))
def test_an_administrative_change_ends_every_session_and_token_at_once(
    app, clock, rollback_database, secrets, two_sessions_and_a_token, change
):
    _officer, admin, first, second, token_text = two_sessions_and_a_token
    with rollback_database.unit_of_work() as session:
        user = session.scalar(select(User).where(User.username == "olga"))
        ADMIN_CHANGES[change](session, user, admin, clock.now())
    assert is_anonymous(first)
    assert is_anonymous(second)
    assert first.get("/api/v1/token", headers=bearer(token_text)).status_code == 401
    reason = {"role change": "role changed", "account disabled": "account disabled"}.get(
        change, change
    )
    revoked = audited(
        rollback_database, "user.access_revoked", actor="adam", outcome="success", ip=None
    )
    assert details_of(revoked) == {"reason": reason, "logins_ended": 2, "api_access_revoked": 1}
    assert revoked.target == "user:olga"


# 26: cookie attributes ----------------------------------------------------------------------------


def session_cookie_headers(response):
    return [
        header
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith(f"{COOKIE}=")
    ]


def test_the_session_cookie_is_host_only_secure_httponly_and_lax(app, client, clock, secrets):
    officer = account(app, secrets, role="security_officer")
    responses = [client.get("/login"), submit_password(client, officer)]
    clock.advance(STEP)
    responses.append(submit_code(client, code(officer, clock, secrets)))
    headers = [header for response in responses for header in session_cookie_headers(response)]
    assert len(headers) >= 3
    for header in headers:
        _pair, *attributes = [part.strip() for part in header.split(";")]
        names = {attribute.split("=")[0].lower() for attribute in attributes}
        values = {attribute.lower() for attribute in attributes}
        assert {"secure", "httponly", "path=/", "samesite=lax"} <= values, header
        assert "domain" not in names, header
        assert not names & {"expires", "max-age"}, header  # gone with the browser
    for response in responses:
        location = response.headers.get("Location", "")
        assert cookie_value(client) not in location
        assert "sid" not in location


# 27: guessing and tampering -----------------------------------------------------------------------

FORGED_PAYLOAD = base64.urlsafe_b64encode(b'{"sid":"' + b"A" * 43 + b'"}').decode().rstrip("=")
TAMPERED = {
    "garbage": lambda app, real: "garbage",
    "empty": lambda app, real: "",
    # A middle character: the last one of base64 has padding bits a decoder ignores.
    "flipped signature character": lambda app, real: (
        real[:-10] + ("z" if real[-10] != "z" else "A") + real[-9:]
    ),
    "payload swapped under the signature": lambda app, real: ".".join(
        [FORGED_PAYLOAD, *real.rsplit(".", 2)[1:]]
    ),
    "signed with another key": lambda app, real: signed_cookie(
        app, cookie_data(app, real), key="another-secret-key-" + "y" * 32
    ),
    "unknown session token": lambda app, real: signed_cookie(app, {"sid": "A" * 43}),
    "session token as a number": lambda app, real: signed_cookie(app, {"sid": 12345}),
    "session token as a list": lambda app, real: signed_cookie(app, {"sid": ["a", "b"]}),
    "session token of 10 kB": lambda app, real: signed_cookie(app, {"sid": "A" * 10_000}),
    "session digest instead of token": lambda app, real: signed_cookie(
        app, {"sid": hashlib.sha256(cookie_data(app, real)["sid"].encode()).hexdigest()}
    ),
}


@pytest.mark.parametrize("kind", list(TAMPERED))
def test_a_tampered_or_forged_cookie_is_anonymous_and_never_an_error(
    app, client, clock, secrets, kind
):
    officer = account(app, secrets, role="security_officer")
    sign_in(client, officer, clock, secrets)
    forged = TAMPERED[kind](app, cookie_value(client))
    secrets.add(forged)
    other = client_with_cookie(app, forged)
    for path in ("/account", "/dashboard", "/login", "/"):
        assert other.get(path).status_code in (200, 302), path
    assert is_anonymous(other)
    assert other.get("/dashboard", headers={"Accept": "application/json"}).status_code == 401
    assert other.post("/logout").status_code in (302, 400)
    assert is_signed_in(client)  # the real session is untouched


def test_session_tokens_are_random_256_bit_values_stored_only_as_digests(
    app, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer")
    tokens = []
    for _ in range(50):
        client = app.test_client()
        submit_password(client, officer)
        tokens.append(cookie_data(app, cookie_value(client))["sid"])
    assert len(set(tokens)) == 50
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) >= 32
    stored = {auth.id for auth in live_sessions(rollback_database)}
    assert len(stored) == 50
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in stored)
    assert stored == {hashlib.sha256(token.encode()).hexdigest() for token in tokens}
    assert not stored & set(tokens)


# 28: concurrent sessions --------------------------------------------------------------------------


def test_concurrent_sessions_are_listed_and_sign_out_everywhere_ends_them_all(
    app, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    clients = []
    for number in range(3):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.2.{number + 10}"
        sign_in(client, officer, clock, secrets)
        clients.append(client)
    page = clients[0].get("/account").get_data(as_text=True)
    for number in range(3):
        assert f"192.0.2.{number + 10}" in page
    response = post_form(clients[0], "/account", "/account/logout-everywhere", {})
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    assert all(is_anonymous(client) for client in clients)
    assert live_sessions(rollback_database) == []
    entry = audited(
        rollback_database,
        "auth.logout",
        actor="olga",
        outcome="success",
        ip="192.0.2.10",
        everywhere=True,
    )
    assert details_of(entry)["logins_ended"] == 3
    assert len(audit_entries(rollback_database, "auth.login.success")) == 3
