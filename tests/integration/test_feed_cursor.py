"""The alert feed's cursor under concurrent writers: a reader that asks "after the last id
I saw" gets every entry exactly once, in id order, while other transactions are writing
(some slowly: they wait inside the transaction after their insert). On SQLite and
PostgreSQL, with real separate commits (a fresh database per test).

Without the advisory lock PostgreSQL would hand out ids out of commit order; the last
test shows the skip that causes, step by step.
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from incidents.alerts.models import Alert
from incidents.feeds import changes, read_feed
from incidents.feeds.models import AlertFeedEntry
from storage import Database, migrate
from tests.support.incident_factories import make_alert

NOW = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
WRITERS = 4
CHANGES_PER_WRITER = 12
WAIT = 10.0  # seconds: a bound for real waits, never reached when things work


@pytest.fixture
def feed_database(empty_database: Database) -> Database:
    migrate.upgrade(empty_database)
    return empty_database


def make_alerts(database: Database, count: int) -> list[int]:
    with database.unit_of_work() as session:
        alerts = [make_alert(session) for _ in range(count)]
        for alert in alerts:
            changes.record_alert_change(session, alert, change="created", now=NOW)
        return [alert.id for alert in alerts]


def change_alert(database: Database, alert_id: int, *, hold: float = 0.0) -> int:
    """One alert change in its own transaction, optionally held open after the insert."""
    with database.unit_of_work() as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        alert.version += 1
        alert.count += 1
        entry = changes.record_alert_change(session, alert, change="updated", now=NOW)
        if hold:
            time.sleep(hold)  # a slow writer: its id is taken, its commit is late
        return entry.id


def poll(database: Database, cursor: int, limit: int = 7) -> tuple[list[int], int]:
    with database.snapshot() as session:
        page = read_feed(session, after=cursor, limit=limit)
    return [item.id for item in page.items], page.next_cursor


def test_a_polling_reader_sees_every_entry_once_in_order_while_writers_commit(feed_database):
    database = feed_database
    alert_ids = make_alerts(database, WRITERS)
    seen, cursor = poll(database, 0, limit=1000)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer(number: int) -> None:
        generator = random.Random(number)
        try:
            for step in range(CHANGES_PER_WRITER):
                slow = (step + number) % 3 == 0
                change_alert(
                    database, alert_ids[number], hold=generator.uniform(0.01, 0.04) if slow else 0
                )
        except BaseException as error:  # reported by the test below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()

    def wait_for_writers() -> None:
        for thread in threads:
            thread.join(WAIT)
        done.set()

    threading.Thread(target=wait_for_writers).start()
    polls = 0
    while True:
        finished = done.is_set()  # read before polling: a last poll follows the last commit
        ids, cursor = poll(database, cursor)
        seen.extend(ids)
        polls += 1
        if finished and not ids:
            break
    assert errors == []
    with database.unit_of_work() as session:
        every_id = list(session.scalars(select(AlertFeedEntry.id).order_by(AlertFeedEntry.id)))
    assert len(every_id) == WRITERS * (CHANGES_PER_WRITER + 1)
    assert seen == every_id  # all of them, none twice, in id order
    assert polls > 2  # the reader really read while the writers wrote


@pytest.mark.postgresql
@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_a_late_commit_waits_for_the_writer_before_it_on_postgresql(feed_database):
    database = feed_database
    [first, second] = make_alerts(database, 2)
    _, cursor = poll(database, 0)
    inserted, release = threading.Event(), threading.Event()
    finished = threading.Event()

    def slow_writer() -> None:
        with database.unit_of_work() as session:
            alert = session.get(Alert, first)
            changes.record_alert_change(session, alert, change="updated", now=NOW)
            inserted.set()
            release.wait(WAIT)

    def quick_writer() -> None:
        change_alert(database, second)
        finished.set()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert inserted.wait(WAIT)
    quick = threading.Thread(target=quick_writer)
    quick.start()
    # The quick writer waits on the lock instead of committing an id past the slow one's.
    assert not finished.wait(0.3)
    assert poll(database, cursor)[0] == []
    release.set()
    slow.join(WAIT)
    quick.join(WAIT)
    ids, _ = poll(database, cursor)
    assert len(ids) == 2
    assert ids == sorted(ids)


@pytest.mark.postgresql
@pytest.mark.parametrize("empty_database", ["postgresql"], indirect=True)
def test_without_the_lock_postgresql_would_skip_an_entry(feed_database, monkeypatch):
    """Why the lock exists: ids drawn before commit become visible out of order."""
    database = feed_database
    monkeypatch.setattr(changes, "take_feed_lock", lambda session: None)
    [first, second] = make_alerts(database, 2)
    _, cursor = poll(database, 0)
    inserted, release = threading.Event(), threading.Event()
    slow_id: list[int] = []

    def slow_writer() -> None:
        with database.unit_of_work() as session:
            alert = session.get(Alert, first)
            slow_id.append(
                changes.record_alert_change(session, alert, change="updated", now=NOW).id
            )
            inserted.set()
            release.wait(WAIT)

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert inserted.wait(WAIT)
    quick_id = change_alert(database, second)  # a larger id, committed first
    ids, cursor = poll(database, cursor)
    assert ids == [quick_id]
    release.set()
    slow.join(WAIT)
    assert slow_id[0] < quick_id
    assert poll(database, cursor)[0] == []  # the slow writer's entry is never handed out
