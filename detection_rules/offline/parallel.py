"""``wachter detect --jobs N``: the matching of an offline run spread over N worker processes.

The parent reads the rules and compiles them once, as a run in one process does, calls
``gc.freeze()`` and forks the workers (``multiprocessing``'s "fork" start method, so Linux
only: ``can_fork``). The compiled rules, their closures and the matcher's Aho-Corasick
automaton are thereby shared copy-on-write, neither rebuilt nor pickled (closures cannot be
pickled), and the frozen objects are left alone by the workers' garbage collector, which
would otherwise write to every page holding them. Then:

- the parent reads and decompresses the inputs (``read_chunks``): JSON Lines as blocks of
  raw lines (a MiB each), which it does not parse; JSON arrays and .evtx files parsed here, in
  batches of 1,000 events (the evtx library is fast, and a JSON array has no lines to cut
  it by). Records that cannot be read travel in the chunks, where they were found;
- a worker parses a chunk (orjson), runs the matcher over each event and makes the alert
  lines of the single-event rules itself, byte for byte what ``AlertWriter`` writes (the
  events in them are the parsed originals, written as a run in one process writes them).
  It sends back the lines, the records it could not read, how many events there were, the
  time of its last event and, for a match of a rule that a correlation refers to, the event,
  its time and the rule's key, in their place among the lines;
- the parent takes the results in input order, reports the bad records, writes the lines,
  feeds the correlation matches to the one ``CorrelationEngine`` (its own) in input order,
  writes the hits where a run in one process writes them, and closes the windows still open
  at the end.

So output, bad records, summary and exit code are those of ``--jobs 1``. Two chunks per
worker at most are in flight (one being matched, one waiting), so memory does not grow with
the input. A worker that fails ends the run with ``WorkerFailed``, and so does one that dies
(noticed within ``POLL_SECONDS``). Workers ignore Ctrl+C; the parent stops them. A worker
whose parent is gone stops by itself.

What ``DetectionEngine.process`` does for one event is done here in two halves, matching in a
worker and correlating in the parent, with the engine's own ``rule_detection`` and
``correlation_detection``. Rules are silenced by ``generate: false`` only (the
engine's ``silent`` argument is not read here; the offline run passes none).
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import wait
from types import TracebackType
from typing import Any, Final

from core import DomainError
from core.i18n import N_
from detection_rules.correlation import suppressed_rules
from detection_rules.engine import (
    DetectionEngine,
    correlation_detection,
    rule_detection,
)
from detection_rules.fields import event_time
from detection_rules.matcher import CompiledRule, EventView
from detection_rules.offline.inputs import block_events
from detection_rules.offline.records import (
    BadRecord,
    Chunk,
    Event,
    EventBatch,
    LineBlock,
    Report,
)
from detection_rules.offline.run import END_OF_TIME, AlertWriter, alert_line

CHUNKS_PER_WORKER: Final = 2
# How soon a worker that died is noticed, and a parent that died by its workers.
POLL_SECONDS: Final = 0.5
STOP_SECONDS: Final = 10  # for the workers to end after the last chunk
PR_SET_PDEATHSIG: Final = 1  # linux/prctl.h


class WorkerFailed(DomainError):
    """A worker process failed or ended early: the run cannot be completed."""


def usable_cpus() -> int:
    """The CPUs this process may run on (a container or ``taskset`` may allow fewer)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has it
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Whether worker processes can be forked here: Linux only (fork is unsafe on macOS)."""
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


@dataclass(frozen=True, slots=True)
class CorrelationMatch:
    """A match of a rule a correlation refers to; ``time`` None: the time before the chunk."""

    rule_key: str
    event: Mapping[str, Any]
    time: datetime | None


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """What a worker found in one chunk; ``pieces`` are alert lines and correlation matches."""

    events: int
    pieces: list[bytes | CorrelationMatch]
    by_level: dict[str, int]
    bad: list[BadRecord]
    latest: datetime | None  # the time of its last event that had one (with correlations)


@dataclass(frozen=True, slots=True)
class _Failure:
    where: str
    error: str


class ChunkMatcher:
    """What a worker takes from the engine: the matcher, and which rules are silent or
    correlated. Built before the fork, so the workers share it."""

    def __init__(self, engine: DetectionEngine) -> None:
        self.engine = engine
        correlations = engine.rule_set.correlations
        self.silent = suppressed_rules(correlations)
        self.correlated = frozenset(key for rule in correlations for key in rule.rule_keys)
        self.timed = bool(correlations)

    def add_matches(
        self,
        matched: Sequence[CompiledRule],
        view: EventView,
        moment: datetime | None,
        pieces: _Pieces,
    ) -> None:
        """The alert lines and correlation matches of one event's matched rules, in order."""
        versions = self.engine.versions
        for rule in matched:
            if rule.key not in self.silent:
                detection = rule_detection(rule, view, view.event, moment, versions)
                pieces.add_line(alert_line(detection), rule.level)
            if rule.key in self.correlated:
                pieces.add_match(CorrelationMatch(rule.key, view.event, moment))


def match_chunk(matcher: ChunkMatcher, chunk: LineBlock | EventBatch) -> ChunkResult:
    """Every event of ``chunk`` through the matcher (in a worker): lines, matches, bad records."""
    bad: list[BadRecord] = []
    if isinstance(chunk, LineBlock):
        events: Iterator[Event] = block_events(chunk, bad.append)
    else:
        events = _batch_events(chunk, bad.append)
    engine, timed = matcher.engine, matcher.timed
    match_view, derived = engine.matcher.match_view, engine.derived
    pieces = _Pieces()
    count, latest = 0, None
    for event in events:
        count += 1
        if timed:  # as the run in one process: an event without time takes the last one
            latest = event_time(event) or latest
        view = EventView(event, derived)
        matched = match_view(view)
        if matched:
            matcher.add_matches(matched, view, latest, pieces)
    return ChunkResult(count, pieces.done(), pieces.by_level, bad, latest)


def _batch_events(batch: EventBatch, report: Report) -> Iterator[Event]:
    for item in batch.items:
        if isinstance(item, BadRecord):
            report(item)
        else:
            yield item


class _Pieces:
    """Alert lines joined into one bytes between correlation matches, counted by level."""

    def __init__(self) -> None:
        self.pieces: list[bytes | CorrelationMatch] = []
        self.lines: list[bytes] = []
        self.by_level: Counter[str] = Counter()

    def add_line(self, line: bytes, level: str | None) -> None:
        self.lines.append(line)
        self.by_level[level or "none"] += 1

    def add_match(self, match: CorrelationMatch) -> None:
        self._join()
        self.pieces.append(match)

    def done(self) -> list[bytes | CorrelationMatch]:
        self._join()
        return self.pieces

    def _join(self) -> None:
        if self.lines:
            self.pieces.append(b"".join(self.lines))
            self.lines = []


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the parent dies (PR_SET_PDEATHSIG).

    The worker also polls for its parent, but a worker blocked on a queue lock that a
    killed sibling held would never poll again; the kernel's signal reaches it anyway.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: the polling remains


def _serve(tasks: Any, results: Any, matcher: ChunkMatcher) -> None:
    """A worker: chunks from ``tasks`` until None, each result pickled to ``results``."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C reaches the parent, which stops us
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    parent = os.getppid()
    while True:
        try:
            task = tasks.get(timeout=POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent:
                return  # the parent is gone: nobody waits for results
            continue
        if task is None:
            return
        sequence, chunk = task
        try:
            # Pickled here, not in the queue's feeder thread, which would drop what it cannot
            # pickle and leave the parent waiting.
            result = pickle.dumps(match_chunk(matcher, chunk), pickle.HIGHEST_PROTOCOL)
        except Exception as error:  # any failure ends the run, with its reason
            failure = _Failure(_where(chunk), f"{type(error).__name__}: {error}")
            results.put((sequence, pickle.dumps(failure)))
            return
        results.put((sequence, result))


def _where(chunk: LineBlock | EventBatch) -> str:
    if isinstance(chunk, LineBlock):
        return f"{chunk.path} from line {chunk.first_line}"
    return chunk.path


class Workers:
    """``jobs`` worker processes forked from this one with ``engine``; a context manager.

    Start them before any thread is (a progress bar's): fork copies only the calling thread.
    """

    def __init__(self, engine: DetectionEngine, jobs: int) -> None:
        self.engine = engine
        context = multiprocessing.get_context("fork")
        self._tasks = context.Queue()
        self._results = context.Queue()
        arguments = (self._tasks, self._results, ChunkMatcher(engine))
        self._processes = [
            context.Process(target=_serve, args=arguments, name=f"wachter-detect-{n}", daemon=True)
            for n in range(1, jobs + 1)
        ]
        self._window = CHUNKS_PER_WORKER * jobs
        self._unfreeze = False

    def __enter__(self) -> Workers:
        sys.stdout.flush()  # a child flushes the standard streams when it ends
        sys.stderr.flush()
        # Unfrozen at the end only if nothing was frozen before (the command freezes its rules).
        self._unfreeze = gc.get_freeze_count() == 0
        gc.freeze()  # no gc.collect() first: a second spent to free little
        # Blocked until a worker ignores it, so that Ctrl+C during the fork ends no worker.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            for process in self._processes:
                process.start()
        except BaseException:
            self._end()
            raise
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self._stop()
        else:
            self._end()

    def detect(self, chunks: Iterable[Chunk], writer: AlertWriter, *, report: Report) -> int:
        """Every chunk matched by the workers, in input order; returns the events seen."""
        engine = self.engine
        latest: datetime | None = None
        count = 0
        for result in self._in_order(chunks):
            if isinstance(result, BadRecord):
                report(result)
                continue
            for bad in result.bad:
                report(bad)
            for piece in result.pieces:
                if isinstance(piece, bytes):
                    writer.write_lines(piece)
                else:
                    _correlate(engine, piece, piece.time or latest, writer)
            writer.by_level.update(result.by_level)
            latest = result.latest or latest
            count += result.events
        self._check_alive()  # one that died idle lost nothing, but something is wrong
        for detection in engine.advance(END_OF_TIME):
            writer.write(detection)
        return count

    def _in_order(self, chunks: Iterable[Chunk]) -> Iterator[ChunkResult | BadRecord]:
        """The results of ``chunks`` in their order; a bad record read here is its own."""
        done: dict[int, ChunkResult | BadRecord] = {}
        sent = given = 0
        for chunk in chunks:
            if sent - given >= self._window:
                yield self._take(done, given)
                given += 1
            if isinstance(chunk, BadRecord):
                done[sent] = chunk
            else:
                self._tasks.put((sent, chunk))
            sent += 1
        while given < sent:
            yield self._take(done, given)
            given += 1

    def _take(
        self, done: dict[int, ChunkResult | BadRecord], sequence: int
    ) -> ChunkResult | BadRecord:
        while sequence not in done:
            received, result = self._receive()
            done[received] = result
        return done.pop(sequence)

    def _receive(self) -> tuple[int, ChunkResult]:
        while True:
            try:
                sequence, payload = self._results.get(timeout=POLL_SECONDS)
            except queue.Empty:
                self._check_alive()
                continue
            return sequence, _unpickled(payload)

    def _check_alive(self) -> None:
        ended = [process.exitcode for process in self._processes if process.exitcode is not None]
        if not ended:
            return
        # A worker that failed said why before it ended; its word may be behind others'.
        try:
            while True:
                _unpickled(self._results.get(timeout=0.1)[1])
        except queue.Empty:
            pass
        raise _worker_failed(ended[0])

    def _stop(self) -> None:
        """Ask every worker to end; one that died meanwhile fails the run, as during it.

        Waited for together, not one by one: a worker killed while waiting for a chunk dies
        holding the task queue's read lock, so the others never read their end marker and
        would each have been waited for in full (the end of input can come before the
        parent sees that death, seen in CI).
        """
        try:
            for _ in self._processes:
                self._tasks.put(None)
            deadline = time.monotonic() + STOP_SECONDS
            while (running := [p for p in self._processes if p.exitcode is None]) and (
                left := deadline - time.monotonic()
            ) > 0:
                self._raise_if_one_failed()
                wait([process.sentinel for process in running], timeout=min(left, POLL_SECONDS))
            self._raise_if_one_failed()
        finally:
            self._end()

    def _raise_if_one_failed(self) -> None:
        failed = [process.exitcode for process in self._processes if process.exitcode]
        if failed:
            raise _worker_failed(failed[0])

    def _end(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            if process.pid is not None:
                process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        # Chunks no worker will read must not keep this process from exiting.
        self._tasks.cancel_join_thread()
        self._tasks.close()
        self._results.close()
        if self._unfreeze:
            gc.unfreeze()


def _worker_failed(code: int) -> WorkerFailed:
    return WorkerFailed(N_("A worker process ended unexpectedly (exit code %(code)s)."), code=code)


def _unpickled(payload: bytes) -> ChunkResult:
    result = pickle.loads(payload)  # noqa: S301 - made by our own worker
    if isinstance(result, _Failure):
        raise WorkerFailed(
            N_("A worker process failed on %(where)s: %(error)s"),
            where=result.where,
            error=result.error,
        )
    assert isinstance(result, ChunkResult)
    return result


def _correlate(
    engine: DetectionEngine, match: CorrelationMatch, moment: datetime | None, writer: AlertWriter
) -> None:
    """Tell the correlations of one match (in input order) and write what fires."""
    if moment is None:
        return  # no time yet in the input: correlations pass the event over, as in one process
    hits = engine.correlations.observe(
        match.rule_key, match.event, time=moment, event_ref=match.event
    )
    for hit in hits:
        writer.write(correlation_detection(hit, engine.versions))
