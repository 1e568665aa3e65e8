"""Old alert-feed entries are purged after the retention; entries a dead letter needs stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from incidents.feeds.changes import record_alert_change
from incidents.feeds.models import AlertFeedEntry, WebhookDeadLetter, WebhookSubscription
from incidents.feeds.retention import purge_feed
from tests.support.incident_factories import SEEN, make_alert


def _entries(db_session):
    return list(db_session.scalars(select(AlertFeedEntry.id).order_by(AlertFeedEntry.id)))


def test_entries_older_than_the_cut_off_are_purged_and_newer_ones_kept(db_session):
    alert = make_alert(db_session)
    old = record_alert_change(db_session, alert, change="created", now=SEEN)
    new = record_alert_change(db_session, alert, change="updated", now=SEEN + timedelta(days=10))

    purged = purge_feed(db_session, recorded_before=SEEN + timedelta(days=1), limit=100)

    assert purged == 1
    assert _entries(db_session) == [new.id]
    assert old.id not in _entries(db_session)


def test_an_entry_a_dead_letter_points_at_is_kept(db_session):
    alert = make_alert(db_session)
    entry = record_alert_change(db_session, alert, change="created", now=SEEN)
    subscription = WebhookSubscription(
        name="soc", url="https://soc.example/hook", secret=b"x", created_at=SEEN, created_by="t"
    )
    db_session.add(subscription)
    db_session.flush()
    db_session.add(
        WebhookDeadLetter(
            subscription_id=subscription.id,
            feed_entry_id=entry.id,
            attempts=18,
            last_error="HTTP 500",
            failed_at=SEEN,
        )
    )
    db_session.flush()

    assert purge_feed(db_session, recorded_before=SEEN + timedelta(days=30), limit=100) == 0
    assert _entries(db_session) == [entry.id]


def test_the_purge_takes_at_most_limit_entries_oldest_first(db_session):
    alert = make_alert(db_session)
    ids = [
        record_alert_change(db_session, alert, change="updated", now=SEEN + timedelta(minutes=i)).id
        for i in range(5)
    ]

    assert purge_feed(db_session, recorded_before=SEEN + timedelta(days=1), limit=2) == 2
    assert _entries(db_session) == ids[2:]
