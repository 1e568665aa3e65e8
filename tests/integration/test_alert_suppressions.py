"""Suppressions and alert policies as made and ended by people: every bad input refused
with a clear reason and nothing stored, every change audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound
from incidents.alerts import (
    create_policy,
    create_suppression,
    disable_policy,
    is_active,
    list_policies,
    list_suppressions,
    load_conditions,
    parse_condition_lines,
    revoke_suppression,
)
from incidents.alerts.models import AlertPolicy, Suppression
from tests.support.incident_factories import make_rule

NOW = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
OFFICER = Actor(name="officer", user_id=3)
GOOD = {
    "conditions": parse_condition_lines("user.name equals svc_backup"),
    "owner": "SOC team",
    "reason": "the backup account fails by design every night",
    "expires_at": NOW + timedelta(days=30),
    "rule_key": None,
}


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def actions(session, prefix: str) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(AuditEntry.action, AuditEntry.actor, AuditEntry.target)
        .where(AuditEntry.action.startswith(prefix))
        .order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


def test_a_suppression_is_made_with_its_conditions_owner_reason_and_expiry(db_session):
    make_rule(db_session, "vpn-brute")
    suppression = create_suppression(
        db_session,
        **{**GOOD, "owner": "  SOC team ", "rule_key": "vpn-brute"},
        actor=OFFICER,
        now=NOW,
    )
    stored = db_session.get(Suppression, suppression.id)
    assert (stored.owner, stored.rule_key, stored.created_by, stored.hits) == (
        "SOC team",
        "vpn-brute",
        "officer",
        0,
    )
    assert load_conditions(stored.conditions) == GOOD["conditions"]
    assert is_active(stored, NOW)
    assert not is_active(stored, NOW + timedelta(days=30))
    assert actions(db_session, "suppression.") == [
        ("suppression.created", "officer", f"suppression:{suppression.id}")
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"owner": "  "}, "owner", "Name an owner"),
        ({"owner": "x" * 201}, "owner", "Name an owner"),
        ({"reason": ""}, "reason", "Give a reason"),
        ({"reason": "x" * 2001}, "reason", "Give a reason"),
        ({"expires_at": NOW}, "expires", "in the future"),
        ({"expires_at": NOW - timedelta(days=1)}, "expires", "in the future"),
        ({"expires_at": NOW + timedelta(days=90, seconds=1)}, "expires", "at most 90 days"),
        ({"expires_at": datetime(2026, 3, 20)}, "expires", "time zone"),
        ({"rule_key": "no-such-rule"}, "rule", "no rule with the key"),
        ({"conditions": ()}, "conditions", "at least one condition"),
    ],
)
def test_bad_suppressions_are_refused_and_nothing_is_stored(db_session, change, field, message):
    with pytest.raises(InvalidInput, match=message) as refused:
        create_suppression(db_session, **{**GOOD, **change}, actor=OFFICER, now=NOW)
    assert refused.value.field == field
    assert count(db_session, Suppression) == 0
    assert actions(db_session, "suppression.") == []


def test_ninety_days_ahead_is_allowed(db_session):
    create_suppression(
        db_session, **{**GOOD, "expires_at": NOW + timedelta(days=90)}, actor=OFFICER, now=NOW
    )
    assert count(db_session, Suppression) == 1


def test_revoking_ends_a_suppression_once_and_is_audited(db_session):
    suppression = create_suppression(db_session, **GOOD, actor=OFFICER, now=NOW)
    later = NOW + timedelta(hours=1)
    revoke_suppression(db_session, suppression.id, actor=Actor(name="chief"), now=later)
    assert (suppression.revoked_at, suppression.revoked_by) == (later, "chief")
    assert not is_active(suppression, later)
    with pytest.raises(Conflict, match="already revoked"):
        revoke_suppression(db_session, suppression.id, actor=OFFICER, now=later)
    with pytest.raises(NotFound):
        revoke_suppression(db_session, 999_999, actor=OFFICER, now=later)
    assert [action for action, _, _ in actions(db_session, "suppression.")] == [
        "suppression.created",
        "suppression.revoked",
    ]


def test_suppressions_are_listed_newest_first_revoked_ones_too(db_session):
    first = create_suppression(db_session, **GOOD, actor=OFFICER, now=NOW)
    second = create_suppression(db_session, **GOOD, actor=OFFICER, now=NOW + timedelta(minutes=1))
    revoke_suppression(db_session, first.id, actor=OFFICER, now=NOW + timedelta(minutes=2))
    assert [s.id for s in list_suppressions(db_session)] == [second.id, first.id]


# Policies ---------------------------------------------------------------------------------


def test_a_policy_is_made_and_switched_off_with_audit_entries(db_session):
    make_rule(db_session, "vpn-brute")
    policy = create_policy(
        db_session,
        name="VPN brute force is high",
        rule_key="vpn-brute",
        tag="attack.t1110",
        min_severity="medium",
        raise_to="high",
        open_incident=True,
        incident_type="cyber",
        actor=OFFICER,
        now=NOW,
    )
    assert (policy.enabled, policy.created_by) == (True, "officer")
    disable_policy(db_session, policy.id, actor=OFFICER, now=NOW)
    assert policy.enabled is False
    with pytest.raises(Conflict, match="already off"):
        disable_policy(db_session, policy.id, actor=OFFICER, now=NOW)
    with pytest.raises(NotFound):
        disable_policy(db_session, 999_999, actor=OFFICER, now=NOW)
    assert [action for action, _, _ in actions(db_session, "alert_policy.")] == [
        "alert_policy.created",
        "alert_policy.disabled",
    ]
    assert list_policies(db_session, enabled_only=True) == []
    assert list_policies(db_session) == [policy]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": " "}, "name", "needs a name"),
        ({"name": "x" * 201}, "name", "needs a name"),
        ({"name": "taken"}, "name", "already a policy named"),
        ({"rule_key": "no-such-rule"}, "rule", "no rule with the key"),
        ({"tag": "t" * 201}, "tag", "at most 200"),
        ({"min_severity": "urgent"}, "min_severity", "severity"),
        ({"raise_to": "extreme"}, "raise_to", "severity"),
        ({"raise_to": None, "open_incident": False}, "raise_to", "raise the severity"),
        ({"incident_type": "parking"}, "incident_type", "incident type"),
    ],
)
def test_bad_policies_are_refused_and_nothing_is_stored(db_session, change, field, message):
    create_policy(db_session, name="taken", raise_to="high", actor=OFFICER, now=NOW)
    values = {"name": "new policy", "raise_to": "high", **change}
    with pytest.raises(InvalidInput, match=message) as refused:
        create_policy(db_session, **values, actor=OFFICER, now=NOW)
    assert refused.value.field == field
    assert count(db_session, AlertPolicy) == 1
    assert len(actions(db_session, "alert_policy.")) == 1
