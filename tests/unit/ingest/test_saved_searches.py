"""Saved event searches (``ingest.saved_searches``): kept per user, bounded, audited.

Every bad input is refused with a message naming the problem and stores nothing; another
user's search does not exist for you. Runs on SQLite and PostgreSQL (the service's own
queries and the table's constraints).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from access_control import Actor
from access_control.models import AuditEntry
from core import InvalidInput, NotFound
from ingest.errors import InvalidQuery, InvalidTimeRange
from ingest.models import SavedSearch
from ingest.saved_searches import (
    MAX_NAME,
    MAX_PER_USER,
    delete_saved_search,
    list_saved_searches,
    save_search,
)
from tests.factories import make_user

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def alice(db_session) -> Actor:
    user = make_user(db_session, username="alice", role="soc_analyst")
    return Actor(name=user.username, user_id=user.id)


@pytest.fixture
def bob(db_session) -> Actor:
    user = make_user(db_session, username="bob", role="soc_analyst")
    return Actor(name=user.username, user_id=user.id)


def stored(session) -> int:
    return session.scalar(select(func.count()).select_from(SavedSearch))


def audited(session, action: str) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
    return list(session.scalars(query))


def test_a_saved_search_keeps_query_and_range_as_typed_and_is_audited(db_session, alice):
    saved = save_search(
        db_session,
        actor=alice,
        name="  Root   logins ",
        query=" user.name:root ",
        since="now-24h",
        until="",
        now=NOW,
    )
    assert (saved.name, saved.query, saved.since, saved.until) == (
        "Root logins",
        "user.name:root",
        "now-24h",  # stays relative: "the last day" whenever it runs
        None,
    )
    [entry] = audited(db_session, "saved_search.create")
    assert (entry.actor, entry.target) == ("alice", f"saved_search:{saved.id}")
    assert '"query":"user.name:root"' in entry.details


def test_each_user_lists_only_their_own_searches_by_name(db_session, alice, bob):
    for name in ("zeta", "Alpha"):
        save_search(db_session, actor=alice, name=name, query="*", now=NOW)
    save_search(db_session, actor=bob, name="bobs", query="*", now=NOW)
    assert [s.name for s in list_saved_searches(db_session, user_id=alice.user_id)] == [
        "Alpha",
        "zeta",
    ]


@pytest.mark.parametrize(
    ("name", "query", "since", "error", "message"),
    [
        ("x" * (MAX_NAME + 1), "*", "", InvalidInput, "A name is at most 80 characters."),
        ("   ", "*", "", InvalidInput, "Give the search a name."),
        ("evil\u202ename", "*", "", InvalidInput, "A name cannot contain invisible characters."),
        ("empty", "  ", "", InvalidInput, "A saved search needs a query"),
        ("broken", "user.name:(", "", InvalidQuery, "query"),
        ("too long", "a" * 2001, "", InvalidQuery, "longer than 2000"),
        ("bad time", "*", "yesterday", InvalidTimeRange, "is not a time"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_stored(
    db_session, alice, name, query, since, error, message
):
    with pytest.raises(error, match=message):
        save_search(db_session, actor=alice, name=name, query=query, since=since, now=NOW)
    assert stored(db_session) == 0
    assert audited(db_session, "saved_search.create") == []


def test_names_are_unique_per_user_without_regard_to_case(db_session, alice, bob):
    save_search(db_session, actor=alice, name="Failed logins", query="*", now=NOW)
    with pytest.raises(InvalidInput, match="already have a saved search called “failed LOGINS”"):
        save_search(db_session, actor=alice, name="failed LOGINS", query="x", now=NOW)
    save_search(db_session, actor=bob, name="Failed logins", query="*", now=NOW)  # bob's own
    assert stored(db_session) == 2


def test_a_user_keeps_at_most_fifty_searches(db_session, alice):
    db_session.add_all(
        SavedSearch(user_id=alice.user_id, name=f"s{n}", query="*", created_at=NOW)
        for n in range(MAX_PER_USER)
    )
    db_session.flush()
    with pytest.raises(InvalidInput, match="You have 50 saved searches"):
        save_search(db_session, actor=alice, name="one more", query="*", now=NOW)
    assert stored(db_session) == MAX_PER_USER


def test_a_user_deletes_their_own_search_and_it_is_audited(db_session, alice):
    saved = save_search(db_session, actor=alice, name="mine", query="*", now=NOW)
    delete_saved_search(db_session, actor=alice, saved_search_id=saved.id, now=NOW)
    assert stored(db_session) == 0
    [entry] = audited(db_session, "saved_search.delete")
    assert (entry.actor, entry.target) == ("alice", f"saved_search:{saved.id}")


def test_someone_elses_search_does_not_exist_for_you(db_session, alice, bob):
    saved = save_search(db_session, actor=alice, name="mine", query="*", now=NOW)
    for missing in (saved.id, saved.id + 1000):
        with pytest.raises(NotFound, match=r"There is no such saved search\."):
            delete_saved_search(db_session, actor=bob, saved_search_id=missing, now=NOW)
    assert stored(db_session) == 1
    assert audited(db_session, "saved_search.delete") == []


def test_a_name_saved_twice_at_once_is_refused_by_the_table_as_a_duplicate(
    db_session, alice, monkeypatch
):
    save_search(db_session, actor=alice, name="twice", query="*", now=NOW)
    # The second request checked before the first one committed: it saw no such name.
    monkeypatch.setattr("ingest.saved_searches.list_saved_searches", lambda *_a, **_k: [])
    with pytest.raises(InvalidInput, match="already have a saved search called “twice”"):
        save_search(db_session, actor=alice, name="twice", query="x", now=NOW)
    assert stored(db_session) == 1  # the first one kept: only the savepoint was undone
    assert len(audited(db_session, "saved_search.create")) == 1
