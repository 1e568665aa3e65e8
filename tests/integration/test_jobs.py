"""Background jobs: one runner across processes, failures contained, leases handed back."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from access_control.models import AuthSession
from access_control.sessions import ABSOLUTE, PENDING, Stage
from core import FixedClock
from ingest.batches import Batch
from storage import JobLease
from storage.events import Event
from tests.factories import make_user
from wachter.jobs import JOBS, BackgroundJobs, Job, jobs_for


def recording_job(name="count", interval=timedelta(minutes=1)):
    runs: list[str] = []

    def run(session, now):
        runs.append(now.isoformat())

    return Job(name=name, interval=interval, run=run), runs


def wait_for_record(caplog, message, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for record in caplog.records:
            if record.getMessage() == message:
                return record
        time.sleep(0.01)
    raise AssertionError(f"no log record {message!r}")


def test_two_processes_never_run_the_same_job_twice(migrated_database):
    clock = FixedClock()
    job, runs = recording_job()
    first = BackgroundJobs(migrated_database, [job], clock=clock, holder="worker-1")
    second = BackgroundJobs(migrated_database, [job], clock=clock, holder="worker-2")
    for _ in range(3):
        assert first.run_once(job)
        assert not second.run_once(job)
        clock.advance(job.interval)
    assert len(runs) == 3


def test_a_crashed_holder_is_replaced_after_its_lease_expires(migrated_database):
    clock = FixedClock()
    job, runs = recording_job()
    crashed = BackgroundJobs(migrated_database, [job], clock=clock, holder="crashed")
    survivor = BackgroundJobs(migrated_database, [job], clock=clock, holder="survivor")
    assert crashed.run_once(job)
    clock.advance(job.lease_ttl - timedelta(seconds=1))
    assert not survivor.run_once(job)
    clock.advance(timedelta(seconds=1))
    assert survivor.run_once(job)
    assert len(runs) == 2


def test_a_failing_job_is_logged_rolled_back_and_does_not_stop_the_runner(
    migrated_database, caplog
):
    def explode(session, now):
        session.add(
            JobLease(name="written-by-failed-job", holder="x", acquired_at=now, expires_at=now)
        )
        session.flush()
        raise RuntimeError("disk on fire")

    job = Job(name="explode", interval=timedelta(minutes=5), run=explode)
    runner = BackgroundJobs(migrated_database, [job], clock=FixedClock(), holder="w")
    with caplog.at_level(logging.ERROR, logger="wachter.jobs"):
        assert runner.run_once(job)
    assert "job explode failed" in caplog.text
    assert "disk on fire" in caplog.text
    with migrated_database.unit_of_work() as session:
        assert session.get(JobLease, "written-by-failed-job") is None


def test_the_job_writes_are_committed(migrated_database):
    def write(session, now):
        session.add(JobLease(name="marker", holder="job", acquired_at=now, expires_at=now))

    job = Job(name="writer", interval=timedelta(minutes=1), run=write)
    BackgroundJobs(migrated_database, [job], clock=FixedClock(), holder="w").run_once(job)
    with migrated_database.unit_of_work() as session:
        assert session.get(JobLease, "marker") is not None


def test_the_scheduler_runs_jobs_and_stop_hands_back_the_leases(migrated_database):
    ran = threading.Event()

    def signal(session, now):
        ran.set()

    job = Job(name="tick", interval=timedelta(seconds=1), run=signal)
    runner = BackgroundJobs(migrated_database, [job], clock=FixedClock(), holder="w")
    runner.start()
    try:
        assert ran.wait(timeout=10), "the scheduler never ran the job"
    finally:
        runner.stop()
    with migrated_database.unit_of_work() as session:
        assert session.scalars(select(JobLease).where(JobLease.name == "tick")).all() == []


def test_stop_ends_a_backlog_after_its_current_round_and_logs_what_it_waited_for(
    migrated_database, caplog
):
    in_round = threading.Event()
    release = threading.Event()
    rounds: list[int] = []

    def endless(session, now):
        rounds.append(len(rounds))
        in_round.set()
        release.wait(timeout=10)
        return True  # always more work: only the stop ends the run

    job = Job(name="backlog", interval=timedelta(seconds=1), run=endless)
    runner = BackgroundJobs(migrated_database, [job], clock=FixedClock(), holder="w")
    runner.start()
    assert in_round.wait(timeout=10), "the scheduler never ran the job"
    stopper = threading.Thread(target=runner.stop)
    with caplog.at_level(logging.INFO, logger="wachter.jobs"):
        stopper.start()
        stopping = wait_for_record(caplog, "stopping background jobs")
        release.set()
        stopper.join(timeout=10)
    assert not stopper.is_alive(), "stop waited for the whole backlog"
    assert rounds == [0]
    assert stopping.__dict__["wachter.jobs"] == ["backlog"]


def test_jobs_need_an_interval_of_at_least_a_second():
    with pytest.raises(ValueError, match="at least one second"):
        Job(name="busy", interval=timedelta(milliseconds=10), run=lambda session, now: None)


def test_the_lease_outlives_the_interval():
    assert Job(
        name="a", interval=timedelta(seconds=5), run=lambda s, n: None
    ).lease_ttl == timedelta(minutes=1)
    assert Job(
        name="b", interval=timedelta(minutes=5), run=lambda s, n: None
    ).lease_ttl == timedelta(minutes=10)


def test_the_session_purge_job_removes_only_dead_sessions(migrated_database):
    clock = FixedClock()
    now = clock.now()
    purge = next(job for job in JOBS if job.name == "access_control.purge_expired_sessions")
    with migrated_database.unit_of_work() as session:
        user = make_user(session)

        def add(name, stage, created, seen):
            session.add(
                AuthSession(
                    id=name.ljust(64, "0"),
                    user_id=user.id,
                    stage=stage,
                    created_at=created,
                    last_seen_at=seen,
                    mfa_attempts=0,
                    recovery_code_used=False,
                )
            )

        add("live", Stage.ACTIVE, now - timedelta(hours=1), now - timedelta(minutes=1))
        add("old", Stage.ACTIVE, now - ABSOLUTE, now - timedelta(minutes=1))
        add("stuck", Stage.MFA, now - PENDING, now - PENDING)
        add("idle", Stage.ACTIVE, now - timedelta(hours=2), now - timedelta(hours=1))
    BackgroundJobs(migrated_database, [purge], clock=clock, holder="w").run_once(purge)
    with migrated_database.unit_of_work() as session:
        left = [row.id.rstrip("0") for row in session.scalars(select(AuthSession))]
    assert left == ["live"]


def test_a_job_with_more_work_runs_again_at_once_each_round_its_own_transaction(
    migrated_database,
):
    rounds: list[int] = []

    def run(session, now):
        session.add(
            JobLease(name=f"round-{len(rounds)}", holder="x", acquired_at=now, expires_at=now)
        )
        rounds.append(len(rounds))
        if len(rounds) == 3:
            raise RuntimeError("third round fails")
        return True

    job = Job(name="backlog", interval=timedelta(minutes=1), run=run)
    BackgroundJobs(migrated_database, [job], clock=FixedClock(), holder="w").run_once(job)

    with migrated_database.unit_of_work() as session:
        names = set(session.scalars(select(JobLease.name)))
    assert rounds == [0, 1, 2]
    assert {"round-0", "round-1"} <= names  # committed before the failure
    assert "round-2" not in names


def test_the_retention_job_purges_events_older_than_the_setting(migrated_database, settings):
    clock = FixedClock()
    now = clock.now()
    with migrated_database.unit_of_work() as session:
        for days, key in ((31, "old"), (29, "young")):
            batch = Batch(receiver="test", source="test", ingested=now - timedelta(days=days))
            batch.add({"message": key}, event_key=key, raw=key)
            batch.store(session)
    jobs = {job.name: job for job in jobs_for(dataclasses.replace(settings, retention_days=30))}
    retention, detection = jobs["ingest.purge_old_events"], jobs["ingest.deliver.detection"]
    runner = BackgroundJobs(migrated_database, [detection, retention], clock=clock, holder="w")
    runner.run_once(retention)  # detection has not read them yet: nothing unread is purged
    with migrated_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 2
    runner.run_once(detection)
    runner.run_once(retention)

    with migrated_database.unit_of_work() as session:
        assert [e.data["message"] for e in session.scalars(select(Event))] == ["young"]
