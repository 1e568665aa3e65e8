"""The ``incidents.raise_alerts`` job as it runs: each round in its own committed
transaction, a crash part-way through a batch undoing all of it, the deduplication window
from the settings, and alert policies that open incidents.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from access_control import Actor
from incidents.alerts import create_policy, raise_alerts
from incidents.alerts import raising as raising_module
from incidents.alerts.models import Alert, AlertDetection, IncidentsCursor
from incidents.cases.models import Incident, IncidentAlert
from incidents.feeds import changes as feed_changes
from incidents.feeds.models import AlertFeedEntry
from storage import migrate
from storage.events import Event
from tests.support.incident_factories import make_detection
from wachter.jobs import jobs_for

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
WINDOW = timedelta(hours=1)


def detection_for(session, user: str, *, at=NOW, level="high", rule_key="rule-1"):
    event = Event(
        source="test",
        event_key=f"{user}-{at.isoformat()}-{rule_key}",
        timestamp=at,
        ingested=at,
        document=orjson.dumps({"user": {"name": user}}).decode(),
    )
    session.add(event)
    session.flush()
    return make_detection(
        session, rule_key=rule_key, level=level, detected_at=at, event_ids=[event.id]
    ).id


def state(database) -> dict[str, object]:
    with database.unit_of_work() as session:
        return {
            "cursor": session.scalar(
                select(IncidentsCursor.position).where(IncidentsCursor.name == "alerts")
            ),
            "alerts": [
                (alert.id, alert.count, alert.version)
                for alert in session.scalars(select(Alert).order_by(Alert.id))
            ],
            "links": session.scalar(select(func.count()).select_from(AlertDetection)),
            "feed": session.scalar(select(func.count()).select_from(AlertFeedEntry)),
        }


@pytest.fixture
def database(empty_database):
    migrate.upgrade(empty_database)
    return empty_database


def test_a_crash_part_way_through_a_batch_leaves_cursor_alerts_and_feed_as_they_were(
    database, monkeypatch
):
    with database.unit_of_work() as session:
        detection_for(session, "alice")
    with database.unit_of_work() as session:
        raise_alerts(session, now=NOW, dedup_window=WINDOW)
    with database.unit_of_work() as session:
        detection_for(session, "alice", at=NOW + timedelta(minutes=1))  # a repeat: update
        detection_for(session, "bob", at=NOW + timedelta(minutes=1))  # a new alert
    before = state(database)

    calls = []

    def crash_on_second_feed_entry(session, alert, *, change, now):
        calls.append(change)
        if len(calls) == 2:
            raise RuntimeError("the process died here")
        return original(session, alert, change=change, now=now)

    original = feed_changes.record_alert_change
    monkeypatch.setattr(feed_changes, "record_alert_change", crash_on_second_feed_entry)
    with pytest.raises(RuntimeError), database.unit_of_work() as session:
        raise_alerts(session, now=NOW + timedelta(minutes=2), dedup_window=WINDOW)
    assert calls == ["created", "updated"]
    assert state(database) == before

    monkeypatch.setattr(feed_changes, "record_alert_change", original)
    with database.unit_of_work() as session:
        assert raise_alerts(session, now=NOW + timedelta(minutes=2), dedup_window=WINDOW) == 2
    after = state(database)
    assert after["links"] == 3
    assert [(count, version) for _, count, version in after["alerts"]] == [(2, 2), (1, 1)]
    assert after["feed"] == 3


def test_the_job_takes_its_window_from_the_settings_and_reports_more_work(database, settings):
    job = next(
        job
        for job in jobs_for(dataclasses.replace(settings, alert_dedup_minutes=5))
        if job.name == "incidents.raise_alerts"
    )
    assert job.interval == timedelta(seconds=1)
    with database.unit_of_work() as session:
        detection_for(session, "alice")
        detection_for(session, "alice", at=NOW + timedelta(minutes=4))
        detection_for(session, "alice", at=NOW + timedelta(minutes=10))
    with database.unit_of_work() as session:
        assert job.run(session, NOW + timedelta(minutes=10)) is False  # 3 < a full batch
    assert [count for _, count, _ in state(database)["alerts"]] == [2, 1]


def test_a_full_batch_says_more_work_is_waiting(database, settings):
    job = next(job for job in jobs_for(settings) if job.name == "incidents.raise_alerts")
    with database.unit_of_work() as session:
        for number in range(raising_module.ALERT_BATCH + 1):
            detection_for(session, "alice", at=NOW + timedelta(seconds=number))
    with database.unit_of_work() as session:
        assert job.run(session, NOW) is True
    with database.unit_of_work() as session:
        assert job.run(session, NOW) is False
    assert state(database)["links"] == raising_module.ALERT_BATCH + 1


def test_a_policy_opens_an_incident_for_each_new_alert_it_matches(database):
    with database.unit_of_work() as session:
        create_policy(
            session,
            name="every critical alert",
            min_severity="critical",
            open_incident=True,
            actor=Actor(name="officer"),
            now=NOW,
        )
        detection_for(session, "alice", level="critical")
        detection_for(session, "bob", level="high")
    with database.unit_of_work() as session:
        raise_alerts(session, now=NOW, dedup_window=WINDOW)
    with database.unit_of_work() as session:
        critical, high = session.scalars(select(Alert).order_by(Alert.id))
        [incident] = session.scalars(select(Incident))
        assert (critical.status, critical.incident_id) == ("escalated", incident.id)
        assert (high.status, high.incident_id) == ("new", None)
        assert incident.created_by == "system"
        assert session.get(IncidentAlert, critical.id).incident_id == incident.id
        changes = session.execute(
            select(AlertFeedEntry.alert_id, AlertFeedEntry.change).order_by(AlertFeedEntry.id)
        )
        assert list(changes) == [
            (critical.id, "created"),
            (high.id, "created"),
            (critical.id, "status"),
        ]
    # A repeat of the escalated alert folds into it and opens no second incident.
    with database.unit_of_work() as session:
        detection_for(session, "alice", level="critical", at=NOW + timedelta(minutes=1))
    with database.unit_of_work() as session:
        raise_alerts(session, now=NOW + timedelta(minutes=1), dedup_window=WINDOW)
    with database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Incident)) == 1
        assert session.scalar(select(Alert.count).where(Alert.id == critical.id)) == 2
