"""Detections become alerts (``incidents.alerts.raise_alerts``): fingerprints, the
deduplication window, entities, suppressions, policies, the feed and the cursor.

Detections and events are stored rows, as the detection engine leaves them; the job
under test is run directly, as the job runner runs it, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from access_control import Actor
from detection_rules.models import DetectionRuleVersion
from incidents.alerts import (
    close,
    conditions_from,
    create_policy,
    create_suppression,
    disable_policy,
    latest_hits,
    raise_alerts,
    revoke_suppression,
)
from incidents.alerts.models import (
    Alert,
    AlertDetection,
    AlertEntity,
    IncidentsCursor,
    SuppressedHit,
    Suppression,
)
from incidents.feeds.models import AlertFeedEntry
from storage.events import Event
from tests.support.incident_factories import make_detection, make_rule

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=60)
OFFICER = Actor(name="officer")
_keys = itertools.count(1)


def store_event(session, document) -> int:
    event = Event(
        source="test",
        event_key=f"event-{next(_keys)}",
        timestamp=NOW,
        ingested=NOW,
        document=orjson.dumps(document).decode(),
    )
    session.add(event)
    session.flush()
    return event.id


def sign_in_failure(session, user="alice", ip="192.0.2.7", **extra) -> int:
    document = {"event": {"outcome": "failure"}, "user": {"name": user}, "source": {"ip": ip}}
    return store_event(session, {**document, **extra})


def detect(session, *, rule_key="rule-1", at=NOW, events=(), group=None, level="high"):
    return make_detection(
        session,
        rule_key=rule_key,
        level=level,
        detected_at=at,
        event_ids=list(events),
        group=group,
    )


def run(session, *, now=NOW, window=WINDOW, limit=500) -> int:
    return raise_alerts(session, now=now, dedup_window=window, limit=limit)


def alerts(session) -> list[Alert]:
    return list(session.scalars(select(Alert).order_by(Alert.id)))


def feed(session) -> list[tuple[int, int, str]]:
    rows = session.execute(
        select(
            AlertFeedEntry.alert_id, AlertFeedEntry.alert_version, AlertFeedEntry.change
        ).order_by(AlertFeedEntry.id)
    )
    return [tuple(row) for row in rows]


def with_rule_text(session, key: str, text: str) -> None:
    make_rule(session, key)
    version = session.scalars(
        select(DetectionRuleVersion).where(DetectionRuleVersion.rule_key == key)
    ).one()
    version.text = text
    session.flush()


def suppress(session, lines: list[dict], *, rule_key=None, expires=NOW + timedelta(days=7)):
    return create_suppression(
        session,
        conditions=conditions_from(lines),
        owner="SOC team",
        reason="backup account fails by design",
        expires_at=expires,
        rule_key=rule_key,
        actor=OFFICER,
        now=NOW - timedelta(hours=1),
    )


# Making alerts ---------------------------------------------------------------------------


def test_a_detection_becomes_an_alert_with_the_rules_title_level_tags_and_entities(db_session):
    with_rule_text(
        db_session,
        "brute",
        "title: Brute force\nlevel: critical\ntags: [attack.credential_access, attack.t1110]\n",
    )
    event_id = sign_in_failure(db_session, user="Alice", ip="192.0.2.7", host={"name": "PC1"})
    detection = detect(db_session, rule_key="brute", events=[event_id], level="critical")

    assert run(db_session) == 1

    [alert] = alerts(db_session)
    assert (alert.title, alert.severity, alert.rule_level, alert.status) == (
        "Brute force",
        "critical",
        "critical",
        "new",
    )
    assert orjson.loads(alert.tags) == ["attack.credential_access", "attack.t1110"]
    assert (alert.count, alert.first_seen, alert.last_seen, alert.version) == (1, NOW, NOW, 1)
    assert orjson.loads(alert.entities) == [
        ["ip", "192.0.2.7"],
        ["account", "alice"],
        ["host", "pc1"],
    ]
    rows = db_session.execute(
        select(AlertEntity.kind, AlertEntity.value).where(AlertEntity.alert_id == alert.id)
    )
    assert sorted(rows) == [("account", "alice"), ("host", "pc1"), ("ip", "192.0.2.7")]
    link = db_session.get(AlertDetection, detection.id)
    assert link.alert_id == alert.id
    assert feed(db_session) == [(alert.id, 1, "created")]


def test_a_rule_whose_text_does_not_parse_still_makes_an_alert_from_the_detection(db_session):
    with_rule_text(db_session, "odd", "title: [unclosed\n")
    detect(db_session, rule_key="odd", level="low")
    run(db_session)
    [alert] = alerts(db_session)
    assert (alert.title, alert.severity, alert.tags) == ("Rule odd", "low", "[]")


def test_a_rule_without_a_level_gives_a_medium_alert(db_session):
    detect(db_session, rule_key="no-level", level=None)
    run(db_session)
    assert alerts(db_session)[0].severity == "medium"


def test_repeats_within_the_window_raise_count_and_last_seen(db_session):
    detect(db_session, events=[sign_in_failure(db_session)])
    run(db_session)
    later = NOW + timedelta(minutes=59)
    detect(db_session, at=later, events=[sign_in_failure(db_session, host={"name": "pc9"})])
    run(db_session, now=later)

    [alert] = alerts(db_session)
    assert (alert.count, alert.first_seen, alert.last_seen, alert.version) == (2, NOW, later, 2)
    assert alert.updated_at == later
    assert ["host", "pc9"] in orjson.loads(alert.entities)  # the repeat's entities join it
    assert feed(db_session) == [(alert.id, 1, "created"), (alert.id, 2, "updated")]


def test_repeats_in_one_batch_make_one_alert_and_one_feed_entry(db_session):
    for minute in range(3):
        detect(db_session, at=NOW + timedelta(minutes=minute), events=[sign_in_failure(db_session)])
    assert run(db_session) == 3
    [alert] = alerts(db_session)
    assert (alert.count, alert.version) == (3, 1)
    assert feed(db_session) == [(alert.id, 1, "created")]
    assert db_session.scalar(select(func.count()).select_from(AlertDetection)) == 3


def test_a_repeat_outside_the_window_makes_a_new_alert(db_session):
    detect(db_session, events=[sign_in_failure(db_session)])
    run(db_session)
    later = NOW + WINDOW + timedelta(seconds=1)
    detect(db_session, at=later, events=[sign_in_failure(db_session)])
    run(db_session, now=later)

    first, second = alerts(db_session)
    assert first.fingerprint == second.fingerprint
    assert (first.count, second.count) == (1, 1)
    assert second.first_seen == later
    assert [change for _, _, change in feed(db_session)] == ["created", "created"]


def test_in_one_batch_a_repeat_outside_the_window_starts_a_new_alert(db_session):
    # The batch keeps the open alert of each fingerprint; it must still respect the window.
    for at in (NOW, NOW + timedelta(minutes=30), NOW + timedelta(minutes=100)):
        detect(db_session, at=at, events=[sign_in_failure(db_session)])
    assert run(db_session) == 3

    first, second = alerts(db_session)
    assert (first.count, first.last_seen) == (2, NOW + timedelta(minutes=30))
    assert (second.count, second.first_seen) == (1, NOW + timedelta(minutes=100))
    assert [change for _, _, change in feed(db_session)] == ["created", "created"]


def test_the_events_of_a_batch_are_read_in_chunks_and_none_is_missed(db_session, monkeypatch):
    monkeypatch.setattr("incidents.alerts.raising.IDS_PER_QUERY", 2)
    users = ["ann", "bob", "cas", "dirk", "eva"]
    detect(db_session, events=[sign_in_failure(db_session, user=user) for user in users[:3]])
    detect(
        db_session,
        rule_key="rule-2",
        events=[sign_in_failure(db_session, user=user) for user in users[3:]],
    )
    run(db_session)

    accounts = {
        value
        for alert in alerts(db_session)
        for kind, value in orjson.loads(alert.entities)
        if kind == "account"
    }
    assert accounts == set(users)


def test_a_repeat_of_a_closed_alert_makes_a_new_alert(db_session):
    detect(db_session, events=[sign_in_failure(db_session)])
    run(db_session)
    [closed] = alerts(db_session)
    close(db_session, closed.id, resolution="true_positive", note=None, actor=OFFICER, now=NOW)
    detect(db_session, at=NOW + timedelta(minutes=1), events=[sign_in_failure(db_session)])
    run(db_session)

    first, second = alerts(db_session)
    assert (first.status, first.count) == ("closed", 1)
    assert (second.status, second.count) == ("new", 1)


def test_acknowledged_and_escalated_alerts_still_take_repeats(db_session):
    detect(db_session, events=[sign_in_failure(db_session)])
    run(db_session)
    [alert] = alerts(db_session)
    alert.status = "escalated"
    detect(db_session, at=NOW + timedelta(minutes=5), events=[sign_in_failure(db_session)])
    run(db_session)
    assert [(a.status, a.count) for a in alerts(db_session)] == [("escalated", 2)]


def test_single_event_alerts_are_told_apart_by_their_key_entity(db_session):
    detect(db_session, events=[sign_in_failure(db_session, ip="192.0.2.1", user="alice")])
    detect(db_session, events=[sign_in_failure(db_session, ip="192.0.2.2", user="alice")])
    detect(db_session, events=[sign_in_failure(db_session, ip="192.0.2.1", user="bob")])
    run(db_session)
    assert [alert.count for alert in alerts(db_session)] == [2, 1]


def test_correlation_alerts_are_told_apart_by_their_group_values(db_session):
    make_rule(db_session, "corr", kind="correlation")
    for user in ("alice", "bob", "alice"):
        event = sign_in_failure(db_session, user=user, ip="192.0.2.9")
        detect(db_session, rule_key="corr", events=[event], group={"user.name": user})
    run(db_session)

    first, second = alerts(db_session)
    assert (first.count, second.count) == (2, 1)
    assert orjson.loads(first.group_values) == {"user.name": "alice"}
    assert orjson.loads(second.group_values) == {"user.name": "bob"}
    # The group's value is an entity even when no event says it.
    assert ["account", "bob"] in orjson.loads(second.entities)


def test_a_detection_whose_events_were_purged_still_becomes_an_alert(db_session):
    detect(db_session, events=[987654321])
    run(db_session)
    [alert] = alerts(db_session)
    assert (alert.entities, alert.count) == ("[]", 1)


# The cursor -------------------------------------------------------------------------------


def test_rerunning_handles_no_detection_twice(db_session):
    detect(db_session, events=[sign_in_failure(db_session)])
    detect(db_session, events=[sign_in_failure(db_session)])
    assert run(db_session, limit=1) == 1
    assert run(db_session, limit=1) == 1
    assert run(db_session) == 0
    assert run(db_session) == 0

    [alert] = alerts(db_session)
    assert alert.count == 2
    cursor = db_session.get(IncidentsCursor, "alerts")
    assert cursor.position == max(db_session.scalars(select(AlertDetection.detection_id)))
    detect(db_session, events=[sign_in_failure(db_session)])
    assert run(db_session) == 1
    assert alerts(db_session)[0].count == 3


# Suppressions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "condition",
    [
        {"field": "user.name", "operator": "equals", "value": "SVC_BACKUP"},
        {"field": "source.ip", "operator": "cidr", "value": "10.20.0.0/16"},
        {"field": "host.name", "operator": "in", "value": ["nas01", "nas02"]},
        {"field": "user.name", "operator": "contains", "value": "backup"},
    ],
)
def test_a_suppressed_detection_is_counted_and_listed_not_alerted(db_session, condition):
    suppression = suppress(db_session, [condition])
    held = detect(
        db_session,
        events=[
            sign_in_failure(db_session, user="svc_backup", ip="10.20.3.4", host={"name": "nas02"})
        ],
    )
    passed = detect(
        db_session,
        events=[sign_in_failure(db_session, user="alice", ip="10.99.3.4", host={"name": "pc1"})],
    )
    run(db_session)

    [alert] = alerts(db_session)
    assert db_session.get(AlertDetection, passed.id).alert_id == alert.id
    assert db_session.get(AlertDetection, held.id) is None
    assert (suppression.hits, suppression.last_hit_at) == (1, NOW)
    [hit] = latest_hits(db_session, [suppression.id])[suppression.id]
    assert (hit.detection_id, hit.rule_key, hit.suppressed_at) == (held.id, "rule-1", NOW)


def test_every_condition_of_a_suppression_must_hold(db_session):
    suppress(
        db_session,
        [
            {"field": "user.name", "operator": "equals", "value": "svc_backup"},
            {"field": "source.ip", "operator": "cidr", "value": "10.20.0.0/16"},
        ],
    )
    detect(db_session, events=[sign_in_failure(db_session, user="svc_backup", ip="192.0.2.1")])
    run(db_session)
    assert len(alerts(db_session)) == 1
    assert db_session.scalar(select(func.count()).select_from(SuppressedHit)) == 0


def test_a_suppression_for_one_rule_leaves_other_rules_alone(db_session):
    make_rule(db_session, "other")
    suppression = suppress(
        db_session,
        [{"field": "user.name", "operator": "equals", "value": "alice"}],
        rule_key="other",
    )
    detect(db_session, rule_key="rule-1", events=[sign_in_failure(db_session)])
    detect(db_session, rule_key="other", events=[sign_in_failure(db_session)])
    run(db_session)
    assert [alert.rule_key for alert in alerts(db_session)] == ["rule-1"]
    assert suppression.hits == 1


def test_a_suppression_matches_a_correlations_group_values(db_session):
    make_rule(db_session, "corr", kind="correlation")
    suppress(db_session, [{"field": "user.name", "operator": "equals", "value": "alice"}])
    detect(db_session, rule_key="corr", group={"user.name": "alice"})
    detect(db_session, rule_key="corr", group={"user.name": "bob"})
    run(db_session)
    assert [orjson.loads(alert.group_values) for alert in alerts(db_session)] == [
        {"user.name": "bob"}
    ]


def test_expired_and_revoked_suppressions_hold_nothing_back(db_session):
    expired = suppress(
        db_session,
        [{"field": "user.name", "operator": "equals", "value": "alice"}],
        expires=NOW,
    )
    revoked = suppress(db_session, [{"field": "user.name", "operator": "equals", "value": "alice"}])
    revoke_suppression(db_session, revoked.id, actor=OFFICER, now=NOW - timedelta(minutes=1))
    detect(db_session, events=[sign_in_failure(db_session, user="alice")])
    run(db_session)
    assert len(alerts(db_session)) == 1
    assert (expired.hits, revoked.hits) == (0, 0)


def test_a_suppression_whose_stored_conditions_no_longer_validate_holds_nothing(db_session):
    suppression = suppress(db_session, [{"field": "user.name", "operator": "equals", "value": "a"}])
    suppression.conditions = '[{"field": "user.name", "operator": "regex", "value": ".*"}]'
    detect(db_session, events=[sign_in_failure(db_session, user="a")])
    run(db_session)
    assert len(alerts(db_session)) == 1
    assert db_session.get(Suppression, suppression.id).hits == 0


# Policies ---------------------------------------------------------------------------------


def test_a_policy_raises_severity_by_tag(db_session):
    with_rule_text(db_session, "spray", "title: Spray\nlevel: low\ntags: [attack.T1110.003]\n")
    create_policy(
        db_session,
        name="credential attacks",
        tag="attack.t1110.003",
        raise_to="high",
        actor=OFFICER,
        now=NOW,
    )
    detect(db_session, rule_key="spray", level="low")
    detect(db_session, rule_key="rule-1", level="low")
    run(db_session)
    assert [(alert.rule_key, alert.severity) for alert in alerts(db_session)] == [
        ("spray", "high"),
        ("rule-1", "low"),
    ]


def test_a_policy_never_lowers_severity(db_session):
    create_policy(db_session, name="floor", raise_to="low", actor=OFFICER, now=NOW)
    detect(db_session, level="critical")
    run(db_session)
    assert alerts(db_session)[0].severity == "critical"


def test_policies_apply_by_rule_and_least_severity_in_the_order_they_were_made(db_session):
    make_rule(db_session, "vpn")
    create_policy(
        db_session, name="vpn up", rule_key="vpn", raise_to="high", actor=OFFICER, now=NOW
    )
    create_policy(
        db_session,
        name="high to critical",
        min_severity="high",
        raise_to="critical",
        actor=OFFICER,
        now=NOW,
    )
    detect(db_session, rule_key="vpn", level="medium", events=[sign_in_failure(db_session)])
    detect(db_session, rule_key="rule-1", level="medium", events=[sign_in_failure(db_session)])
    run(db_session)
    assert [(a.rule_key, a.severity) for a in alerts(db_session)] == [
        ("vpn", "critical"),
        ("rule-1", "medium"),
    ]


def test_a_disabled_policy_does_nothing(db_session):
    policy = create_policy(db_session, name="up", raise_to="critical", actor=OFFICER, now=NOW)
    disable_policy(db_session, policy.id, actor=OFFICER, now=NOW)
    detect(db_session, level="low")
    run(db_session)
    assert alerts(db_session)[0].severity == "low"


def test_a_policy_made_later_raises_an_alert_when_a_repeat_updates_it(db_session):
    detect(db_session, level="low", events=[sign_in_failure(db_session)])
    run(db_session)
    create_policy(db_session, name="all up", raise_to="medium", actor=OFFICER, now=NOW)
    detect(db_session, level="low", events=[sign_in_failure(db_session)])
    run(db_session)
    [alert] = alerts(db_session)
    assert (alert.severity, alert.version) == ("medium", 2)
    [entry] = db_session.scalars(select(AlertFeedEntry).where(AlertFeedEntry.alert_version == 2))
    assert entry.severity == "medium"
