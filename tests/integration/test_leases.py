"""Job leases on both backends: one holder at a time, renewal, expiry, release, races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from storage import JobLease, acquire_lease, release_lease

NOW = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
TTL = timedelta(minutes=2)


def take(database, holder, now=NOW, name="job"):
    with database.unit_of_work() as session:
        return acquire_lease(session, name=name, holder=holder, now=now, ttl=TTL)


def test_the_first_caller_gets_the_lease_and_others_wait(migrated_database):
    assert take(migrated_database, "a")
    assert not take(migrated_database, "b")
    assert not take(migrated_database, "b", now=NOW + TTL - timedelta(seconds=1))


def test_the_holder_renews_and_keeps_it(migrated_database):
    assert take(migrated_database, "a")
    assert take(migrated_database, "a", now=NOW + timedelta(minutes=1))
    # renewed at +1 min, so still valid at +2 min 30 s
    assert not take(migrated_database, "b", now=NOW + timedelta(minutes=2, seconds=30))
    with migrated_database.unit_of_work() as session:
        lease = session.get(JobLease, "job")
        assert lease.acquired_at == NOW
        assert lease.expires_at == NOW + timedelta(minutes=3)


def test_an_expired_lease_passes_to_the_next_caller(migrated_database):
    assert take(migrated_database, "crashed")
    assert take(migrated_database, "b", now=NOW + TTL)
    with migrated_database.unit_of_work() as session:
        lease = session.get(JobLease, "job")
        assert (lease.holder, lease.acquired_at) == ("b", NOW + TTL)
    assert not take(migrated_database, "crashed", now=NOW + TTL)


def test_releasing_lets_another_holder_take_over_at_once(migrated_database):
    assert take(migrated_database, "a")
    with migrated_database.unit_of_work() as session:
        release_lease(session, name="job", holder="b")  # not b's to release
    assert not take(migrated_database, "b")
    with migrated_database.unit_of_work() as session:
        release_lease(session, name="job", holder="a")
    assert take(migrated_database, "b")


def test_leases_are_per_job(migrated_database):
    assert take(migrated_database, "a", name="one")
    assert take(migrated_database, "b", name="two")


def test_a_non_positive_ttl_is_refused(migrated_database):
    with migrated_database.unit_of_work() as session, pytest.raises(ValueError, match="positive"):
        acquire_lease(session, name="job", holder="a", now=NOW, ttl=timedelta(0))


def test_concurrent_callers_get_exactly_one_lease(migrated_database):
    callers = 8
    barrier = threading.Barrier(callers)
    results: list[bool] = []
    errors: list[BaseException] = []

    def contend(holder: str) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(take(migrated_database, holder))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert sorted(results) == [False] * (callers - 1) + [True]
    with migrated_database.unit_of_work() as session:
        assert len(session.scalars(select(JobLease)).all()) == 1
