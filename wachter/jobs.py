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
from core import Clock
from storage import Database, acquire_lease, release_lease

log = logging.getLogger("wachter.jobs")
MIN_LEASE = timedelta(minutes=1)


@dataclass(frozen=True)
class Job:
    """A unit of background work. ``run`` gets a session (committed after it returns) and now."""

    name: str
    interval: timedelta
    run: Callable[[Session, datetime], None]

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


# Jobs of the domain packages, in one list, in one place.
JOBS: tuple[Job, ...] = (
    Job(
        name="access_control.purge_expired_sessions",
        interval=timedelta(minutes=10),
        run=_purge_expired_sessions,
    ),
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
            with self.database.unit_of_work() as session:
                job.run(session, now)
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
