"""Keep the C heap from holding on to what threads freed (glibc), for ``serve`` and ``worker``.

Measured under the 30-minute soak (tests/reliability, ADR 0029): Python's objects, SQLite's
heap and the C heap in use stayed flat (~50 MiB in use), while the free memory glibc kept in
its arenas grew from 21 to 210 MiB in five minutes, and the resident size with it.
glibc gives each thread that allocates concurrently an arena of its own (up to eight per
core) and keeps what is freed there. Two settings, both glibc's, undo that:

- the mmap threshold is fixed at its starting 128 KiB (``fix_the_mmap_threshold``): larger
  blocks (such as a batch's serialised text or SQLite's sorter) get pages of their own,
  returned when freed, instead of being carved from an arena whose holes the next one
  cannot use;
- every 30 s ``malloc_trim(0)`` releases the free pages of every arena (``HeapTrimmer``).

Written by hand (ctypes calls), because no maintained Python library offers either. Where
the C library is not glibc (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("wachter")
TRIM_INTERVAL_SECONDS = 30.0
M_MMAP_THRESHOLD = -3  # glibc's malloc.h
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's starting value


def _libc_function(name: str) -> Any | None:
    """``name`` from the C library the interpreter runs on (the process's own symbols, so no
    library search), or None where it has no such function."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def fix_the_mmap_threshold() -> bool:
    """Blocks of 128 KiB and more always get pages of their own; True if set (glibc).

    glibc starts with that threshold but raises it to the size of each such block freed (up
    to 32 MiB); from then on blocks below it come from the arenas and leave holes there.
    ``mallopt(M_MMAP_THRESHOLD)`` sets it and turns the raising off. In the soak the arenas'
    size then stayed flat, where the trim alone had not held it.
    """
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def malloc_trim() -> Callable[[], bool] | None:
    """glibc's ``malloc_trim(0)``, or None where the C library has none."""
    function = _libc_function("malloc_trim")
    if function is None:
        return None
    function.argtypes, function.restype = [ctypes.c_size_t], ctypes.c_int

    def trim() -> bool:
        return bool(function(0))

    return trim


class HeapTrimmer(threading.Thread):
    """Calls ``trim`` every ``interval`` seconds until stopped; logs each call's duration."""

    def __init__(self, trim: Callable[[], bool], *, interval: float = TRIM_INTERVAL_SECONDS):
        super().__init__(name="wachter-heap-trim", daemon=True)
        self.trim, self.interval = trim, interval
        self.halt = threading.Event()
        self.rounds = 0

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            started = time.perf_counter()
            released = self.trim()
            self.rounds += 1
            elapsed_ms = round(1000 * (time.perf_counter() - started), 1)
            log.debug(
                "heap trimmed", extra={"wachter.released": released, "wachter.ms": elapsed_ms}
            )


@contextmanager
def trimming_the_heap(interval: float = TRIM_INTERVAL_SECONDS) -> Iterator[HeapTrimmer | None]:
    """The mmap threshold fixed, and a ``HeapTrimmer`` running for the block (None without
    glibc), stopped after it."""
    fix_the_mmap_threshold()
    trim = malloc_trim()
    if trim is None:
        yield None
        return
    trimmer = HeapTrimmer(trim, interval=interval)
    trimmer.start()
    try:
        yield trimmer
    finally:
        trimmer.halt.set()
        trimmer.join()
