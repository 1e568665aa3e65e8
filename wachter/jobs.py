"""Background jobs: APScheduler for the timer, a database lease for "exactly one runner".

``serve`` and every ``worker`` schedule every job; a run starts only in the process
that holds the job's lease, so adding workers never runs a job twice.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session

from access_control import sessions
from core import Clock, Settings
from detection_rules import DetectionConsumer, OfficeHours
from ingest import dead_letters, pipeline
from storage import Database, acquire_lease, release_lease
from storage.events import purge_events

log = logging.getLogger("wachter.jobs")
MIN_LEASE = timedelta(minutes=1)
MAX_ROUNDS = 1000
PURGE_BATCH = 5000


@dataclass(frozen=True)
class Job:
    """A unit of background work. ``run`` gets a session (committed after it returns) and now.

    ``run`` may return True to say more work is waiting: it is then called again at once,
    in a new transaction (up to ``MAX_ROUNDS`` times), so large backlogs move in short
    transactions instead of one long one that holds SQLite's write lock.
    """

    name: str
    interval: timedelta
    run: Callable[[Session, datetime], bool | None]

    def __post_init__(self) -> None:
        if self.interval < timedelta(seconds=1):
            raise ValueError(f"job {self.name!r} needs an interval of at least one second")

    @property
    def lease_ttl(self) -> timedelta:
        # Long enough that the holder renews before it lapses; short enough that a
        # crashed holder is replaced within about two intervals.
        return max(2 * self.interval, MIN_LEASE)


def _purge_expired_sessions(session: Session, now: datetime) -> None:
    ended = sessions.purge_expired(session, now=now)
    if ended:
        log.info("expired sessions removed", extra={"wachter.sessions_removed": ended})


def _import_authentication_events(session: Session, now: datetime) -> bool:
    imported = pipeline.import_authentication_events(session, now=now)
    return imported == pipeline.DELIVERY_BATCH


def _trim_dead_letters(session: Session, _now: datetime) -> None:
    removed = dead_letters.trim_dead_letters(session)
    if removed:
        log.warning(
            "dead letters over the cap removed", extra={"wachter.dead_letters_removed": removed}
        )


def _delivery(consumer: pipeline.EventConsumer) -> Job:
    def run(session: Session, now: datetime) -> bool:
        return pipeline.deliver(session, consumer, now=now) == pipeline.DELIVERY_BATCH

    return Job(name=f"ingest.deliver.{consumer.name}", interval=timedelta(seconds=1), run=run)


def _retention(days: int, consumers: Sequence[pipeline.EventConsumer]) -> Job:
    def run(session: Session, now: datetime) -> bool:
        keep_from = pipeline.oldest_unconsumed(session, [c.name for c in consumers])
        purged = purge_events(
            session,
            ingested_before=now - timedelta(days=days),
            up_to_id=keep_from,
            limit=PURGE_BATCH,
        )
        if purged:
            log.info("old events purged", extra={"wachter.events_purged": purged})
        return purged == PURGE_BATCH

    return Job(name="ingest.purge_old_events", interval=timedelta(minutes=10), run=run)


def event_consumers(settings: Settings) -> tuple[pipeline.EventConsumer, ...]:
    """The consumers of the stored event stream: the detection engine."""
    opens, closes = settings.office_hours
    hours = OfficeHours(timezone=settings.timezone, opens=opens, closes=closes)
    return (DetectionConsumer(office_hours=hours),)


# Jobs of the domain packages that need no settings, in one list, in one place.
JOBS: tuple[Job, ...] = (
    Job(
        name="access_control.purge_expired_sessions",
        interval=timedelta(minutes=10),
        run=_purge_expired_sessions,
    ),
    Job(
        name="ingest.import_authentication_events",
        interval=timedelta(seconds=5),
        run=_import_authentication_events,
    ),
    Job(name="ingest.trim_dead_letters", interval=timedelta(minutes=5), run=_trim_dead_letters),
)


def jobs_for(settings: Settings) -> tuple[Job, ...]:
    """Every job ``serve`` and ``worker`` run with these settings."""
    consumers = event_consumers(settings)
    return (
        *JOBS,
        _retention(settings.retention_days, consumers),
        *(_delivery(consumer) for consumer in consumers),
    )


def new_holder_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class BackgroundJobs:
    def __init__(
        self, database: Database, jobs: Sequence[Job], *, clock: Clock, holder: str | None = None
    ) -> None:
        self.database = database
        self.jobs = tuple(jobs)
        self.clock = clock
        self.holder = holder or new_holder_id()
        self._scheduler = BackgroundScheduler(timezone=UTC)

    def run_once(self, job: Job) -> bool:
        """Run ``job`` if this process holds (or can take) its lease; True if it ran."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            if not acquire_lease(
                session, name=job.name, holder=self.holder, now=now, ttl=job.lease_ttl
            ):
                return False
        try:
            for _round in range(MAX_ROUNDS):
                with self.database.unit_of_work() as session:
                    more = job.run(session, now)
                if not more:
                    break
                now = self.clock.now()
        except Exception:  # the job runner is the one place a broad catch belongs
            log.exception("job %s failed", job.name, extra={"wachter.job": job.name})
        return True

    def start(self) -> None:
        for job in self.jobs:
            self._scheduler.add_job(
                self.run_once,
                "interval",
                args=[job],
                id=job.name,
                seconds=job.interval.total_seconds(),
                coalesce=True,
                max_instances=1,
                misfire_grace_time=int(job.interval.total_seconds()),
                # The timer runs on wall time; the injected clock is for the jobs' logic.
                next_run_time=datetime.now(UTC),
            )
        self._scheduler.start()
        log.info("background jobs started", extra={"wachter.jobs": [job.name for job in self.jobs]})

    def stop(self) -> None:
        """Wait for running jobs, then hand the leases back so another process need not wait."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        with self.database.unit_of_work() as session:
            for job in self.jobs:
                release_lease(session, name=job.name, holder=self.holder)
        log.info("background jobs stopped")
