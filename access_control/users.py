"""Accounts: creation, lookup, and the administrative changes that revoke access at once.

Disabling, a role change, a password change and an MFA reset all end the user's other
sessions and revoke their API tokens in the same transaction (SECURITY_CASES 25).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access_control import audit, notices, recovery, sessions, tokens, totp
from access_control.actor import Actor
from access_control.errors import UserExists, UserNotFound
from access_control.models import AuthSession, User
from access_control.notices import NoticeKind
from access_control.passwords import PasswordHasher, canonical_username, check_password_policy
from access_control.roles import Role
from access_control.secret_box import SecretBox
from core import Conflict, InvalidInput
from core.i18n import N_


class UserState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    LOCKED = "locked"  # 10 consecutive MFA failures: until an administrator unlocks
    NOT_ENROLLED = "not_enrolled"  # no password or no authenticator yet


def has_users(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(User)))


def has_administrator(session: Session) -> bool:
    """Whether an administrator account exists: until one does, the first-run setup is open.

    Not "any account": ``wachter demo`` on a fresh installation makes staff and officer
    accounts (none of them an administrator), and the setup link must still work after it.
    """
    query = select(func.count()).select_from(User).where(User.role == Role.ADMIN.value)
    return bool(session.scalar(query))


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    actor: Actor,
    now: datetime,
) -> User:
    """A new account without password or MFA: it enrols through a one-time link."""
    name = canonical_username(username)
    role = _role(role)
    display = display_name.strip() or name
    if len(display) > 200:
        raise InvalidInput(
            N_("The display name is longer than 200 characters."), field="display_name"
        )
    if find_user(session, name) is not None:
        raise UserExists(N_("An account named \u201c%(name)s\u201d already exists."), name=name)
    user = User(
        username=name,
        display_name=display,
        role=role.value,
        is_active=True,
        totp_last_step=0,
        mfa_failures=0,
        created_at=now,
        updated_at=now,
    )
    session.add(user)
    session.flush()
    _audit(
        session,
        actor=actor,
        user=user,
        action="user.created",
        now=now,
        details={"role": role.value},
    )
    return user


MAX_EMAIL = 254
# A plain address (RFC 5322 dot-atom local part, a host name with a dot): where incident
# notifications go. Nothing exotic, and nothing that could break out of a mail header.
_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}",
    re.ASCII,
)


def normalise_email(email: str | None) -> str | None:
    """The address, trimmed, its domain in lower case; None for an empty one."""
    text = (email or "").strip()
    if not text:
        return None
    if len(text) > MAX_EMAIL or not _EMAIL.fullmatch(text):
        raise InvalidInput(
            N_("\u201c%(email)s\u201d is not an e-mail address such as name@example.nl."),
            field="email",
            email=text[:60],
        )
    local, _at, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def set_email(
    session: Session, *, user: User, email: str | None, actor: Actor, now: datetime
) -> None:
    """Set or clear (empty) the address notifications go to; audited without the address."""
    address = normalise_email(email)
    if address == user.email:
        return
    user.email = address
    user.updated_at = now
    session.flush()
    _audit(
        session,
        actor=actor,
        user=user,
        action="user.email_changed",
        now=now,
        details={"has_email": address is not None},
    )


def find_user(session: Session, username: str) -> User | None:
    try:
        name = canonical_username(username)
    except InvalidInput:
        return None
    return session.scalar(select(User).where(User.username == name))


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise UserNotFound(N_("No account named \u201c%(name)s\u201d."), name=username[:150])
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def user_state(user: User) -> UserState:
    """What keeps an account from signing in, if anything (disabled wins over locked)."""
    if not user.is_active:
        return UserState.DISABLED
    if user.locked_at is not None:
        return UserState.LOCKED
    if user.password_hash is None or user.totp_secret is None:
        return UserState.NOT_ENROLLED
    return UserState.ACTIVE


def set_password(
    session: Session,
    *,
    user: User,
    password: str,
    hasher: PasswordHasher,
    actor: Actor,
    now: datetime,
    keep_session: AuthSession | None = None,
) -> None:
    """Set a new password (policy-checked); other sessions and API tokens end."""
    check_password_policy(password, username=user.username, display_name=user.display_name)
    first_time = user.password_hash is None
    user.password_hash = hasher.hash(password)
    user.password_changed_at = now
    user.updated_at = now
    session.flush()
    action = "user.password_set" if first_time else "user.password_changed"
    audit.record(
        session, actor=actor, action=action, target=_target(user), outcome="success", now=now
    )
    if not first_time:
        _revoke_access(
            session, user=user, actor=actor, now=now, keep=keep_session, reason="password changed"
        )
        _notify(session, user=user, kind=NoticeKind.PASSWORD_CHANGED, actor=actor, now=now)


def disable_user(session: Session, *, user: User, actor: Actor, now: datetime) -> None:
    """Refused for the actor's own account: an administrator cannot lock themselves out."""
    _refuse_own_account(
        user, actor, N_("You cannot disable your own account; ask another administrator.")
    )
    user.is_active = False
    user.updated_at = now
    _audit(session, actor=actor, user=user, action="user.disabled", now=now)
    _revoke_access(session, user=user, actor=actor, now=now, reason="account disabled")


def end_access(session: Session, *, user: User, actor: Actor, now: datetime) -> None:
    """End every session and API token of ``user`` and leave the account enabled: for a
    stolen laptop or phone (SECURITY_CASES #25). Refused for the actor's own account (My
    account has "sign out everywhere")."""
    _refuse_own_account(
        user, actor, N_("Use \u201cSign out everywhere\u201d on My account for your own account.")
    )
    _revoke_access(session, user=user, actor=actor, now=now, reason="ended by an administrator")


def enable_user(session: Session, *, user: User, actor: Actor, now: datetime) -> None:
    user.is_active = True
    user.updated_at = now
    session.flush()
    _audit(session, actor=actor, user=user, action="user.enabled", now=now)


def change_role(
    session: Session, *, user: User, role: Role | str, actor: Actor, now: datetime
) -> None:
    """Refused for the actor's own account: an administrator cannot demote themselves."""
    new_role = _role(role)
    if new_role.value == user.role:
        return
    _refuse_own_account(
        user, actor, N_("You cannot change your own role; ask another administrator.")
    )
    previous, user.role, user.updated_at = user.role, new_role.value, now
    _audit(
        session,
        actor=actor,
        user=user,
        action="user.role_changed",
        now=now,
        details={"from": previous, "to": new_role.value},
    )
    _revoke_access(session, user=user, actor=actor, now=now, reason="role changed")
    _notify(
        session,
        user=user,
        kind=NoticeKind.ROLE_CHANGED,
        actor=actor,
        now=now,
        role=new_role.value,
    )


def unlock_user(session: Session, *, user: User, actor: Actor, now: datetime) -> None:
    """Lift the hard lock of 10 consecutive MFA failures."""
    user.locked_at = None
    user.mfa_failures = 0
    user.updated_at = now
    session.flush()
    _audit(session, actor=actor, user=user, action="user.unlocked", now=now)
    _notify(session, user=user, kind=NoticeKind.ACCOUNT_UNLOCKED, actor=actor, now=now)


def reset_mfa(
    session: Session,
    *,
    user: User,
    actor: Actor,
    now: datetime,
    keep_session: AuthSession | None = None,
) -> None:
    """Remove the user's TOTP and recovery codes: they enrol again at their next login."""
    totp.reset_mfa(session, user=user, now=now)  # also deletes the recovery codes
    user.updated_at = now
    audit.record(
        session, actor=actor, action="mfa.reset", target=_target(user), outcome="success", now=now
    )
    _revoke_access(session, user=user, actor=actor, now=now, keep=keep_session, reason="MFA reset")
    _notify(session, user=user, kind=NoticeKind.MFA_RESET, actor=actor, now=now)


def regenerate_recovery_codes(
    session: Session, *, user: User, actor: Actor, now: datetime, keep_session: AuthSession
) -> list[str]:
    """A new set of recovery codes (the old set stops working); other sessions end."""
    codes = recovery.generate_recovery_codes(session, user=user, now=now)
    ended = sessions.end_sessions_of(session, user_id=user.id, keep=keep_session)
    _audit(
        session,
        actor=actor,
        user=user,
        action="mfa.recovery_codes_regenerated",
        now=now,
        details={"logins_ended": ended},
    )
    _notify(session, user=user, kind=NoticeKind.RECOVERY_CODES_REGENERATED, actor=actor, now=now)
    return codes


def _revoke_access(
    session: Session,
    *,
    user: User,
    actor: Actor,
    now: datetime,
    reason: str,
    keep: AuthSession | None = None,
) -> None:
    ended = sessions.end_sessions_of(session, user_id=user.id, keep=keep)
    revoked = tokens.revoke_tokens_of(session, user_id=user.id, actor=actor, now=now)
    audit.record(
        session,
        actor=actor,
        action="user.access_revoked",
        target=_target(user),
        outcome="success",
        now=now,
        # Keys must not look like credentials ("session", "token"): audit.record refuses those.
        details={"reason": reason, "logins_ended": ended, "api_access_revoked": revoked},
    )


def _notify(
    session: Session, *, user: User, kind: NoticeKind, actor: Actor, now: datetime, **details: str
) -> None:
    """Tell the account's owner what happened and who did it (SECURITY_CASES 11)."""
    notices.notify(
        session, user_id=user.id, kind=kind, now=now, details={"by": actor.name, **details}
    )


def _refuse_own_account(user: User, actor: Actor, message: str) -> None:
    if actor.user_id is not None and actor.user_id == user.id:
        raise Conflict(message)


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise InvalidInput(
            N_("Unknown role \u201c%(role)s\u201d; choose one of %(choices)s."),
            field="role",
            role=str(role)[:40],
            choices=choices,
        ) from None


def _audit(
    session: Session,
    *,
    actor: Actor,
    user: User,
    action: str,
    now: datetime,
    details: dict[str, audit.DetailValue] | None = None,
) -> None:
    audit.record(
        session,
        actor=actor,
        action=action,
        target=_target(user),
        outcome="success",
        now=now,
        details=details,
    )


def _target(user: User) -> str:
    return f"user:{user.username}"


def rotate_encrypted_secrets(session: Session, *, box: SecretBox) -> int:
    """Re-encrypt every stored TOTP secret with the box's first key; returns how many."""
    count = 0
    for user in session.scalars(
        select(User).where(
            (User.totp_secret.is_not(None)) | (User.totp_pending_secret.is_not(None))
        )
    ):
        if user.totp_secret is not None:
            user.totp_secret = box.rotate(user.totp_secret)
            count += 1
        if user.totp_pending_secret is not None:
            user.totp_pending_secret = box.rotate(user.totp_pending_secret)
            count += 1
    session.flush()
    return count
