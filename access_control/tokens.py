"""API tokens: scoped, expiring, revocable credentials for machines.

A token reads ``wch_<public_id>_<secret>``. The public id (12 URL-safe characters) finds
the row and may appear in listings; the secret (43 characters, 256 bits) is shown once
and only its SHA-256 digest is stored, so a database dump gives nothing to log in with.
The digest is compared in constant time, and compared against a dummy when the public id
is unknown, so neither the answer nor its timing tells which part of a token was wrong.

Every failure of ``authenticate`` (malformed, unknown, wrong secret, expired, revoked,
owner disabled) raises the same ``InvalidToken``; the reason goes to the log, never to
the caller. A valid token without the scope a call needs raises ``InsufficientScope``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import audit
from access_control.actor import Actor
from access_control.errors import InsufficientScope, InvalidToken, TokenNotFound, UserNotFound
from access_control.models import ApiToken, User
from core import Conflict, InvalidInput
from core.i18n import N_

PREFIX = "wch_"
MAX_LIFETIME = timedelta(days=90)
LAST_USED_PRECISION = timedelta(minutes=1)
MAX_NAME_LENGTH = 100
PUBLIC_ID_BYTES = 9  # 12 characters of URL-safe base64
SECRET_BYTES = 32  # 256 bits, 43 characters
# Fixed lengths make the format unambiguous although both parts may contain "_".
_FORMAT = re.compile(r"wch_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})", re.ASCII)
_MAX_PRESENTED = 64  # longer input is not a token; never hash or match megabytes
# Compared against when the public id is unknown; no secret has this digest.
_DUMMY_DIGEST = hashlib.sha256(b"wachter: no such token").hexdigest()

log = logging.getLogger("wachter.access_control")


class Scope(StrEnum):
    EVENTS_WRITE = "events:write"
    EVENTS_READ = "events:read"
    ALERTS_READ = "alerts:read"
    INCIDENTS_READ = "incidents:read"
    INCIDENTS_WRITE = "incidents:write"
    REPORTS_READ = "reports:read"  # aggression reports: facts and pseudonyms, no free text


class TokenState(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


NO_SCOPE = N_("Give at least one scope: %(choices)s.")


def parse_scopes(text: str) -> frozenset[Scope]:
    """``"alerts:read, incidents:read"`` → the scopes; unknown or no scopes are refused."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise InvalidInput(NO_SCOPE, field="scope", choices=_scope_choices())
    known = {scope.value: scope for scope in Scope}
    for name in names:
        if name not in known:
            raise InvalidInput(
                N_("Unknown scope \u201c%(scope)s\u201d; choose from %(choices)s."),
                field="scope",
                scope=name[:40],
                choices=_scope_choices(),
            )
    return frozenset(known[name] for name in names)


def scopes_of(token: ApiToken) -> frozenset[Scope]:
    """The token's scopes (a stored name this version does not know grants nothing)."""
    known = {scope.value: scope for scope in Scope}
    return frozenset(known[name] for name in token.scopes.split(",") if name in known)


def token_state(token: ApiToken, *, now: datetime) -> TokenState:
    if token.revoked_at is not None:
        return TokenState.REVOKED
    if now >= token.expires_at:
        return TokenState.EXPIRED
    return TokenState.ACTIVE


def create_token(
    session: Session,
    *,
    name: str,
    scopes: Collection[Scope],
    owner_id: int | None,
    expires_in: timedelta,
    actor: Actor,
    now: datetime,
) -> tuple[ApiToken, str]:
    """A new token and its full text, which exists only in this return value: show it once."""
    name = _check_name(name)
    if not scopes or not all(isinstance(scope, Scope) for scope in scopes):
        raise InvalidInput(NO_SCOPE, field="scope", choices=_scope_choices())
    if not timedelta(0) < expires_in <= MAX_LIFETIME:
        raise InvalidInput(
            N_("A token must expire after more than 0 and at most %(days)d days."),
            field="expires",
            days=MAX_LIFETIME.days,
        )
    if owner_id is not None:
        _check_owner(session, owner_id)
    public_id = secrets.token_urlsafe(PUBLIC_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    token = ApiToken(
        public_id=public_id,
        secret_hash=_digest(secret),
        name=name,
        scopes=",".join(sorted(scopes)),
        owner_id=owner_id,
        created_at=now,
        expires_at=now + expires_in,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="token.created",
        target=f"token:{token.id}",
        outcome="success",
        now=now,
        details={
            "name": token.name,
            "scopes": token.scopes,
            "expires_at": token.expires_at.isoformat(),
            "owner_id": owner_id,
        },
    )
    return token, f"{PREFIX}{public_id}_{secret}"


def authenticate(
    session: Session,
    *,
    presented: str,
    scope: Scope | None,
    now: datetime,
    ip: str | None,
    record: bool = True,
) -> ApiToken:
    """The token ``presented`` if it is valid now and has ``scope`` (``None``: any scope).

    With ``record`` it also records the use (``record_use``); without, it only reads, so a
    caller can check the token in a read-only transaction and record the use after it.
    """
    match = _FORMAT.fullmatch(presented) if len(presented) <= _MAX_PRESENTED else None
    public_id, secret = match.groups() if match else ("", "")
    token = (
        session.scalar(select(ApiToken).where(ApiToken.public_id == public_id)) if match else None
    )
    expected = token.secret_hash if token is not None else _DUMMY_DIGEST
    secret_matches = hmac.compare_digest(_digest(secret), expected)
    reason: str | None
    if token is None or not secret_matches:
        reason = "malformed" if match is None else "unknown" if token is None else "wrong secret"
    else:
        reason = _unusable(session, token, now=now)
    if token is None or reason is not None:
        token_id = token.id if token is not None else None
        log.info("API token refused: %s", reason, extra={"wachter.token.id": token_id})
        raise InvalidToken()
    if scope is not None:
        check_scope(token, scope)
    if record:
        record_use(session, token, now=now, ip=ip)
    return token


def record_use(session: Session, token: ApiToken, *, now: datetime, ip: str | None) -> None:
    """Note when and from where ``token`` was used (flushed with the caller's unit of work),
    to the minute: a shipper calls many times a second, and writing the row each time would
    make every call a write transaction (on SQLite: the write lock and an fsync).

    A use from another address than the last one is audited (``auth.token.new_source``,
    from the new address): a stolen token shows up there, and the detection engine sees it
    as one of Wachter's own authentication events.
    """
    address = ip[:45] if ip else None
    last = token.last_used_at
    if last is None or now - last >= LAST_USED_PRECISION or token.last_used_ip != address:
        previous = token.last_used_ip
        if previous is not None and address is not None and previous != address:
            audit.record(
                session,
                actor=Actor(name=f"token:{token.name}", user_id=token.owner_id, ip=address),
                action="auth.token.new_source",
                target=f"token:{token.id}",
                outcome="success",
                now=now,
                details={"token_id": token.id, "previous_ip": previous},
            )
        token.last_used_at = now
        token.last_used_ip = address
        session.add(token)
        session.flush()


def check_scope(token: ApiToken, scope: Scope) -> None:
    """Raise ``InsufficientScope`` unless ``token`` grants ``scope``."""
    if scope not in scopes_of(token):
        log.info("API token lacks scope %s", scope, extra={"wachter.token.id": token.id})
        raise InsufficientScope(
            N_("This token does not have the scope %(scope)s."), scope=scope.value
        )


def get_token(session: Session, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise TokenNotFound(N_("There is no API token %(id)s."), id=token_id)
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    """Every token, the newest first: active, expired and revoked."""
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id.desc())))


def revoke_token(session: Session, *, token_id: int, actor: Actor, now: datetime) -> ApiToken:
    """Revoke at once. Revoking a revoked token changes nothing and is not audited again."""
    token = get_token(session, token_id)
    if token.revoked_at is None:
        _revoke(session, token, actor=actor, now=now, reason=None)
    return token


def revoke_tokens_of(
    session: Session, *, user_id: int, actor: Actor, now: datetime, reason: str | None = None
) -> int:
    """Revoke every live token a user owns (disabled, demoted, credentials reset).

    Returns how many were revoked; each is audited. Expired tokens are left as they are.
    """
    tokens = session.scalars(
        select(ApiToken)
        .where(
            ApiToken.owner_id == user_id,
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > now,
        )
        .order_by(ApiToken.id)
    ).all()
    for token in tokens:
        _revoke(session, token, actor=actor, now=now, reason=reason)
    return len(tokens)


def _revoke(
    session: Session, token: ApiToken, *, actor: Actor, now: datetime, reason: str | None
) -> None:
    token.revoked_at = now
    session.flush()
    details: dict[str, str | int | bool | None] = {"name": token.name}
    if reason:
        details["reason"] = reason
    audit.record(
        session,
        actor=actor,
        action="token.revoked",
        target=f"token:{token.id}",
        outcome="success",
        now=now,
        details=details,
    )


def _unusable(session: Session, token: ApiToken, *, now: datetime) -> str | None:
    """Why a token with the right secret is refused (for the log only), or ``None``."""
    if token.revoked_at is not None:
        return "revoked"
    if now >= token.expires_at:
        return "expired"
    if token.owner_id is not None:
        owner = session.get(User, token.owner_id)
        if owner is None or not owner.is_active:
            return "owner disabled"
    return None


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidInput(
            N_("A token name has 1 to %(limit)d characters."), field="name", limit=MAX_NAME_LENGTH
        )
    if not name.isprintable():
        raise InvalidInput(N_("A token name cannot contain control characters."), field="name")
    return name


def _check_owner(session: Session, owner_id: int) -> None:
    owner = session.get(User, owner_id)
    if owner is None:
        raise UserNotFound(N_("There is no user %(id)s."), id=owner_id)
    if not owner.is_active:
        raise Conflict(N_("A disabled user cannot own a token."))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _scope_choices() -> str:
    return ", ".join(scope.value for scope in Scope)
