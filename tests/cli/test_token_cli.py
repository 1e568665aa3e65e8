"""The real ``wachter token add|list|revoke`` against a SQLite database in a temporary data dir."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from access_control.errors import InvalidToken
from access_control.models import ApiToken, AuditEntry
from access_control.tokens import Scope, authenticate
from storage import Database
from tests.support.processes import clean_env, run_wachter

TOKEN = re.compile(r"wch_[A-Za-z0-9_-]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def env(tmp_path):
    environment = clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))
    upgraded = run_wachter("db", "upgrade", cwd=tmp_path, env=environment)
    assert upgraded.returncode == 0, upgraded.stderr
    return environment


@pytest.fixture
def database(tmp_path, env):
    opened = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    yield opened
    opened.dispose()


def wachter(tmp_path, env, *args):
    return run_wachter("token", *args, cwd=tmp_path, env=env)


def add(tmp_path, env, *args):
    result = wachter(tmp_path, env, "add", *args)
    assert result.returncode == 0, result.stderr
    return result


def test_add_prints_a_working_token_once(tmp_path, env, database):
    result = add(tmp_path, env, "--name", "siem", "--scope", "alerts:read,incidents:read")

    assert TOKEN.fullmatch(result.stdout.strip()), result.stdout  # stdout is the token alone
    token_text = result.stdout.strip()
    assert "cannot be shown again" in result.stderr
    assert token_text not in result.stderr
    now = datetime.now(UTC)
    with database.unit_of_work() as session:
        token = authenticate(
            session, presented=token_text, scope=Scope.INCIDENTS_READ, now=now, ip=None
        )
        assert token.name == "siem"
        assert token.scopes == "alerts:read,incidents:read"
        assert token.owner_id is None
        assert timedelta(days=89, hours=23) < token.expires_at - now <= timedelta(days=90)
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "token.created")
        ).one()
        assert entry.actor.startswith("cli:")
        assert entry.target == f"token:{token.id}"


def test_a_repeated_scope_adds_to_the_scopes(tmp_path, env, database):
    add(tmp_path, env, "--name", "n", "--scope", "events:write", "--scope", "alerts:read")
    with database.unit_of_work() as session:
        assert session.scalars(select(ApiToken)).one().scopes == "alerts:read,events:write"


@pytest.mark.parametrize(
    ("expires", "lifetime"), [("7d", timedelta(days=7)), ("12h", timedelta(hours=12))]
)
def test_add_takes_a_lifetime_in_days_or_hours(tmp_path, env, database, expires, lifetime):
    result = add(tmp_path, env, "--name", "n", "--scope", "events:write", "--expires", expires)
    with database.unit_of_work() as session:
        token = session.scalars(select(ApiToken)).one()
        assert token.expires_at - token.created_at == lifetime
    assert TOKEN.fullmatch(result.stdout.strip())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--expires", "91d"), "at most 90 days"),
        (("--expires", "2161h"), "at most 90 days"),
        (("--expires", "0d"), "at most 90 days"),
        (("--expires", "90"), "not a lifetime"),
        (("--expires", "1w"), "not a lifetime"),
        (("--scope", "alerts:write"), "Unknown scope \u201calerts:write\u201d"),
        (("--scope", ","), "at least one scope"),
        (("--name", " "), "1 to 100 characters"),
    ],
)
def test_a_bad_option_fails_with_one_line_and_creates_nothing(
    tmp_path, env, database, args, message
):
    options = {"--name": "n", "--scope": "alerts:read", **dict([args])}
    result = wachter(tmp_path, env, "add", *[part for pair in options.items() for part in pair])
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert TOKEN.search(result.stdout + result.stderr) is None
    with database.unit_of_work() as session:
        assert session.scalars(select(ApiToken)).all() == []


def test_list_shows_tokens_and_never_a_secret(tmp_path, env, database):
    texts = [
        add(tmp_path, env, "--name", name, "--scope", scope).stdout.strip()
        for name, scope in [("siem", "events:write"), ("triage", "incidents:read,alerts:read")]
    ]
    with database.unit_of_work() as session:
        authenticate(session, presented=texts[1], scope=None, now=datetime.now(UTC), ip="192.0.2.5")

    result = wachter(tmp_path, env, "list")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "ID",
        "NAME",
        "PREFIX",
        "SCOPES",
        "CREATED",
        "EXPIRES",
        "LAST",
        "USED",
        "STATE",
    ]
    assert "triage" in lines[1]
    assert "alerts:read,incidents:read" in lines[1]
    assert "siem" in lines[2]
    assert "never" in lines[2]
    assert all(line.rstrip().endswith("active") for line in lines[1:])
    for token_text in texts:
        assert token_text[:16] in result.stdout  # the public id, to recognise a found token
        assert token_text[17:] not in result.stdout + result.stderr


def test_revoke_stops_the_token_and_is_idempotent(tmp_path, env, database):
    token_text = add(tmp_path, env, "--name", "old", "--scope", "alerts:read").stdout.strip()
    with database.unit_of_work() as session:
        token_id = session.scalars(select(ApiToken)).one().id

    first = wachter(tmp_path, env, "revoke", str(token_id))
    again = wachter(tmp_path, env, "revoke", str(token_id))

    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == f"Revoked token {token_id} 'old'."
    assert again.returncode == 0, again.stderr
    assert "already revoked" in again.stdout
    with database.unit_of_work() as session:
        with pytest.raises(InvalidToken):
            authenticate(session, presented=token_text, scope=None, now=datetime.now(UTC), ip=None)
        assert (
            len(
                session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "token.revoked")
                ).all()
            )
            == 1
        )
    listed = wachter(tmp_path, env, "list")
    assert listed.stdout.splitlines()[1].rstrip().endswith("revoked")


def test_revoking_an_unknown_token_fails_with_one_line(tmp_path, env):
    result = wachter(tmp_path, env, "revoke", "4242")
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: There is no API token 4242."


def test_list_without_tokens_says_so(tmp_path, env):
    result = wachter(tmp_path, env, "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "No API tokens."
