"""SECURITY_CASES §5.1: the TOTP step, enrolment, recovery codes and MFA changes (#1-#12)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from access_control import users
from access_control.actor import Actor
from access_control.enrolment import create_enrolment_link
from access_control.models import AuthSession, RecoveryCode, User
from access_control.tokens import Scope, create_token
from core import Settings
from tests.conftest import CHEAP_ARGON2, TEST_ENCRYPTION_KEY, TEST_SECRET_KEY
from tests.security.conftest import RecordingClient
from tests.security.helpers import (
    LOCAL,
    STEP,
    account,
    audit_entries,
    audited,
    code,
    code_of_secret,
    csrf_token,
    details_of,
    generic_body,
    get_user,
    is_anonymous,
    is_signed_in,
    password_only_user,
    pending_mfa,
    sign_in,
    wrong_code,
)
from tests.support.accounts import post_form, submit_code, submit_password
from web import create_app

_SECRET_ON_PAGE = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
_RECOVERY_CODE = re.compile(r"<li><code>([A-Z2-7-]+)</code></li>")
ARABIC_INDIC = str.maketrans(
    "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
)
FULLWIDTH = str.maketrans(
    "0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"
)


def enrolment_secret(client, secrets):
    """View the enrolment page (each view makes a new pending secret): the secret shown."""
    page = client.get("/login/enrol")
    assert page.status_code == 200
    secret = _SECRET_ON_PAGE.search(page.get_data(as_text=True)).group(1)
    secrets.add(secret)
    return secret


def confirm_enrolment(client, value, **extra):
    """POST a code to the enrolment page without viewing it again (that would replace the
    pending secret): the CSRF token comes from another page of the same session."""
    token = csrf_token(client, "/login")
    return client.post("/login/enrol", data={"csrf_token": token, "code": value, **extra})


def recovery_codes_on(response, secrets):
    codes = _RECOVERY_CODE.findall(response.get_data(as_text=True))
    assert len(codes) == 10
    for value in codes:
        secrets.add(value)
    return codes


def enrol(client, made, clock, secrets):
    """Password, then TOTP enrolment; returns (secret, recovery codes). Signed in after."""
    response = submit_password(client, made)
    assert response.headers["Location"] == "/login/enrol"
    secret = enrolment_secret(client, secrets)
    value = secrets.add(code_of_secret(secret, clock.now()))
    response = confirm_enrolment(client, value)
    assert response.status_code == 200
    return secret, recovery_codes_on(response, secrets)


def mfa_failures(database, made):
    return get_user(database, made.user_id).mfa_failures


# 1-4: replay, race, older steps, skew --------------------------------------------------------


def test_a_code_replayed_in_a_fresh_login_is_refused_like_a_wrong_code(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP)
    used = code(officer, clock, secrets)
    assert submit_code(client, used).status_code == 303
    second = app.test_client()
    pending_mfa(second, officer)
    wrong = submit_code(second, wrong_code(officer, clock))
    replay = submit_code(second, used)
    assert (wrong.status_code, replay.status_code) == (401, 401)
    assert generic_body(replay) == generic_body(wrong)
    assert second.get("/account").headers["Location"] == "/login/code"  # not upgraded
    audited(
        rollback_database,
        "mfa.totp.replay_rejected",
        actor="olga",
        outcome="denied",
        target="user:olga",
    )
    audited(
        rollback_database, "auth.mfa.failure", actor="olga", outcome="failure", count=2, attempt=2
    )
    audited(rollback_database, "auth.login.success", actor="olga", outcome="success", method="totp")


def test_two_concurrent_requests_with_one_code_sign_in_exactly_once(
    migrated_database, tmp_path, clock, secrets
):
    """Real commits on a database of its own: the second request must see the first's."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=migrated_database.engine.url.render_as_string(hide_password=False),
        secret_key=TEST_SECRET_KEY,
        encryption_keys=(TEST_ENCRYPTION_KEY,),
        **CHEAP_ARGON2,
    )
    app = create_app(settings, database=migrated_database, clock=clock)
    app.test_client_class = type("Client", (RecordingClient,), {"registry": secrets})
    officer = account(app, secrets, role="security_officer", username="olga")
    clients = [app.test_client() for _ in range(2)]
    for client in clients:
        pending_mfa(client, officer)
    clock.advance(STEP)
    value = code(officer, clock, secrets)
    tokens = [csrf_token(client, "/login/code") for client in clients]
    barrier = threading.Barrier(2)
    statuses = []

    def submit(index):
        barrier.wait(timeout=30)
        response = clients[index].post(
            "/login/code",
            data={"csrf_token": tokens[index], "code": value},
            environ_overrides={"REMOTE_ADDR": f"192.0.2.{index + 1}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [303, 401]
    assert [is_signed_in(client) for client in clients].count(True) == 1
    assert len(audit_entries(migrated_database, "auth.login.success")) == 1
    assert len(audit_entries(migrated_database, "auth.mfa.failure")) == 1


@pytest.mark.parametrize("older", [0, -1])
def test_an_older_step_after_a_newer_one_is_refused(app, clock, rollback_database, secrets, older):
    officer = account(app, secrets, role="security_officer", username="olga")
    first, second = app.test_client(), app.test_client()
    pending_mfa(first, officer)
    pending_mfa(second, officer)
    clock.advance(STEP)
    assert submit_code(first, code(officer, clock, secrets, steps=1)).status_code == 303
    assert submit_code(second, code(officer, clock, secrets, steps=older)).status_code == 401
    audited(rollback_database, "mfa.totp.replay_rejected", actor="olga", outcome="denied")


@pytest.mark.parametrize("offset", [-1, 1])
def test_one_step_of_clock_skew_is_accepted_once(
    app, client, clock, rollback_database, secrets, offset
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP)
    skewed = code(officer, clock, secrets, steps=offset)
    assert submit_code(client, skewed).status_code == 303
    again = app.test_client()
    pending_mfa(again, officer)
    assert submit_code(again, skewed).status_code == 401
    audited(rollback_database, "auth.login.success", actor="olga", outcome="success")
    audited(rollback_database, "mfa.totp.replay_rejected", actor="olga", outcome="denied")


@pytest.mark.parametrize("offset", [-2, 2])
def test_two_steps_of_clock_skew_are_refused_whatever_time_the_client_claims(
    app, client, clock, rollback_database, secrets, offset
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP * 3)
    claimed = clock.now() + offset * STEP
    response = post_form(
        client,
        "/login/code",
        "/login/code",
        {
            "code": code(officer, clock, secrets, steps=offset),
            "time": str(int(claimed.timestamp())),
        },
        headers={"Date": claimed.strftime("%a, %d %b %Y %H:%M:%S GMT")},
    )
    assert response.status_code == 401
    assert audit_entries(rollback_database, "auth.login.success") == []
    audited(rollback_database, "auth.mfa.failure", actor="olga", outcome="failure", method="totp")
    assert submit_code(client, code(officer, clock, secrets)).status_code == 303


# 5: malformed codes ----------------------------------------------------------------------------

MALFORMED = {
    "empty": lambda c: {"data": {"code": ""}},
    "five digits": lambda c: {"data": {"code": c[:5]}},
    "seven digits": lambda c: {"data": {"code": c + "7"}},
    "spaced": lambda c: {"data": {"code": f"{c[:2]} {c[2:4]} {c[4:]}"}},
    "arabic-indic digits": lambda c: {"data": {"code": c.translate(ARABIC_INDIC)}},
    "fullwidth digits": lambda c: {"data": {"code": c.translate(FULLWIDTH)}},
    "trailing newline": lambda c: {"data": {"code": c + "\n"}},
    "leading space": lambda c: {"data": {"code": " " + c}},
    "10 kB": lambda c: {"data": {"code": c * 1707}},
    "JSON number": lambda c: {"json": {"code": int(c)}},
    "JSON array": lambda c: {"json": {"code": [c]}},
    "JSON string": lambda c: {"json": {"code": c}},  # the form is the only way in
}


@pytest.mark.parametrize("shape", list(MALFORMED))
def test_a_malformed_code_is_a_counted_generic_failure_and_burns_nothing(
    app, client, clock, rollback_database, secrets, shape
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP)
    right = code(officer, clock, secrets)
    wrong = submit_code(client, wrong_code(officer, clock))
    token = csrf_token(client, "/login/code")
    request = MALFORMED[shape](right)
    if "data" in request:
        request["data"]["csrf_token"] = token
    response = client.post("/login/code", headers={"X-CSRFToken": token}, **request)
    assert response.status_code == 401, response.status_code
    assert generic_body(response) == generic_body(wrong)
    audited(
        rollback_database, "auth.mfa.failure", actor="olga", outcome="failure", count=2, attempt=2
    )
    assert submit_code(client, right).status_code == 303  # the step was not used up


# 6: brute force ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["totp", "recovery"])
def test_five_wrong_codes_destroy_the_pending_login(
    app, client, clock, rollback_database, secrets, kind
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    clock.advance(STEP)
    guesses = (
        [wrong_code(officer, clock)] * 5
        if kind == "totp"
        else [f"AAAA-BBBB-CCCC-DDDD-EEEE-FFF{n}" for n in "23456"]
    )
    for guess in guesses[:4]:
        assert submit_code(client, guess).status_code == 401
    fifth = submit_code(client, guesses[4])
    assert (fifth.status_code, fifth.headers["Location"]) == (303, "/login")
    restart = audited(
        rollback_database, "auth.mfa.restart", actor="olga", outcome="failure", target="user:olga"
    )
    assert restart.ip == LOCAL
    assert [details_of(e) for e in audit_entries(rollback_database, "auth.mfa.failure")] == [
        {"method": kind, "attempt": attempt} for attempt in range(1, 6)
    ]
    assert is_anonymous(client)
    late = client.post("/login/code", data={"code": code(officer, clock, secrets)})
    assert late.status_code == 302
    assert late.headers["Location"].startswith("/login")
    with rollback_database.unit_of_work() as session:
        assert session.scalars(select(AuthSession)).all() == []
    sign_in(client, officer, clock, secrets)  # the password first, then it works
    assert mfa_failures(rollback_database, officer) == 0


def test_ten_consecutive_mfa_failures_lock_the_account_until_an_admin_unlocks_it(
    app, client, clock, rollback_database, secrets
):
    officer = account(app, secrets, role="security_officer", username="olga")
    elsewhere = app.test_client()
    sign_in(elsewhere, officer, clock, secrets)
    for login in range(2):
        pending_mfa(client, officer)
        for attempt in range(5):
            response = submit_code(client, wrong_code(officer, clock))
            if login == 1 and attempt == 4:
                assert (response.status_code, response.headers["Location"]) == (303, "/login")
    locked = get_user(rollback_database, officer.user_id)
    assert locked.locked_at == clock.now()
    audited(
        rollback_database,
        "user.locked",
        actor="olga",
        outcome="success",
        target="user:olga",
        mfa_failures=10,
    )
    assert is_anonymous(elsewhere)  # every session of the account ended
    refused = submit_password(app.test_client(), officer)
    assert refused.status_code == 401  # the right password: generic failure
    assert details_of(audit_entries(rollback_database, "auth.password.failure")[-1]) == {
        "reason": "locked"
    }
    clock.advance(timedelta(days=1))  # no backoff expiry lifts it
    assert submit_password(app.test_client(), officer).status_code == 401
    with rollback_database.unit_of_work() as session:
        users.unlock_user(
            session,
            user=session.get(User, officer.user_id),
            actor=Actor(name="admin1", user_id=99),
            now=clock.now(),
        )
    audited(
        rollback_database,
        "user.unlocked",
        actor="admin1",
        outcome="success",
        ip=None,
        target="user:olga",
    )
    sign_in(app.test_client(), officer, clock, secrets)


def test_the_code_endpoint_allows_thirty_tries_a_minute_per_address(
    app, clock, rollback_database, secrets
):
    staff = [account(app, secrets, username=f"s{number}") for number in range(7)]
    for member in staff[:6]:  # 6 x 5 wrong codes = 30 tries, each login restarted
        client = app.test_client()
        pending_mfa(client, member)
        for _ in range(5):
            submit_code(client, wrong_code(member, clock))
    client = app.test_client()
    pending_mfa(client, staff[6])
    response = submit_code(client, code(staff[6], clock, secrets))
    assert response.status_code == 429
    assert 0 < int(response.headers["Retry-After"]) <= 60
    entry = audited(
        rollback_database,
        "auth.ip_throttled",
        actor="s6",
        outcome="denied",
        target=f"mfa-ip:{LOCAL}",
    )
    assert entry.occurred_at == clock.now()
    assert audit_entries(rollback_database, "auth.login.success") == []
    clock.advance(timedelta(minutes=1))
    assert submit_code(client, code(staff[6], clock, secrets)).status_code == 303


# 7: skipping the MFA step ------------------------------------------------------------------------

PENDING_PROBES = [
    ("GET", "/dashboard"),
    ("GET", "/account"),
    ("GET", "/account/confirm"),
    ("POST", "/account/reset-mfa"),
    ("POST", "/account/recovery-codes"),
    ("POST", "/account/password"),
    ("POST", "/account/logout-everywhere"),
    ("GET", "/login/enrol"),
    ("POST", "/login/enrol"),
]


@pytest.mark.parametrize(("method", "path"), PENDING_PROBES)
def test_a_session_waiting_for_its_code_reaches_nothing_else(
    app, client, rollback_database, secrets, method, path
):
    officer = account(app, secrets, role="security_officer", username="olga")
    pending_mfa(client, officer)
    token = csrf_token(client, "/login/code")
    data = {
        "csrf_token": token,
        "current": officer.password,
        "password": "blauwe giraffen op de fiets",
        "code": "123456",
    }
    response = client.open(path, method=method, data=data if method == "POST" else None)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login/code"
    user = get_user(rollback_database, officer.user_id)
    assert user.totp_secret is not None
    assert submit_password(app.test_client(), officer).status_code == 303  # password unchanged
    actions = {entry.action for entry in audit_entries(rollback_database)}
    assert "auth.password.success" in actions
    assert not actions & {
        "auth.login.success",
        "mfa.reset",
        "user.password_changed",
        "user.access_revoked",
    }


@pytest.mark.parametrize("path", ["/api/v1/token", "/dashboard", "/account"])
def test_a_session_waiting_for_its_code_is_401_to_json_clients(app, client, secrets, path):
    officer = account(app, secrets, role="security_officer")
    pending_mfa(client, officer)
    response = client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"


def test_nobody_can_confirm_the_enrolment_of_another_user(app, clock, rollback_database, secrets):
    victim = password_only_user(app, secrets, username="vera")
    victim_client = app.test_client()
    assert submit_password(victim_client, victim).headers["Location"] == "/login/enrol"
    victim_secret = enrolment_secret(victim_client, secrets)
    stolen = secrets.add(code_of_secret(victim_secret, clock.now()))
    forged = {"user_id": str(victim.user_id), "username": "vera"}

    mallory = account(app, secrets, username="mallory")  # waiting for her own code
    pending = app.test_client()
    pending_mfa(pending, mallory)
    token = csrf_token(pending, "/login/code")
    response = pending.post("/login/enrol", data={"csrf_token": token, "code": stolen, **forged})
    assert (response.status_code, response.headers["Location"]) == (302, "/login/code")

    trudy = password_only_user(app, secrets, username="trudy")  # enrolling herself
    enrolling = app.test_client()
    submit_password(enrolling, trudy)
    enrolment_secret(enrolling, secrets)
    response = confirm_enrolment(enrolling, stolen, **forged)
    assert response.status_code == 401
    audited(
        rollback_database,
        "mfa.enrolment.failure",
        actor="trudy",
        outcome="failure",
        target="user:trudy",
    )
    assert get_user(rollback_database, victim.user_id).totp_secret is None
    assert get_user(rollback_database, trudy.user_id).totp_secret is None
    response = confirm_enrolment(victim_client, stolen)
    assert response.status_code == 200  # the victim's own confirmation still works
    audited(rollback_database, "mfa.enrolled", actor="vera", outcome="success", target="user:vera")


# 8-9: enrolment -------------------------------------------------------------------------------


def test_only_the_latest_enrolment_secret_can_be_confirmed(
    app, client, clock, rollback_database, secrets
):
    newcomer = password_only_user(app, secrets, username="nico")
    assert submit_password(client, newcomer).headers["Location"] == "/login/enrol"
    first = enrolment_secret(client, secrets)
    second = enrolment_secret(client, secrets)
    assert first != second
    assert len(second) == 32  # base32: 160 bits
    response = confirm_enrolment(client, code_of_secret(first, clock.now()))
    assert response.status_code == 401
    audited(rollback_database, "mfa.enrolment.failure", actor="nico", outcome="failure")
    assert get_user(rollback_database, newcomer.user_id).totp_secret is None
    response = confirm_enrolment(client, code_of_secret(second, clock.now()))
    assert response.status_code == 200
    assert second not in response.get_data(as_text=True)  # only the recovery codes are shown
    audited(rollback_database, "mfa.enrolled", actor="nico", outcome="success", target="user:nico")
    with rollback_database.unit_of_work() as session:
        stored = session.get(User, newcomer.user_id)
        assert stored.totp_secret is not None
        assert stored.totp_pending_secret is None
        assert second.encode() not in stored.totp_secret  # encrypted at rest
        row = session.execute(
            text("SELECT * FROM user_account WHERE id = :id"), {"id": newcomer.user_id}
        ).one()
        assert all(second not in str(value) for value in row)
    assert second not in client.get("/account").get_data(as_text=True)
    again = client.get("/login/enrol")  # a confirmed secret is never regenerated
    assert again.status_code == 302
    with rollback_database.unit_of_work() as session:
        assert session.get(User, newcomer.user_id).totp_pending_secret is None


@pytest.mark.parametrize("submitted", ["", "wrong"])
def test_without_a_valid_code_mfa_stays_off_and_only_enrolment_is_reachable(
    app, client, clock, rollback_database, secrets, submitted
):
    newcomer = password_only_user(app, secrets, username="nico")
    submit_password(client, newcomer)
    secret = enrolment_secret(client, secrets)
    value = (
        ""
        if submitted == ""
        else next(
            candidate
            for candidate in ("135792", "246813", "579135")
            if candidate not in {code_of_secret(secret, clock.now(), steps=s) for s in (-1, 0, 1)}
        )
    )
    response = confirm_enrolment(client, value)
    assert response.status_code == 401
    assert secret in response.get_data(as_text=True)  # shown again to try once more
    audited(rollback_database, "mfa.enrolment.failure", actor="nico", outcome="failure")
    assert get_user(rollback_database, newcomer.user_id).totp_secret is None
    for path in ("/dashboard", "/account", "/login/code"):
        assert client.get(path).headers["Location"] == "/login/enrol", path


# 10: recovery codes -------------------------------------------------------------------------------


def test_recovery_codes_work_once_each_and_one_per_login(app, clock, rollback_database, secrets):
    newcomer = password_only_user(app, secrets, username="nico")
    _secret, codes = enrol(app.test_client(), newcomer, clock, secrets)
    first = app.test_client()
    pending_mfa(first, newcomer)
    assert submit_code(first, codes[0].lower().replace("-", "")).status_code == 303
    audited(
        rollback_database, "auth.login.success", actor="nico", outcome="success", method="recovery"
    )
    reuse = app.test_client()
    pending_mfa(reuse, newcomer)
    assert submit_code(reuse, codes[0]).status_code == 401
    audited(
        rollback_database, "auth.mfa.failure", actor="nico", outcome="failure", method="recovery"
    )
    both = app.test_client()
    pending_mfa(both, newcomer)
    token = csrf_token(both, "/login/code")
    response = both.post("/login/code", data={"csrf_token": token, "code": [codes[1], codes[2]]})
    assert response.status_code == 303
    with rollback_database.unit_of_work() as session:
        unused = session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_(None))).all()
    assert len(unused) == 8  # only the first of the two was spent
    last = app.test_client()
    pending_mfa(last, newcomer)
    assert submit_code(last, codes[2]).status_code == 303


def test_recovery_codes_are_stored_only_as_digests(app, clock, rollback_database, secrets):
    newcomer = password_only_user(app, secrets, username="nico")
    _secret, codes = enrol(app.test_client(), newcomer, clock, secrets)
    with rollback_database.unit_of_work() as session:
        rows = session.execute(text("SELECT * FROM recovery_code")).all()
        dump = repr(rows) + repr(session.execute(text("SELECT * FROM audit_entry")).all())
    assert len(rows) == 10
    for value in codes:
        assert value not in dump
        assert value.replace("-", "") not in dump


# 11: changing MFA needs a fresh confirmation ------------------------------------------------------


def confirm(client, made, clock, secrets):
    return post_form(
        client,
        "/account/confirm",
        "/account/confirm",
        {"password": made.password, "code": code(made, clock, secrets), "next": "/account"},
    )


@pytest.mark.parametrize("path", ["/account/reset-mfa", "/account/recovery-codes"])
def test_changing_mfa_without_a_fresh_confirmation_asks_for_one(
    app, client, clock, rollback_database, secrets, path
):
    me = account(app, secrets, role="security_officer", username="olga")
    sign_in(client, me, clock, secrets)
    clock.advance(timedelta(minutes=11))
    token = csrf_token(client, "/account")
    response = client.post(
        path, data={"csrf_token": token}, headers={"Referer": "http://localhost/account"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/confirm?next=/account"
    json_response = client.post(
        path, data={"csrf_token": token}, headers={"Accept": "application/json"}
    )
    assert json_response.status_code == 401
    assert get_user(rollback_database, me.user_id).totp_secret is not None
    assert audit_entries(rollback_database, "mfa.reset") == []
    assert audit_entries(rollback_database, "mfa.recovery_codes_regenerated") == []
    assert confirm(client, me, clock, secrets).headers["Location"] == "/account"
    audited(
        rollback_database,
        "auth.step_up.success",
        actor="olga",
        outcome="success",
        target="user:olga",
    )


def test_regenerating_recovery_codes_after_confirming_invalidates_the_old_set_and_other_sessions(
    app, client, clock, rollback_database, secrets
):
    newcomer = password_only_user(app, secrets, username="nico")
    _secret, old_codes = enrol(client, newcomer, clock, secrets)
    other = app.test_client()
    pending_mfa(other, newcomer)
    assert submit_code(other, old_codes[0]).status_code == 303
    response = post_form(client, "/account", "/account/recovery-codes", {})
    assert response.status_code == 200  # the login minutes ago counts as the confirmation
    new_codes = recovery_codes_on(response, secrets)
    assert not set(new_codes) & set(old_codes)
    audited(
        rollback_database,
        "mfa.recovery_codes_regenerated",
        actor="nico",
        outcome="success",
        target="user:nico",
    )
    assert is_signed_in(client)
    assert is_anonymous(other)
    stale = app.test_client()
    pending_mfa(stale, newcomer)
    assert submit_code(stale, old_codes[1]).status_code == 401
    assert submit_code(stale, new_codes[0]).status_code == 303


def test_resetting_mfa_after_confirming_ends_every_session_and_token(
    app, client, clock, rollback_database, secrets
):
    me = account(app, secrets, role="security_officer", username="olga")
    other = app.test_client()
    sign_in(other, me, clock, secrets)
    sign_in(client, me, clock, secrets)
    with rollback_database.unit_of_work() as session:
        _token, token_text = create_token(
            session,
            name="olga-script",
            scopes={Scope.ALERTS_READ},
            owner_id=me.user_id,
            expires_in=timedelta(days=30),
            actor=Actor.system(),
            now=clock.now(),
        )
    secrets.add(token_text)
    clock.advance(timedelta(minutes=11))
    assert client.get("/account/confirm").status_code == 200
    assert confirm(client, me, clock, secrets).status_code == 303
    response = post_form(client, "/account", "/account/reset-mfa", {})
    assert (response.status_code, response.headers["Location"]) == (303, "/login")
    assert get_user(rollback_database, me.user_id).totp_secret is None
    audited(rollback_database, "mfa.reset", actor="olga", outcome="success", target="user:olga")
    revoked = audited(
        rollback_database,
        "user.access_revoked",
        actor="olga",
        outcome="success",
        reason="MFA reset",
    )
    assert details_of(revoked)["logins_ended"] == 2
    assert details_of(revoked)["api_access_revoked"] == 1
    assert is_anonymous(client)
    assert is_anonymous(other)
    api = client.get("/api/v1/token", headers={"Authorization": f"Bearer {token_text}"})
    assert api.status_code == 401
    assert submit_password(client, me).headers["Location"] == "/login/enrol"  # enrol again


# 12: a password reset never skips MFA ------------------------------------------------------------


def test_a_password_reset_link_leads_to_the_code_step_not_past_it(
    app, client, clock, rollback_database, secrets
):
    me = account(app, secrets, role="security_officer", username="olga")
    other = app.test_client()
    sign_in(other, me, clock, secrets)
    with rollback_database.unit_of_work() as session:
        link = create_enrolment_link(
            session, user=session.get(User, me.user_id), actor=Actor(name="admin1"), now=clock.now()
        )
    secrets.add(link)
    new_password = "paarse olifanten dansen op het ijs"
    response = post_form(
        client,
        f"/enrol/{link}",
        f"/enrol/{link}",
        {"password": new_password, "password_again": new_password},
    )
    assert (response.status_code, response.headers["Location"]) == (303, "/login/code")
    for path in ("/dashboard", "/account"):
        assert client.get(path).headers["Location"] == "/login/code"
    audited(
        rollback_database,
        "user.password_changed",
        actor="anonymous",
        outcome="success",
        target="user:olga",
    )
    assert is_anonymous(other)
    assert client.get(f"/enrol/{link}").status_code == 404  # used up
    clock.advance(STEP)
    assert submit_code(client, code(me, clock, secrets)).status_code == 303
    assert is_signed_in(client)
