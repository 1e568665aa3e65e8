"""Database leases: a scheduled job runs in one process at a time.

Every process that runs background jobs (``serve`` and each ``worker``) schedules every
job; before a run it tries to take the job's lease. The holder renews it on each run; a
crashed holder's lease expires after its time-to-live and another process takes over.
APScheduler 3 cannot share a job store between processes, hence this table.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.base import Base
from storage.types import UTCDateTime


class JobLease(Base):
    __tablename__ = "job_lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


def acquire_lease(
    session: Session, *, name: str, holder: str, now: datetime, ttl: timedelta
) -> bool:
    """Take or renew the lease ``name`` for ``holder`` until ``now + ttl``.

    Returns False while another holder's lease is still valid. The conditional UPDATE
    (and the primary key on first use) make two concurrent callers get one True.
    """
    if ttl <= timedelta(0):
        raise ValueError("a lease needs a positive time-to-live")
    expires_at = now + ttl
    renewed = session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.holder == holder)
        .values(expires_at=expires_at)
    )
    if renewed.rowcount == 1:  # type: ignore[attr-defined]
        return True
    taken = session.execute(
        update(JobLease)
        .where(JobLease.name == name, JobLease.expires_at <= now)
        .values(holder=holder, acquired_at=now, expires_at=expires_at)
    )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return True
    try:
        with session.begin_nested():
            session.add(JobLease(name=name, holder=holder, acquired_at=now, expires_at=expires_at))
    except IntegrityError:
        return False  # someone else created it first, or holds it
    return True


def release_lease(session: Session, *, name: str, holder: str) -> None:
    """Give the lease up early (on a clean shutdown) so another process need not wait."""
    session.execute(delete(JobLease).where(JobLease.name == name, JobLease.holder == holder))
