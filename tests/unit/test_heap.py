"""``wachter.heap``: freed heap goes back to the operating system (glibc's ``malloc_trim``).

The soak (tests/reliability/test_soak.py) shows it on a real server; here the mechanism:
memory a thread freed stays resident until the trim, and the trimmer thread runs the trim
on its interval and stops with its block.
"""

from __future__ import annotations

import platform
import re
import threading
import time
from pathlib import Path

import pytest

from wachter import heap

GLIBC = platform.libc_ver()[0] == "glibc"
glibc_only = pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's (Linux)")


def resident_mib() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match is not None
    return int(match.group(1)) / 1024


def free_in_a_thread(kept: list[bytes]) -> None:
    """100 MiB of 100 kB blocks made and freed in a thread of their own (its own arena), the
    last one kept: it pins the heap's top, so free() alone cannot give the memory back."""

    def allocate() -> None:
        blocks = [b"x" * 100_000 for _ in range(1_000)]
        kept.append(blocks[-1])
        del blocks

    thread = threading.Thread(target=allocate)
    thread.start()
    thread.join()


@glibc_only
def test_trim_gives_back_what_threads_freed():
    trim = heap.malloc_trim()
    assert trim is not None
    trim()
    kept: list[bytes] = []
    before = resident_mib()
    free_in_a_thread(kept)
    freed_but_kept = resident_mib()
    trim()
    trimmed = resident_mib()
    assert freed_but_kept - before > 50, (before, freed_but_kept)  # glibc kept it
    assert freed_but_kept - trimmed > 50, (freed_but_kept, trimmed)  # the trim gave it back
    assert len(kept) == 1


def test_the_trimmer_trims_on_its_interval_and_stops_with_its_block(monkeypatch):
    calls = threading.Semaphore(0)

    def trim() -> bool:
        calls.release()
        return True

    monkeypatch.setattr(heap, "malloc_trim", lambda: trim)
    with heap.trimming_the_heap(interval=0.01) as trimmer:
        assert trimmer is not None
        for _ in range(3):
            assert calls.acquire(timeout=5), "the trimmer did not trim"
    assert not trimmer.is_alive()  # stopped and joined when the block ended
    rounds = trimmer.rounds
    time.sleep(0.05)
    assert trimmer.rounds == rounds >= 3


def test_without_glibc_nothing_runs(monkeypatch):
    monkeypatch.setattr(heap, "malloc_trim", lambda: None)
    before = threading.active_count()
    with heap.trimming_the_heap(interval=0.01) as trimmer:
        assert trimmer is None
        assert threading.active_count() == before


@glibc_only
def test_glibc_has_the_trim():
    assert heap.malloc_trim() is not None
