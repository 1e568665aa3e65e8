"""Brute-force counters in the database, so they hold across every process.

Per account (SECURITY_CASES 13, 18): 5 failures within 15 minutes start a backoff of
30 s that doubles with each further round, up to 15 minutes; while it runs even the right
password fails with the generic message. A quiet 15 minutes resets the account.
Per client address (14): 20 failures within 10 minutes block the address for 15 minutes
(HTTP 429 with Retry-After). The MFA step has its own address bucket, 30 codes a minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control.models import ThrottleCounter


@dataclass(frozen=True)
class Limit:
    failures: int
    window: timedelta
    block: timedelta
    doubling_cap: timedelta | None = None  # None: every block has the same length


ACCOUNT = Limit(5, timedelta(minutes=15), timedelta(seconds=30), doubling_cap=timedelta(minutes=15))
ADDRESS = Limit(20, timedelta(minutes=10), timedelta(minutes=15))
MFA_ADDRESS = Limit(30, timedelta(minutes=1), timedelta(minutes=1))


def account_key(canonical_username: str) -> str:
    return f"account:{canonical_username}"[:200]


def address_key(ip: str | None) -> str:
    return f"ip:{ip or 'unknown'}"


def mfa_address_key(ip: str | None) -> str:
    return f"mfa-ip:{ip or 'unknown'}"


def blocked_for(session: Session, *, key: str, now: datetime) -> int:
    """Seconds until ``key`` may try again; 0 when it may try now."""
    counter = session.get(ThrottleCounter, key)
    if counter is None or counter.blocked_until is None or counter.blocked_until <= now:
        return 0
    return max(1, math.ceil((counter.blocked_until - now).total_seconds()))


def record_failure(session: Session, *, key: str, limit: Limit, now: datetime) -> int:
    """Count one failure; returns the seconds of the block it started (0 if none)."""
    counter = session.execute(
        select(ThrottleCounter).where(ThrottleCounter.key == key).with_for_update()
    ).scalar_one_or_none()
    if counter is None:
        counter = ThrottleCounter(key=key, failures=0, window_started_at=now, backoffs=0)
        session.add(counter)
    elif now - counter.window_started_at > limit.window and not _is_blocked(counter, now):
        if _quiet_since(counter, now) > limit.window:  # measured before the window moves
            counter.backoffs = 0
        counter.window_started_at = now
        counter.failures = 0
    if _is_blocked(counter, now):
        session.flush()
        return 0  # attempts during a block neither extend nor count towards the next one
    counter.failures += 1
    if counter.failures < limit.failures:
        session.flush()
        return 0
    block = _block_length(limit, counter.backoffs)
    counter.blocked_until = now + block
    counter.backoffs += 1
    counter.failures = 0
    counter.window_started_at = now
    session.flush()
    return int(block.total_seconds())


def reset(session: Session, *, key: str) -> None:
    counter = session.get(ThrottleCounter, key)
    if counter is not None:
        session.delete(counter)
        session.flush()


def _is_blocked(counter: ThrottleCounter, now: datetime) -> bool:
    return counter.blocked_until is not None and counter.blocked_until > now


def _quiet_since(counter: ThrottleCounter, now: datetime) -> timedelta:
    last = max(counter.window_started_at, counter.blocked_until or counter.window_started_at)
    return now - last


def _block_length(limit: Limit, backoffs: int) -> timedelta:
    if limit.doubling_cap is None:
        return limit.block
    doubled: timedelta = limit.block * (2 ** min(backoffs, 20))
    return min(doubled, limit.doubling_cap)
