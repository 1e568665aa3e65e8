"""``wachter.heap``: freed heap goes back to the operating system (glibc).

The soak (tests/reliability/test_soak.py) shows it on a real server; here the mechanisms:
memory a thread freed stays resident until the trim; with the mmap threshold fixed, large
blocks are given back when freed, where glibc's raised threshold had kept them; the
trimmer thread runs the trim on its interval and stops with its block.
"""

from __future__ import annotations

import platform
import re
import subprocess
import sys
import textwrap
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


# In a process of its own: the threshold is process-wide and cannot be made dynamic again.
LARGE_BLOCKS = textwrap.dedent("""
    import sys, threading
    from tests.unit.test_heap import resident_mib
    from wachter import heap
    if sys.argv[1] == "fixed":
        assert heap.fix_the_mmap_threshold()
    big = b"x" * 4_000_000  # an mmapped block freed: glibc raises its threshold to 4 MB
    del big
    before, kept = resident_mib(), []
    def work():  # 100 MB of 500 kB blocks, the last one kept
        blocks = [b"x" * 500_000 for _ in range(200)]
        kept.append(blocks[-1])
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    print(resident_mib() - before)
""")


@glibc_only
@pytest.mark.parametrize(("threshold", "most_kept_mib"), [("dynamic", None), ("fixed", 10)])
def test_large_blocks_freed_are_given_back_once_the_threshold_is_fixed(threshold, most_kept_mib):
    ran = subprocess.run(
        [sys.executable, "-c", LARGE_BLOCKS, threshold],
        capture_output=True, text=True, timeout=60, check=True, cwd=Path(__file__).parents[2],
    )  # fmt: skip
    kept_mib = float(ran.stdout)
    if most_kept_mib is None:
        assert kept_mib > 80  # glibc's own behaviour, which the fix is for
    else:
        assert kept_mib < most_kept_mib


@pytest.fixture
def threshold_fixes(monkeypatch) -> list[bool]:
    """Records ``fix_the_mmap_threshold`` calls instead of changing this test process."""
    calls: list[bool] = []
    monkeypatch.setattr(heap, "fix_the_mmap_threshold", lambda: calls.append(True) or True)
    return calls


def test_the_trimmer_trims_on_its_interval_and_stops_with_its_block(monkeypatch, threshold_fixes):
    calls = threading.Semaphore(0)

    def trim() -> bool:
        calls.release()
        return True

    monkeypatch.setattr(heap, "malloc_trim", lambda: trim)
    with heap.trimming_the_heap(interval=0.01) as trimmer:
        assert trimmer is not None
        assert threshold_fixes == [True]  # the threshold is fixed before the first trim
        for _ in range(3):
            assert calls.acquire(timeout=5), "the trimmer did not trim"
    assert not trimmer.is_alive()  # stopped and joined when the block ended
    rounds = trimmer.rounds
    time.sleep(0.05)
    assert trimmer.rounds == rounds >= 3


def test_without_glibc_nothing_runs(monkeypatch, threshold_fixes):
    monkeypatch.setattr(heap, "malloc_trim", lambda: None)
    before = threading.active_count()
    with heap.trimming_the_heap(interval=0.01) as trimmer:
        assert trimmer is None
        assert threading.active_count() == before


@glibc_only
def test_glibc_has_the_trim():
    assert heap.malloc_trim() is not None
