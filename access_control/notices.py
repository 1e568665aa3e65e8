"""Security notices: what changed on an account, told to its owner (SECURITY_CASES 11, 1).

There is no e-mail channel: the console shows a user their unread notices. A notice says
what happened and who did it; it never carries a secret, only plain scalars such as the
acting user's name or the new role.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from access_control.audit import DetailValue, check_details
from access_control.models import UserNotice


class NoticeKind(StrEnum):
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - a notice kind, not a secret
    MFA_RESET = "mfa_reset"
    RECOVERY_CODES_REGENERATED = "recovery_codes_regenerated"
    ROLE_CHANGED = "role_changed"
    ACCOUNT_UNLOCKED = "account_unlocked"
    TOTP_REPLAY_REJECTED = "totp_replay_rejected"


def notify(
    session: Session,
    *,
    user_id: int,
    kind: NoticeKind | str,
    now: datetime,
    details: Mapping[str, DetailValue] | None = None,
) -> UserNotice:
    """Leave a notice for the user (flushed; committed with the caller's unit of work)."""
    if now.utcoffset() is None:
        raise ValueError("notice time must be aware (UTC)")
    clean = check_details(details or {}, what="notice")
    notice = UserNotice(
        user_id=user_id,
        kind=NoticeKind(kind).value,
        created_at=now,
        details=json.dumps(clean, sort_keys=True, separators=(",", ":")),
    )
    session.add(notice)
    session.flush()
    return notice


def unread_notices(session: Session, *, user_id: int, limit: int = 20) -> list[UserNotice]:
    """The user's unread notices, newest first."""
    query = (
        select(UserNotice)
        .where(UserNotice.user_id == user_id, UserNotice.read_at.is_(None))
        .order_by(UserNotice.created_at.desc(), UserNotice.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def count_unread(session: Session, *, user_id: int) -> int:
    query = (
        select(func.count())
        .select_from(UserNotice)
        .where(UserNotice.user_id == user_id, UserNotice.read_at.is_(None))
    )
    return int(session.scalar(query) or 0)


def mark_read(
    session: Session, *, user_id: int, now: datetime, notice_id: int | None = None
) -> int:
    """Mark one of the user's unread notices, or all of them, as read; returns how many.

    Only the user's own notices change: another user's notice id marks nothing.
    """
    query = (
        update(UserNotice)
        .where(UserNotice.user_id == user_id, UserNotice.read_at.is_(None))
        .values(read_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if notice_id is not None:
        query = query.where(UserNotice.id == notice_id)
    result = session.execute(query)
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def details_of(notice: UserNotice) -> dict[str, DetailValue]:
    """The notice's details as stored (plain scalars)."""
    loaded = json.loads(notice.details or "{}")
    if not isinstance(loaded, dict):
        return {}
    return {
        str(key): value
        for key, value in loaded.items()
        if isinstance(value, str | int | bool | type(None))
    }
