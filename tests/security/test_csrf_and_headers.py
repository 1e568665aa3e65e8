"""SECURITY_CASES §5.4: CSRF, cross-site requests, CORS, redirects and headers (#29-#35)."""

from __future__ import annotations

import json
import time
from urllib.parse import quote, urlsplit

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from tests.conftest import TEST_SECRET_KEY
from tests.security.helpers import (
    STEP,
    account,
    audit_entries,
    audited,
    code,
    cookie_value,
    csrf_token,
    details_of,
    get_user,
    is_anonymous,
    is_signed_in,
    sign_in,
)
from tests.support.accounts import post_form, submit_code

NEW_PASSWORD = "groene kikkers zingen in de regen"


class _SignedTwoHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 7200


def expired_token(app, client):
    """A correctly signed token for this very session, issued two hours ago (limit: one)."""
    data = app.session_interface.get_signing_serializer(app).loads(cookie_value(client))
    serializer = URLSafeTimedSerializer(
        TEST_SECRET_KEY, salt="wtf-csrf-token", signer=_SignedTwoHoursAgo
    )
    return serializer.dumps(data["csrf_token"])


@pytest.fixture
def olga(app, client, clock, secrets):
    """A signed-in security officer (``client``) whose fresh login counts as a step-up."""
    officer = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, officer, clock, secrets)
    csrf_token(client, "/account")  # the session now has a CSRF token
    return officer


# Each state-changing action, and how to tell it did not happen.
ACTIONS = {
    "/account/password": {
        "current": "CURRENT",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    },
    "/account/logout-everywhere": {},
    "/logout": {},
    "/account/recovery-codes": {},
    "/account/reset-mfa": {},
}


def assert_nothing_changed(app, client, rollback_database, officer, before):
    assert is_signed_in(client)
    user = get_user(rollback_database, officer.user_id)
    assert (user.password_hash, user.totp_secret) == before
    actions = {entry.action for entry in audit_entries(rollback_database)}
    assert not actions & {
        "user.password_changed",
        "auth.logout",
        "mfa.recovery_codes_regenerated",
        "mfa.reset",
    }


def state(rollback_database, officer):
    user = get_user(rollback_database, officer.user_id)
    return user.password_hash, user.totp_secret


# 29: missing, foreign and expired tokens -------------------------------------------------------


@pytest.mark.parametrize("token_kind", ["missing", "foreign", "expired", "garbage"])
@pytest.mark.parametrize("path", list(ACTIONS))
def test_a_post_without_this_sessions_valid_token_is_refused_and_changes_nothing(
    app, client, clock, rollback_database, secrets, olga, path, token_kind
):
    before = state(rollback_database, olga)
    data = {
        key: olga.password if value == "CURRENT" else value for key, value in ACTIONS[path].items()
    }
    if token_kind == "foreign":
        mallory = account(app, secrets, role="security_officer", username="mallory")
        other = app.test_client()
        sign_in(other, mallory, clock, secrets)
        data["csrf_token"] = csrf_token(other, "/account")
    elif token_kind == "expired":
        data["csrf_token"] = expired_token(app, client)
    elif token_kind == "garbage":
        data["csrf_token"] = "not-a-token"
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert_nothing_changed(app, client, rollback_database, olga, before)
    entry = audited(
        rollback_database, "csrf.rejected", actor="olga", outcome="denied", target=f"POST {path}"
    )
    expected = {
        "missing": "The CSRF token is missing.",
        "foreign": "The CSRF tokens do not match.",
        "expired": "The CSRF token has expired.",
        "garbage": "The CSRF token is invalid.",
    }[token_kind]
    assert details_of(entry) == {"reason": expected}


def test_the_sign_in_form_needs_its_token_too(app, client, rollback_database, secrets):
    alice = account(app, secrets, username="alice")
    response = client.post("/login", data={"username": "alice", "password": alice.password})
    assert response.status_code == 400
    assert is_anonymous(client)
    audited(
        rollback_database,
        "csrf.rejected",
        actor="anonymous",
        outcome="denied",
        target="POST /login",
    )
    assert audit_entries(rollback_database, "auth.password.success") == []


# 30: cookie-authenticated calls in other encodings ---------------------------------------------


@pytest.mark.parametrize(
    "encoding",
    ["text/plain", "application/json", "form without token", "multipart without token"],
)
def test_a_cookie_authenticated_call_without_the_token_field_or_header_is_refused(
    app, client, rollback_database, olga, encoding
):
    token = csrf_token(client, "/account")
    before = state(rollback_database, olga)
    if encoding == "text/plain":  # what a cross-site <form enctype="text/plain"> can send
        options = {"data": f"csrf_token={token}", "content_type": "text/plain"}
    elif encoding == "application/json":
        options = {"data": json.dumps({"csrf_token": token}), "content_type": "application/json"}
    elif encoding == "form without token":
        options = {"data": {"everywhere": "1"}}
    else:
        options = {"data": {"everywhere": "1"}, "content_type": "multipart/form-data"}
    response = client.post("/account/logout-everywhere", **options)
    assert response.status_code == 400
    assert_nothing_changed(app, client, rollback_database, olga, before)
    audited(
        rollback_database,
        "csrf.rejected",
        actor="olga",
        outcome="denied",
        reason="The CSRF token is missing.",
    )


def test_a_json_call_with_the_token_in_its_header_is_accepted(app, client, rollback_database, olga):
    """The control for the test above: the documented way for JSON calls works."""
    token = csrf_token(client, "/account")
    response = client.post(
        "/account/logout-everywhere",
        json={},
        headers={"X-CSRFToken": token, "Origin": "http://localhost"},
    )
    assert response.status_code == 303
    assert is_anonymous(client)
    audited(rollback_database, "auth.logout", actor="olga", outcome="success", everywhere=True)


# 31: no state change on GET --------------------------------------------------------------------


@pytest.mark.parametrize("path", [*ACTIONS, "/language"])
def test_state_changing_urls_answer_only_post(app, client, rollback_database, olga, path):
    before = state(rollback_database, olga)
    for method in ("GET", "PUT", "DELETE", "PATCH"):
        response = client.open(path, method=method)
        assert response.status_code == 405, method
        assert "POST" in response.headers["Allow"]
    assert_nothing_changed(app, client, rollback_database, olga, before)


# 32: cross-site requests and CORS ----------------------------------------------------------------

CROSS_SITE = {
    "foreign origin": {"Origin": "https://evil.example"},
    "null origin": {"Origin": "null"},
    "look-alike origin": {"Origin": "http://localhost.evil.example"},
    "other port": {"Origin": "http://localhost:8081"},
    "fetch metadata": {"Sec-Fetch-Site": "cross-site"},
    "fetch metadata with our origin": {
        "Sec-Fetch-Site": "cross-site",
        "Origin": "http://localhost",
    },
}


@pytest.mark.parametrize("headers", list(CROSS_SITE))
def test_a_cross_site_post_is_refused_even_with_a_valid_token(
    app, client, rollback_database, olga, headers
):
    before = state(rollback_database, olga)
    paths = ["/account/password", "/account/logout-everywhere", "/logout"]
    for path in paths:
        data = {
            key: olga.password if value == "CURRENT" else value
            for key, value in ACTIONS[path].items()
        }
        data["csrf_token"] = csrf_token(client, "/account")
        response = client.post(path, data=data, headers=CROSS_SITE[headers])
        assert response.status_code == 403, path
        assert "Access-Control-Allow-Origin" not in response.headers
    assert_nothing_changed(app, client, rollback_database, olga, before)
    entries = audit_entries(rollback_database, "csrf.rejected")
    assert [entry.target for entry in entries] == [f"POST {path}" for path in paths]
    for entry in entries:
        assert (entry.actor, entry.outcome, entry.ip) == ("olga", "denied", "127.0.0.1")
        assert details_of(entry) == {"reason": "cross-site"}


def test_a_cross_site_sign_in_is_refused(app, client, rollback_database, secrets):
    alice = account(app, secrets, username="alice")
    response = post_form(
        client,
        "/login",
        "/login",
        {"username": "alice", "password": alice.password},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert response.status_code == 403
    assert is_anonymous(client)
    audited(
        rollback_database, "csrf.rejected", actor="anonymous", outcome="denied", reason="cross-site"
    )
    assert audit_entries(rollback_database, "auth.password.success") == []


def test_a_same_origin_post_is_allowed(app, client, rollback_database, olga):
    """The control: the browser's own form posts carry our Origin and same-origin."""
    response = post_form(
        client,
        "/account",
        "/logout",
        {},
        headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 303
    assert is_anonymous(client)
    assert audit_entries(rollback_database, "csrf.rejected") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/login"),
        ("GET", "/account"),
        ("GET", "/api/v1/token"),
        ("OPTIONS", "/login"),
        ("OPTIONS", "/api/v1/token"),
    ],
)
def test_no_cors_header_is_ever_sent(client, olga, method, path):
    response = client.open(
        path,
        method=method,
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-CSRFToken, Authorization",
        },
    )
    assert response.status_code < 500
    sent = {name.lower() for name, _value in response.headers.items()}
    assert not {name for name in sent if name.startswith("access-control-")}


# 33: logout --------------------------------------------------------------------------------------


def test_logout_is_a_post_with_the_token(app, client, rollback_database, olga):
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert is_signed_in(client)
    audited(
        rollback_database, "csrf.rejected", actor="olga", outcome="denied", target="POST /logout"
    )
    response = post_form(client, "/account", "/logout", {})
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    assert is_anonymous(client)
    audited(rollback_database, "auth.logout", actor="olga", outcome="success", target="user:olga")


# 34: open redirects ------------------------------------------------------------------------------

HOSTILE_TARGETS = [
    "https://evil.example/",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "https:evil.example",
    "/\t/evil.example",
    "/\r\nLocation: https://evil.example",
    "///evil.example",
    "data:text/html,<script>alert(1)</script>",
]


def is_local(location):
    parts = urlsplit(location)
    return (
        location.startswith("/")
        and not location.startswith(("//", "/\\"))
        and not parts.scheme
        and not parts.netloc
        and all(ord(character) >= 0x20 for character in location)
    )


def sign_in_with_next(client, officer, clock, secrets, target):
    page = client.get(f"/login?next={quote(target, safe='')}")
    assert page.status_code == 200
    response = post_form(
        client,
        "/login",
        "/login",
        {"username": officer.username, "password": officer.password, "next": target},
    )
    assert response.status_code == 303
    clock.advance(STEP)
    return submit_code(client, code(officer, clock, secrets))


@pytest.mark.parametrize("target", HOSTILE_TARGETS)
def test_a_hostile_next_after_sign_in_lands_on_a_local_page(
    app, client, clock, rollback_database, secrets, target
):
    officer = account(app, secrets, role="security_officer", username="olga")
    response = sign_in_with_next(client, officer, clock, secrets, target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert is_local(response.headers["Location"])
    audited(rollback_database, "auth.login.success", actor="olga", outcome="success")


def test_a_local_next_after_sign_in_is_kept(app, client, clock, secrets):
    officer = account(app, secrets, role="security_officer", username="olga")
    response = sign_in_with_next(client, officer, clock, secrets, "/account?tab=sessions")
    assert response.headers["Location"] == "/account?tab=sessions"


@pytest.mark.parametrize("target", HOSTILE_TARGETS[:6])
def test_a_hostile_next_after_a_step_up_lands_on_a_local_page(
    app, client, clock, secrets, olga, target
):
    clock.advance(STEP)
    assert client.get(f"/account/confirm?next={quote(target, safe='')}").status_code == 200
    response = post_form(
        client,
        "/account",
        "/account/confirm",
        {"password": olga.password, "code": code(olga, clock, secrets), "next": target},
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"


# 35: headers (one spot check; tests/web checks every kind of response) ----------------------------


def test_a_page_carries_the_security_headers(app, client):
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "max-age=31536000" in response.headers["Strict-Transport-Security"]
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert client.open("/login", method="TRACE").status_code == 405
    assert app.debug is False
    for path in ("/openapi.json", "/metrics", "/swagger.json", "/console"):
        assert client.get(path).status_code == 404, path
