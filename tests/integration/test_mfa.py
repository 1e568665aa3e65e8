"""TOTP enrolment and verification, and recovery codes, on real SQLite and PostgreSQL.

SECURITY_CASES #1-#5 (replay, race, older step, skew, malformed codes), #8-#10
(enrolment, recovery codes). Time is fixed; codes are computed with pyotp for given times.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from access_control import recovery, totp
from access_control.models import RecoveryCode, User
from access_control.secret_box import SecretBox
from core import Conflict
from tests.factories import make_user

NOW = datetime(2026, 5, 1, 9, 0, 10, tzinfo=UTC)
STEP = timedelta(seconds=30)
MALFORMED = [
    "",
    "12345",
    "1234567",
    "12 34 56",
    "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
    "123456\n",
    "7" * 10_240,
    123456,
    ["123456"],
    None,
]


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode()])


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def wrong_code(secret: str, when: datetime) -> str:
    window = {code_at(secret, when + offset * STEP) for offset in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in window)


def enrolled(session: Session, box: SecretBox, *, at: datetime = NOW) -> tuple[User, str]:
    """A user with confirmed TOTP; the confirming code's step (``at``) is already used."""
    user = make_user(session)
    secret = totp.begin_enrolment(session, user=user, box=box, now=at)
    assert totp.confirm_enrolment(session, user=user, box=box, code=code_at(secret, at), now=at)
    return user, secret


def row_values(session: Session, table: str, **where: object) -> list[object]:
    condition = " AND ".join(f"{column} = :{column}" for column in where)
    rows = session.execute(text(f"SELECT * FROM {table} WHERE {condition}"), where).all()
    return [value for row in rows for value in row]


def contains(values: list[object], needle: str) -> bool:
    for value in values:
        if isinstance(value, bytes | bytearray | memoryview):
            if needle.encode().lower() in bytes(value).lower():
                return True
        elif needle.lower() in str(value).lower():
            return True
    return False


# --- enrolment ------------------------------------------------------------------------------


def test_enrolment_gives_a_160_bit_secret_stored_only_as_ciphertext(db_session, box):
    user = make_user(db_session)
    secret = totp.begin_enrolment(db_session, user=user, box=box, now=NOW)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)  # 32 base32 characters = 160 bits
    assert user.totp_secret is None
    assert box.decrypt(user.totp_pending_secret) == secret
    db_session.expire_all()
    assert not contains(row_values(db_session, "user_account", id=user.id), secret)

    assert totp.confirm_enrolment(
        db_session, user=user, box=box, code=code_at(secret, NOW), now=NOW
    )
    db_session.expire_all()
    stored = db_session.get(User, user.id)
    assert box.decrypt(stored.totp_secret) == secret
    assert stored.totp_pending_secret is None
    assert stored.totp_enrolled_at == NOW
    assert stored.totp_last_step == totp.time_step(NOW)
    assert not contains(row_values(db_session, "user_account", id=user.id), secret)


def test_each_enrolment_start_gives_a_new_secret_and_only_the_latest_confirms(db_session, box):
    user = make_user(db_session)
    first = totp.begin_enrolment(db_session, user=user, box=box, now=NOW)
    second = totp.begin_enrolment(db_session, user=user, box=box, now=NOW)
    assert first != second
    assert not totp.confirm_enrolment(
        db_session, user=user, box=box, code=code_at(first, NOW), now=NOW
    )
    assert user.totp_secret is None
    assert totp.confirm_enrolment(
        db_session, user=user, box=box, code=code_at(second, NOW), now=NOW
    )
    assert box.decrypt(user.totp_secret) == second


@pytest.mark.parametrize("code", ["wrong", *MALFORMED], ids=lambda code: repr(code)[:20])
def test_a_wrong_or_missing_code_leaves_mfa_off(db_session, box, code):
    user = make_user(db_session)
    secret = totp.begin_enrolment(db_session, user=user, box=box, now=NOW)
    if code == "wrong":
        code = wrong_code(secret, NOW)
    assert totp.confirm_enrolment(db_session, user=user, box=box, code=code, now=NOW) is False
    db_session.expire_all()
    stored = db_session.get(User, user.id)
    assert (stored.totp_secret, stored.totp_enrolled_at) == (None, None)
    assert box.decrypt(stored.totp_pending_secret) == secret  # may still be confirmed
    assert (
        totp.verify_code(db_session, user=stored, box=box, code=code_at(secret, NOW), now=NOW)
        is False
    )


def test_confirming_without_starting_enrolment_fails(db_session, box):
    user = make_user(db_session)
    assert not totp.confirm_enrolment(db_session, user=user, box=box, code="123456", now=NOW)


def test_a_confirmed_secret_is_never_regenerated(db_session, box):
    user, secret = enrolled(db_session, box)
    stored = user.totp_secret
    with pytest.raises(Conflict):
        totp.begin_enrolment(db_session, user=user, box=box, now=NOW + STEP)
    assert user.totp_secret == stored
    assert user.totp_pending_secret is None
    later = NOW + 2 * STEP
    assert not totp.confirm_enrolment(
        db_session, user=user, box=box, code=code_at(secret, later), now=later
    )
    assert box.decrypt(user.totp_secret) == secret


def test_a_pending_secret_replaced_meanwhile_cannot_be_confirmed(migrated_database, box):
    with migrated_database.unit_of_work() as session:
        user = make_user(session)
        first = totp.begin_enrolment(session, user=user, box=box, now=NOW)
    # Another request starts enrolment again and commits while this one holds a stale copy.
    with migrated_database.unit_of_work() as session:
        totp.begin_enrolment(session, user=session.get(User, user.id), box=box, now=NOW)
    with migrated_database.unit_of_work() as session:
        stale = session.merge(user, load=False)
        assert box.decrypt(stale.totp_pending_secret) == first
        assert not totp.confirm_enrolment(
            session, user=stale, box=box, code=code_at(first, NOW), now=NOW
        )
        assert stale.totp_secret is None
    with migrated_database.unit_of_work() as session:
        assert session.get(User, user.id).totp_secret is None


def test_reset_clears_the_secret_and_recovery_codes_and_allows_a_new_enrolment(db_session, box):
    user, _ = enrolled(db_session, box)
    recovery.generate_recovery_codes(db_session, user=user, now=NOW)
    later = NOW + timedelta(days=1)
    totp.reset_mfa(db_session, user=user, now=later)
    db_session.expire_all()
    stored = db_session.get(User, user.id)
    assert stored.totp_secret is None
    assert stored.totp_pending_secret is None
    assert stored.totp_enrolled_at is None
    assert stored.totp_last_step == 0
    assert stored.updated_at == later
    assert recovery.remaining_recovery_codes(db_session, user=stored) == 0
    secret = totp.begin_enrolment(db_session, user=stored, box=box, now=later)
    assert totp.confirm_enrolment(
        db_session, user=stored, box=box, code=code_at(secret, later), now=later
    )


# --- verification ---------------------------------------------------------------------------


def test_a_code_works_once_per_step(db_session, box):
    user, secret = enrolled(db_session, box)
    later = NOW + 4 * STEP
    code = code_at(secret, later)
    assert totp.verify_code(db_session, user=user, box=box, code=code, now=later) is True
    assert totp.verify_code(db_session, user=user, box=box, code=code, now=later) is False
    # still refused in the next step, where the same code is inside the window (step -1)
    assert totp.verify_code(db_session, user=user, box=box, code=code, now=later + STEP) is False
    db_session.expire_all()
    assert db_session.get(User, user.id).totp_last_step == totp.time_step(later)


def test_the_enrolment_code_cannot_be_replayed_at_login(db_session, box):
    user, secret = enrolled(db_session, box)
    code = code_at(secret, NOW)
    assert not totp.verify_code(db_session, user=user, box=box, code=code, now=NOW)
    assert not totp.verify_code(db_session, user=user, box=box, code=code, now=NOW + STEP)


def test_an_older_step_after_a_newer_one_is_rejected(db_session, box):
    user, secret = enrolled(db_session, box)
    later = NOW + 10 * STEP
    newer, older = code_at(secret, later), code_at(secret, later - STEP)
    assert totp.verify_code(db_session, user=user, box=box, code=newer, now=later)
    assert not totp.verify_code(db_session, user=user, box=box, code=older, now=later)


def test_the_next_step_works_after_the_current_one(db_session, box):
    user, secret = enrolled(db_session, box)
    later = NOW + 10 * STEP
    assert totp.verify_code(db_session, user=user, box=box, code=code_at(secret, later), now=later)
    following = later + STEP
    code = code_at(secret, following)
    assert totp.verify_code(db_session, user=user, box=box, code=code, now=following)


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_skew_is_accepted_once(db_session, box, offset):
    user, secret = enrolled(db_session, box)
    later = NOW + 10 * STEP
    code = code_at(secret, later + offset * STEP)
    assert totp.verify_code(db_session, user=user, box=box, code=code, now=later)
    assert not totp.verify_code(db_session, user=user, box=box, code=code, now=later)
    assert user.totp_last_step == totp.time_step(later) + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_of_skew_are_rejected(db_session, box, offset):
    user, secret = enrolled(db_session, box)
    later = NOW + 10 * STEP
    code = code_at(secret, later + offset * STEP)
    if code in {code_at(secret, later + near * STEP) for near in (-1, 0, 1)}:
        pytest.skip("collides with a code inside the window")
    assert not totp.verify_code(db_session, user=user, box=box, code=code, now=later)
    assert user.totp_last_step == totp.time_step(NOW)


def test_a_wrong_code_is_rejected_and_uses_up_nothing(db_session, box):
    user, secret = enrolled(db_session, box)
    later = NOW + 10 * STEP
    assert not totp.verify_code(
        db_session, user=user, box=box, code=wrong_code(secret, later), now=later
    )
    assert totp.verify_code(db_session, user=user, box=box, code=code_at(secret, later), now=later)


@pytest.mark.parametrize("code", MALFORMED, ids=lambda code: repr(code)[:20])
def test_malformed_codes_are_rejected_without_errors(db_session, box, code):
    user, secret = enrolled(db_session, box)
    later = NOW + 10 * STEP
    assert totp.verify_code(db_session, user=user, box=box, code=code, now=later) is False
    assert user.totp_last_step == totp.time_step(NOW)
    assert totp.verify_code(db_session, user=user, box=box, code=code_at(secret, later), now=later)


def test_a_user_without_confirmed_totp_never_verifies(db_session, box):
    user = make_user(db_session)
    secret = totp.begin_enrolment(db_session, user=user, box=box, now=NOW)
    code = code_at(secret, NOW)
    assert not totp.verify_code(db_session, user=user, box=box, code=code, now=NOW)


def test_verification_leaves_failure_counters_alone(db_session, box):
    user, secret = enrolled(db_session, box)
    user.mfa_failures = 3
    db_session.flush()
    later = NOW + 10 * STEP
    totp.verify_code(db_session, user=user, box=box, code=wrong_code(secret, later), now=later)
    totp.verify_code(db_session, user=user, box=box, code=code_at(secret, later), now=later)
    db_session.expire_all()
    assert db_session.get(User, user.id).mfa_failures == 3


def run_concurrently(count: int, action: Callable[[], bool]) -> list[bool]:
    barrier = threading.Barrier(count)
    results: list[bool] = []
    errors: list[BaseException] = []

    def contend() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(action())
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=contend) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    return results


def test_concurrent_requests_with_one_code_succeed_exactly_once(migrated_database, box):
    with migrated_database.unit_of_work() as session:
        user, secret = enrolled(session, box)
    later = NOW + 10 * STEP
    code = code_at(secret, later)

    def verify() -> bool:
        with migrated_database.unit_of_work() as session:
            fresh = session.get(User, user.id)
            return totp.verify_code(session, user=fresh, box=box, code=code, now=later)

    results = run_concurrently(8, verify)
    assert sorted(results) == [False] * 7 + [True]
    with migrated_database.unit_of_work() as session:
        assert session.get(User, user.id).totp_last_step == totp.time_step(later)


# --- recovery codes -------------------------------------------------------------------------


def test_a_set_has_ten_distinct_120_bit_codes(db_session):
    user = make_user(db_session)
    codes = recovery.generate_recovery_codes(db_session, user=user, now=NOW)
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert re.fullmatch(r"[A-Z2-7]{4}(-[A-Z2-7]{4}){5}", code)  # 24 x 5 bits = 120
    assert recovery.remaining_recovery_codes(db_session, user=user) == 10


def test_a_recovery_code_works_once(db_session):
    user = make_user(db_session)
    codes = recovery.generate_recovery_codes(db_session, user=user, now=NOW)
    assert recovery.use_recovery_code(db_session, user=user, code=codes[0], now=NOW)
    assert not recovery.use_recovery_code(db_session, user=user, code=codes[0], now=NOW)
    assert recovery.remaining_recovery_codes(db_session, user=user) == 9
    used = db_session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).one()
    assert used.used_at == NOW


def test_regeneration_invalidates_the_old_set(db_session):
    user = make_user(db_session)
    old = recovery.generate_recovery_codes(db_session, user=user, now=NOW)
    new = recovery.generate_recovery_codes(db_session, user=user, now=NOW + STEP)
    assert not set(old) & set(new)
    assert not any(
        recovery.use_recovery_code(db_session, user=user, code=code, now=NOW) for code in old
    )
    assert recovery.remaining_recovery_codes(db_session, user=user) == 10
    assert recovery.use_recovery_code(db_session, user=user, code=new[3], now=NOW)


def test_codes_are_stored_only_as_digests(db_session):
    user = make_user(db_session)
    codes = recovery.generate_recovery_codes(db_session, user=user, now=NOW)
    values = row_values(db_session, "recovery_code", user_id=user.id)
    assert len(values) == 10 * 5
    for code in codes:
        for form in (code, code.replace("-", ""), code[:14]):
            assert not contains(values, form)
    hashes = db_session.scalars(select(RecoveryCode.code_hash)).all()
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in hashes)


@pytest.mark.parametrize(
    "spell",
    [
        str.lower,
        lambda code: code.replace("-", ""),
        lambda code: code.replace("-", " "),
        lambda code: f"  {code.lower().replace('-', '')}\n",
        lambda code: code.replace("-", " - "),
    ],
)
def test_codes_are_accepted_in_any_case_with_or_without_separators(db_session, spell):
    user = make_user(db_session)
    code = recovery.generate_recovery_codes(db_session, user=user, now=NOW)[0]
    assert recovery.use_recovery_code(db_session, user=user, code=spell(code), now=NOW)


@pytest.mark.parametrize(
    "code",
    [
        "",
        "ABCD",
        "ABCD-EFGH-IJKL-MNOP-QRST-UVW1",  # 1 is not base32
        "A" * 10_000,
        123456,
        None,
        ["ABCD-EFGH-IJKL-MNOP-QRST-UVWX"],
    ],
    ids=lambda code: repr(code)[:20],
)
def test_malformed_recovery_codes_are_rejected_without_errors(db_session, code):
    user = make_user(db_session)
    recovery.generate_recovery_codes(db_session, user=user, now=NOW)
    assert recovery.use_recovery_code(db_session, user=user, code=code, now=NOW) is False
    assert recovery.remaining_recovery_codes(db_session, user=user) == 10


def test_a_code_that_maps_to_a_valid_one_only_by_unicode_folding_is_rejected(db_session):
    user = make_user(db_session)
    code = recovery.generate_recovery_codes(db_session, user=user, now=NOW)[0]
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c != "-" else c for c in code)
    assert not recovery.use_recovery_code(db_session, user=user, code=fullwidth, now=NOW)


def test_another_users_code_does_not_work(db_session):
    owner, other = make_user(db_session), make_user(db_session)
    code = recovery.generate_recovery_codes(db_session, user=owner, now=NOW)[0]
    assert not recovery.use_recovery_code(db_session, user=other, code=code, now=NOW)
    assert recovery.use_recovery_code(db_session, user=owner, code=code, now=NOW)


def test_concurrent_uses_of_one_recovery_code_succeed_exactly_once(migrated_database):
    with migrated_database.unit_of_work() as session:
        user = make_user(session)
        code = recovery.generate_recovery_codes(session, user=user, now=NOW)[0]

    def use() -> bool:
        with migrated_database.unit_of_work() as session:
            fresh = session.get(User, user.id)
            return recovery.use_recovery_code(session, user=fresh, code=code, now=NOW)

    assert sorted(run_concurrently(8, use)) == [False] * 7 + [True]
