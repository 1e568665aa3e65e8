"""Server-side login sessions.

The browser holds a random 256-bit token; the table holds its SHA-256 digest, so a
database dump cannot be replayed as a cookie. A session moves through stages:
``mfa`` (password accepted, code pending) or ``enrol`` (password accepted, no TOTP yet)
→ ``active``. Each stage change issues a new token (no fixation). Idle limits: 15 minutes
in the console, 30 for staff, who only use the report form; 12 hours absolute; a pending
stage lives 10 minutes.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from access_control.actor import Actor
from access_control.models import AuthSession, User
from access_control.roles import Role

IDLE_CONSOLE = timedelta(minutes=15)
IDLE_STAFF = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
PENDING = timedelta(minutes=10)
STEP_UP_FRESHNESS = timedelta(minutes=10)
# last_seen is written at most this often: a page view must not always be a write.
_TOUCH_INTERVAL = timedelta(seconds=30)


class Stage(StrEnum):
    MFA = "mfa"
    ENROL = "enrol"
    ACTIVE = "active"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def start_session(
    session: Session, *, user: User, stage: Stage, actor: Actor, now: datetime
) -> str:
    """A new session for ``user``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            id=_digest(token),
            user_id=user.id,
            stage=stage.value,
            created_at=now,
            last_seen_at=now,
            mfa_attempts=0,
            recovery_code_used=False,
            ip=actor.ip,
            user_agent=actor.user_agent,
        )
    )
    session.flush()
    return token


def load_session(
    session: Session,
    *,
    token: str | None,
    user: User | None = None,
    now: datetime,
    touch: bool = True,
) -> AuthSession | None:
    """The live session for ``token``, or None (unknown, expired: expired rows are removed).

    ``touch`` records the activity at once; a caller that wants it later (a page view,
    after rendering) passes False and calls ``touch_session`` itself.
    """
    if not token or len(token) > 100:
        return None
    auth = session.get(AuthSession, _digest(token))
    if auth is None:
        return None
    owner = user or session.get(User, auth.user_id)
    if owner is None or is_expired(auth, owner, now):
        session.delete(auth)
        session.flush()
        return None
    if touch:
        touch_session(session, auth=auth, now=now)
    return auth


def touch_session(session: Session, *, auth: AuthSession, now: datetime) -> None:
    """Record activity on ``auth``: its last-seen time, written at most every half minute."""
    if now - auth.last_seen_at >= _TOUCH_INTERVAL:
        auth.last_seen_at = now
        session.flush()


def is_expired(auth: AuthSession, user: User, now: datetime) -> bool:
    if not user.is_active or user.locked_at is not None:
        return True
    if auth.stage != Stage.ACTIVE:
        return now - auth.created_at >= PENDING
    idle = IDLE_STAFF if user.role == Role.STAFF else IDLE_CONSOLE
    return now - auth.last_seen_at >= idle or now - auth.created_at >= ABSOLUTE


def advance(session: Session, *, auth: AuthSession, stage: Stage, now: datetime) -> str:
    """Move ``auth`` to ``stage`` under a new token (the old one stops working)."""
    token = secrets.token_urlsafe(32)
    replacement = AuthSession(
        id=_digest(token),
        user_id=auth.user_id,
        stage=stage.value,
        created_at=auth.created_at if stage != Stage.ACTIVE else now,
        last_seen_at=now,
        mfa_at=now if stage == Stage.ACTIVE else auth.mfa_at,
        step_up_at=now if stage == Stage.ACTIVE else None,
        mfa_attempts=0,
        recovery_code_used=auth.recovery_code_used,
        ip=auth.ip,
        user_agent=auth.user_agent,
    )
    session.delete(auth)
    session.flush()
    session.add(replacement)
    session.flush()
    return token


def end_session(session: Session, *, auth: AuthSession) -> None:
    session.delete(auth)
    session.flush()


def end_sessions_of(session: Session, *, user_id: int, keep: AuthSession | None = None) -> int:
    """End every session of the user except ``keep``; returns how many ended."""
    statement = delete(AuthSession).where(AuthSession.user_id == user_id)
    if keep is not None:
        statement = statement.where(AuthSession.id != keep.id)
    ended = session.execute(statement).rowcount  # type: ignore[attr-defined]
    session.expire_all()
    return int(ended or 0)


def list_sessions(session: Session, *, user_id: int) -> list[AuthSession]:
    return list(
        session.scalars(
            select(AuthSession)
            .where(AuthSession.user_id == user_id)
            .order_by(AuthSession.created_at)
        )
    )


def mark_step_up(session: Session, *, auth: AuthSession, now: datetime) -> None:
    auth.step_up_at = now
    session.flush()


def has_fresh_step_up(auth: AuthSession, now: datetime) -> bool:
    return auth.step_up_at is not None and now - auth.step_up_at < STEP_UP_FRESHNESS


def purge_expired(session: Session, *, now: datetime) -> int:
    """Housekeeping job: remove sessions past the absolute limit or stuck in a pending stage."""
    statement = delete(AuthSession).where(
        (AuthSession.created_at <= now - ABSOLUTE)
        | ((AuthSession.stage != Stage.ACTIVE.value) & (AuthSession.created_at <= now - PENDING))
        | (AuthSession.last_seen_at <= now - IDLE_STAFF)
    )
    return int(session.execute(statement).rowcount or 0)  # type: ignore[attr-defined]
