"""``wachter detect --jobs N`` in process: the workers give what one process gives, byte for byte.

The workers are forked from the test process (Linux only), so chunk sizes made small here are
theirs too: with a few hundred bytes to a block, every boundary case (a correlation window
across chunks, an event without time first in a chunk, a bad record at a chunk's edge) turns
up in a few dozen events. A failure is injected at the worker's one seam, ``match_chunk``.
The real command, reading a named pipe that is kept open, shows what happens to the workers
when it is interrupted, when one of them is killed, and when it is killed itself.
"""

from __future__ import annotations

import gzip
import io
import json
import multiprocessing
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detection_rules.engine import DetectionEngine, RuleSet
from detection_rules.offline import (
    AlertWriter,
    BadRecord,
    WorkerFailed,
    Workers,
    can_fork,
    compile_rules,
    detect,
    inputs,
    parallel,
    read_chunks,
    read_events,
    read_rules,
)
from detection_rules.offline.inputs import block_events
from detection_rules.offline.records import EventBatch, LineBlock
from detection_rules.pipelines import default_pipeline
from tests.cli.test_detect_cli import (
    BURST,
    FAILED_LOGON_RULE,
    OTHER_EVENT,
    QUIET,
    WHOAMI,
    WHOAMI_EVENT,
    failed_logon,
)
from tests.support.processes import WACHTER, clean_env
from tests.unit.ingest.test_evtx_file import FAILED_LOGON, LOGON, event, named, write_evtx

pytestmark = pytest.mark.skipif(not can_fork(), reason="--jobs forks its workers (Linux)")

Run = tuple[bytes, list[str], int, dict[str, int]]


@pytest.fixture(scope="module")
def rule_set(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("rules")
    (folder / "whoami.yml").write_text(WHOAMI)
    (folder / "failed.yml").write_text(FAILED_LOGON_RULE + "---\n" + BURST + "---\n" + QUIET)
    parsed, problems = read_rules([folder])
    rules = compile_rules(parsed, pipeline=default_pipeline(), problems=problems)
    assert not [problem for problem in rules.problems if problem.is_error]
    return rules.rule_set


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "LINE_BLOCK_BYTES", 300)
    monkeypatch.setattr(inputs, "BATCH_EVENTS", 2)
    monkeypatch.setattr(inputs, "MAX_EVENT_BYTES", 300)


def run(rule_set: RuleSet, paths: list[Path], jobs: int) -> Run:
    """Output, bad records, event count and levels of a run, in one process when jobs is 1."""
    engine = DetectionEngine(rule_set)
    output = io.BytesIO()
    writer = AlertWriter(output, rule_set)
    bad: list[BadRecord] = []
    if jobs == 1:
        events = (event for path in paths for event in read_events(path, report=bad.append))
        count = detect(engine, events, writer)
    else:
        chunks = (chunk for path in paths for chunk in read_chunks(path))
        with Workers(engine, jobs) as workers:
            count = workers.detect(chunks, writer, report=bad.append)
    return output.getvalue(), [str(record) for record in bad], count, dict(writer.by_level)


def lines(*items: dict[str, Any] | str) -> str:
    return "".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items)


def mixed_inputs(folder: Path) -> list[Path]:
    """Every input format, bad records of each kind, bursts across chunks, untimed events."""
    plain = folder / "security.jsonl"
    burst = [failed_logon(user, second) for second, user in enumerate(["alice", "bob"] * 6, 1)]
    untimed = [failed_logon("alice", None), failed_logon("carol", None)]
    plain.write_text(
        lines(failed_logon("dave", None), WHOAMI_EVENT, *burst[:5], "not json", "", "[1, 2]")
        + lines(*untimed, OTHER_EVENT, *burst[5:], WHOAMI_EVENT, '{"a": "' + "x" * 400 + '"}')
    )
    cut = folder / "cut.jsonl.gz"
    whole = gzip.compress(lines(*[WHOAMI_EVENT, failed_logon("erin", 30)] * 40).encode())
    cut.write_bytes(whole[:-20])
    array = folder / "array.json"
    array.write_text(json.dumps([WHOAMI_EVENT, "text", failed_logon("bob", 40), OTHER_EVENT]))
    second = event(4625, 14, named(TargetUserName="carol"))
    evtx = write_evtx(folder / "broken.evtx", [FAILED_LOGON, LOGON, second], corrupt=frozenset({2}))
    return [plain, cut, array, evtx]


@pytest.mark.parametrize("jobs", [2, 3])
def test_workers_write_the_bytes_one_process_writes(rule_set, tmp_path, small_chunks, jobs):
    paths = mixed_inputs(tmp_path)

    alone = run(rule_set, paths, 1)
    together = run(rule_set, paths, jobs)

    assert together == alone
    output, bad, _, by_level = alone
    assert b'"correlation"' in output  # the case holds what it claims to
    assert by_level["medium"] > 30  # whoami, from every format
    assert any("not JSON" in record for record in bad)
    assert any("cannot be read beyond this line" in record for record in bad)
    assert any("record 2: unreadable record" in record for record in bad)
    assert any("a JSON string, not an object" in record for record in bad)
    assert any("longer than 300 bytes" in record for record in bad)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    items=st.lists(
        st.one_of(
            st.builds(
                failed_logon,
                st.sampled_from(["alice", "bob"]),
                st.one_of(st.none(), st.integers(0, 59)),
            ),
            st.sampled_from([WHOAMI_EVENT, OTHER_EVENT, "not json", "", "[1]"]),
        ),
        max_size=40,
    ),
    block=st.integers(1, 700),
)
def test_any_events_in_any_chunks_give_what_one_process_gives(rule_set, items, block):
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(inputs, "LINE_BLOCK_BYTES", block)
        path = Path(folder) / "events.jsonl"
        path.write_text(lines(*items))

        assert run(rule_set, [path], 2) == run(rule_set, [path], 1)


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(
        st.one_of(
            st.dictionaries(st.text(max_size=5), st.text(max_size=30), max_size=3),
            st.sampled_from(["not json", "", "  ", "[1, 2]", "\r"]),
        ),
        max_size=12,
    ),
    bom=st.booleans(),
    block=st.integers(1, 90),
    read=st.integers(1, 50),
)
def test_blocks_of_lines_hold_the_events_and_bad_lines_of_the_file(items, bom, block, read):
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(inputs, "LINE_BLOCK_BYTES", block)
        patch.setattr(inputs, "READ_CHUNK", read)
        patch.setattr(inputs, "MAX_EVENT_BYTES", 40)
        path = Path(folder) / "events.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" * bom + lines(*items).encode())

        assert read_as_blocks(path) == read_as_events(path)


def read_as_events(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    bad: list[BadRecord] = []
    events = list(read_events(path, report=bad.append))
    return events, [str(record) for record in bad]


def read_as_blocks(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    bad: list[BadRecord] = []
    events: list[dict[str, Any]] = []
    for chunk in read_chunks(path):
        if isinstance(chunk, LineBlock):
            events.extend(block_events(chunk, bad.append))
        elif isinstance(chunk, EventBatch):  # "[1, 2]" first: the file is a JSON array
            for item in chunk.items:
                (bad if isinstance(item, BadRecord) else events).append(item)
        else:
            bad.append(chunk)
    return events, [str(record) for record in bad]


def test_a_worker_that_fails_ends_the_run_saying_where(
    rule_set, tmp_path, small_chunks, monkeypatch
):
    matched = parallel.match_chunk

    def failing(matcher: parallel.ChunkMatcher, chunk: Any) -> parallel.ChunkResult:
        if isinstance(chunk, LineBlock) and chunk.first_line > 1:
            raise ValueError("injected")
        return matched(matcher, chunk)

    monkeypatch.setattr(parallel, "match_chunk", failing)
    path = tmp_path / "events.jsonl"
    path.write_text(lines(*[WHOAMI_EVENT] * 20))

    with pytest.raises(WorkerFailed) as failed:
        run(rule_set, [path], 2)

    assert failed.value.message.startswith(f"A worker process failed on {path} from line ")
    assert failed.value.message.endswith(": ValueError: injected")
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_ends_the_run(rule_set, tmp_path, small_chunks, monkeypatch):
    def dying(matcher: parallel.ChunkMatcher, chunk: Any) -> parallel.ChunkResult:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("not reached")

    monkeypatch.setattr(parallel, "match_chunk", dying)
    path = tmp_path / "events.jsonl"
    path.write_text(lines(*[WHOAMI_EVENT] * 20))

    with pytest.raises(WorkerFailed, match=r"ended unexpectedly \(exit code -9\)"):
        run(rule_set, [path], 2)
    assert multiprocessing.active_children() == []


def test_a_worker_killed_while_idle_fails_the_run_even_when_its_death_is_seen_last(rule_set):
    # Killed waiting for a chunk, it dies holding the task queue's read lock: the other
    # worker can never read its end marker. Nothing is read before the end of input, so
    # only the stop can notice the death; it must say so, and soon.
    started = time.monotonic()
    with (  # noqa: PT012 - the kill is inside the workers' lifetime, the raise at their stop
        pytest.raises(WorkerFailed, match=r"ended unexpectedly \(exit code -9\)"),
        Workers(DetectionEngine(rule_set), 2) as workers,
    ):
        time.sleep(0.5)  # both workers blocked reading the task queue
        victim = workers._processes[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
    assert time.monotonic() - started < parallel.STOP_SECONDS
    assert multiprocessing.active_children() == []


def test_no_more_than_two_chunks_per_worker_are_in_flight(rule_set):
    line = lines(WHOAMI_EVENT).encode()
    output = io.BytesIO()
    ahead: list[int] = []

    def blocks() -> Iterator[LineBlock]:
        for sent in range(60):
            ahead.append(sent - output.getvalue().count(b"\n"))  # one alert per block
            yield LineBlock("events.jsonl", sent + 1, line)

    with Workers(DetectionEngine(rule_set), 2) as workers:
        count = workers.detect(blocks(), AlertWriter(output, rule_set), report=pytest.fail)

    assert count == 60
    assert output.getvalue().count(b"\n") == 60
    assert max(ahead) == 2 * 2
    assert multiprocessing.active_children() == []


# The command with its workers waiting on a named pipe: stopped, and killed.


@contextmanager
def waiting_on_a_pipe(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int, list[int]]]:
    """``wachter detect --jobs 2`` reading a pipe kept open: the command, the pipe, the workers."""
    (tmp_path / "whoami.yml").write_text(WHOAMI)
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    pipe = os.open(fifo, os.O_RDWR)  # a writer that does not wait for the reader
    os.write(pipe, lines(WHOAMI_EVENT).encode())
    command = [str(WACHTER), "detect", "--jobs", "2", "--no-progress"]
    command += ["--rules", str(tmp_path / "whoami.yml"), "--events", str(fifo)]
    process = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a job
    )
    try:
        workers = children(process.pid, count=2)
        # The command forks its workers before it opens the input; a FIFO closed by its last
        # writer before the reader opens it leaves that open waiting for a writer forever.
        opened(process.pid, fifo)
        yield process, pipe, workers
    finally:
        process.kill()
        process.communicate(timeout=30)
        with suppress(OSError):
            os.close(pipe)


def opened(pid: int, path: Path) -> None:
    """Wait until process ``pid`` has ``path`` open."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for descriptor in Path(f"/proc/{pid}/fd").iterdir():
            with suppress(OSError):
                if os.readlink(descriptor) == str(path):
                    return
        time.sleep(0.02)
    raise AssertionError(f"{pid} never opened {path}")


def children(pid: int, *, count: int) -> list[int]:
    """The child processes of ``pid`` once there are ``count`` of them."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [
            int(child)
            for listing in Path(f"/proc/{pid}/task").glob("*/children")
            for child in listing.read_text().split()
        ]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{pid} has no {count} children")


def ended(pid: int, within: float = 10) -> bool:
    """Whether ``pid`` is gone (or a zombie nobody reaped) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state in {"Z", "X"}:
            return True
        time.sleep(0.05)
    return False


def test_ctrl_c_stops_the_command_and_its_workers(tmp_path):
    with waiting_on_a_pipe(tmp_path) as (process, _, workers):
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl+C sends: the whole job
        code = process.wait(timeout=15)

        assert code == 1  # click: "Aborted!"
        assert all(ended(worker) for worker in workers)


def test_a_worker_killed_ends_the_run_with_exit_2_and_why(tmp_path):
    with waiting_on_a_pipe(tmp_path) as (process, pipe, workers):
        os.kill(workers[0], signal.SIGKILL)
        os.close(pipe)  # the end of the input
        _, stderr = process.communicate(timeout=30)

        assert process.returncode == 2
        assert "A worker process ended unexpectedly (exit code -9)." in stderr
        assert all(ended(worker) for worker in workers)


def test_the_workers_end_when_the_command_is_killed(tmp_path):
    with waiting_on_a_pipe(tmp_path) as (process, _, workers):
        process.kill()
        process.wait(timeout=15)

        assert all(ended(worker) for worker in workers)
