"""Security notices through the real routes (SECURITY_CASES 11 "user notified", 1 / ASVS 2.8.5).

An administrator's change and a replayed code leave a notice; the user sees it on
/account, a count in the top bar leads there, and marking read is a CSRF-protected POST.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from access_control import Actor, users
from access_control.models import AuditEntry, User, UserNotice
from access_control.notices import NoticeKind, count_unread, notify
from tests.factories import make_user
from tests.security.helpers import (
    STEP,
    account,
    code,
    code_of_secret,
    csrf_token,
    pending_mfa,
    sign_in,
)
from tests.security.test_mfa import confirm_enrolment, enrolment_secret, recovery_codes_on
from tests.support.accounts import submit_code, submit_password

ENGLISH = {"Accept-Language": "en"}
_BANNER = re.compile(r'<a[^>]*href="/account#notices"[^>]*>([^<]*)</a>')
_NOTICE_TIME = re.compile(r"<time datetime=\"[^\"]+\">(\d{4}-\d\d-\d\d \d\d:\d\d) UTC</time>")
SENTENCES = {
    NoticeKind.PASSWORD_CHANGED: "Your password was changed.",
    NoticeKind.MFA_RESET: (
        "Your authenticator was removed by beheerder. You set up a new one at your next sign-in."
    ),
    NoticeKind.RECOVERY_CODES_REGENERATED: (
        "New recovery codes were made; the old ones no longer work."
    ),
    NoticeKind.ROLE_CHANGED: "Your role was changed to SOC analyst by beheerder.",
    NoticeKind.ACCOUNT_UNLOCKED: "Your account was unlocked by beheerder.",
    NoticeKind.TOTP_REPLAY_REJECTED: (
        "Someone entered a code that had already been used. "
        "If that was not you, change your password."
    ),
}


def banner(page: str) -> str | None:
    """The top bar's link to the notices, as shown, or None."""
    match = _BANNER.search(page)
    return html.unescape(match.group(1)).strip() if match else None


def account_page(client, **headers) -> str:
    response = client.get("/account", headers={**ENGLISH, **headers})
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def as_admin(app, clock, change, made, **options) -> None:
    """An administrator changes ``made``'s account through the service, like the console."""
    database = app.extensions["wachter"].database
    with database.unit_of_work() as session:
        admin = make_user(session, username="beheerder", role="admin")
        actor = Actor(name=admin.username, user_id=admin.id, ip="192.0.2.7")
        user = session.get(User, made.user_id)
        change(session, user=user, actor=actor, now=clock.now(), **options)


def leave_notices(app, clock, made, *kinds) -> None:
    database = app.extensions["wachter"].database
    with database.unit_of_work() as session:
        for kind in kinds:
            notify(session, user_id=made.user_id, kind=kind, now=clock.now(), details={"by": "x"})


def unread(app, made) -> int:
    with app.extensions["wachter"].database.unit_of_work() as session:
        return count_unread(session, user_id=made.user_id)


def mark_read(client, **data):
    return client.post("/account/notices/read", data=data, headers=ENGLISH)


# The user is told ----------------------------------------------------------------------------


def test_after_an_admin_resets_mfa_the_user_sees_it_once_set_up_again(app, client, clock, secrets):
    made = account(app, secrets, username="olga")
    as_admin(app, clock, users.reset_mfa, made)
    when = clock.now().strftime("%Y-%m-%d %H:%M")

    response = submit_password(client, made)
    assert response.headers["Location"] == "/login/enrol"
    secret = enrolment_secret(client, secrets)
    response = confirm_enrolment(client, secrets.add(code_of_secret(secret, clock.now())))
    assert response.status_code == 200
    recovery_codes_on(response, secrets)  # signed in; the new codes were shown once

    page = account_page(client)
    assert banner(page) == "Security notices (1)"
    assert SENTENCES[NoticeKind.MFA_RESET] in page
    assert _NOTICE_TIME.findall(page) == [when]
    dutch = account_page(client, **{"Accept-Language": "nl"})
    assert banner(dutch) == "Beveiligingsmeldingen (1)"
    assert "Uw authenticator is verwijderd door beheerder." in dutch


def test_a_replayed_code_is_shown_to_the_user_at_the_next_sign_in(app, client, clock, secrets):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP)
    used = code(officer, clock, secrets)
    assert submit_code(client, used).status_code == 303
    assert banner(account_page(client)) is None  # an accepted code is no news

    attacker = app.test_client()
    pending_mfa(attacker, officer)
    replay = submit_code(attacker, used)
    assert replay.status_code == 401
    assert SENTENCES[NoticeKind.TOTP_REPLAY_REJECTED] not in replay.get_data(as_text=True)

    later = app.test_client()
    sign_in(later, officer, clock, secrets)
    page = account_page(later)
    assert banner(page) == "Security notices (1)"
    assert SENTENCES[NoticeKind.TOTP_REPLAY_REJECTED] in page


def test_every_kind_of_notice_reads_as_its_own_sentence(app, client, clock, secrets):
    made = account(app, secrets, role="staff")
    as_admin(app, clock, users.change_role, made, role="soc_analyst")
    database = app.extensions["wachter"].database
    with database.unit_of_work() as session:
        for kind in NoticeKind:
            if kind == NoticeKind.ROLE_CHANGED:
                continue
            by = {"by": "beheerder"} if kind != NoticeKind.TOTP_REPLAY_REJECTED else {}
            notify(session, user_id=made.user_id, kind=kind, now=clock.now(), details=by)
    sign_in(client, made, clock, secrets)

    page = account_page(client)

    for sentence in SENTENCES.values():
        assert sentence in page
    assert banner(page) == f"Security notices ({len(NoticeKind)})"


# Marking read -------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "forged"])
def test_marking_read_without_a_valid_csrf_token_is_refused(app, client, clock, secrets, token):
    made = account(app, secrets)
    leave_notices(app, clock, made, NoticeKind.PASSWORD_CHANGED)
    sign_in(client, made, clock, secrets)

    response = mark_read(client, **({"csrf_token": token} if token else {}))

    assert response.status_code == 400
    assert unread(app, made) == 1
    assert banner(account_page(client)) == "Security notices (1)"


def test_marking_read_from_another_site_is_refused(app, client, clock, secrets):
    made = account(app, secrets)
    leave_notices(app, clock, made, NoticeKind.PASSWORD_CHANGED)
    sign_in(client, made, clock, secrets)

    response = client.post(
        "/account/notices/read",
        data={"csrf_token": csrf_token(client, "/account")},
        headers={"Origin": "https://evil.example", **ENGLISH},
    )

    assert response.status_code == 403
    assert unread(app, made) == 1


def test_marking_read_with_the_token_removes_the_banner_and_the_list(app, client, clock, secrets):
    made = account(app, secrets)
    leave_notices(app, clock, made, NoticeKind.PASSWORD_CHANGED, NoticeKind.ACCOUNT_UNLOCKED)
    sign_in(client, made, clock, secrets)
    assert banner(account_page(client)) == "Security notices (2)"

    response = mark_read(client, csrf_token=csrf_token(client, "/account"))

    assert response.status_code == 303
    assert response.headers["Location"] == "/account#notices"
    page = account_page(client)
    assert "Security notices marked as read." in page
    assert banner(page) is None
    assert SENTENCES[NoticeKind.PASSWORD_CHANGED] not in page
    assert "No unread security notices." in page
    assert unread(app, made) == 0


def test_marking_read_touches_only_your_own_notices(app, client, clock, secrets):
    owner, other = account(app, secrets), account(app, secrets)
    leave_notices(app, clock, owner, NoticeKind.MFA_RESET)
    leave_notices(app, clock, other, NoticeKind.ROLE_CHANGED)
    sign_in(client, other, clock, secrets)
    assert SENTENCES[NoticeKind.MFA_RESET].split(" by")[0] not in account_page(client)

    assert mark_read(client, csrf_token=csrf_token(client, "/account")).status_code == 303

    assert (unread(app, owner), unread(app, other)) == (1, 0)


# The count in the top bar -------------------------------------------------------------------


def test_the_banner_shows_for_signed_in_users_only(app, client, clock, secrets):
    made = account(app, secrets)
    leave_notices(app, clock, made, NoticeKind.PASSWORD_CHANGED, NoticeKind.MFA_RESET)

    assert banner(client.get("/login", headers=ENGLISH).get_data(as_text=True)) is None
    pending_mfa(client, made)  # the password alone does not show it
    assert banner(client.get("/login/code", headers=ENGLISH).get_data(as_text=True)) is None
    clock.advance(STEP)
    assert submit_code(client, code(made, clock, secrets)).status_code == 303

    step_up_page = client.get("/account/confirm", headers=ENGLISH).get_data(as_text=True)
    assert banner(step_up_page) == "Security notices (2)"  # on every page, not just /account

    other = account(app, secrets)
    elsewhere = app.test_client()
    sign_in(elsewhere, other, clock, secrets)
    assert banner(account_page(elsewhere)) is None  # someone else's notices are not counted


def test_reusing_the_sign_in_code_for_a_step_up_leaves_no_notice(
    app, client, clock, secrets, db_session
):
    """The user typed their own, just-used code again: refused, audited, but no alarm."""
    made = account(app, secrets, role="admin")
    sign_in(client, made, clock, secrets)
    form = {
        "csrf_token": csrf_token(client, "/account/confirm"),
        "password": made.password,
        "code": made.code(clock.now()),
    }
    assert client.post("/account/confirm", data=form).status_code == 401
    mine = select(UserNotice).where(UserNotice.user_id == made.user_id)
    assert db_session.scalars(mine).all() == []
    actions = db_session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions[-2:] == ["mfa.totp.replay_rejected", "auth.step_up.failure"]
