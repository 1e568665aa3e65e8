"""SECURITY_CASES §5.2: the password step, brute force and enumeration (#13-#21)."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from access_control import enrolment, users
from access_control.actor import Actor
from access_control.models import AuthSession, ThrottleCounter, User
from access_control.passwords import PasswordHasher
from tests.factories import make_user
from tests.security.helpers import (
    LOCAL,
    account,
    audit_entries,
    audited,
    csrf_token,
    details_of,
    generic_body,
    get_user,
    sign_in,
)
from tests.support.accounts import post_form
from web import create_app

ATTACKER = "198.51.100.7"
BLOCK_SECONDS = [30, 60, 120, 240, 480, 900, 900]  # 30 s doubling, capped at 15 min


def attempt(client, username, password, token, *, ip=LOCAL, headers=None):
    """One POST /login with an already fetched CSRF token (cheap for many attempts)."""
    return client.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password},
        environ_overrides={"REMOTE_ADDR": ip},
        headers=headers or {},
    )


def count_hash_checks(monkeypatch) -> list[str]:
    """Each argon2 verification the app runs from now on, by kind (SECURITY_CASES #17)."""
    checks: list[str] = []
    real_verify, real_dummy = PasswordHasher.verify, PasswordHasher.verify_dummy

    def verify(self, *args, **kwargs):
        checks.append("verify")
        return real_verify(self, *args, **kwargs)

    def verify_dummy(self, *args, **kwargs):
        checks.append("dummy")
        return real_dummy(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", verify)
    monkeypatch.setattr(PasswordHasher, "verify_dummy", verify_dummy)
    return checks


def reasons(database):
    return [
        details_of(entry)["reason"] for entry in audit_entries(database, "auth.password.failure")
    ]


def account_counter(database, username):
    with database.unit_of_work() as session:
        counter = session.get(ThrottleCounter, f"account:{username}")
        if counter is not None:
            session.expunge(counter)
        return counter


# 17: every failure looks the same ---------------------------------------------------------


def test_every_kind_of_password_failure_gives_the_same_status_and_body(
    app, client, clock, rollback_database, secrets, monkeypatch
):
    alice = account(app, secrets, username="alice")
    disabled = account(app, secrets, username="dora")
    locked = account(app, secrets, username="lars")
    throttled = account(app, secrets, username="bert")
    with rollback_database.unit_of_work() as session:
        make_user(session, username="nina")  # invited, no password chosen yet
        session.execute(update(User).where(User.id == disabled.user_id).values(is_active=False))
        session.execute(update(User).where(User.id == locked.user_id).values(locked_at=clock.now()))
    token = csrf_token(client)
    for _ in range(5):
        attempt(client, "bert", "not the password at all", token, ip=ATTACKER)
    cases = {
        "unknown_user": ("ghost", alice.password),
        "bad_password": ("alice", alice.password + "!"),
        "backoff": ("bert", throttled.password),  # the right password, during backoff
        "locked": ("lars", locked.password),
        "disabled": ("dora", disabled.password),
        "not_enrolled": ("nina", alice.password),
        "too_long": ("alice", "x" * 1025),
        "empty": ("", ""),
    }
    hashes = count_hash_checks(monkeypatch)
    bodies, costs = {}, {}
    for case, (username, password) in cases.items():
        hashes.clear()
        response = attempt(client, username, password, token)
        assert response.status_code == 401, case
        bodies[case] = generic_body(response)
        costs[case] = len(hashes)
    assert len(set(bodies.values())) == 1, {case: body[:80] for case, body in bodies.items()}
    # The same work for every account state: one argon2 check (an unknown or invited
    # account checks against a dummy hash), so timing tells none of them apart. A password
    # over the length limit is refused before any hashing, for every account alike.
    assert costs == {case: 0 if case == "too_long" else 1 for case in cases}, costs
    with rollback_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(AuthSession)) == 0
    assert reasons(rollback_database)[5:] == [
        "unknown_user",
        "bad_password",
        "backoff",
        "locked",
        "disabled",
        "not_enrolled",
        "too_long",
        "unknown_user",
    ]
    entry = audit_entries(rollback_database, "auth.password.failure")[-3]
    assert (entry.actor, entry.target, entry.outcome, entry.ip) == (
        "anonymous",
        "user:nina",
        "failure",
        LOCAL,
    )
    assert entry.occurred_at == clock.now()


def test_a_password_that_grows_past_the_limit_when_normalised_is_the_generic_failure(
    app, client, rollback_database, secrets
):
    """U+FDFA is one character that NFKC turns into eighteen: 100 raw, 1800 normalised."""
    alice = account(app, secrets, username="alice")
    expanding = "\ufdfa" * 100
    assert len(unicodedata.normalize("NFKC", expanding)) > 1024
    token = csrf_token(client)
    wrong = attempt(client, "alice", alice.password + "?", token)
    response = attempt(client, "alice", expanding, token)
    assert response.status_code == 401
    assert generic_body(response) == generic_body(wrong)
    audited(
        rollback_database,
        "auth.password.failure",
        actor="anonymous",
        outcome="failure",
        count=2,
        target="user:alice",
        reason="too_long",
    )


def test_invalid_enrolment_links_all_get_the_same_answer(app, client, clock, rollback_database):
    """The only reset/registration path is an admin's one-time link: unknown, used and
    expired links are told apart by nobody."""
    with rollback_database.unit_of_work() as session:
        user = make_user(session, username="eva")
        used = enrolment.create_enrolment_link(
            session, user=user, actor=Actor.system(), now=clock.now()
        )
        link = enrolment.find_valid_link(
            session, token=used, purpose=enrolment.Purpose.ENROLMENT, now=clock.now()
        )
        enrolment.consume_link(session, link=link, now=clock.now())
        expired = enrolment.create_enrolment_link(
            session,
            user=make_user(session),
            actor=Actor.system(),
            now=clock.now() - timedelta(days=4),
        )
    answers = []
    for token in ("A" * 43, used, expired, "x" * 5000):
        response = client.get(f"/enrol/{token}")
        assert response.status_code == 404
        answers.append(generic_body(response))
    assert len(set(answers)) == 1


# 13 and 18: per-account backoff ----------------------------------------------------------


def test_twenty_wrong_passwords_start_a_backoff_in_which_the_right_one_fails_too(
    app, client, clock, rollback_database, secrets
):
    alice = account(app, secrets, username="alice")
    token = csrf_token(client)
    for _ in range(20):
        assert attempt(client, "alice", "guess guess guess", token).status_code == 401
    assert reasons(rollback_database) == ["bad_password"] * 5 + ["backoff"] * 15
    # The twentieth failure from one address also blocked the address (#14).
    audited(
        rollback_database, "auth.ip_throttled", actor="anonymous", outcome="denied", seconds=900
    )
    elsewhere = "192.0.2.10"
    right = attempt(client, "alice", alice.password, token, ip=elsewhere)
    assert right.status_code == 401
    assert generic_body(right) == generic_body(
        attempt(client, "alice", "nope nope nope", token, ip=elsewhere)
    )
    assert reasons(rollback_database)[-2:] == ["backoff", "backoff"]
    clock.advance(timedelta(seconds=30))
    assert attempt(client, "alice", alice.password, token, ip=elsewhere).status_code == 303
    audited(
        rollback_database,
        "auth.password.success",
        actor="anonymous",
        outcome="success",
        ip=elsewhere,
    )


def test_backoff_doubles_each_round_up_to_fifteen_minutes_and_a_quiet_spell_resets_it(
    app, client, clock, rollback_database, secrets
):
    alice = account(app, secrets, username="alice", role="security_officer")
    token = csrf_token(client)
    for round_number, seconds in enumerate(BLOCK_SECONDS):
        ip = f"203.0.113.{round_number + 1}"  # a fresh address per round: the account counts
        for _ in range(5):
            assert attempt(client, "alice", "wrong wrong wrong", token, ip=ip).status_code == 401
        counter = account_counter(rollback_database, "alice")
        assert counter.blocked_until - clock.now() == timedelta(seconds=seconds), round_number
        clock.advance(timedelta(seconds=seconds - 1))
        assert attempt(client, "alice", alice.password, token, ip=ip).status_code == 401
        assert reasons(rollback_database)[-1] == "backoff"
        clock.advance(timedelta(seconds=1))
    # Password failures never lock the account for good (#18) ...
    assert get_user(rollback_database, alice.user_id).locked_at is None
    assert audit_entries(rollback_database, "user.locked") == []
    # ... and fifteen quiet minutes reset the doubling.
    clock.advance(timedelta(minutes=15, seconds=1))
    for _ in range(5):
        attempt(client, "alice", "wrong wrong wrong", token, ip="203.0.113.99")
    counter = account_counter(rollback_database, "alice")
    assert counter.blocked_until - clock.now() == timedelta(seconds=30)
    clock.advance(timedelta(seconds=30))
    assert attempt(client, "alice", alice.password, token, ip="203.0.113.99").status_code == 303
    assert account_counter(rollback_database, "alice") is None  # success clears it


def test_four_failures_do_not_start_a_backoff(app, client, rollback_database, secrets):
    alice = account(app, secrets, username="alice")
    token = csrf_token(client)
    for _ in range(4):
        attempt(client, "alice", "wrong wrong wrong", token)
    assert attempt(client, "alice", alice.password, token).status_code == 303


# 14: spraying ------------------------------------------------------------------------------


def test_spraying_many_usernames_trips_the_address_limit_and_locks_no_account(
    app, client, clock, rollback_database, secrets
):
    real = [account(app, secrets, username=f"spray{number}") for number in range(5)]
    names = [f"spray{number}" for number in range(200)]  # the first five exist
    token = csrf_token(client)
    statuses = []
    for name in names + names[:100]:  # 1-2 attempts on each of 200 usernames
        response = attempt(client, name, "Welkom2026!Welkom", token, ip=ATTACKER)
        statuses.append(response.status_code)
        if response.status_code == 429:
            retry_after = int(response.headers["Retry-After"])
            assert 0 < retry_after <= 900
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    entries = audit_entries(rollback_database, "auth.ip_throttled")
    assert len(entries) == 1 + 280  # the block, then every refused attempt
    assert {(e.actor, e.outcome, e.ip, e.target) for e in entries} == {
        ("anonymous", "denied", ATTACKER, f"ip:{ATTACKER}")
    }
    assert details_of(entries[0]) == {"seconds": 900}
    assert len(reasons(rollback_database)) == 20  # refused attempts are not even tried
    with rollback_database.unit_of_work() as session:
        blocked = session.scalars(
            select(ThrottleCounter.key).where(ThrottleCounter.blocked_until.is_not(None))
        ).all()
    assert blocked == [f"ip:{ATTACKER}"]  # no account is in backoff
    for victim in real:  # and every real user signs in from their own desk
        assert password_step(app, victim.username, victim.password).status_code == 303
    clock.advance(timedelta(minutes=15))
    assert attempt(client, "spray9", "Welkom2026!Welkom", token, ip=ATTACKER).status_code == 401


# 15: X-Forwarded-For -----------------------------------------------------------------------


def test_a_client_supplied_forwarded_for_does_not_rotate_the_address_bucket(
    app, client, rollback_database
):
    token = csrf_token(client)
    for number in range(20):
        spoofed = {"X-Forwarded-For": f"10.0.{number}.1"}
        assert (
            attempt(client, f"nobody{number}", "x" * 12, token, headers=spoofed).status_code == 401
        )
    response = attempt(client, "nobody", "x" * 12, token, headers={"X-Forwarded-For": "10.9.9.9"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == 900
    ips = {entry.ip for entry in audit_entries(rollback_database)}
    assert ips == {LOCAL}  # the TCP peer, never the header


@pytest.fixture
def proxied_app(app, settings, rollback_database, clock):
    """The app behind one trusted reverse proxy (WACHTER_TRUSTED_PROXIES=1)."""
    proxied = create_app(
        dataclasses.replace(settings, trusted_proxies=1), database=rollback_database, clock=clock
    )
    proxied.test_client_class = app.test_client_class
    return proxied


def test_behind_a_trusted_proxy_the_account_counter_holds_across_fifty_addresses(
    proxied_app, clock, rollback_database, secrets
):
    client = proxied_app.test_client()
    alice = account(proxied_app, secrets, username="alice")
    token = csrf_token(client)
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for number in range(50):
        forwarded = {"X-Forwarded-For": f"192.0.2.{number + 1}"}
        response = client.post(
            "/login",
            data={"csrf_token": token, "username": "alice", "password": "wrong wrong wrong"},
            headers=forwarded,
            environ_overrides=proxy,
        )
        assert response.status_code == 401  # no address reaches its limit
    right = client.post(
        "/login",
        data={"csrf_token": token, "username": "alice", "password": alice.password},
        headers={"X-Forwarded-For": "192.0.2.200"},
        environ_overrides=proxy,
    )
    assert right.status_code == 401  # the account is in backoff whatever the address
    entries = audit_entries(rollback_database, "auth.password.failure")
    assert [entry.ip for entry in entries[:3]] == ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    assert entries[-1].ip == "192.0.2.200"
    assert details_of(entries[-1])["reason"] == "backoff"
    assert audit_entries(rollback_database, "auth.ip_throttled") == []


# 16: username variants ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant", ["Alice", " alice ", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "\u3000alice\t"]
)
def test_a_username_variant_signs_in_to_the_same_account(app, client, secrets, variant):
    alice = account(app, secrets, username="alice")
    response = post_form(
        client, "/login", "/login", {"username": variant, "password": alice.password}
    )
    assert response.status_code == 303


def test_username_variants_share_one_failure_counter(app, client, rollback_database, secrets):
    alice = account(app, secrets, username="alice")
    token = csrf_token(client)
    for variant in ("Alice", " alice ", "ALICE", "\uff41\uff4c\uff49\uff43\uff45", "aLiCe"):
        assert attempt(client, variant, "wrong wrong wrong", token).status_code == 401
    assert attempt(client, "alice", alice.password, token).status_code == 401
    assert reasons(rollback_database)[-1] == "backoff"
    with rollback_database.unit_of_work() as session:
        keys = session.scalars(select(ThrottleCounter.key)).all()
    assert sorted(keys) == ["account:alice", f"ip:{LOCAL}"]
    targets = {entry.target for entry in audit_entries(rollback_database, "auth.password.failure")}
    assert targets == {"user:alice"}


# 19-21: password policy, hash DoS, default accounts ------------------------------------------

COMMON = next(
    entry
    for entry in FREQUENCY_LISTS["passwords"]
    if len(entry) >= 16 and entry.isascii() and entry.isalpha()
)
NFC = unicodedata.normalize("NFC", "crème brûlée op zondagmiddag")
NFD = unicodedata.normalize("NFD", NFC)


def change_password(client, current, new):
    return post_form(
        client,
        "/account",
        "/account/password",
        {"current": current, "password": new, "password_again": new},
    )


def password_step(app, username, password):
    return post_form(
        app.test_client(), "/login", "/login", {"username": username, "password": password}
    )


@pytest.mark.parametrize(
    ("new", "login_with"),
    [
        pytest.param("kwartel mand", None, id="12 characters"),
        pytest.param("x7" * 32, None, id="64 characters"),
        pytest.param("olifant " * 125, None, id="1000 characters"),
        pytest.param("q" * 1024, None, id="1024 characters"),
        pytest.param("   drie spaties voor en na   ", None, id="spaces"),
        pytest.param("\U0001f418\U0001f418 paarse olifant \U0001f992", None, id="emoji"),
        pytest.param("alleen kleine letters hier", None, id="no composition rules"),
        pytest.param(NFC, NFD, id="NFC set, NFD typed"),
        pytest.param(NFD, NFC, id="NFD set, NFC typed"),
    ],
)
def test_acceptable_passwords_are_accepted_and_verified_exactly(
    app, client, clock, rollback_database, secrets, new, login_with
):
    me = account(app, secrets, username="piet")
    sign_in(client, me, clock, secrets)
    secrets.add(new)
    response = change_password(client, me.password, new)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    audited(
        rollback_database,
        "user.password_changed",
        actor="piet",
        outcome="success",
        target="user:piet",
    )
    assert password_step(app, "piet", login_with or new).status_code == 303
    assert password_step(app, "piet", me.password).status_code == 401
    if len(new) > 20:  # never truncated: a prefix is a wrong password
        assert password_step(app, "piet", new[:-1]).status_code == 401


@pytest.mark.parametrize(
    "new",
    [
        pytest.param("kort123", id="7 characters"),
        pytest.param("elf tekens!", id="11 characters"),
        pytest.param("q" * 1025, id="1025 characters"),
        pytest.param(COMMON, id="common-password list"),
        pytest.param(COMMON.upper(), id="common-password list, other case"),
        pytest.param("ons secops team 2026", id="context word secops"),
        pytest.param("Wachter is mijn leven", id="context word wachter"),
        pytest.param("ik ben piet en dat blijf ik", id="contains the username"),
    ],
)
def test_unacceptable_passwords_are_refused_and_the_old_one_stays(
    app, client, clock, rollback_database, secrets, new
):
    me = account(app, secrets, username="piet")
    sign_in(client, me, clock, secrets)
    response = change_password(client, me.password, new)
    assert response.status_code == 400
    assert audit_entries(rollback_database, "user.password_changed") == []
    assert password_step(app, "piet", me.password).status_code == 303


def test_a_one_megabyte_password_is_refused_before_hashing(app, client, rollback_database, secrets):
    account(app, secrets, username="alice")
    token = csrf_token(client)
    huge = "p" * 1_000_000
    response = attempt(client, "alice", huge, token)
    assert response.status_code == 401
    audited(
        rollback_database,
        "auth.password.failure",
        actor="anonymous",
        outcome="failure",
        reason="too_long",
    )
    over_the_body_limit = attempt(client, "alice", "p" * (2 * 1024 * 1024), token)
    assert over_the_body_limit.status_code == 413
    assert len(audit_entries(rollback_database, "auth.password.failure")) == 1


DEFAULTS = (("admin", "admin"), ("admin", "password"), ("root", "root"), ("wachter", "wachter"))


def test_there_are_no_default_accounts(client, rollback_database, secrets):
    with rollback_database.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(User)) == 0
        assert not users.has_users(session)
    token = csrf_token(client)
    for username, password in DEFAULTS:
        assert attempt(client, username, password, token).status_code == 401
        secrets.discard(password)  # well-known guesses, not secrets ("auth.password…")
    assert reasons(rollback_database) == ["unknown_user"] * 4
