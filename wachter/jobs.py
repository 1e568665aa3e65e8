"""Background jobs: APScheduler for the timer, a database lease for "exactly one runner".

``serve`` and every ``worker`` schedule every job; a run starts only in the process
that holds the job's lease, so adding workers never runs a job twice.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.orm import Session

from access_control import sessions
from access_control.secret_box import SecretBox
from core import Clock, Settings
from detection_rules import DetectionConsumer, OfficeHours
from detection_rules.search.scheduled import JOB_NAME as SCHEDULED_SEARCHES
from detection_rules.search.scheduled import ScheduledSearches, expire_document_copies
from incidents.alerts import ALERT_BATCH, raise_alerts
from incidents.deadlines import escalation_run
from incidents.feeds import deliver_webhooks
from incidents.feeds.cef_sender import send_cef
from incidents.feeds.retention import purge_feed
from incidents.feeds.search_mirror import AlertMirror
from incidents.notifications import delivery_run
from ingest import dead_letters, pipeline
from ingest.search_indexer import SearchIndexer
from ingest.search_retention import purge_search_indices
from staff_safety.deadline_job import staff_deadline_run
from staff_safety.measures import lists_job_run
from staff_safety.purge import purge_run
from staff_safety.vault import keyring_for
from storage import Database, acquire_lease, release_lease
from storage.events import purge_events
from storage.search import backend_for
from storage.search.alerts import alerts_index

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


def _delivery(consumer: pipeline.EventConsumer | pipeline.RowConsumer) -> Job:
    limit = pipeline.batch_size_of(consumer)

    def run(session: Session, now: datetime) -> bool:
        return pipeline.deliver(session, consumer, now=now, limit=limit) == limit

    return Job(name=f"ingest.deliver.{consumer.name}", interval=timedelta(seconds=1), run=run)


def _retention(
    days: int, consumers: Sequence[pipeline.EventConsumer | pipeline.RowConsumer]
) -> Job:
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


def _feed_retention(days: int) -> Job:
    def run(session: Session, now: datetime) -> bool:
        purged = purge_feed(session, recorded_before=now - timedelta(days=days), limit=PURGE_BATCH)
        if purged:
            log.info("old alert feed entries purged", extra={"wachter.feed_purged": purged})
        return purged == PURGE_BATCH

    return Job(name="incidents.purge_old_feed_entries", interval=timedelta(minutes=10), run=run)


def _search_retention(settings: Settings) -> tuple[Job, ...]:
    """Scale-out only: delete the cluster's daily event indices past the retention, daily."""
    if settings.is_embedded:
        return ()
    backend = backend_for(settings)

    def run(_session: Session, now: datetime) -> None:
        purge_search_indices(
            backend,
            prefix=settings.elasticsearch_index_prefix,
            retention_days=settings.retention_days,
            now=now,
        )

    return (Job(name="storage.purge_search_indices", interval=timedelta(days=1), run=run),)


def _alert_mirror(settings: Settings) -> tuple[Job, ...]:
    """Scale-out only: every alert change copied to ``<prefix>-alerts`` on the cluster."""
    if settings.is_embedded:
        return ()
    mirror = AlertMirror(backend_for(settings), prefix=settings.elasticsearch_index_prefix)

    def run(session: Session, now: datetime) -> bool:
        return mirror.run(session, now=now)

    return (Job(name="incidents.mirror_alerts", interval=timedelta(seconds=2), run=run),)


def _document_copy_retention(settings: Settings) -> tuple[Job, ...]:
    """Scale-out only: the cluster documents copied into detections follow event retention."""
    if settings.is_embedded:
        return ()
    days = timedelta(days=settings.retention_days)

    def run(session: Session, now: datetime) -> bool:
        expired = expire_document_copies(session, before=now - days, limit=PURGE_BATCH)
        if expired:
            log.info("document copies expired", extra={"wachter.detections": expired})
        return expired == PURGE_BATCH

    return (
        Job(name="detection_rules.expire_document_copies", interval=timedelta(minutes=10), run=run),
    )


def _scheduled_searches(settings: Settings) -> tuple[Job, ...]:
    """Scale-out with ``WACHTER_DETECTION_INDICES``: the rules as searches on those indices.

    Wachter's own events are matched as they arrive (the streaming matcher), so their
    indices, and the copy of the alerts, are left out of the searches.
    """
    if settings.is_embedded or not settings.detection_indices:
        return ()
    prefix = settings.elasticsearch_index_prefix
    searches = ScheduledSearches(
        backend_for(settings),
        patterns=settings.detection_indices,
        lookback=timedelta(seconds=settings.detection_lookback_seconds),
        exclude_prefixes=(f"{prefix}-events-", alerts_index(prefix)),
    )
    interval = timedelta(seconds=settings.detection_interval_seconds)
    return (Job(name=SCHEDULED_SEARCHES, interval=interval, run=searches.run),)


def event_consumers(
    settings: Settings,
) -> tuple[pipeline.EventConsumer | pipeline.RowConsumer, ...]:
    """The consumers of the stored event stream: the detection engine and, in scale-out
    mode, the search indexer (the event table is its outbox while the cluster is away)."""
    opens, closes = settings.office_hours
    hours = OfficeHours(timezone=settings.timezone, opens=opens, closes=closes)
    consumers: tuple[pipeline.EventConsumer | pipeline.RowConsumer, ...] = (
        DetectionConsumer(office_hours=hours),
    )
    if not settings.is_embedded:
        indexer = SearchIndexer(backend_for(settings), prefix=settings.elasticsearch_index_prefix)
        consumers += (indexer,)
    return consumers


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


def _webhook_delivery(settings: Settings) -> Job:
    box = SecretBox.from_settings(settings)

    def run(session: Session, now: datetime) -> bool:
        return deliver_webhooks(session, now=now, box=box)

    return Job(name="incidents.deliver_webhooks", interval=timedelta(seconds=2), run=run)


def _raise_alerts(dedup_minutes: int) -> Job:
    window = timedelta(minutes=dedup_minutes)

    def run(session: Session, now: datetime) -> bool:
        return raise_alerts(session, now=now, dedup_window=window) == ALERT_BATCH

    return Job(name="incidents.raise_alerts", interval=timedelta(seconds=1), run=run)


def _cef_sending(settings: Settings) -> tuple[Job, ...]:
    """Alerts as CEF over syslog to the SOC's collector, when one is configured."""
    target = settings.cef_syslog
    if target is None:
        return ()

    def run(session: Session, now: datetime) -> bool:
        return send_cef(
            session,
            now=now,
            target=target,
            tls=settings.cef_syslog_tls,
            ca_file=settings.cef_syslog_ca,
        )

    return (Job(name="incidents.send_cef", interval=timedelta(seconds=2), run=run),)


def jobs_for(settings: Settings) -> tuple[Job, ...]:
    """Every job ``serve`` and ``worker`` run with these settings."""
    consumers = event_consumers(settings)
    return (
        *JOBS,
        _retention(settings.retention_days, consumers),
        *(_delivery(consumer) for consumer in consumers),
        _raise_alerts(settings.alert_dedup_minutes),
        _webhook_delivery(settings),
        _feed_retention(settings.retention_days),
        *_search_retention(settings),
        *_scheduled_searches(settings),
        *_document_copy_retention(settings),
        *_alert_mirror(settings),
        *_cef_sending(settings),
        Job(
            name="incidents.escalate_deadlines",
            interval=timedelta(seconds=30),
            run=escalation_run(settings.deadlines_file),
        ),
        Job(
            name="incidents.send_notifications",
            interval=timedelta(seconds=5),
            run=delivery_run(settings),
        ),
        # --- staff safety jobs ---
        Job(name="staff_safety.purge_expired", interval=timedelta(days=1), run=purge_run(settings)),
        Job(
            name="staff_safety.escalate_deadlines",
            interval=timedelta(seconds=60),
            run=staff_deadline_run(settings.timezone),
        ),
        Job(
            name="staff_safety.sync_detection_lists",
            interval=timedelta(minutes=5),
            run=lists_job_run(
                functools.cache(lambda: keyring_for(settings)), timezone=settings.timezone
            ),
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
        self._stopping = threading.Event()
        self._running: set[str] = set()  # names of the jobs in a run, for the stop log
        self._running_lock = threading.Lock()

    def run_once(self, job: Job) -> bool:
        """Run ``job`` if this process holds (or can take) its lease; True if it ran."""
        now = self.clock.now()
        with self.database.unit_of_work() as session:
            if not acquire_lease(
                session, name=job.name, holder=self.holder, now=now, ttl=job.lease_ttl
            ):
                return False
        with self._running_lock:
            self._running.add(job.name)
        try:
            for _round in range(MAX_ROUNDS):
                with self.database.unit_of_work() as session:
                    more = job.run(session, now)
                # A backlog waits for the next process; a stop does not wait for the backlog.
                if not more or self._stopping.is_set():
                    break
                now = self.clock.now()
        except Exception:  # the job runner is the one place a broad catch belongs
            log.exception("job %s failed", job.name, extra={"wachter.job": job.name})
        finally:
            with self._running_lock:
                self._running.discard(job.name)
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
        """Wait for running jobs, then hand the leases back so another process need not wait.

        A job in a run ends after its current round (one short transaction); the log names
        the jobs waited for, so a stop that hangs says on what.
        """
        self._stopping.set()
        with self._running_lock:
            waiting_for = sorted(self._running)
        log.info("stopping background jobs", extra={"wachter.jobs": waiting_for})
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        with self.database.unit_of_work() as session:
            for job in self.jobs:
                release_lease(session, name=job.name, holder=self.holder)
        log.info("background jobs stopped")
