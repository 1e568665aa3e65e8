"""Alert statuses: acknowledging and closing (one or many), the guarded transitions, the
incident service's ``mark_in_incident``, the audit and feed entries of every change, the
queue's filters and the false-positive feedback per rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control import Actor
from access_control.models import AuditEntry
from core import Conflict, InvalidInput, NotFound
from incidents.alerts import (
    AlertFilters,
    acknowledge,
    bulk_acknowledge,
    bulk_close,
    close,
    false_positive_counts,
    list_alerts,
    mark_in_incident,
    related_alerts,
    rule_feedback,
)
from incidents.alerts.models import AlertEntity
from incidents.feeds.models import AlertFeedEntry
from tests.support.incident_factories import make_alert, make_incident

NOW = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
ANALYST = Actor(name="analist", user_id=7, ip="192.0.2.50")


def audit(session, action: str) -> list[tuple[str, str, str]]:
    rows = session.execute(
        select(AuditEntry.actor, AuditEntry.target, AuditEntry.details)
        .where(AuditEntry.action == action)
        .order_by(AuditEntry.id)
    )
    return [tuple(row) for row in rows]


def feed_of(session, alert_id: int) -> list[tuple[int, str]]:
    rows = session.execute(
        select(AlertFeedEntry.alert_version, AlertFeedEntry.change)
        .where(AlertFeedEntry.alert_id == alert_id)
        .order_by(AlertFeedEntry.id)
    )
    return [tuple(row) for row in rows]


def test_acknowledging_sets_who_and_when_raises_the_version_and_is_audited(db_session):
    alert = make_alert(db_session)
    acknowledge(db_session, alert.id, actor=ANALYST, now=NOW)
    assert (alert.status, alert.acknowledged_at, alert.acknowledged_by) == (
        "acknowledged",
        NOW,
        "analist",
    )
    assert (alert.version, alert.updated_at) == (2, NOW)
    assert feed_of(db_session, alert.id) == [(2, "status")]
    assert audit(db_session, "alert.acknowledged") == [("analist", f"alert:{alert.id}", "{}")]


def test_closing_keeps_the_resolution_and_note_and_is_audited_without_the_note(db_session):
    alert = make_alert(db_session, rule_key="noisy")
    close(
        db_session,
        alert.id,
        resolution="false_positive",
        note="  the backup job, every night  ",
        actor=ANALYST,
        now=NOW,
    )
    assert (alert.status, alert.resolution, alert.resolution_note) == (
        "closed",
        "false_positive",
        "the backup job, every night",
    )
    assert (alert.closed_at, alert.closed_by, alert.acknowledged_by) == (NOW, "analist", "analist")
    assert feed_of(db_session, alert.id) == [(2, "status")]
    [(actor, target, details)] = audit(db_session, "alert.closed")
    assert (actor, target) == ("analist", f"alert:{alert.id}")
    assert "backup" not in details
    assert '"resolution":"false_positive"' in details


@pytest.mark.parametrize("resolution", ["false_positive", "benign"])
@pytest.mark.parametrize("note", [None, "", "   "])
def test_closing_as_false_positive_or_benign_without_a_note_is_refused(
    db_session, resolution, note
):
    alert = make_alert(db_session)
    with pytest.raises(InvalidInput, match="needs a note") as refused:
        close(db_session, alert.id, resolution=resolution, note=note, actor=ANALYST, now=NOW)
    assert refused.value.field == "note"
    assert (alert.status, alert.version) == ("new", 1)
    assert feed_of(db_session, alert.id) == []
    assert audit(db_session, "alert.closed") == []


def test_a_true_positive_may_be_closed_without_a_note(db_session):
    alert = make_alert(db_session)
    close(db_session, alert.id, resolution="true_positive", note="", actor=ANALYST, now=NOW)
    assert (alert.resolution, alert.resolution_note) == ("true_positive", None)


@pytest.mark.parametrize("resolution", ["", "duplicate", "FALSE_POSITIVE"])
def test_an_unknown_resolution_is_refused(db_session, resolution):
    alert = make_alert(db_session)
    with pytest.raises(InvalidInput, match="resolution"):
        close(db_session, alert.id, resolution=resolution, note="x", actor=ANALYST, now=NOW)
    assert alert.status == "new"


def test_a_note_over_the_limit_is_refused(db_session):
    alert = make_alert(db_session)
    with pytest.raises(InvalidInput, match="at most 4000"):
        close(db_session, alert.id, resolution="benign", note="x" * 4001, actor=ANALYST, now=NOW)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("acknowledged", "already acknowledged"),
        ("closed", "is closed"),
        ("escalated", "in an incident already"),
        ("merged", "in an incident already"),
    ],
)
def test_only_new_alerts_can_be_acknowledged(db_session, status, message):
    alert = make_alert(db_session, status=status)
    with pytest.raises(Conflict, match=message):
        acknowledge(db_session, alert.id, actor=ANALYST, now=NOW)
    assert (alert.status, alert.version) == (status, 1)


def test_a_closed_alert_cannot_be_closed_again(db_session):
    alert = make_alert(db_session, status="closed", resolution="benign")
    with pytest.raises(Conflict, match="already closed"):
        close(db_session, alert.id, resolution="true_positive", note=None, actor=ANALYST, now=NOW)
    assert alert.resolution == "benign"


def test_an_unknown_alert_is_not_found(db_session):
    with pytest.raises(NotFound):
        acknowledge(db_session, 999_999, actor=ANALYST, now=NOW)


def test_bulk_acknowledge_changes_the_new_ones_and_passes_over_the_others(db_session):
    fresh = [make_alert(db_session) for _ in range(2)]
    done = make_alert(db_session, status="closed")
    outcome = bulk_acknowledge(
        db_session, [fresh[0].id, done.id, fresh[1].id, fresh[0].id], actor=ANALYST, now=NOW
    )
    assert outcome.changed == (fresh[0].id, fresh[1].id)
    assert outcome.skipped == (done.id,)
    assert [alert.status for alert in fresh] == ["acknowledged", "acknowledged"]
    assert len(audit(db_session, "alert.acknowledged")) == 2


def test_bulk_close_closes_each_with_its_own_audit_entry(db_session):
    alerts = [make_alert(db_session, status=status) for status in ("new", "acknowledged")]
    outcome = bulk_close(
        db_session,
        [alert.id for alert in alerts],
        resolution="benign",
        note="pen test week",
        actor=ANALYST,
        now=NOW,
    )
    assert outcome.changed == tuple(alert.id for alert in alerts)
    assert [target for _, target, _ in audit(db_session, "alert.closed")] == [
        f"alert:{alert.id}" for alert in alerts
    ]


def test_a_bulk_action_with_an_unknown_id_changes_nothing(db_session):
    alert = make_alert(db_session)
    with pytest.raises(NotFound):
        bulk_acknowledge(db_session, [alert.id, 999_999], actor=ANALYST, now=NOW)
    assert alert.status == "new"
    assert audit(db_session, "alert.acknowledged") == []


def test_a_bulk_close_as_false_positive_without_a_note_changes_nothing(db_session):
    alert = make_alert(db_session)
    with pytest.raises(InvalidInput, match="needs a note"):
        bulk_close(
            db_session, [alert.id], resolution="false_positive", note="", actor=ANALYST, now=NOW
        )
    assert alert.status == "new"


@pytest.mark.parametrize("ids", [[], list(range(1, 202))])
def test_a_bulk_action_needs_one_to_two_hundred_alerts(db_session, ids):
    with pytest.raises(InvalidInput, match="alert"):
        bulk_acknowledge(db_session, ids, actor=ANALYST, now=NOW)


def test_the_incident_service_marks_alerts_escalated_or_merged(db_session):
    incident = make_incident(db_session)
    escalated, merged = make_alert(db_session), make_alert(db_session, status="acknowledged")
    mark_in_incident(db_session, escalated, incident.id, "escalated", ANALYST, NOW)
    mark_in_incident(db_session, merged, incident.id, "merged", ANALYST, NOW)
    assert [(a.status, a.incident_id, a.version) for a in (escalated, merged)] == [
        ("escalated", incident.id, 2),
        ("merged", incident.id, 2),
    ]
    assert feed_of(db_session, escalated.id) == [(2, "status")]
    assert [target for _, target, _ in audit(db_session, "alert.merged")] == [f"alert:{merged.id}"]


def test_a_closed_alert_cannot_join_an_incident(db_session):
    incident = make_incident(db_session)
    alert = make_alert(db_session, status="closed")
    with pytest.raises(Conflict, match="closed"):
        mark_in_incident(db_session, alert, incident.id, "escalated", ANALYST, NOW)
    assert alert.incident_id is None
    with pytest.raises(ValueError, match="escalated or merged"):
        mark_in_incident(db_session, make_alert(db_session), incident.id, "closed", ANALYST, NOW)


# Feedback per rule -------------------------------------------------------------------------


def test_false_positives_are_counted_per_rule_beside_all_closed_alerts(db_session):
    for rule_key, resolution in [
        ("noisy", "false_positive"),
        ("noisy", "false_positive"),
        ("noisy", "true_positive"),
        ("noisy", None),  # open: not counted
        ("quiet", "benign"),
        ("sharp", "true_positive"),
    ]:
        alert = make_alert(db_session, rule_key=rule_key)
        if resolution:
            close(db_session, alert.id, resolution=resolution, note="why", actor=ANALYST, now=NOW)

    assert false_positive_counts(db_session) == {"noisy": 2}
    feedback = rule_feedback(db_session)
    assert (feedback["noisy"].closed, feedback["noisy"].false_positives) == (3, 2)
    assert (feedback["quiet"].closed, feedback["quiet"].benign) == (1, 1)
    assert feedback["sharp"].true_positives == 1
    assert set(rule_feedback(db_session, "quiet")) == {"quiet"}


# The queue ---------------------------------------------------------------------------------


def queue_titles(session, **filters) -> list[str]:
    return [alert.title for alert in list_alerts(session, AlertFilters(**filters)).alerts]


def test_the_queue_shows_open_alerts_newest_sighting_first_by_default(db_session):
    make_alert(db_session, title="old", last_seen=NOW - timedelta(hours=2))
    make_alert(db_session, title="closed", status="closed", last_seen=NOW)
    make_alert(db_session, title="new", last_seen=NOW - timedelta(minutes=1))
    make_alert(
        db_session, title="escalated", status="escalated", last_seen=NOW - timedelta(hours=1)
    )
    assert queue_titles(db_session) == ["new", "escalated", "old"]
    assert queue_titles(db_session, status="closed") == ["closed"]
    assert queue_titles(db_session, status="all") == ["closed", "new", "escalated", "old"]


def test_the_queue_filters_by_severity_rule_title_text_and_entity(db_session):
    first = make_alert(db_session, title="Brute force on VPN", severity="high", rule_key="vpn")
    make_alert(db_session, title="Brute force 100%_sure", severity="low", rule_key="web")
    db_session.add(AlertEntity(alert_id=first.id, kind="account", value="alice"))
    db_session.flush()
    assert queue_titles(db_session, severity="high") == ["Brute force on VPN"]
    assert queue_titles(db_session, rule_key="web") == ["Brute force 100%_sure"]
    assert queue_titles(db_session, text="VPN") == ["Brute force on VPN"]
    assert queue_titles(db_session, text="%_") == ["Brute force 100%_sure"]  # literal, escaped
    assert queue_titles(db_session, text="' OR 1=1--") == []
    assert queue_titles(db_session, entity="ALICE") == ["Brute force on VPN"]
    assert queue_titles(db_session, entity="bob") == []


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"status": "deleted"}, "status"),
        ({"severity": "urgent"}, "severity"),
        ({"rule_key": "r" * 301}, "rule"),
        ({"text": "x" * 201}, "text"),
        ({"entity": "x" * 201}, "entity"),
    ],
)
def test_queue_filters_outside_the_allowed_values_are_refused(filters, field):
    with pytest.raises(InvalidInput) as refused:
        AlertFilters(**filters)
    assert refused.value.field == field


def test_queue_pages_are_bounded(db_session):
    with pytest.raises(InvalidInput, match="page"):
        list_alerts(db_session, AlertFilters(), page=201)
    with pytest.raises(InvalidInput, match="page"):
        list_alerts(db_session, AlertFilters(), page=0)


def test_related_alerts_share_an_entity(db_session):
    alert, sharing, other = (make_alert(db_session) for _ in range(3))
    for owner, value in ((alert, "alice"), (sharing, "alice"), (other, "bob")):
        db_session.add(AlertEntity(alert_id=owner.id, kind="account", value=value))
    db_session.add(AlertEntity(alert_id=alert.id, kind="host", value="pc1"))
    db_session.add(AlertEntity(alert_id=sharing.id, kind="host", value="pc1"))
    db_session.flush()
    assert [related.id for related in related_alerts(db_session, alert)] == [sharing.id]
