"""The bulk writers give way to the other writers waiting for SQLite's lock, for a while."""

from __future__ import annotations

import threading
import time

from storage.write_turns import WriteTurns


def test_a_bulk_writer_waits_while_another_writer_waits_and_goes_when_it_has_its_turn():
    turns, order = WriteTurns(), []
    other_waits, other_may_go = threading.Event(), threading.Event()

    def other() -> None:
        with turns.waiting():
            other_waits.set()
            other_may_go.wait(5)
        order.append("other")

    def bulk() -> None:
        with turns.bulk(give_way=5):
            order.append("bulk")

    waiting = threading.Thread(target=other)
    waiting.start()
    other_waits.wait(5)
    writer = threading.Thread(target=bulk)
    writer.start()
    time.sleep(0.2)
    assert order == []  # the bulk writer is giving way
    other_may_go.set()
    writer.join(5)
    waiting.join(5)
    assert order == ["other", "bulk"]


def test_a_bulk_writer_gives_way_for_a_bounded_time_only():
    turns = WriteTurns()
    with turns.waiting():  # another writer that never gets on
        started = time.monotonic()
        with turns.bulk(give_way=0.2):
            waited = time.monotonic() - started
    assert 0.15 < waited < 2


def test_a_bulk_writers_own_wait_does_not_count_as_another_writer():
    turns = WriteTurns()
    with turns.bulk(give_way=5), turns.waiting():  # its own BEGIN, inside its turn
        started = time.monotonic()
        with turns.bulk(give_way=5):  # nobody else waits: no pause
            pass
        assert time.monotonic() - started < 0.1
