"""One-time links: the first administrator's setup and every new account's enrolment.

A link carries 256 random bits; only their digest is stored. It works once and expires:
the first-admin link after an hour, an enrolment link after three days.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from access_control import audit
from access_control.actor import Actor
from access_control.models import EnrolmentLink, User
from core import NotFound
from core.i18n import N_

FIRST_ADMIN_TTL = timedelta(hours=1)
ENROLMENT_TTL = timedelta(days=3)


class Purpose(StrEnum):
    FIRST_ADMIN = "first_admin"
    ENROLMENT = "enrolment"


class InvalidLink(NotFound):
    def __init__(self) -> None:
        super().__init__(
            N_("This link is not valid: it was used already, has expired or never existed.")
        )


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def create_first_admin_link(session: Session, *, now: datetime) -> str:
    """A fresh setup link; earlier unused ones stop working."""
    session.execute(
        update(EnrolmentLink)
        .where(EnrolmentLink.purpose == Purpose.FIRST_ADMIN.value, EnrolmentLink.used_at.is_(None))
        .values(expires_at=now)
    )
    token = _create(session, purpose=Purpose.FIRST_ADMIN, user=None, ttl=FIRST_ADMIN_TTL, now=now)
    audit.record(
        session,
        actor=Actor.system(),
        action="setup.link_created",
        target="setup:first_admin",
        outcome="success",
        now=now,
    )
    return token


def create_enrolment_link(session: Session, *, user: User, actor: Actor, now: datetime) -> str:
    """A link for ``user`` to choose a password and enrol TOTP; earlier ones stop working."""
    session.execute(
        update(EnrolmentLink)
        .where(EnrolmentLink.user_id == user.id, EnrolmentLink.used_at.is_(None))
        .values(expires_at=now)
    )
    token = _create(session, purpose=Purpose.ENROLMENT, user=user, ttl=ENROLMENT_TTL, now=now)
    audit.record(
        session,
        actor=actor,
        action="user.enrolment_link_created",
        target=f"user:{user.username}",
        outcome="success",
        now=now,
    )
    return token


def find_valid_link(
    session: Session, *, token: str, purpose: Purpose, now: datetime
) -> EnrolmentLink:
    """The unused, unexpired link for ``token``; raises ``InvalidLink`` otherwise."""
    if not token or len(token) > 100:
        raise InvalidLink()
    link = session.scalar(select(EnrolmentLink).where(EnrolmentLink.token_hash == _digest(token)))
    if (
        link is None
        or link.purpose != purpose.value
        or link.used_at is not None
        or link.expires_at <= now
    ):
        raise InvalidLink()
    return link


def consume_link(session: Session, *, link: EnrolmentLink, now: datetime) -> None:
    """Use the link up; of two concurrent uses only one succeeds."""
    used = session.execute(
        update(EnrolmentLink)
        .where(
            EnrolmentLink.id == link.id,
            EnrolmentLink.used_at.is_(None),
            EnrolmentLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidLink()
    session.refresh(link)


def _create(
    session: Session, *, purpose: Purpose, user: User | None, ttl: timedelta, now: datetime
) -> str:
    token = secrets.token_urlsafe(32)
    session.add(
        EnrolmentLink(
            token_hash=_digest(token),
            purpose=purpose.value,
            user_id=user.id if user else None,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    session.flush()
    return token
