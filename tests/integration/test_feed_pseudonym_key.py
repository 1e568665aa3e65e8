"""The feeds' pseudonym key: made once, the same for every session afterwards, and never
kept from a transaction that rolled back (documents would carry pseudonyms of a key that
does not exist)."""

from __future__ import annotations

from datetime import UTC, datetime

from incidents.entities import EntityKind
from incidents.feeds.pseudonyms import pseudonymiser
from storage import migrate

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_a_key_made_in_a_rolled_back_transaction_is_not_kept(empty_database):
    migrate.upgrade(empty_database)
    session = empty_database.sessions()
    try:
        lost = pseudonymiser(session, NOW).pseudonym(EntityKind.ACCOUNT, "mallory")
        session.rollback()
        kept = pseudonymiser(session, NOW).pseudonym(EntityKind.ACCOUNT, "mallory")
        session.commit()
    finally:
        session.close()
    with empty_database.unit_of_work() as other:
        later = pseudonymiser(other, NOW).pseudonym(EntityKind.ACCOUNT, "MALLORY")

    assert lost != kept
    assert later == kept  # the committed key, and one name however it is written


def test_the_key_read_once_serves_the_rest_of_the_session(empty_database):
    migrate.upgrade(empty_database)
    with empty_database.unit_of_work() as session:
        pseudonymiser(session, NOW)
    with empty_database.unit_of_work() as session:
        first = pseudonymiser(session, NOW)
        assert pseudonymiser(session, NOW) is first
