"""The API's bearer tokens over HTTP: header only, generic 401s, scopes, CSRF, no leaks."""

from __future__ import annotations

import base64
import json
import logging
import re
from datetime import timedelta

import pytest
from flask import Flask, jsonify
from sqlalchemy import select

from access_control.actor import Actor
from access_control.models import ApiToken, AuditEntry
from access_control.tokens import Scope, revoke_token
from tests.support.tokens import issue_token
from web.api_auth import SCOPE_ATTRIBUTE, current_actor, require_token
from web.policy import POLICY, Access, Rule

UNAUTHENTICATED = 401


@pytest.fixture
def app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The usual app plus two API routes that need a scope, added before the first request
    and listed as token routes in the policy table for this test only."""
    monkeypatch.setitem(POLICY, ("api.probe_alerts", "GET"), Rule(Access.TOKEN))
    monkeypatch.setitem(POLICY, ("api.probe_events", "POST"), Rule(Access.TOKEN))

    @require_token(Scope.ALERTS_READ)
    def read_alerts():
        actor = current_actor()
        return jsonify(
            actor=actor.name, ip=actor.ip, user_agent=actor.user_agent, request_id=actor.request_id
        )

    @require_token(Scope.EVENTS_WRITE)
    def write_events():
        return jsonify(accepted=True), 201

    app.add_url_rule("/api/v1/probe/alerts", "api.probe_alerts", read_alerts)
    app.add_url_rule("/api/v1/probe/events", "api.probe_events", write_events, methods=["POST"])
    return app


@pytest.fixture
def issue(rollback_database, clock):
    """Create a token in its own committed unit of work, as ``wachter token add`` would."""

    def issue(*scopes, name="soc-tool", expires_in=timedelta(days=30)):
        scopes = scopes or (Scope.ALERTS_READ,)
        return issue_token(rollback_database, clock, *scopes, name=name, expires_in=expires_in)

    return issue


@pytest.fixture
def revoke(rollback_database, clock):
    def revoke(token_id):
        with rollback_database.unit_of_work() as session:
            revoke_token(session, token_id=token_id, actor=Actor.system(), now=clock.now())

    return revoke


def bearer(token_text):
    return {"Authorization": f"Bearer {token_text}"}


def assert_unauthenticated(response, token_text=None):
    assert response.status_code == UNAUTHENTICATED
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert re.search(r'realm="?wachter"?', response.headers["WWW-Authenticate"])
    error = response.get_json()["error"]
    assert error["code"] == "unauthenticated"
    if token_text:
        assert token_text not in response.get_data(as_text=True)
        assert token_text[17:] not in response.get_data(as_text=True)


def generic(response):
    """Status, body without the request id, and the challenge: what a client can compare."""
    body = response.get_json()
    body["error"].pop("request_id")
    return response.status_code, body, response.headers.get("WWW-Authenticate")


# Accepted -----------------------------------------------------------------------------


def test_a_bearer_token_reads_its_own_description(client, issue, clock):
    _id, token_text = issue(Scope.INCIDENTS_READ, Scope.ALERTS_READ, name="triage-bot")
    response = client.get("/api/v1/token", headers=bearer(token_text))
    assert response.status_code == 200
    assert response.get_json() == {
        "name": "triage-bot",
        "scopes": ["alerts:read", "incidents:read"],
        "expires_at": (clock.now() + timedelta(days=30)).isoformat(),
    }
    assert token_text not in response.get_data(as_text=True)
    assert token_text[17:] not in response.get_data(as_text=True)


@pytest.mark.parametrize("scope", list(Scope))
def test_the_description_needs_a_valid_token_of_any_scope(client, issue, scope):
    _id, token_text = issue(scope)
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 200


def test_the_scheme_name_is_case_insensitive(client, issue):
    _id, token_text = issue()
    response = client.get("/api/v1/token", headers={"Authorization": f"bearer {token_text}"})
    assert response.status_code == 200


def test_the_request_acts_as_the_token_and_its_use_is_recorded(client, issue, rollback_database):
    token_id, token_text = issue(Scope.ALERTS_READ, name="siem")
    response = client.get(
        "/api/v1/probe/alerts",
        headers={**bearer(token_text), "User-Agent": "siem-forwarder/2.1"},
        environ_overrides={"REMOTE_ADDR": "192.0.2.44"},
    )
    assert response.status_code == 200
    assert response.get_json() == {
        "actor": "token:siem",
        "ip": "192.0.2.44",
        "user_agent": "siem-forwarder/2.1",
        "request_id": response.headers["X-Request-ID"],
    }
    with rollback_database.unit_of_work() as session:
        stored = session.get(ApiToken, token_id)
        assert stored.last_used_ip == "192.0.2.44"
        assert stored.last_used_at is not None


# Refused: 401 ---------------------------------------------------------------------------


def test_no_authorization_header_is_401_with_a_bearer_challenge(client):
    response = client.get("/api/v1/token")
    assert_unauthenticated(response)
    assert "error=" not in response.headers["WWW-Authenticate"]  # RFC 6750 3.1


@pytest.mark.parametrize(
    "header",
    [
        "Basic {basic}",
        "Token {token}",
        "{token}",
        "Bearer",
        "Bearer ",
        "Bearer {token} extra",
        "Bearer {token},Bearer {token}",
        "Bearer:{token}",
        "Bearer\t{token}",
    ],
)
def test_any_other_authorization_header_is_401(client, issue, header):
    _id, token_text = issue()
    basic = base64.b64encode(f"api:{token_text}".encode()).decode()
    response = client.get(
        "/api/v1/token", headers={"Authorization": header.format(token=token_text, basic=basic)}
    )
    assert_unauthenticated(response, token_text)


def test_two_authorization_headers_are_401(client, issue):
    _id, token_text = issue()
    response = client.get("/api/v1/token", headers=[("Authorization", f"Bearer {token_text}")] * 2)
    assert_unauthenticated(response, token_text)


@pytest.mark.parametrize("parameter", ["token", "access_token", "api_key", "API_KEY", "apikey"])
def test_a_token_in_the_query_string_is_refused_even_when_valid(client, issue, parameter):
    _id, token_text = issue()
    response = client.get("/api/v1/token", query_string={parameter: token_text})
    assert_unauthenticated(response, token_text)
    assert "error=invalid_request" in response.headers["WWW-Authenticate"].replace('"', "")


def test_a_token_in_the_query_string_is_refused_even_with_a_valid_header(
    client, issue, rollback_database
):
    """Documented choice: a token in a URL is leaked, so the whole request is refused."""
    token_id, token_text = issue()
    for query in ({"token": token_text}, {"q": token_text}, {"token": "anything"}):
        response = client.get("/api/v1/token", query_string=query, headers=bearer(token_text))
        assert_unauthenticated(response, token_text)
    with rollback_database.unit_of_work() as session:
        assert session.get(ApiToken, token_id).last_used_at is None  # never authenticated


def test_every_invalid_token_gets_the_same_answer(client, issue, revoke, clock):
    _expired_id, expired = issue(name="expired", expires_in=timedelta(hours=1))
    revoked_id, revoked = issue(name="revoked")
    revoke(revoked_id)
    _id, valid = issue(name="valid", expires_in=timedelta(days=2))
    clock.advance(timedelta(hours=1))
    attempts = {
        "missing": {},
        "expired": bearer(expired),
        "revoked": bearer(revoked),
        "wrong secret": bearer(valid[:-1] + ("A" if valid[-1] != "A" else "B")),
        "unknown id": bearer("wch_" + "Z" * 12 + valid[16:]),
        "malformed": bearer("wch_"),
        "10 kB": bearer("wch_" + "a" * 10_240),
    }
    answers = {}
    for reason, headers in attempts.items():
        response = client.get("/api/v1/token", headers=headers)
        assert_unauthenticated(response)
        answers[reason] = generic(response)
    with_token = {reason: answer for reason, answer in answers.items() if reason != "missing"}
    assert len(set(map(repr, with_token.values()))) == 1, with_token
    assert answers["missing"][:2] == answers["expired"][:2]  # same status and body


def test_a_revoked_token_is_refused_from_the_next_request_on(client, issue, revoke):
    token_id, token_text = issue()
    assert client.get("/api/v1/token", headers=bearer(token_text)).status_code == 200
    revoke(token_id)
    assert_unauthenticated(client.get("/api/v1/token", headers=bearer(token_text)), token_text)


def test_a_non_ascii_authorization_header_is_401_not_500(client):
    response = client.get("/api/v1/token", headers={"Authorization": "Bearer wch_" + "é" * 60})
    assert_unauthenticated(response)


# Refused: 403 ---------------------------------------------------------------------------


def test_a_valid_token_without_the_scope_is_403(client, issue):
    _id, token_text = issue(Scope.INCIDENTS_READ, Scope.INCIDENTS_WRITE)
    response = client.get("/api/v1/probe/alerts", headers=bearer(token_text))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "alerts:read" in response.get_json()["error"]["message"]
    assert token_text not in response.get_data(as_text=True)


# Audit of refusals ----------------------------------------------------------------------


def _entries(database, action):
    with database.unit_of_work() as session:
        return session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        ).all()


def test_refusals_are_audited_and_a_missing_token_is_not(client, issue, rollback_database):
    _id, token_text = issue(Scope.INCIDENTS_READ)
    remote = {"REMOTE_ADDR": "198.51.100.23"}
    client.get("/api/v1/token", environ_overrides=remote)
    assert _entries(rollback_database, "token.rejected") == []

    client.get("/api/v1/token", headers=bearer(token_text[:-1]), environ_overrides=remote)
    client.get("/api/v1/token", query_string={"token": token_text}, environ_overrides=remote)
    response = client.get(
        "/api/v1/probe/alerts", headers=bearer(token_text), environ_overrides=remote
    )

    rejected = _entries(rollback_database, "token.rejected")
    assert [json.loads(entry.details)["reason"] for entry in rejected] == [
        "invalid token",
        "token in the query string",
    ]
    denied = _entries(rollback_database, "authz.denied")
    assert len(denied) == 1
    assert json.loads(denied[0].details) == {
        "reason": "needs alerts:read",
        "client": f"token:{_id}",
    }
    assert denied[0].request_id == response.headers["X-Request-ID"]
    for entry in (*rejected, *denied):
        assert (entry.outcome, entry.ip) == ("denied", "198.51.100.23")
        assert entry.target in ("GET /api/v1/token", "GET /api/v1/probe/alerts")
        for column in (entry.actor, entry.target, entry.details, entry.user_agent or ""):
            assert token_text[17:] not in column


# CSRF and the route inventory ------------------------------------------------------------


def test_an_api_post_needs_a_token_not_a_csrf_token(client, issue):
    _id, token_text = issue(Scope.EVENTS_WRITE)
    response = client.post("/api/v1/probe/events", json={"event": 1}, headers=bearer(token_text))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert_unauthenticated(client.post("/api/v1/probe/events", json={"event": 1}))


def test_a_console_post_without_csrf_token_is_still_refused(client):
    """The control for the test above: CSRF protection is on in this app."""
    response = client.post("/language", data={"language": "nl"})
    assert response.status_code == 400


def test_every_api_route_requires_a_token(app):
    api_rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("api.")]
    assert any(rule.rule == "/api/v1/token" for rule in api_rules)
    for rule in api_rules:
        view = app.view_functions[rule.endpoint]
        assert hasattr(view, SCOPE_ATTRIBUTE), f"{rule.rule} is not guarded by require_token"


# No token text in any log line -------------------------------------------------------------


def test_no_token_appears_in_any_log_record(client, issue, revoke, rollback_database, caplog):
    caplog.set_level(logging.DEBUG)
    token_id, token_text = issue(Scope.ALERTS_READ, name="logged")
    _other_id, other_text = issue(Scope.INCIDENTS_READ, name="other")
    client.get("/api/v1/token", headers=bearer(token_text))
    client.get("/api/v1/probe/alerts", headers=bearer(token_text))
    client.get("/api/v1/probe/alerts", headers=bearer(other_text))  # 403
    client.get("/api/v1/token", headers=bearer(token_text[:-1]))  # 401
    client.get("/api/v1/token", query_string={"token": token_text})  # 401, in the URL
    client.get("/api/v1/token", query_string={"q": other_text}, headers=bearer(token_text))
    client.post("/api/v1/probe/events", headers=bearer(token_text))  # 403
    revoke(token_id)
    client.get("/api/v1/token", headers=bearer(token_text))
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(ApiToken)).all()

    assert len(caplog.records) >= 9  # the requests were logged
    assert any("API token refused" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        everything = f"{record.getMessage()} {record.__dict__!r}"
        for secret in (token_text, token_text[17:], other_text, other_text[17:]):
            assert secret not in everything, record.getMessage()
