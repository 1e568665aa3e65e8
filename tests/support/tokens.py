"""API tokens for tests, created in their own unit of work as ``wachter token add`` would."""

from __future__ import annotations

from datetime import timedelta

from access_control.actor import Actor
from access_control.tokens import Scope, create_token
from core import Clock
from storage import Database


def issue_token(
    database: Database,
    clock: Clock,
    *scopes: Scope,
    name: str = "shipper",
    expires_in: timedelta = timedelta(days=30),
) -> tuple[int, str]:
    """(token id, token text) for a new token with ``scopes`` (default: events:write)."""
    with database.unit_of_work() as session:
        token, text = create_token(
            session,
            name=name,
            scopes=set(scopes) or {Scope.EVENTS_WRITE},
            owner_id=None,
            expires_in=expires_in,
            actor=Actor.system(),
            now=clock.now(),
        )
        return token.id, text


def bearer(text: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {text}"}
