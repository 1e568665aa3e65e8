"""Authentication audit entries come out as ECS events for the detection engine."""

from __future__ import annotations

from datetime import UTC, datetime

from access_control import Actor
from access_control.audit import record
from access_control.auth_events import authentication_events

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def test_login_failures_and_successes_become_ecs_authentication_events(db_session):
    actor = Actor(name="anonymous", ip="192.0.2.7", user_agent="Firefox")
    record(
        db_session,
        actor=actor,
        action="auth.password.failure",
        target="user:alice",
        outcome="failure",
        now=NOW,
        details={"reason": "bad_password"},
    )
    record(
        db_session,
        actor=actor,
        action="token.created",
        target="token:1",
        outcome="success",
        now=NOW,
    )
    record(
        db_session,
        actor=actor,
        action="auth.login.success",
        target="user:alice",
        outcome="success",
        now=NOW,
    )
    events = authentication_events(db_session)
    assert [event["event"]["action"] for event in events] == [
        "auth.password.failure",
        "auth.login.success",
    ]
    failure, success = events
    assert failure["event"]["category"] == ["authentication"]
    assert failure["event"]["outcome"] == "failure"
    assert failure["event"]["reason"] == "bad_password"
    assert failure["user"] == {"name": "alice"}
    assert failure["source"] == {"ip": "192.0.2.7"}
    assert failure["@timestamp"] == "2026-06-01T08:30:00Z"
    assert failure["wachter"]["logsource"] == {"product": "wachter", "service": "auth"}
    assert success["event"]["type"] == ["start"]


def test_the_cursor_returns_only_newer_events(db_session):
    actor = Actor(name="anonymous")
    first = record(
        db_session, actor=actor, action="auth.logout", target="user:a", outcome="success", now=NOW
    )
    record(
        db_session,
        actor=actor,
        action="mfa.totp.replay_rejected",
        target="user:a",
        outcome="denied",
        now=NOW,
    )
    later = authentication_events(db_session, after_id=first.id)
    assert [event["event"]["action"] for event in later] == ["mfa.totp.replay_rejected"]
    assert later[0]["event"]["outcome"] == "failure"


def test_creating_an_account_and_changing_its_role_are_iam_events_about_the_target(db_session):
    admin = Actor(name="alice", ip="192.0.2.8")
    record(
        db_session,
        actor=admin,
        action="user.created",
        target="user:bob",
        outcome="success",
        now=NOW,
        details={"role": "admin"},
    )
    record(
        db_session,
        actor=admin,
        action="user.role_changed",
        target="user:carol",
        outcome="success",
        now=NOW,
        details={"from": "analyst", "to": "admin"},
    )

    created, changed = authentication_events(db_session)

    assert created["event"]["category"] == ["iam"]
    assert created["event"]["type"] == ["user", "creation"]
    assert created["user"] == {"name": "alice", "target": {"name": "bob"}}
    assert created["wachter"]["details"] == {"role": "admin"}
    assert created["source"] == {"ip": "192.0.2.8"}
    assert changed["event"]["type"] == ["user", "change"]
    assert changed["user"] == {"name": "alice", "target": {"name": "carol"}}
    assert changed["wachter"]["details"] == {"from": "analyst", "to": "admin"}
    assert changed["wachter"]["logsource"] == {"product": "wachter", "service": "auth"}
