"""Objects for tests, built with sensible defaults: ``make_user(session, role="staff")``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from access_control.models import User

_numbers = itertools.count(1)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def make_user(session: Session, **overrides: Any) -> User:
    number = next(_numbers)
    values: dict[str, Any] = {
        "username": f"user{number}",
        "display_name": f"User {number}",
        "role": "staff",
        "is_active": True,
        "totp_last_step": 0,
        "mfa_failures": 0,
        "created_at": CREATED,
        "updated_at": CREATED,
    }
    values.update(overrides)
    user = User(**values)
    session.add(user)
    session.flush()
    return user
