"""The event stream after the store: durable cursors, in-order delivery, retention, and
Wachter's own sign-in events imported once."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.audit import record
from ingest import pipeline
from ingest.batches import Batch
from storage import Database, migrate
from storage.events import Event, append_events, purge_events
from tests.support.postgres import TemporaryCluster

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def store(session, *names, ingested=NOW):
    batch = Batch(receiver="test", source="test", ingested=ingested)
    for name in names:
        batch.add({"@timestamp": NOW, "message": name}, event_key=name, raw=name)
    return batch.store(session)


class Recorder:
    def __init__(self, name="recorder", fail=False):
        self.name = name
        self.fail = fail
        self.seen: list[str] = []

    def consume(self, session, events):
        if self.fail:
            raise RuntimeError("consumer broke")
        self.seen.extend(event.data["message"] for event in events)


def test_a_consumer_gets_every_event_once_in_order(db_session):
    consumer = Recorder()
    store(db_session, "a", "b", "c")

    assert pipeline.deliver(db_session, consumer, now=NOW, limit=2) == 2
    assert pipeline.deliver(db_session, consumer, now=NOW, limit=2) == 1
    assert pipeline.deliver(db_session, consumer, now=NOW) == 0
    store(db_session, "d")
    pipeline.deliver(db_session, consumer, now=NOW)

    assert consumer.seen == ["a", "b", "c", "d"]


def test_two_consumers_keep_their_own_cursors(db_session):
    fast, slow = Recorder("fast"), Recorder("slow")
    store(db_session, "a", "b")
    pipeline.deliver(db_session, fast, now=NOW)
    store(db_session, "c")
    pipeline.deliver(db_session, slow, now=NOW)
    pipeline.deliver(db_session, fast, now=NOW)

    assert fast.seen == slow.seen == ["a", "b", "c"]


def test_a_failing_consumer_gets_the_same_events_again(migrated_database):
    with migrated_database.unit_of_work() as session:
        store(session, "a", "b")
    broken = Recorder(fail=True)
    with pytest.raises(RuntimeError), migrated_database.unit_of_work() as session:
        pipeline.deliver(session, broken, now=NOW)

    mended = Recorder()
    with migrated_database.unit_of_work() as session:
        pipeline.deliver(session, mended, now=NOW)
    assert mended.seen == ["a", "b"]


def test_the_cursor_survives_a_restart(migrated_database):
    url = migrated_database.engine.url.render_as_string(hide_password=False)
    with migrated_database.unit_of_work() as session:
        store(session, "a", "b")
        pipeline.deliver(session, Recorder(), now=NOW)
        store(session, "c")
    migrated_database.dispose()

    restarted = Database.from_url(url)
    consumer = Recorder()
    with restarted.unit_of_work() as session:
        pipeline.deliver(session, consumer, now=NOW)
    restarted.dispose()
    assert consumer.seen == ["c"]


def test_retention_purges_old_events_in_batches_and_keeps_unread_ones(db_session):
    store(db_session, "old1", "old2", "old3", ingested=NOW - timedelta(days=100))
    store(db_session, "new", ingested=NOW)
    first_id = db_session.scalar(select(func.min(Event.id)))
    cutoff = NOW - timedelta(days=90)

    assert purge_events(db_session, ingested_before=cutoff, up_to_id=first_id, limit=10) == 1
    assert purge_events(db_session, ingested_before=cutoff, up_to_id=None, limit=1) == 1
    assert purge_events(db_session, ingested_before=cutoff, up_to_id=None, limit=10) == 1
    remaining = [event.data["message"] for event in db_session.scalars(select(Event))]
    assert remaining == ["new"]


def test_oldest_unconsumed_is_the_slowest_cursor(db_session):
    store(db_session, "a", "b", "c")
    pipeline.deliver(db_session, Recorder("fast"), now=NOW)
    pipeline.deliver(db_session, Recorder("slow"), now=NOW, limit=1)

    assert pipeline.oldest_unconsumed(db_session, ["fast", "slow"]) == db_session.scalar(
        select(func.min(Event.id))
    )
    assert pipeline.oldest_unconsumed(db_session, []) is None


def test_sign_in_events_are_imported_once_from_the_audit_trail(db_session):
    actor = Actor(name="anonymous", ip="192.0.2.7")
    for outcome in ("failure", "failure"):
        record(
            db_session,
            actor=actor,
            action=f"auth.password.{outcome}",
            target="user:alice",
            outcome=outcome,
            now=NOW,
        )
    record(
        db_session,
        actor=actor,
        action="token.created",
        target="token:1",
        outcome="success",
        now=NOW,
    )

    assert pipeline.import_authentication_events(db_session, now=NOW) == 2
    assert pipeline.import_authentication_events(db_session, now=NOW) == 0
    events = [event.data for event in db_session.scalars(select(Event))]
    assert [event["event"]["dataset"] for event in events] == ["wachter.auth", "wachter.auth"]
    assert events[0]["user"]["name"] == "alice"
    assert events[0]["source"]["ip"] == "192.0.2.7"
    assert events[0]["event"]["outcome"] == "failure"


@pytest.mark.postgresql
def test_on_postgresql_a_later_append_waits_so_ids_commit_in_order(
    postgres_cluster: TemporaryCluster,
):
    name = f"wachter_order_{int(time.time() * 1000) % 10**9}"
    database = Database.from_url(postgres_cluster.create_database(name))
    try:
        migrate.upgrade(database)
        first = database.sessions()
        store(first, "first")  # holds the append lock until it commits
        done = threading.Event()

        def second_writer():
            with database.unit_of_work() as session:
                store(session, "second")
            done.set()

        writer = threading.Thread(target=second_writer)
        writer.start()
        assert not done.wait(0.5), "the second append did not wait for the first to commit"
        first.commit()
        first.close()
        writer.join(10)
        with database.snapshot() as session:
            ordered = [e.data["message"] for e in session.scalars(select(Event).order_by(Event.id))]
        assert ordered == ["first", "second"]
    finally:
        database.dispose()
        postgres_cluster.drop_database(name)


def test_append_reports_only_new_events(db_session):
    batch = Batch(receiver="test", source="test", ingested=NOW)
    batch.add({"message": "x"}, event_key="k", raw="x")
    assert append_events(db_session, batch.records) == 1
    assert append_events(db_session, batch.records) == 0


def test_an_older_sqlite_without_json_arrows_stores_the_same(db_session, monkeypatch):
    monkeypatch.setattr("storage.events.SQLITE_HAS_JSON_ARROWS", False)
    batch = Batch(receiver="test", source="test", ingested=NOW)
    for key in ("a", "b"):
        batch.add(
            {"@timestamp": NOW, "message": key, "user": {"name": key}}, event_key=key, raw=key
        )

    assert append_events(db_session, batch.records) == 2
    assert append_events(db_session, batch.records) == 0
    stored = db_session.scalars(select(Event).order_by(Event.id)).all()
    assert [(e.user_name, e.data["message"]) for e in stored] == [("a", "a"), ("b", "b")]
