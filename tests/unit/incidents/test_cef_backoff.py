"""The CEF sender's wait after failures: 5 s, 30 s, 2 min, then every 5 min; reset by a
success. No network and no database: the sender is only asked whether to try."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidents.feeds.cef_sender import Backoff, send_cef

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def test_the_waits_grow_to_five_minutes_and_stay_there():
    backoff = Backoff()
    delays = [backoff.failed(NOW).total_seconds() for _ in range(6)]
    assert delays == [5, 30, 120, 300, 300, 300]


def test_a_run_inside_the_wait_is_skipped_and_one_after_it_is_not():
    backoff = Backoff()
    backoff.failed(NOW)
    assert backoff.is_waiting(NOW + timedelta(seconds=4))
    assert not backoff.is_waiting(NOW + timedelta(seconds=5))


def test_a_success_starts_the_waits_over():
    backoff = Backoff()
    backoff.failed(NOW)
    backoff.failed(NOW)
    backoff.succeeded()
    assert not backoff.is_waiting(NOW)
    assert backoff.failed(NOW) == timedelta(seconds=5)


class UntouchableSession:
    """A session that fails the test if the sender uses it."""

    def __getattr__(self, name):
        raise AssertionError(f"the sender used the session ({name}) while backing off")


def test_while_waiting_the_sender_neither_reads_nor_connects():
    backoff = Backoff()
    backoff.failed(NOW)
    sent = send_cef(
        UntouchableSession(),
        now=NOW + timedelta(seconds=1),
        target=("127.0.0.1", 9),
        tls=False,
        ca_file=None,
        backoff=backoff,
    )
    assert sent is False
