"""Security notices on real SQLite and PostgreSQL (SECURITY_CASES 11: the user is notified).

Each administrative change of an account, and a replayed TOTP code (#1, ASVS 2.8.5), leaves
a notice for the account's owner; only the owner can mark it read.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from access_control import Actor, login, notices, sessions, totp, users
from access_control.models import AuthSession, User, UserNotice
from access_control.notices import NoticeKind
from access_control.passwords import PasswordHasher
from access_control.secret_box import SecretBox
from access_control.sessions import Stage
from tests.factories import make_user

NOW = datetime(2026, 5, 1, 9, 0, 10, tzinfo=UTC)
STEP = timedelta(seconds=30)
FIRST_PASSWORD = "lange zin met paarse olifanten 2026"
NEW_PASSWORD = "drie blauwe fietsen in de regen"


@pytest.fixture
def box() -> SecretBox:
    return SecretBox([Fernet.generate_key().decode()])


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(memory_kib=8, time_cost=1, parallelism=1)


@pytest.fixture
def admin(db_session: Session) -> Actor:
    account = make_user(db_session, username="beheerder", role="admin")
    return Actor(name=account.username, user_id=account.id, ip="192.0.2.7")


def notices_of(session: Session, user: User) -> list[UserNotice]:
    query = select(UserNotice).where(UserNotice.user_id == user.id).order_by(UserNotice.id)
    return list(session.scalars(query))


def the_notice(session: Session, user: User) -> tuple[str, dict[str, object]]:
    [notice] = notices_of(session, user)
    assert notice.created_at == NOW
    assert notice.read_at is None
    return notice.kind, json.loads(notice.details)


def enrolled(session: Session, box: SecretBox) -> tuple[User, str]:
    """A user with confirmed TOTP; the confirming code's step is already used."""
    user = make_user(session)
    secret = totp.begin_enrolment(session, user=user, box=box, now=NOW)
    assert totp.confirm_enrolment(
        session, user=user, box=box, code=pyotp.TOTP(secret).at(NOW), now=NOW
    )
    return user, secret


def pending_login(session: Session, user: User) -> AuthSession:
    token = sessions.start_session(
        session, user=user, stage=Stage.MFA, actor=Actor(name=user.username), now=NOW
    )
    auth = sessions.load_session(session, token=token, now=NOW)
    assert auth is not None
    return auth


# --- each service leaves its notice ----------------------------------------------------------


def test_a_password_change_leaves_a_notice(db_session, hasher, admin):
    user = make_user(db_session, password_hash=hasher.hash(FIRST_PASSWORD))
    users.set_password(
        db_session, user=user, password=NEW_PASSWORD, hasher=hasher, actor=admin, now=NOW
    )
    assert the_notice(db_session, user) == (NoticeKind.PASSWORD_CHANGED, {"by": "beheerder"})


def test_choosing_the_first_password_leaves_no_notice(db_session, hasher, admin):
    user = make_user(db_session)
    users.set_password(
        db_session, user=user, password=NEW_PASSWORD, hasher=hasher, actor=admin, now=NOW
    )
    assert notices_of(db_session, user) == []


def test_an_mfa_reset_leaves_a_notice_naming_who_did_it(db_session, box, admin):
    user, _secret = enrolled(db_session, box)
    users.reset_mfa(db_session, user=user, actor=admin, now=NOW)
    assert the_notice(db_session, user) == (NoticeKind.MFA_RESET, {"by": "beheerder"})


def test_new_recovery_codes_leave_a_notice(db_session, box):
    user, _secret = enrolled(db_session, box)
    keep = pending_login(db_session, user)
    codes = users.regenerate_recovery_codes(
        db_session, user=user, actor=Actor(name=user.username), now=NOW, keep_session=keep
    )
    kind, details = the_notice(db_session, user)
    assert (kind, details) == (NoticeKind.RECOVERY_CODES_REGENERATED, {"by": user.username})
    stored = notices_of(db_session, user)[0].details
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)


def test_a_role_change_leaves_a_notice_with_the_new_role(db_session, admin):
    user = make_user(db_session, role="staff")
    users.change_role(db_session, user=user, role="soc_analyst", actor=admin, now=NOW)
    assert the_notice(db_session, user) == (
        NoticeKind.ROLE_CHANGED,
        {"by": "beheerder", "role": "soc_analyst"},
    )


def test_setting_the_same_role_again_leaves_no_notice(db_session, admin):
    user = make_user(db_session, role="staff")
    users.change_role(db_session, user=user, role="staff", actor=admin, now=NOW)
    assert notices_of(db_session, user) == []


def test_an_unlock_leaves_a_notice(db_session, admin):
    user = make_user(db_session, locked_at=NOW - timedelta(hours=1), mfa_failures=10)
    users.unlock_user(db_session, user=user, actor=admin, now=NOW)
    assert the_notice(db_session, user) == (NoticeKind.ACCOUNT_UNLOCKED, {"by": "beheerder"})


def test_a_replayed_code_leaves_a_notice(db_session, box):
    user, secret = enrolled(db_session, box)
    used = pyotp.TOTP(secret).at(NOW)  # the step confirmed at enrolment
    result = login.mfa_step(
        db_session,
        auth=pending_login(db_session, user),
        user=user,
        code=used,
        box=box,
        actor=Actor(name=user.username, ip="198.51.100.9"),
        now=NOW,
    )
    assert result.outcome == login.Outcome.FAILED
    kind, details = the_notice(db_session, user)
    assert kind == NoticeKind.TOTP_REPLAY_REJECTED
    assert used not in json.dumps(details)


def test_a_wrong_code_is_no_replay_and_leaves_no_notice(db_session, box):
    user, secret = enrolled(db_session, box)
    window = {pyotp.TOTP(secret).at(NOW + offset * STEP) for offset in range(-2, 3)}
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in window)
    login.mfa_step(
        db_session,
        auth=pending_login(db_session, user),
        user=user,
        code=wrong,
        box=box,
        actor=Actor(name=user.username),
        now=NOW,
    )
    assert notices_of(db_session, user) == []


# --- the notices service ---------------------------------------------------------------------


def test_notify_refuses_secret_looking_details_and_non_scalars(db_session):
    user = make_user(db_session)
    with pytest.raises(ValueError, match="credential"):
        notices.notify(
            db_session, user_id=user.id, kind="mfa_reset", now=NOW, details={"code": "123456"}
        )
    with pytest.raises(ValueError, match="text, a number"):
        notices.notify(
            db_session, user_id=user.id, kind="mfa_reset", now=NOW, details={"by": ["x"]}
        )
    with pytest.raises(ValueError, match="not a valid NoticeKind"):
        notices.notify(db_session, user_id=user.id, kind="tea_time", now=NOW)
    assert notices_of(db_session, user) == []


def test_unread_notices_come_newest_first_and_are_limited(db_session):
    user = make_user(db_session)
    for minutes in range(3):
        notices.notify(
            db_session,
            user_id=user.id,
            kind=NoticeKind.ACCOUNT_UNLOCKED,
            now=NOW + timedelta(minutes=minutes),
            details={"by": f"admin{minutes}"},
        )
    listed = notices.unread_notices(db_session, user_id=user.id)
    assert [notices.details_of(n)["by"] for n in listed] == ["admin2", "admin1", "admin0"]
    assert len(notices.unread_notices(db_session, user_id=user.id, limit=2)) == 2
    assert notices.count_unread(db_session, user_id=user.id) == 3


def test_marking_one_notice_read_leaves_the_others_unread(db_session):
    user = make_user(db_session)
    first, second = (
        notices.notify(db_session, user_id=user.id, kind=kind, now=NOW)
        for kind in (NoticeKind.PASSWORD_CHANGED, NoticeKind.MFA_RESET)
    )
    later = NOW + timedelta(minutes=5)

    assert notices.mark_read(db_session, user_id=user.id, notice_id=first.id, now=later) == 1

    db_session.expire_all()
    assert db_session.get(UserNotice, first.id).read_at == later
    assert db_session.get(UserNotice, second.id).read_at is None
    assert [n.id for n in notices.unread_notices(db_session, user_id=user.id)] == [second.id]
    assert notices.count_unread(db_session, user_id=user.id) == 1


def test_marking_all_read_empties_the_list(db_session):
    user = make_user(db_session)
    for kind in NoticeKind:
        notices.notify(db_session, user_id=user.id, kind=kind, now=NOW)
    assert notices.count_unread(db_session, user_id=user.id) == len(NoticeKind)

    assert notices.mark_read(db_session, user_id=user.id, now=NOW) == len(NoticeKind)

    assert notices.unread_notices(db_session, user_id=user.id) == []
    assert notices.count_unread(db_session, user_id=user.id) == 0
    assert notices.mark_read(db_session, user_id=user.id, now=NOW) == 0  # nothing left


def test_another_users_notice_id_changes_nothing(db_session):
    owner, intruder = make_user(db_session), make_user(db_session)
    notice = notices.notify(db_session, user_id=owner.id, kind=NoticeKind.MFA_RESET, now=NOW)
    notices.notify(db_session, user_id=intruder.id, kind=NoticeKind.ROLE_CHANGED, now=NOW)

    assert notices.mark_read(db_session, user_id=intruder.id, notice_id=notice.id, now=NOW) == 0

    db_session.expire_all()
    assert db_session.get(UserNotice, notice.id).read_at is None
    assert notices.count_unread(db_session, user_id=owner.id) == 1
    assert notices.count_unread(db_session, user_id=intruder.id) == 1  # its own stays too


def test_a_users_notices_go_with_the_account(db_session):
    user = make_user(db_session)
    notices.notify(db_session, user_id=user.id, kind=NoticeKind.MFA_RESET, now=NOW)
    user_id = user.id
    db_session.delete(user)
    db_session.flush()
    db_session.expire_all()
    assert list(db_session.scalars(select(UserNotice).where(UserNotice.user_id == user_id))) == []
