"""API tokens on SQLite and PostgreSQL: format, scopes, every way to be refused, storage, audit."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from access_control import tokens
from access_control.actor import Actor
from access_control.audit import verify_chain
from access_control.errors import InsufficientScope, InvalidToken, TokenNotFound, UserNotFound
from access_control.models import AuditEntry
from access_control.tokens import (
    Scope,
    TokenState,
    authenticate,
    create_token,
    list_tokens,
    parse_scopes,
    revoke_token,
    revoke_tokens_of,
    token_state,
)
from core import Conflict, InvalidInput, NotFound
from tests.factories import make_user

ADMIN = Actor(name="alice", user_id=None, ip="192.0.2.1", request_id="req-1")
TOKEN_FORMAT = re.compile(r"wch_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})")


def issue(session, clock, *scopes, owner_id=None, expires_in=timedelta(days=30), name="siem"):
    return create_token(
        session,
        name=name,
        scopes=set(scopes) or {Scope.ALERTS_READ},
        owner_id=owner_id,
        expires_in=expires_in,
        actor=ADMIN,
        now=clock.now(),
    )


def check(session, clock, presented, scope=None, ip="198.51.100.7"):
    return authenticate(session, presented=presented, scope=scope, now=clock.now(), ip=ip)


def secret_of(token_text):
    return TOKEN_FORMAT.fullmatch(token_text).group(2)


# Scopes -------------------------------------------------------------------------------


def test_scopes_parse_from_comma_separated_text():
    assert parse_scopes("alerts:read") == {Scope.ALERTS_READ}
    assert parse_scopes(" incidents:read , incidents:write,") == {
        Scope.INCIDENTS_READ,
        Scope.INCIDENTS_WRITE,
    }


@pytest.mark.parametrize("text", ["alerts:write", "ALERTS:READ", "alerts:read,admin", "*"])
def test_an_unknown_scope_is_refused_by_name(text):
    with pytest.raises(InvalidInput, match="Unknown scope") as raised:
        parse_scopes(text)
    assert raised.value.field == "scope"
    assert "events:write" in raised.value.message  # the choices are listed


@pytest.mark.parametrize("text", ["", " ", ",,"])
def test_no_scope_at_all_is_refused(text):
    with pytest.raises(InvalidInput, match="at least one scope"):
        parse_scopes(text)


# Creating -----------------------------------------------------------------------------


def test_a_new_token_has_the_documented_format_and_is_stored_as_a_digest(db_session, clock):
    token, token_text = issue(db_session, clock, Scope.INCIDENTS_READ, Scope.ALERTS_READ)
    match = TOKEN_FORMAT.fullmatch(token_text)
    assert match, token_text
    public_id, secret = match.groups()
    assert token.public_id == public_id
    assert len(secret) * 6 >= 256
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.scopes == "alerts:read,incidents:read"  # sorted
    assert token.created_at == clock.now()
    assert token.expires_at == clock.now() + timedelta(days=30)
    _other, other_text = issue(db_session, clock)
    assert other_text != token_text
    assert secret_of(other_text) != secret


@pytest.mark.parametrize(
    "lifetime", [timedelta(days=90, seconds=1), timedelta(days=91), timedelta(0), -timedelta(1)]
)
def test_a_lifetime_outside_0_to_90_days_is_refused(db_session, clock, lifetime):
    with pytest.raises(InvalidInput, match="90 days"):
        issue(db_session, clock, expires_in=lifetime)
    assert list_tokens(db_session) == []


def test_the_longest_lifetime_is_90_days(db_session, clock):
    token, _text = issue(db_session, clock, expires_in=timedelta(days=90))
    assert token.expires_at == clock.now() + timedelta(days=90)


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, "line\nbreak", "bell\x07"])
def test_a_bad_name_is_refused(db_session, clock, name):
    with pytest.raises(InvalidInput) as raised:
        issue(db_session, clock, name=name)
    assert raised.value.field == "name"


def test_scopes_must_be_given_and_known(db_session, clock):
    with pytest.raises(InvalidInput):
        create_token(
            db_session,
            name="x",
            scopes=set(),
            owner_id=None,
            expires_in=timedelta(1),
            actor=ADMIN,
            now=clock.now(),
        )
    with pytest.raises(InvalidInput):
        create_token(
            db_session,
            name="x",
            scopes={"alerts:write"},
            owner_id=None,
            expires_in=timedelta(1),
            actor=ADMIN,
            now=clock.now(),
        )


def test_an_owner_must_exist_and_be_active(db_session, clock):
    with pytest.raises(UserNotFound):
        issue(db_session, clock, owner_id=999_999)
    disabled = make_user(db_session, is_active=False)
    with pytest.raises(Conflict):
        issue(db_session, clock, owner_id=disabled.id)


# Authenticating -----------------------------------------------------------------------


def test_a_token_works_for_its_scopes_and_for_any_scope(db_session, clock):
    _token, token_text = issue(db_session, clock, Scope.ALERTS_READ, Scope.INCIDENTS_READ)
    assert check(db_session, clock, token_text, Scope.ALERTS_READ).name == "siem"
    assert check(db_session, clock, token_text, Scope.INCIDENTS_READ).name == "siem"
    assert check(db_session, clock, token_text, None).name == "siem"


@pytest.mark.parametrize("missing", [Scope.EVENTS_WRITE, Scope.INCIDENTS_WRITE])
def test_a_token_without_the_scope_is_refused_with_insufficient_scope(db_session, clock, missing):
    _token, token_text = issue(db_session, clock, Scope.ALERTS_READ, Scope.INCIDENTS_READ)
    with pytest.raises(InsufficientScope, match=str(missing)):
        check(db_session, clock, token_text, missing)


def test_each_scope_grants_only_itself(db_session, clock):
    for granted in Scope:
        _token, token_text = issue(db_session, clock, granted, name=f"only-{granted}")
        for wanted in Scope:
            if wanted == granted:
                assert check(db_session, clock, token_text, wanted).name == f"only-{granted}"
            else:
                with pytest.raises(InsufficientScope):
                    check(db_session, clock, token_text, wanted)


def test_a_wrong_secret_is_refused(db_session, clock):
    _token, token_text = issue(db_session, clock)
    last = token_text[-1]
    wrong = token_text[:-1] + ("A" if last != "A" else "B")
    with pytest.raises(InvalidToken):
        check(db_session, clock, wrong)
    other_secret = token_text[:17] + secret_of(issue(db_session, clock)[1])
    with pytest.raises(InvalidToken):
        check(db_session, clock, other_secret)


def test_an_unknown_public_id_is_refused(db_session, clock):
    _token, token_text = issue(db_session, clock)
    unknown = "wch_" + "Z" * 12 + token_text[16:]  # the right secret under another id
    with pytest.raises(InvalidToken):
        check(db_session, clock, unknown)


MALFORMED = {
    "empty": lambda t: "",
    "prefix only": lambda t: "wch_",
    "10 kB": lambda t: "wch_" + "a" * 10_240,
    "10 kB after a valid token": lambda t: t + "a" * 10_240,
    "non-ASCII in the secret": lambda t: t[:-1] + "é",
    "fullwidth digit": lambda t: t[:-1] + "\uff11",
    "trailing newline": lambda t: t + "\n",
    "leading space": lambda t: " " + t,
    "upper-case prefix": lambda t: "WCH_" + t[4:],
    "no prefix": lambda t: t[4:],
    "truncated": lambda t: t[:-1],
    "one character longer": lambda t: t + "A",
    "NUL byte": lambda t: t[:20] + "\x00" + t[21:],
    "the secret alone": lambda t: t[17:],
    "bearer scheme included": lambda t: "Bearer " + t,
}


@pytest.mark.parametrize("mangle", MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_token_is_refused_with_the_same_error(db_session, clock, mangle):
    _token, token_text = issue(db_session, clock)
    with pytest.raises(InvalidToken) as raised:
        check(db_session, clock, mangle(token_text))
    assert raised.value.message == "The API token is not valid."


def test_the_secret_is_compared_in_constant_time_even_for_an_unknown_id(
    db_session, clock, monkeypatch
):
    """Timing must not tell an unknown id from a wrong secret: both compare digests."""
    comparisons = []
    real_compare = hmac.compare_digest

    def spy(a, b):
        comparisons.append((a, b))
        return real_compare(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", spy)
    token, token_text = issue(db_session, clock)
    check(db_session, clock, token_text)
    with pytest.raises(InvalidToken):
        check(db_session, clock, "wch_" + "Z" * 12 + token_text[16:])
    with pytest.raises(InvalidToken):
        check(db_session, clock, token_text[:-1] + ("A" if token_text[-1] != "A" else "B"))
    assert len(comparisons) == 3
    assert all(len(a) == len(b) == 64 for a, b in comparisons)
    assert comparisons[0][1] == token.secret_hash
    assert comparisons[1][1] != token.secret_hash  # a dummy digest, not skipped


def test_a_token_expires_at_its_expiry_time(db_session, clock):
    _token, token_text = issue(db_session, clock, expires_in=timedelta(hours=1))
    clock.advance(timedelta(minutes=59, seconds=59))
    check(db_session, clock, token_text)
    clock.advance(timedelta(seconds=1))
    with pytest.raises(InvalidToken):
        check(db_session, clock, token_text)


def test_revoking_takes_effect_at_once(db_session, clock):
    token, token_text = issue(db_session, clock)
    check(db_session, clock, token_text)
    revoked = revoke_token(db_session, token_id=token.id, actor=ADMIN, now=clock.now())
    assert revoked.revoked_at == clock.now()
    with pytest.raises(InvalidToken):
        check(db_session, clock, token_text)
    assert token_state(revoked, now=clock.now()) is TokenState.REVOKED


def test_revoking_twice_changes_nothing_and_is_audited_once(db_session, clock):
    token, _text = issue(db_session, clock)
    revoke_token(db_session, token_id=token.id, actor=ADMIN, now=clock.now())
    first_revocation = token.revoked_at
    clock.advance(timedelta(hours=1))
    revoke_token(db_session, token_id=token.id, actor=ADMIN, now=clock.now())
    assert token.revoked_at == first_revocation
    assert len(_audit(db_session, "token.revoked")) == 1


def test_revoking_an_unknown_token_is_not_found(db_session, clock):
    with pytest.raises(TokenNotFound) as raised:
        revoke_token(db_session, token_id=424242, actor=ADMIN, now=clock.now())
    assert isinstance(raised.value, NotFound)


def test_a_disabled_owner_makes_the_token_invalid(db_session, clock):
    owner = make_user(db_session)
    _token, token_text = issue(db_session, clock, owner_id=owner.id)
    check(db_session, clock, token_text)
    owner.is_active = False
    db_session.flush()
    with pytest.raises(InvalidToken):
        check(db_session, clock, token_text)


def test_revoke_tokens_of_ends_every_live_token_of_one_user(db_session, clock):
    owner, bystander = make_user(db_session), make_user(db_session)
    first, first_text = issue(db_session, clock, owner_id=owner.id, name="first")
    second, second_text = issue(db_session, clock, owner_id=owner.id, name="second")
    expired, _ = issue(db_session, clock, owner_id=owner.id, expires_in=timedelta(hours=1))
    theirs, theirs_text = issue(db_session, clock, owner_id=bystander.id, name="theirs")
    machine, machine_text = issue(db_session, clock, name="machine")
    clock.advance(timedelta(hours=2))

    revoked = revoke_tokens_of(
        db_session, user_id=owner.id, actor=ADMIN, now=clock.now(), reason="user disabled"
    )

    assert revoked == 2
    for token_text in (first_text, second_text):
        with pytest.raises(InvalidToken):
            check(db_session, clock, token_text)
    assert check(db_session, clock, theirs_text).id == theirs.id
    assert check(db_session, clock, machine_text).id == machine.id
    assert expired.revoked_at is None
    entries = _audit(db_session, "token.revoked")
    assert [entry.target for entry in entries] == [f"token:{first.id}", f"token:{second.id}"]
    assert all('"reason":"user disabled"' in entry.details for entry in entries)


def test_a_use_is_recorded_and_a_refusal_is_not(db_session, clock):
    token, token_text = issue(db_session, clock, Scope.ALERTS_READ)
    assert token.last_used_at is None
    clock.advance(timedelta(minutes=5))
    check(db_session, clock, token_text, ip="203.0.113.9")
    assert (token.last_used_at, token.last_used_ip) == (clock.now(), "203.0.113.9")
    used_at = clock.now()
    clock.advance(timedelta(minutes=5))
    with pytest.raises(InsufficientScope):
        check(db_session, clock, token_text, Scope.EVENTS_WRITE, ip="203.0.113.10")
    with pytest.raises(InvalidToken):
        check(db_session, clock, token_text[:-1], ip="203.0.113.11")
    db_session.expire_all()
    stored = db_session.execute(
        text("SELECT last_used_at, last_used_ip FROM api_token WHERE id = :id"), {"id": token.id}
    ).one()
    assert stored.last_used_ip == "203.0.113.9"
    assert token.last_used_at == used_at


def test_use_is_recorded_to_the_minute_or_when_the_address_changes(db_session, clock):
    token, token_text = issue(db_session, clock, Scope.EVENTS_WRITE)
    check(db_session, clock, token_text, ip="203.0.113.9")
    first_use = clock.now()
    clock.advance(timedelta(seconds=59))
    check(db_session, clock, token_text, ip="203.0.113.9")
    assert token.last_used_at == first_use  # a shipper's many calls are not many writes
    check(db_session, clock, token_text, ip="203.0.113.10")
    assert (token.last_used_at, token.last_used_ip) == (clock.now(), "203.0.113.10")
    clock.advance(timedelta(minutes=1))
    check(db_session, clock, token_text, ip="203.0.113.10")
    assert token.last_used_at == clock.now()


def test_a_use_from_another_address_than_the_last_is_audited_from_the_new_address(
    db_session, clock
):
    token, token_text = issue(db_session, clock, Scope.EVENTS_WRITE)
    check(db_session, clock, token_text, ip="203.0.113.9")  # the first use: nothing to compare
    check(db_session, clock, token_text, ip="203.0.113.9")
    clock.advance(timedelta(minutes=2))
    check(db_session, clock, token_text, ip="203.0.113.9")
    assert _audit(db_session, "auth.token.new_source") == []

    clock.advance(timedelta(seconds=10))
    check(db_session, clock, token_text, ip="198.51.100.23")
    check(db_session, clock, token_text, ip=None)  # no address: nothing to compare either

    [entry] = _audit(db_session, "auth.token.new_source")
    assert (entry.target, entry.ip, entry.actor) == (
        f"token:{token.id}",
        "198.51.100.23",
        "token:siem",
    )
    assert entry.occurred_at.replace(tzinfo=None) == clock.now().replace(tzinfo=None)
    assert entry.details == f'{{"previous_ip":"203.0.113.9","token_id":{token.id}}}'
    assert verify_chain(db_session).is_intact


def test_list_shows_every_token_newest_first_with_its_state(db_session, clock):
    issue(db_session, clock, name="active")
    issue(db_session, clock, name="expired", expires_in=timedelta(hours=1))
    revoked, _ = issue(db_session, clock, name="revoked")
    revoke_token(db_session, token_id=revoked.id, actor=ADMIN, now=clock.now())
    clock.advance(timedelta(hours=1))
    listed = list_tokens(db_session)
    assert [token.name for token in listed] == ["revoked", "expired", "active"]
    assert [token_state(token, now=clock.now()) for token in listed] == [
        TokenState.REVOKED,
        TokenState.EXPIRED,
        TokenState.ACTIVE,
    ]


# What the database and the audit trail hold ---------------------------------------------


def test_a_database_dump_holds_no_token_and_no_secret(db_session, clock):
    texts = [issue(db_session, clock, scope)[1] for scope in Scope]
    for token_text in texts:
        check(db_session, clock, token_text)
    rows = db_session.execute(text("SELECT * FROM api_token")).mappings().all()
    assert len(rows) == len(texts)
    dump = "\n".join(str(value) for row in rows for value in row.values())
    for token_text in texts:
        assert token_text not in dump
        assert secret_of(token_text) not in dump
        assert hashlib.sha256(secret_of(token_text).encode()).hexdigest() in dump


def test_creating_and_revoking_are_audited_without_the_token(db_session, clock):
    token, token_text = issue(db_session, clock, Scope.EVENTS_WRITE)
    check(db_session, clock, token_text)
    revoke_token(db_session, token_id=token.id, actor=ADMIN, now=clock.now())

    created, revoked = _audit(db_session, "token.created"), _audit(db_session, "token.revoked")
    assert len(created) == len(revoked) == 1
    for entry in (*created, *revoked):
        assert (entry.actor, entry.ip, entry.request_id) == ("alice", "192.0.2.1", "req-1")
        assert entry.target == f"token:{token.id}"
        assert entry.outcome == "success"
        assert entry.occurred_at == clock.now()
    assert '"name":"siem"' in created[0].details
    assert '"scopes":"events:write"' in created[0].details
    assert token.expires_at.isoformat() in created[0].details
    rows = db_session.execute(text("SELECT * FROM audit_entry")).mappings().all()
    dump = "\n".join(str(value) for row in rows for value in row.values())
    assert token_text not in dump
    assert secret_of(token_text) not in dump
    assert token.secret_hash not in dump
    assert verify_chain(db_session).is_intact


def _audit(session, action):
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
    )
