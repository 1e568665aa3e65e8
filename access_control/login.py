"""The login flow: password step, MFA step (or TOTP enrolment), step-up.

Expected failures are results, not exceptions, so the caller commits the counters and
audit entries they produce. Every failure looks the same to the client (SECURITY_CASES
17): unknown user, wrong password, backoff, locked and disabled all read "invalid
username or password" and cost one argon2 verification.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from access_control import audit, notices, recovery, sessions, throttle, totp
from access_control.actor import Actor
from access_control.models import AuthSession, User
from access_control.passwords import PasswordHasher, canonical_username, normalise_password
from access_control.secret_box import SecretBox
from access_control.sessions import Stage
from core import InvalidInput
from core.i18n import N_

MFA_ATTEMPTS_PER_LOGIN = 5
MFA_FAILURES_BEFORE_LOCK = 10
MAX_CREDENTIAL_LENGTH = 1024


class Outcome(StrEnum):
    MFA_NEEDED = "mfa_needed"
    ENROL_NEEDED = "enrol_needed"
    SIGNED_IN = "signed_in"
    FAILED = "failed"  # try again
    RESTART = "restart"  # pending login destroyed: start again with the password
    LOCKED = "locked"  # account locked until an administrator unlocks it
    THROTTLED = "throttled"  # this address waits ``retry_after`` seconds


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    token: str | None = None  # a new session token for the cookie
    retry_after: int = 0
    recovery_codes: list[str] = field(default_factory=list)


def password_step(
    session: Session,
    *,
    username: str,
    password: str,
    hasher: PasswordHasher,
    actor: Actor,
    now: datetime,
) -> Result:
    address = throttle.address_key(actor.ip)
    throttled = _address_throttled(session, key=address, actor=actor, now=now)
    if throttled is not None:
        return throttled
    name = _canonical_or_blank(username)
    account = throttle.account_key(name)
    user = session.scalar(select(User).where(User.username == name)) if name else None
    reason = _refusal(
        session, user=user, password=password, hasher=hasher, account=account, now=now
    )
    if reason is not None:
        if reason != "backoff":
            throttle.record_failure(session, key=account, limit=throttle.ACCOUNT, now=now)
        blocked = throttle.record_failure(session, key=address, limit=throttle.ADDRESS, now=now)
        audit.record(
            session,
            actor=actor,
            action="auth.password.failure",
            target=f"user:{name or '?'}",
            outcome="failure",
            now=now,
            details={"reason": reason},
        )
        if blocked:
            audit.record(
                session,
                actor=actor,
                action="auth.ip_throttled",
                target=address,
                outcome="denied",
                now=now,
                details={"seconds": blocked},
            )
        return Result(Outcome.FAILED)
    assert user is not None
    assert user.password_hash is not None
    throttle.reset(session, key=account)
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    stage = Stage.MFA if user.totp_secret is not None else Stage.ENROL
    token = sessions.start_session(session, user=user, stage=stage, actor=actor, now=now)
    _audit_user(
        session,
        actor=actor,
        user=user,
        action="auth.password.success",
        outcome="success",
        now=now,
        details={"next": stage.value},
    )
    return Result(Outcome.MFA_NEEDED if stage == Stage.MFA else Outcome.ENROL_NEEDED, token=token)


def _refusal(  # noqa: PLR0911 - one early return per reason reads best
    session: Session,
    *,
    user: User | None,
    password: str,
    hasher: PasswordHasher,
    account: str,
    now: datetime,
) -> str | None:
    """Why the password step fails, or None. Always costs one hash verification."""
    if _too_long(password):
        return "too_long"  # refused before hashing (hash DoS), like a wrong password
    if user is None or user.password_hash is None:
        hasher.verify_dummy(password)
        return "unknown_user" if user is None else "not_enrolled"
    correct = hasher.verify(user.password_hash, password)
    if throttle.blocked_for(session, key=account, now=now):
        return "backoff"
    if not correct:
        return "bad_password"
    if not user.is_active:
        return "disabled"
    if user.locked_at is not None:
        return "locked"
    return None


def mfa_step(
    session: Session,
    *,
    auth: AuthSession,
    user: User,
    code: object,
    box: SecretBox,
    actor: Actor,
    now: datetime,
) -> Result:
    """Check a TOTP or recovery code for a session in the MFA stage."""
    address = throttle.mfa_address_key(actor.ip)
    throttled = _address_throttled(session, key=address, actor=actor, now=now)
    if throttled is not None:
        return throttled
    throttle.record_failure(
        session, key=address, limit=throttle.MFA_ADDRESS, now=now
    )  # counts every try
    if auth.stage != Stage.MFA or user.totp_secret is None:
        return Result(Outcome.RESTART)
    method, accepted = _check_code(session, user=user, code=code, box=box, actor=actor, now=now)
    if accepted:
        user.mfa_failures = 0
        token = sessions.advance(session, auth=auth, stage=Stage.ACTIVE, now=now)
        _audit_user(
            session,
            actor=actor,
            user=user,
            action="auth.login.success",
            outcome="success",
            now=now,
            details={"method": method},
        )
        return Result(Outcome.SIGNED_IN, token=token)
    return _count_mfa_failure(session, auth=auth, user=user, actor=actor, now=now, method=method)


def _check_code(
    session: Session,
    *,
    user: User,
    code: object,
    box: SecretBox,
    actor: Actor,
    now: datetime,
    at_sign_in: bool = True,
) -> tuple[str, bool]:
    """(method, accepted). A replayed code at sign-in also leaves the user a notice; in a
    step-up the user has just signed in with that very code, so it would alarm for nothing."""
    if isinstance(code, str) and len(code.strip()) > totp.DIGITS:
        if len(code) > 64:
            return "recovery", False
        return "recovery", recovery.use_recovery_code(session, user=user, code=code, now=now)
    if not totp.is_well_formed_code(code):
        return "totp", False
    assert isinstance(code, str)
    assert user.totp_secret is not None
    step = totp.matching_step(box.decrypt(user.totp_secret), code, now=now)
    if step is not None and step <= user.totp_last_step:
        _audit_user(
            session,
            actor=actor,
            user=user,
            action="mfa.totp.replay_rejected",
            outcome="denied",
            now=now,
        )
        if at_sign_in:
            notices.notify(
                session, user_id=user.id, kind=notices.NoticeKind.TOTP_REPLAY_REJECTED, now=now
            )
        return "totp", False
    return "totp", totp.verify_code(session, user=user, box=box, code=code, now=now)


def _count_mfa_failure(
    session: Session, *, auth: AuthSession, user: User, actor: Actor, now: datetime, method: str
) -> Result:
    auth.mfa_attempts += 1
    _audit_user(
        session,
        actor=actor,
        user=user,
        action="auth.mfa.failure",
        outcome="failure",
        now=now,
        details={"method": method, "attempt": auth.mfa_attempts},
    )
    if _add_mfa_failure(session, user=user, actor=actor, now=now):
        return Result(Outcome.LOCKED)
    if auth.mfa_attempts >= MFA_ATTEMPTS_PER_LOGIN:
        sessions.end_session(session, auth=auth)
        _audit_user(
            session, actor=actor, user=user, action="auth.mfa.restart", outcome="failure", now=now
        )
        return Result(Outcome.RESTART)
    return Result(Outcome.FAILED)


def _add_mfa_failure(session: Session, *, user: User, actor: Actor, now: datetime) -> bool:
    """Count a consecutive MFA failure atomically; lock at the tenth. True if now locked."""
    session.execute(
        update(User).where(User.id == user.id).values(mfa_failures=User.mfa_failures + 1)
    )
    session.flush()
    session.refresh(user, ["mfa_failures"])
    if user.mfa_failures < MFA_FAILURES_BEFORE_LOCK:
        return False
    user.locked_at = now
    sessions.end_sessions_of(session, user_id=user.id)
    _audit_user(
        session,
        actor=actor,
        user=user,
        action="user.locked",
        outcome="success",
        now=now,
        details={"mfa_failures": user.mfa_failures},
    )
    return True


def enrolment_secret(
    session: Session, *, auth: AuthSession, user: User, box: SecretBox, now: datetime
) -> str:
    """A new pending TOTP secret for a session in the enrolment stage (one per page view)."""
    if auth.stage != Stage.ENROL:
        raise InvalidInput(N_("This session is not enrolling."))
    return totp.begin_enrolment(session, user=user, box=box, now=now)


def confirm_enrolment(
    session: Session,
    *,
    auth: AuthSession,
    user: User,
    code: object,
    box: SecretBox,
    actor: Actor,
    now: datetime,
) -> Result:
    """Activate TOTP with a code from the pending secret; sign in and hand out recovery codes."""
    if auth.stage != Stage.ENROL:
        return Result(Outcome.RESTART)
    if not totp.is_well_formed_code(code) or not totp.confirm_enrolment(
        session, user=user, box=box, code=str(code), now=now
    ):
        _audit_user(
            session,
            actor=actor,
            user=user,
            action="mfa.enrolment.failure",
            outcome="failure",
            now=now,
        )
        return _count_mfa_failure(
            session, auth=auth, user=user, actor=actor, now=now, method="enrolment"
        )
    codes = recovery.generate_recovery_codes(session, user=user, now=now)
    token = sessions.advance(session, auth=auth, stage=Stage.ACTIVE, now=now)
    _audit_user(session, actor=actor, user=user, action="mfa.enrolled", outcome="success", now=now)
    return Result(Outcome.SIGNED_IN, token=token, recovery_codes=codes)


def step_up(
    session: Session,
    *,
    auth: AuthSession,
    user: User,
    password: str,
    code: object,
    hasher: PasswordHasher,
    box: SecretBox,
    actor: Actor,
    now: datetime,
) -> Result:
    """Re-confirm password and TOTP for a sensitive action; fresh for 10 minutes."""
    password_ok = (
        not _too_long(password)
        and user.password_hash is not None
        and hasher.verify(user.password_hash, password)
    )
    code_ok = (
        password_ok
        and _check_code(
            session, user=user, code=code, box=box, actor=actor, now=now, at_sign_in=False
        )[1]
    )
    if password_ok and code_ok:
        sessions.mark_step_up(session, auth=auth, now=now)
        user.mfa_failures = 0
        _audit_user(
            session,
            actor=actor,
            user=user,
            action="auth.step_up.success",
            outcome="success",
            now=now,
        )
        return Result(Outcome.SIGNED_IN)
    return _refuse_recheck(session, user=user, actor=actor, now=now, action="auth.step_up.failure")


def recheck_password(
    session: Session,
    *,
    user: User,
    password: str,
    hasher: PasswordHasher,
    actor: Actor,
    now: datetime,
) -> Result:
    """The current password again (to change it). Wrong ones count towards the MFA lock,
    so a stolen session cannot guess the password without limit or trace."""
    if (
        not _too_long(password)
        and user.password_hash is not None
        and hasher.verify(user.password_hash, password)
    ):
        return Result(Outcome.SIGNED_IN)
    return _refuse_recheck(
        session, user=user, actor=actor, now=now, action="auth.password_recheck.failure"
    )


def _refuse_recheck(
    session: Session, *, user: User, actor: Actor, now: datetime, action: str
) -> Result:
    _audit_user(session, actor=actor, user=user, action=action, outcome="failure", now=now)
    locked = _add_mfa_failure(session, user=user, actor=actor, now=now)
    return Result(Outcome.LOCKED if locked else Outcome.FAILED)


def _audit_user(
    session: Session,
    *,
    actor: Actor,
    user: User,
    action: str,
    outcome: str,
    now: datetime,
    details: dict[str, audit.DetailValue] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target=f"user:{user.username}",
        outcome=outcome,
        now=now,
        details=details,
    )


def _address_throttled(session: Session, *, key: str, actor: Actor, now: datetime) -> Result | None:
    wait = throttle.blocked_for(session, key=key, now=now)
    if not wait:
        return None
    audit.record(
        session, actor=actor, action="auth.ip_throttled", target=key, outcome="denied", now=now
    )
    return Result(Outcome.THROTTLED, retry_after=wait)


def _too_long(password: str) -> bool:
    """Too long as typed or once NFKC-normalised (one character can become eighteen): the
    hasher would raise, so such input is refused up front like any wrong password."""
    return (
        len(password) > MAX_CREDENTIAL_LENGTH
        or len(normalise_password(password)) > MAX_CREDENTIAL_LENGTH
    )


def _canonical_or_blank(username: str) -> str:
    try:
        return canonical_username(username[:200])
    except InvalidInput:
        return ""


def sign_out(session: Session, *, auth: AuthSession, actor: Actor, now: datetime) -> None:
    """End this session and say so in the audit trail."""
    user = session.get(User, auth.user_id)
    sessions.end_session(session, auth=auth)
    audit.record(
        session,
        actor=actor,
        action="auth.logout",
        target=f"user:{user.username if user else '?'}",
        outcome="success",
        now=now,
    )
