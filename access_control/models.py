"""Tables of access control: accounts, MFA, sessions, tokens, throttling, notices, audit trail.

Secrets are never stored as given: passwords as argon2id hashes, TOTP secrets encrypted,
session ids, enrolment links, recovery codes and API tokens as SHA-256 digests of
high-entropy random values (a database dump gives an attacker nothing to log in with).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage import Base, UTCDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Canonical form (NFKC, case-folded, trimmed): one account and one counter per person.
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    # Where notifications (assignment, escalation, deadline breach) go; optional.
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(32))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    totp_pending_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last accepted TOTP time step: a code of this step or older is refused.
    totp_last_step: Mapped[int] = mapped_column(BigInteger, default=0)
    mfa_failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive, across logins
    locked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # until an admin unlocks
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class RecoveryCode(Base):
    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EnrolmentLink(Base):
    """A one-time link: the first administrator's setup, or a new user's enrolment."""

    __tablename__ = "enrolment_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(20))  # "first_admin" | "enrolment"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A server-side login session. The cookie holds a random token; this row its digest."""

    __tablename__ = "auth_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    stage: Mapped[str] = mapped_column(String(16))  # "mfa" | "enrol" | "active"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    mfa_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    step_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    mfa_attempts: Mapped[int] = mapped_column(Integer, default=0)
    recovery_code_used: Mapped[bool] = mapped_column(Boolean, default=False)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class ApiToken(Base):
    """A machine credential: ``wch_<public_id>_<secret>``; only the secret's digest is kept."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[str] = mapped_column(String(200))  # comma-separated, sorted
    owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_ip: Mapped[str | None] = mapped_column(String(45))


class ThrottleCounter(Base):
    """Failure counters per account and per client address, shared by every process."""

    __tablename__ = "auth_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "account:…" | "ip:…"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    backoffs: Mapped[int] = mapped_column(Integer, default=0)  # doubles the next backoff


class UserNotice(Base):
    """Something the user should know happened to their account; no secrets in ``details``."""

    __tablename__ = "user_notice"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))  # a notices.NoticeKind value
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON of plain scalars
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(Base):
    """Append-only, hash-chained: ``entry_hash = SHA-256(previous_hash ‖ canonical fields)``."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100), index=True)
    target: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(16))  # "success" | "failure" | "denied"
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    request_id: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON, no secrets
    previous_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class AuditChainHead(Base):
    """One row: the latest entry's hash. Locking it orders concurrent writers."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_entry_id: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
