"""TOTP second factor (RFC 6238): enrolment, QR codes and single-use code verification.

Parameters (SECURITY_CASES §5.10): 6 digits, HMAC-SHA1, 30-second steps, one step of
clock skew either way, 160-bit secrets encrypted at rest with ``SecretBox``.

pyotp computes the codes; the rest is ours because pyotp's ``verify`` neither prevents
replay nor is strict about input (it ``str()``-s its argument and NFKC-normalises it, so
the integer ``123456`` and fullwidth digits (U+FF10…) both pass). Here only a ``str`` of
exactly six ASCII digits is a code, and each time step is usable once per user: the
accepted step is recorded with a conditional UPDATE (``… WHERE totp_last_step < :step``)
whose row count decides, so a replayed code, an older step after a newer one, and the
loser of two concurrent requests with one code all fail (#1-#4). Time is always the
server's ``now``; a client-supplied time is never consulted.

The login flow owns the failure counters; nothing here counts failures.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime
from typing import TypeGuard

import pyotp
import segno
from sqlalchemy import delete, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from access_control.models import RecoveryCode, User
from access_control.secret_box import SecretBox
from core import Conflict
from core.i18n import N_

DIGITS = 6
DIGEST = hashlib.sha1
STEP_SECONDS = 30
WINDOW = 1  # steps of clock skew accepted either way
SECRET_BITS = 160
SECRET_LENGTH = SECRET_BITS // 5  # base32 characters: 32
ISSUER = "Wachter"
_CODE = re.compile(r"[0-9]{6}", re.ASCII)


def is_well_formed_code(code: object) -> TypeGuard[str]:
    """Only a ``str`` of exactly six ASCII digits (``\\d`` and ``isdigit`` accept more)."""
    return isinstance(code, str) and len(code) == DIGITS and _CODE.fullmatch(code) is not None


def time_step(now: datetime) -> int:
    """The RFC 6238 counter of ``now``: whole 30-second steps since the Unix epoch."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("pass an aware UTC datetime as now")
    return int(now.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: object, *, now: datetime) -> int | None:
    """The step within ``now`` ± ``WINDOW`` whose code is ``code``, else None.

    Every candidate is computed and compared in constant time; the earliest match wins.
    """
    if not is_well_formed_code(code):
        return None
    generator = _generator(secret)
    current = time_step(now)
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        expected = generator.generate_otp(step)
        if hmac.compare_digest(expected.encode("ascii"), code.encode("ascii")) and found is None:
            found = step
    return found


def new_secret() -> str:
    """A fresh 160-bit secret in base32 (32 characters)."""
    secret = pyotp.random_base32(length=SECRET_LENGTH)
    assert len(secret) == SECRET_LENGTH
    return secret


def provisioning_uri(secret: str, *, username: str, issuer: str = ISSUER) -> str:
    """The ``otpauth://totp/…`` URI an authenticator app reads from the QR code."""
    return _generator(secret).provisioning_uri(name=username, issuer_name=issuer)


def qr_code_svg_data_uri(uri: str) -> str:
    """The QR code of ``uri`` as a ``data:image/svg+xml`` URI, rendered here, not by a service."""
    qr_code = segno.make_qr(uri, error="m")
    data_uri: str = qr_code.svg_data_uri(scale=4, border=4)
    return data_uri


def begin_enrolment(session: Session, *, user: User, box: SecretBox, now: datetime) -> str:
    """Give ``user`` a new pending secret and return it, in plain text, for display once.

    Each call replaces the pending secret, so only the latest one can be confirmed. A
    confirmed secret is never replaced here: ``reset_mfa`` (an admin or step-up action)
    comes first.
    """
    if user.totp_secret is not None:
        raise Conflict(N_("Two-factor authentication is already set up for this account."))
    secret = new_secret()
    user.totp_pending_secret = box.encrypt(secret)
    user.updated_at = now
    session.flush()
    return secret


def confirm_enrolment(
    session: Session, *, user: User, box: SecretBox, code: object, now: datetime
) -> bool:
    """Activate the pending secret when ``code`` matches it; False leaves MFA off.

    The move is one conditional UPDATE on the pending ciphertext that was checked, so a
    secret replaced in the meantime by another ``begin_enrolment`` cannot be confirmed.
    The code's step is recorded as used.
    """
    pending = user.totp_pending_secret
    if user.totp_secret is not None or pending is None or not is_well_formed_code(code):
        return False
    step = matching_step(box.decrypt(pending), code, now=now)
    if step is None:
        return False
    result = session.execute(
        update(User)
        .where(
            User.id == user.id,
            User.totp_secret.is_(None),
            User.totp_pending_secret == pending,
            User.totp_last_step < step,
        )
        .values(
            totp_secret=pending,
            totp_pending_secret=None,
            totp_enrolled_at=now,
            totp_last_step=step,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(user)
        return False
    for name, value in (
        ("totp_secret", pending),
        ("totp_pending_secret", None),
        ("totp_enrolled_at", now),
        ("totp_last_step", step),
        ("updated_at", now),
    ):
        set_committed_value(user, name, value)
    return True


def verify_code(
    session: Session, *, user: User, box: SecretBox, code: object, now: datetime
) -> bool:
    """True once per time step: ``code`` is well formed, matches, and its step is new."""
    if user.totp_secret is None or not is_well_formed_code(code):
        return False
    step = matching_step(box.decrypt(user.totp_secret), code, now=now)
    if step is None:
        return False
    result = session.execute(
        update(User)
        .where(User.id == user.id, User.totp_last_step < step)
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        session.expire(user, ["totp_last_step"])
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def reset_mfa(session: Session, *, user: User, now: datetime) -> None:
    """Forget the user's TOTP secrets and recovery codes; they must enrol again.

    The caller checks step-up or admin rights, revokes sessions and audits.
    """
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = 0
    user.updated_at = now
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()


def _generator(secret: str) -> pyotp.TOTP:
    return pyotp.TOTP(secret, digits=DIGITS, digest=DIGEST, interval=STEP_SECONDS)
