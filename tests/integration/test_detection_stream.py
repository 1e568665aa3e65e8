"""Streaming detection in the service: stored events meet the enabled rules once, detections
are stored with their explanation, correlation windows survive a restart, and rule or list
changes apply without one. Runs on SQLite and PostgreSQL (``db_session``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
from sqlalchemy import select

from access_control import Actor
from core import FixedClock
from detection_rules import DetectionConsumer, DetectionEngine
from detection_rules.loading import RuleSource
from detection_rules.models import CorrelationState, Detection
from detection_rules.service import disable_rule, import_rules, set_list
from incidents.alerts import AlertFilters, list_alerts, raise_alerts
from ingest import pipeline
from ingest.batches import Batch
from storage.events import Event

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
ADMIN = Actor(name="alice")

PROCESS_RULE = """
title: Whoami run
id: 0a1b2c3d-0000-4000-8000-000000000001
status: test
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\\\whoami.exe'
  filter:
    User|startswith: 'NT AUTHORITY'
  condition: selection and not filter
level: medium
"""

FAILED_LOGINS = """
title: Failed sign-in
id: 0a1b2c3d-0000-4000-8000-000000000002
name: failed_sign_in
status: test
logsource: {category: authentication}
detection:
  selection: {event.outcome: failure}
  condition: selection
level: low
---
title: Three failed sign-ins for one account
id: 0a1b2c3d-0000-4000-8000-000000000003
status: test
correlation:
  type: event_count
  rules: [failed_sign_in]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 3}
level: high
"""

ADMIN_LIST_RULE = """
title: Admin account used
id: 0a1b2c3d-0000-4000-8000-000000000004
status: test
logsource: {category: authentication}
detection:
  selection:
    user.name|expand: '%admin_accounts%'
  condition: selection
level: medium
"""


def load(session, text, name="rules.yml"):
    report = import_rules(
        session, [RuleSource(name, text.encode())], actor=ADMIN, now=NOW - timedelta(hours=1)
    )
    session.flush()
    return report


def store(session, *documents, at=NOW):
    batch = Batch(receiver="test", source="test", ingested=at)
    for number, document in enumerate(documents):
        batch.add(document, event_key=f"{at.isoformat()}-{number}", raw=str(number))
    return batch.store(session)


def process_event(image, user="CORP\\bob", minute=0):
    return {
        "@timestamp": (NOW + timedelta(minutes=minute)).isoformat(),
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Image": image,
        "User": user,
    }


def sign_in(user, outcome="failure", minute=0):
    return {
        "@timestamp": (NOW + timedelta(minutes=minute)).isoformat(),
        "event": {"category": ["authentication"], "outcome": outcome},
        "user": {"name": user},
    }


def detections(session):
    return session.scalars(select(Detection).order_by(Detection.id)).all()


def deliver(session, consumer):
    while pipeline.deliver(session, consumer, now=NOW):
        pass
    session.flush()


def test_a_matching_event_becomes_one_detection_with_its_explanation(db_session):
    load(db_session, PROCESS_RULE)
    store(
        db_session,
        process_event("C:\\Windows\\System32\\whoami.exe"),
        process_event("C:\\Windows\\System32\\whoami.exe", user="NT AUTHORITY\\SYSTEM"),
        process_event("C:\\Windows\\notepad.exe"),
    )
    consumer = DetectionConsumer(clock=FixedClock(NOW))

    deliver(db_session, consumer)
    deliver(db_session, consumer)  # nothing new: nothing doubled

    [found] = detections(db_session)
    assert found.title == "Whoami run"
    assert found.rule_version == 1
    assert found.level == "medium"
    explanation = orjson.loads(found.explanation)
    selection = next(item for item in explanation if item["selection"] == "selection")
    assert selection["fields"] == [
        {
            "field": "Image",
            "pattern": "*\\whoami.exe",
            "value": "C:\\Windows\\System32\\whoami.exe",
        }
    ]
    assert len(orjson.loads(found.event_ids)) == 1


def test_a_correlation_window_survives_a_restart_of_the_service(db_session):
    load(db_session, FAILED_LOGINS)
    store(db_session, sign_in("bob", minute=0), sign_in("bob", minute=1))
    deliver(db_session, DetectionConsumer(clock=FixedClock(NOW)))
    assert detections(db_session) == []  # two of three; the base rule raises nothing itself
    assert db_session.scalar(select(CorrelationState).limit(1)) is not None

    restarted = DetectionConsumer(clock=FixedClock(NOW))
    store(db_session, sign_in("bob", minute=2), sign_in("carol", minute=2), at=NOW + timedelta(1))
    deliver(db_session, restarted)

    [found] = detections(db_session)
    assert found.title == "Three failed sign-ins for one account"
    assert orjson.loads(found.group_values) == {"user.name": "bob"}
    assert len(orjson.loads(found.event_ids)) == 3


def test_state_written_by_another_worker_is_picked_up(db_session):
    load(db_session, FAILED_LOGINS)
    first, second = (
        DetectionConsumer(clock=FixedClock(NOW)),
        DetectionConsumer(clock=FixedClock(NOW)),
    )
    store(db_session, sign_in("bob", minute=0))
    deliver(db_session, first)
    store(db_session, sign_in("bob", minute=1), at=NOW + timedelta(1))
    deliver(db_session, second)  # the lease moved to another process
    store(db_session, sign_in("bob", minute=2), at=NOW + timedelta(2))
    deliver(db_session, first)  # and back: its memory is stale, the table is not

    assert [found.title for found in detections(db_session)] == [
        "Three failed sign-ins for one account"
    ]


def test_a_disabled_rule_stops_matching_without_a_restart(db_session):
    load(db_session, PROCESS_RULE)
    consumer = DetectionConsumer(clock=FixedClock(NOW))
    store(db_session, process_event("C:\\x\\whoami.exe"))
    deliver(db_session, consumer)
    disable_rule(
        db_session, "0a1b2c3d-0000-4000-8000-000000000001", actor=ADMIN, now=NOW + timedelta(1)
    )
    db_session.flush()
    store(db_session, process_event("C:\\x\\whoami.exe", minute=1), at=NOW + timedelta(2))
    deliver(db_session, consumer)

    assert len(detections(db_session)) == 1


def test_an_expand_list_change_applies_without_a_restart(db_session):
    set_list(
        db_session, name="admin_accounts", kind="strings", values=["root"], actor=ADMIN, now=NOW
    )
    load(db_session, ADMIN_LIST_RULE)
    consumer = DetectionConsumer(clock=FixedClock(NOW))
    store(db_session, sign_in("root", "success"), sign_in("beheer", "success"))
    deliver(db_session, consumer)
    assert len(detections(db_session)) == 1

    set_list(
        db_session,
        name="admin_accounts",
        kind="strings",
        values=["root", "beheer"],
        actor=ADMIN,
        now=NOW + timedelta(minutes=5),
    )
    db_session.flush()
    store(db_session, sign_in("beheer", "success", minute=6), at=NOW + timedelta(1))
    deliver(db_session, consumer)

    assert [found.title for found in detections(db_session)] == ["Admin account used"] * 2


def test_old_logs_imported_in_several_batches_still_correlate(db_session):
    load(db_session, FAILED_LOGINS)
    consumer = DetectionConsumer(clock=FixedClock(NOW + timedelta(days=60)))  # months later
    store(db_session, sign_in("bob", minute=0), sign_in("bob", minute=1))
    store(db_session, sign_in("bob", minute=3), at=NOW + timedelta(1))

    while pipeline.deliver(db_session, consumer, now=NOW, limit=1):  # one event a batch
        pass

    assert [found.title for found in detections(db_session)] == [
        "Three failed sign-ins for one account"
    ]


def test_an_event_the_engine_fails_on_is_passed_over_and_the_stream_goes_on(
    db_session, monkeypatch, caplog
):
    load(db_session, PROCESS_RULE)
    store(
        db_session,
        process_event("C:\\x\\whoami.exe", user="poison"),
        process_event("C:\\x\\whoami.exe", minute=1),
    )
    real_process = DetectionEngine.process

    def failing(self, event, **kwargs):
        if event.get("User") == "poison":
            raise RuntimeError("a rule tripped")
        return real_process(self, event, **kwargs)

    monkeypatch.setattr(DetectionEngine, "process", failing)

    deliver(db_session, DetectionConsumer(clock=FixedClock(NOW)))

    assert len(detections(db_session)) == 1  # the second event was still matched
    assert "event not matched" in caplog.text
    assert "poison" not in caplog.text


LISTED_KEYWORD = """
title: Office mentioned
id: 0a1b2c3d-0000-4000-8000-000000000005
name: office_mentioned
status: test
logsource: {category: authentication}
detection:
  keywords:
    '|expand': '%office%'
  condition: keywords
level: low
---
title: Office mentioned twice
id: 0a1b2c3d-0000-4000-8000-000000000006
status: test
correlation:
  type: event_count
  rules: [office_mentioned]
  group-by: [user.name]
  timespan: 10m
  condition: {gte: 2}
level: medium
"""


def test_a_stored_rule_that_no_longer_compiles_takes_only_itself_and_its_correlations(
    db_session, caplog
):
    load(db_session, PROCESS_RULE)
    load(db_session, LISTED_KEYWORD, name="office.yml")
    # A networks list makes the keyword rule impossible (a keyword cannot be a network),
    # and the correlation over it with it; the other rule goes on matching.
    set_list(
        db_session, name="office", kind="networks", values=["10.0.0.0/8"], actor=ADMIN, now=NOW
    )
    db_session.flush()
    store(db_session, process_event("C:\\x\\whoami.exe"))

    deliver(db_session, DetectionConsumer(clock=FixedClock(NOW)))

    assert [found.title for found in detections(db_session)] == ["Whoami run"]
    left_out = {
        getattr(record, "wachter.rule", None)
        for record in caplog.records
        if record.getMessage() == "stored rule not compiled"
    }
    assert left_out == {
        "0a1b2c3d-0000-4000-8000-000000000005",
        "0a1b2c3d-0000-4000-8000-000000000006",
    }


def test_an_event_dated_9999_is_flagged_and_its_alert_does_not_jump_the_queue(db_session):
    # SECURITY_CASES #59: the event keeps the time it claims (flagged); its detection and
    # alert are timed by the server, so a later alert from a true clock sorts above it.
    load(db_session, PROCESS_RULE)
    skewed = process_event("C:\\Windows\\System32\\whoami.exe", user="CORP\\mallory")
    skewed["@timestamp"] = "9999-12-31T23:59:59Z"
    store(db_session, skewed, at=NOW)
    deliver(db_session, DetectionConsumer(clock=FixedClock(NOW)))
    later = NOW + timedelta(minutes=5)
    store(db_session, process_event("C:\\Windows\\System32\\whoami.exe", minute=5), at=later)
    deliver(db_session, DetectionConsumer(clock=FixedClock(later)))
    raise_alerts(db_session, now=later, dedup_window=timedelta(minutes=1), limit=500)

    stored = db_session.scalars(select(Event).order_by(Event.id)).first()
    assert "clock_skew" in (stored.flags or "")
    assert stored.timestamp.year == 9999  # kept as claimed
    first, second = list_alerts(db_session, AlertFilters()).alerts
    assert (first.last_seen, second.last_seen) == (later, NOW)  # the skewed one is second
