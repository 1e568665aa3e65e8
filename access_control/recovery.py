"""Recovery codes: ten single-use codes for when the authenticator app is lost.

Each code is 120 random bits shown as six groups of four base32 characters
(``ABCD-EFGH-IJKL-MNOP-QRST-UVWX``). Only SHA-256 digests are stored: NIST SP 800-63B
§3.1.2.1 allows an unsalted fast hash for secrets of at least 112 bits, since they
cannot be guessed from the digest. Input is accepted in either case, with or without
dashes and spaces. Use is a conditional UPDATE (``… AND used_at IS NULL``) whose row count
decides, so a code works once even under concurrent requests.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from access_control.models import RecoveryCode, User

CODES_PER_SET = 10
CODE_BITS = 120
GROUP_LENGTH = 4
_CODE_LENGTH = CODE_BITS // 5  # base32 characters: 24
_MAX_INPUT_LENGTH = 100
_SEPARATORS = re.compile(r"[\s-]+")
_CANONICAL = re.compile(r"[A-Z2-7]{24}", re.ASCII)


def generate_recovery_codes(session: Session, *, user: User, now: datetime) -> list[str]:
    """Replace the user's codes with a new set; return the plain codes, to be shown once."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_code() for _ in range(CODES_PER_SET)]
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=_digest(code.replace("-", "")), created_at=now)
        for code in codes
    )
    session.flush()
    return codes


def use_recovery_code(session: Session, *, user: User, code: object, now: datetime) -> bool:
    """Spend ``code``: True exactly once for each unused code of this user."""
    canonical = _canonical(code)
    if canonical is None:
        return False
    result = session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == _digest(canonical),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def remaining_recovery_codes(session: Session, *, user: User) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    return int(count or 0)


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(CODE_BITS // 8)).decode("ascii")
    assert len(raw) == _CODE_LENGTH
    return "-".join(raw[i : i + GROUP_LENGTH] for i in range(0, _CODE_LENGTH, GROUP_LENGTH))


def _canonical(code: object) -> str | None:
    """Upper case without separators, or None when it cannot be a code."""
    if not isinstance(code, str) or len(code) > _MAX_INPUT_LENGTH or not code.isascii():
        return None
    canonical = _SEPARATORS.sub("", code).upper()
    return canonical if _CANONICAL.fullmatch(canonical) else None


def _digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()
