"""The audit trail on SQLite and PostgreSQL: the chain, its guards, tampering and listing.

Tampering tests play an attacker with DDL rights: they switch the append-only triggers off
and change rows directly, and ``verify_chain`` must name the first entry that no longer holds.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from access_control.actor import Actor
from access_control.audit import (
    GENESIS_HASH,
    entry_digest,
    list_entries,
    record,
    record_read,
    verify_chain,
)
from access_control.models import AuditChainHead, AuditEntry

NOW = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
ALICE = Actor(
    name="alice", user_id=7, ip="192.0.2.10", user_agent="Firefox/140", request_id="req-alice"
)
BOB = Actor(name="bob", ip="2001:db8::2")
TABLE = AuditEntry.__table__
# Every column the entry hash covers, except the id.
CONTENT = (
    "occurred_at",
    "actor",
    "action",
    "target",
    "outcome",
    "ip",
    "user_agent",
    "request_id",
    "details",
)
# SQLite has no TRUNCATE, and its unit of work holds the write lock for the whole walk.
ONLY_POSTGRESQL = pytest.mark.parametrize(
    "empty_database", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True
)


def write_entries(database, count, *, actor=ALICE, first_second=0):
    with database.unit_of_work() as session:
        return [
            record(
                session,
                actor=actor,
                action="auth.login",
                target=f"user:{number}",
                outcome="success",
                now=NOW + timedelta(seconds=first_second + number),
                details={"attempt": number, "method": "password"},
            )
            for number in range(count)
        ]


def verify(database):
    with database.unit_of_work() as session:
        return verify_chain(session)


def stored_rows(database):
    with database.engine.connect() as connection:
        return [row._asdict() for row in connection.execute(select(TABLE).order_by(TABLE.c.id))]


def chain_head(database):
    with database.unit_of_work() as session:
        head = session.get(AuditChainHead, 1)
        return head.last_entry_id, head.last_hash


def tamper(database, *statements):
    """An attacker who may change the schema: guards off, then rows changed, in one commit."""
    with database.engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("DROP TRIGGER audit_entry_append_only_update")
            connection.exec_driver_sql("DROP TRIGGER audit_entry_append_only_delete")
            connection.exec_driver_sql("DROP TRIGGER audit_entry_positive_id")
        else:
            connection.exec_driver_sql("ALTER TABLE audit_entry DISABLE TRIGGER USER")
            connection.exec_driver_sql(
                "ALTER TABLE audit_entry DROP CONSTRAINT ck_audit_entry_positive_id"
            )
        for statement in statements:
            connection.execute(statement)


def insert_forged(database, *, entry_id, previous_hash, **fields):
    """A plain INSERT, as the application's own database role may do: no DDL rights needed."""
    forged = AuditEntry(
        id=entry_id,
        occurred_at=NOW,
        actor="mallory",
        action="auth.login",
        target="user:mallory",
        outcome="success",
        ip=None,
        user_agent=None,
        request_id=None,
        details="{}",
        previous_hash=previous_hash,
    )
    for name, value in fields.items():
        setattr(forged, name, value)
    forged.entry_hash = entry_digest(forged)
    with database.engine.begin() as connection:
        connection.execute(
            insert(TABLE).values(
                {column.name: getattr(forged, column.name) for column in TABLE.columns}
            )
        )


def change(entry_id, **values):
    return update(TABLE).where(TABLE.c.id == entry_id).values(**values)


def remove(*entry_ids):
    return delete(TABLE).where(TABLE.c.id.in_(entry_ids))


# The chain -------------------------------------------------------------------------------


def test_entries_get_gapless_ids_and_a_chain_that_verifies(migrated_database):
    write_entries(migrated_database, 2)
    write_entries(migrated_database, 1, actor=BOB, first_second=10)
    written = write_entries(migrated_database, 2, first_second=20)

    rows = stored_rows(migrated_database)
    assert [row["id"] for row in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["previous_hash"] == GENESIS_HASH
    assert [row["previous_hash"] for row in rows[1:]] == [row["entry_hash"] for row in rows[:-1]]
    report = verify(migrated_database)
    assert report.is_intact
    assert (report.checked, report.broken_at, report.problem) == (5, None, None)
    assert report.head_hash == rows[-1]["entry_hash"] == written[-1].entry_hash
    assert chain_head(migrated_database) == (5, report.head_hash)


def test_an_entry_stores_every_field_and_its_hash_survives_the_round_trip(migrated_database):
    amsterdam = timezone(timedelta(hours=2))
    with migrated_database.unit_of_work() as session:
        written = record(
            session,
            actor=ALICE,
            action="user.role_changed",
            target="user:bob",
            outcome="denied",
            now=NOW.astimezone(amsterdam),
            details={"from": "staff", "to": "admin", "step_up": False, "count": 2, "note": None},
        )
    with migrated_database.unit_of_work() as session:
        entry = session.get(AuditEntry, written.id)
        assert entry.occurred_at == NOW
        assert entry.occurred_at.utcoffset() == timedelta(0)
        assert (entry.actor, entry.action, entry.target, entry.outcome) == (
            "alice",
            "user.role_changed",
            "user:bob",
            "denied",
        )
        assert (entry.ip, entry.user_agent, entry.request_id) == (
            "192.0.2.10",
            "Firefox/140",
            "req-alice",
        )
        assert (
            entry.details == '{"count":2,"from":"staff","note":null,"step_up":false,"to":"admin"}'
        )
        assert entry_digest(entry) == entry.entry_hash == written.entry_hash
    assert verify(migrated_database).is_intact


def test_a_naive_time_is_refused_rather_than_read_as_local_time(db_session):
    with pytest.raises(ValueError, match="aware"):
        record(
            db_session,
            actor=ALICE,
            action="auth.login",
            target="user:alice",
            outcome="success",
            now=datetime(2026, 3, 1, 9, 30),  # naive: the point of the test
        )
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_an_empty_trail_verifies_with_the_genesis_hash(migrated_database):
    report = verify(migrated_database)
    assert report.is_intact
    assert (report.checked, report.head_hash) == (0, GENESIS_HASH)


def test_verify_walks_a_chain_longer_than_one_batch(migrated_database):
    write_entries(migrated_database, 7)
    with migrated_database.unit_of_work() as session:
        assert verify_chain(session, batch_size=3).checked == 7
    tamper(migrated_database, change(7, outcome="failure"))
    with migrated_database.unit_of_work() as session:
        assert verify_chain(session, batch_size=3).broken_at == 7


# The guards ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_entry SET actor = 'mallory' WHERE id = 2",
        "UPDATE audit_entry SET outcome = 'success'",
        "DELETE FROM audit_entry WHERE id = 2",
        "DELETE FROM audit_entry",
    ],
)
def test_the_database_refuses_to_change_or_delete_entries(migrated_database, statement):
    write_entries(migrated_database, 3)
    before = stored_rows(migrated_database)

    with pytest.raises(DBAPIError, match="append-only"), migrated_database.engine.begin() as c:
        c.execute(text(statement))

    assert stored_rows(migrated_database) == before
    assert verify(migrated_database).is_intact


def test_the_orm_cannot_delete_an_entry_either(migrated_database):
    write_entries(migrated_database, 2)
    with (
        pytest.raises(DBAPIError, match="append-only"),
        migrated_database.unit_of_work() as session,
    ):
        session.delete(session.get(AuditEntry, 1))  # refused when the commit flushes it
    assert len(stored_rows(migrated_database)) == 2


@ONLY_POSTGRESQL
def test_postgresql_refuses_to_truncate_the_trail(migrated_database):
    write_entries(migrated_database, 2)
    with pytest.raises(DBAPIError), migrated_database.engine.begin() as connection:
        connection.exec_driver_sql("TRUNCATE audit_entry")
    assert len(stored_rows(migrated_database)) == 2


def test_an_emptied_trail_is_detected_through_the_chain_head(migrated_database):
    write_entries(migrated_database, 3)
    if migrated_database.dialect == "postgresql":
        tamper(migrated_database, text("TRUNCATE audit_entry"))
    else:
        tamper(migrated_database, delete(TABLE))
    report = verify(migrated_database)
    assert (report.broken_at, report.checked) == (1, 0)
    assert "removed" in report.problem


# Tampering -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("actor", "mallory"),
        ("action", "auth.logout"),
        ("target", "user:someone-else"),
        ("outcome", "failure"),
        ("ip", "198.51.100.66"),
        ("ip", None),
        ("details", '{"attempt":99,"method":"password"}'),
        ("details", '{"attempt": 2, "method": "password"}'),  # same meaning, other bytes
        ("occurred_at", NOW - timedelta(days=1)),
        ("occurred_at", NOW + timedelta(seconds=2, microseconds=1)),
        ("user_agent", "curl/8"),
        ("request_id", "req-other"),
        ("entry_hash", "f" * 64),
    ],
)
def test_changing_any_field_of_an_entry_breaks_the_chain_at_that_entry(
    migrated_database, field, value
):
    write_entries(migrated_database, 5)
    tamper(migrated_database, change(3, **{field: value}))
    report = verify(migrated_database)
    assert (report.broken_at, report.checked) == (3, 2)
    assert report.problem == "its content was changed after it was written"
    assert not report.is_intact


def test_changing_the_link_of_an_entry_breaks_the_chain_at_that_entry(migrated_database):
    rows = write_entries(migrated_database, 5)
    tamper(migrated_database, change(3, previous_hash=rows[0].entry_hash))
    report = verify(migrated_database)
    assert (report.broken_at, report.problem) == (
        3,
        "its link to the previous entry does not match",
    )


def test_the_first_entry_must_link_to_genesis(migrated_database):
    write_entries(migrated_database, 2)
    with migrated_database.unit_of_work() as session:
        first = session.get(AuditEntry, 1)
        session.expunge(first)
    first.previous_hash = "1" * 64
    tamper(migrated_database, change(1, previous_hash="1" * 64, entry_hash=entry_digest(first)))
    assert verify(migrated_database).broken_at == 1


@pytest.mark.parametrize("removed", [1, 3, 4])
def test_deleting_an_entry_from_the_middle_is_reported_as_missing(migrated_database, removed):
    write_entries(migrated_database, 5)
    tamper(migrated_database, remove(removed))
    report = verify(migrated_database)
    assert (report.broken_at, report.checked) == (removed, removed - 1)
    assert report.problem == f"entry {removed} is missing"


def test_renumbering_an_entry_is_reported_as_missing(migrated_database):
    write_entries(migrated_database, 5)
    tamper(migrated_database, change(3, id=33))
    report = verify(migrated_database)
    assert (report.broken_at, report.checked, report.problem) == (3, 2, "entry 3 is missing")


@pytest.mark.parametrize("kept", [0, 3, 4])
def test_deleting_the_last_entries_is_detected_through_the_chain_head(migrated_database, kept):
    write_entries(migrated_database, 5)
    tamper(migrated_database, remove(*range(kept + 1, 6)))
    report = verify(migrated_database)
    assert not report.is_intact
    assert (report.broken_at, report.checked) == (kept + 1, kept)
    assert "removed" in report.problem


def test_an_entry_rehashed_to_hide_a_change_breaks_the_link_of_the_next(migrated_database):
    write_entries(migrated_database, 5)
    with migrated_database.unit_of_work() as session:
        forged = session.get(AuditEntry, 3)
        session.expunge(forged)
    forged.actor, forged.outcome = "mallory", "failure"
    forged.entry_hash = entry_digest(forged)
    tamper(
        migrated_database,
        change(3, actor="mallory", outcome="failure", entry_hash=forged.entry_hash),
    )

    report = verify(migrated_database)
    assert (report.broken_at, report.checked) == (4, 3)
    assert report.problem == "its link to the previous entry does not match"


def test_a_consistent_rewrite_of_the_tail_shows_only_against_an_anchored_head(migrated_database):
    write_entries(migrated_database, 5)
    anchored = verify(migrated_database).head_hash  # e.g. printed daily to a write-once log
    with migrated_database.unit_of_work() as session:
        tail = [session.get(AuditEntry, number) for number in (4, 5)]
        session.expunge_all()
    previous_hash, statements = stored_rows(migrated_database)[2]["entry_hash"], []
    for entry in tail:
        entry.actor, entry.previous_hash = "mallory", previous_hash
        entry.entry_hash = previous_hash = entry_digest(entry)
        statements.append(
            change(
                entry.id,
                actor="mallory",
                previous_hash=entry.previous_hash,
                entry_hash=entry.entry_hash,
            )
        )
    statements.append(update(AuditChainHead).values(last_hash=previous_hash))
    tamper(migrated_database, *statements)

    report = verify(migrated_database)
    assert report.is_intact  # a rewrite of entries and head is consistent ...
    assert report.head_hash != anchored  # ... but no longer ends in the anchored hash


@pytest.mark.parametrize("columns", [CONTENT, (*CONTENT, "previous_hash", "entry_hash")])
def test_swapping_the_content_of_two_entries_is_detected(migrated_database, columns):
    write_entries(migrated_database, 5)
    rows = {row["id"]: row for row in stored_rows(migrated_database)}
    tamper(
        migrated_database,
        change(2, **{column: rows[4][column] for column in columns}),
        change(4, **{column: rows[2][column] for column in columns}),
    )
    report = verify(migrated_database)
    assert (report.broken_at, report.checked) == (2, 1)


def test_an_entry_appended_without_moving_the_head_is_detected(migrated_database):
    rows = write_entries(migrated_database, 3)
    insert_forged(migrated_database, entry_id=4, previous_hash=rows[-1].entry_hash)
    assert not verify(migrated_database).is_intact


def test_an_entry_id_below_one_is_refused(migrated_database):
    write_entries(migrated_database, 1)
    with pytest.raises(IntegrityError):
        insert_forged(migrated_database, entry_id=0, previous_hash=GENESIS_HASH)


def test_an_entry_slipped_in_before_the_first_is_detected(migrated_database):
    write_entries(migrated_database, 2)
    tamper(migrated_database)  # the id guard off, as someone with DDL rights could
    insert_forged(
        migrated_database,
        entry_id=0,
        previous_hash=GENESIS_HASH,
        occurred_at=NOW - timedelta(days=30),
        actor="bob",
        action="report.exported",
        target="report:12",
    )
    with migrated_database.unit_of_work() as session:
        assert [entry.id for entry in list_entries(session)] == [2, 1, 0]
    assert not verify(migrated_database).is_intact


# Concurrency and transactions ------------------------------------------------------------


def test_concurrent_writers_extend_one_gapless_chain(migrated_database):
    threads, per_thread = 8, 10
    start, failures = threading.Barrier(threads), []

    def writer(number):
        actor = Actor(name=f"worker{number}")
        try:
            start.wait(timeout=30)
            for sequence in range(per_thread):
                with migrated_database.unit_of_work() as session:
                    record(
                        session,
                        actor=actor,
                        action="job.ran",
                        target=f"job:{number}",
                        outcome="success",
                        now=NOW,
                        details={"sequence": sequence},
                    )
        except Exception as error:  # reported below, with the thread's name
            failures.append((number, repr(error)))

    workers = [threading.Thread(target=writer, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert failures == []

    rows = stored_rows(migrated_database)
    assert [row["id"] for row in rows] == list(range(1, threads * per_thread + 1))
    for number in range(threads):
        own = [row["details"] for row in rows if row["actor"] == f"worker{number}"]
        assert own == [f'{{"sequence":{sequence}}}' for sequence in range(per_thread)]
    report = verify(migrated_database)
    assert (report.is_intact, report.checked) == (True, 80)
    assert chain_head(migrated_database) == (80, report.head_hash)


def test_a_rolled_back_unit_of_work_leaves_no_entry_and_no_head_change(migrated_database):
    write_entries(migrated_database, 2)
    head_before = chain_head(migrated_database)

    flushed = []

    def failing_request():
        with migrated_database.unit_of_work() as session:
            flushed.append(
                record(
                    session,
                    actor=BOB,
                    action="incident.closed",
                    target="incident:9",
                    outcome="success",
                    now=NOW,
                ).id
            )
            raise RuntimeError("request failed")

    with pytest.raises(RuntimeError, match="request failed"):
        failing_request()

    assert flushed == [3]  # it was written, then rolled back
    assert len(stored_rows(migrated_database)) == 2
    assert chain_head(migrated_database) == head_before
    assert verify(migrated_database).is_intact
    (next_entry,) = write_entries(migrated_database, 1, first_second=60)
    assert next_entry.id == 3
    assert next_entry.previous_hash == head_before[1]
    assert verify(migrated_database).checked == 3


def test_verify_in_a_snapshot_ignores_entries_committed_during_the_walk(migrated_database):
    write_entries(migrated_database, 3)
    with migrated_database.snapshot() as session:
        session.get(AuditChainHead, 1)  # the snapshot starts with its first read
        write_entries(migrated_database, 1, actor=BOB, first_second=90)
        report = verify_chain(session)
    assert (report.is_intact, report.checked) == (True, 3)
    assert verify(migrated_database).checked == 4


# What record refuses ---------------------------------------------------------------------


def assert_nothing_written(session, head_before):
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    head = session.get(AuditChainHead, 1)
    assert (head.last_entry_id, head.last_hash) == head_before
    entry = record(
        session, actor=ALICE, action="auth.login", target="user:alice", outcome="success", now=NOW
    )
    assert (entry.id, entry.previous_hash) == (head_before[0] + 1, head_before[1])


@pytest.fixture
def head_before(db_session):
    head = db_session.get(AuditChainHead, 1)
    return head.last_entry_id, head.last_hash


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "new_password",
        "Passphrase",
        "totp_code",
        "otp",
        "api_token",
        "secret",
        "client_secret",
        "recovery",
        "recovery_codes",
        "session_id",
        "cookie",
        "private_key",
    ],
)
def test_credential_like_detail_keys_are_refused_and_nothing_is_written(
    db_session, head_before, key
):
    with pytest.raises(ValueError, match="credential"):
        record(
            db_session,
            actor=ALICE,
            action="auth.login",
            target="user:alice",
            outcome="failure",
            now=NOW,
            details={"reason": "wrong password", key: "hunter2-correct-horse"},
        )
    assert_nothing_written(db_session, head_before)


@pytest.mark.parametrize(
    "value",
    [["a", "b"], {"nested": "x"}, 1.5, b"bytes", NOW, ("a",), {"a"}],
    ids=["list", "dict", "float", "bytes", "datetime", "tuple", "set"],
)
def test_non_scalar_detail_values_are_refused_and_nothing_is_written(
    db_session, head_before, value
):
    with pytest.raises(ValueError, match="must be text"):
        record(
            db_session,
            actor=ALICE,
            action="auth.login",
            target="user:alice",
            outcome="success",
            now=NOW,
            details={"attempt": value},
        )
    assert_nothing_written(db_session, head_before)


@pytest.mark.parametrize(
    "action",
    [
        "",
        "login",
        "Auth.login",
        "auth.Login",
        "auth..login",
        ".auth.login",
        "auth.login.",
        "auth login",
        "auth.log-in",
        "1auth.login",
        "auth.login\n",
        "auth.login\nforged.entry",
        "auth.ünlock",
        "auth." + "x" * 96,
    ],
)
def test_bad_action_names_are_refused_and_nothing_is_written(db_session, head_before, action):
    with pytest.raises(ValueError, match=r"area\.verb"):
        record(
            db_session, actor=ALICE, action=action, target="user:alice", outcome="success", now=NOW
        )
    assert_nothing_written(db_session, head_before)


def test_the_longest_allowed_action_is_accepted(db_session):
    action = "auth." + "x" * 95
    entry = record(
        db_session, actor=ALICE, action=action, target="user:alice", outcome="success", now=NOW
    )
    assert entry.action == action


@pytest.mark.parametrize("outcome", ["", "ok", "SUCCESS", "succeeded", "error", "success "])
def test_unknown_outcomes_are_refused_and_nothing_is_written(db_session, head_before, outcome):
    with pytest.raises(ValueError, match="outcome"):
        record(
            db_session,
            actor=ALICE,
            action="auth.login",
            target="user:alice",
            outcome=outcome,
            now=NOW,
        )
    assert_nothing_written(db_session, head_before)


def test_a_long_target_is_cut_to_the_column_and_still_verifies(migrated_database):
    with migrated_database.unit_of_work() as session:
        entry = record(
            session, actor=ALICE, action="auth.login", target="t" * 500, outcome="success", now=NOW
        )
    assert entry.target == "t" * 200
    assert verify(migrated_database).is_intact


# Reads of sensitive records --------------------------------------------------------------


def test_record_read_writes_a_read_entry_with_target_and_reason(db_session):
    entry = record_read(
        db_session,
        actor=ALICE,
        record_type="aggression_report",
        record_id=42,
        now=NOW,
        reason="aftercare follow-up",
    )
    stored = db_session.get(AuditEntry, entry.id)
    assert (stored.action, stored.target, stored.outcome) == (
        "aggression_report.read",
        "aggression_report:42",
        "success",
    )
    assert stored.details == '{"reason":"aftercare follow-up"}'
    assert (stored.actor, stored.ip, stored.occurred_at) == ("alice", "192.0.2.10", NOW)


def test_record_read_without_a_reason_has_empty_details(db_session):
    entry = record_read(db_session, actor=BOB, record_type="identity", record_id="p-19", now=NOW)
    assert (entry.action, entry.target, entry.details) == ("identity.read", "identity:p-19", "{}")


def test_record_read_refuses_a_record_type_that_is_no_action_area(db_session, head_before):
    with pytest.raises(ValueError, match=r"area\.verb"):
        record_read(db_session, actor=BOB, record_type="Identity Export", record_id=1, now=NOW)
    assert_nothing_written(db_session, head_before)


# Listing ---------------------------------------------------------------------------------

LISTED = [
    # (actor, action, outcome, minutes after NOW)
    ("alice", "auth.login", "success", 0),
    ("bob", "auth.login", "failure", 1),
    ("bob", "auth.mfa_failed", "failure", 2),
    ("alice", "incident.read", "success", 3),
    ("alice2", "auth.logout", "success", 4),
    ("carol", "user_admin.created", "success", 5),
    ("carol", "userxadmin.created", "denied", 6),
    ("carol", "authority.read", "success", 7),
]


@pytest.fixture
def listed(db_session):
    first = None
    for actor, action, outcome, minutes in LISTED:
        entry = record(
            db_session,
            actor=Actor(name=actor),
            action=action,
            target=f"target:{minutes}",
            outcome=outcome,
            now=NOW + timedelta(minutes=minutes),
        )
        first = first or entry.id
    return lambda position: first + position  # the id of LISTED[position]


def listed_positions(entries, ids):
    by_id = {ids(position): position for position in range(len(LISTED))}
    return [by_id[entry.id] for entry in entries]


def test_list_entries_shows_the_newest_first(db_session, listed):
    assert listed_positions(list_entries(db_session), listed) == [7, 6, 5, 4, 3, 2, 1, 0]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"action_prefix": "auth."}, [4, 2, 1, 0]),
        ({"action_prefix": "auth"}, [7, 4, 2, 1, 0]),
        ({"action_prefix": "AUTH."}, [4, 2, 1, 0]),
        ({"action_prefix": "auth.login"}, [1, 0]),
        ({"action_prefix": "user_"}, [5]),  # _ is a literal underscore, not "any character"
        ({"action_prefix": "user_admin."}, [5]),
        ({"action_prefix": "%"}, []),  # % is a literal percent sign, not "anything"
        ({"action_prefix": "auth.%"}, []),
        ({"action_prefix": "%.read"}, []),
        ({"action_prefix": "_uth."}, []),
        ({"action_prefix": "\\"}, []),
        ({"action_prefix": ""}, [7, 6, 5, 4, 3, 2, 1, 0]),
        ({"actor": "alice"}, [3, 0]),
        ({"actor": "ali"}, []),
        ({"actor": "ALICE"}, []),
        ({"outcome": "failure"}, [2, 1]),
        ({"outcome": "denied"}, [6]),
        ({"since": NOW + timedelta(minutes=5)}, [7, 6, 5]),
        ({"since": NOW + timedelta(minutes=4, seconds=59)}, [7, 6, 5]),
        ({"until": NOW + timedelta(minutes=2)}, [1, 0]),
        ({"since": NOW + timedelta(minutes=1), "until": NOW + timedelta(minutes=3)}, [2, 1]),
        ({"since": (NOW + timedelta(minutes=6)).astimezone(timezone(timedelta(hours=-5)))}, [7, 6]),
        ({"action_prefix": "auth.", "actor": "bob", "outcome": "failure"}, [2, 1]),
        ({"action_prefix": "auth.", "since": NOW + timedelta(minutes=2)}, [4, 2]),
    ],
)
def test_list_entries_filters(db_session, listed, filters, expected):
    assert listed_positions(list_entries(db_session, **filters), listed) == expected


def test_list_entries_pages_back_with_before_id(db_session, listed):
    first_page = list_entries(db_session, limit=3)
    assert listed_positions(first_page, listed) == [7, 6, 5]
    second_page = list_entries(db_session, before_id=first_page[-1].id, limit=3)
    assert listed_positions(second_page, listed) == [4, 3, 2]
    last_page = list_entries(db_session, before_id=second_page[-1].id, limit=3)
    assert listed_positions(last_page, listed) == [1, 0]
    assert list_entries(db_session, before_id=listed(0)) == []


@pytest.mark.parametrize(("limit", "expected"), [(0, 1), (-5, 1), (1, 1), (2, 2)])
def test_list_entries_clamps_a_small_limit(db_session, listed, limit, expected):
    assert len(list_entries(db_session, limit=limit)) == expected


def test_list_entries_returns_at_most_500(db_session):
    for number in range(502):
        record(
            db_session,
            actor=BOB,
            action="event.received",
            target=f"event:{number}",
            outcome="success",
            now=NOW,
        )
    assert len(list_entries(db_session, limit=10_000)) == 500
    assert len(list_entries(db_session, limit=501)) == 500
    assert len(list_entries(db_session)) == 50
