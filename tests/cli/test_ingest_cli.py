"""``wachter ingest`` and ``wachter parse`` on real files: resumable, idempotent, honest."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import struct
import subprocess
import termios

import pytest
from sqlalchemy import delete, select

from ingest.models import DeadLetter, FileCheckpoint
from storage import Database
from storage.events import Event
from tests.support.processes import WACHTER, clean_env, run_wachter
from tests.support.shared_data import shared_data


@pytest.fixture
def env(tmp_path):
    return clean_env(WACHTER_DATA_DIR=str(tmp_path / "var"))


@pytest.fixture
def migrated(tmp_path, env):
    assert run_wachter("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    database = Database.from_url(f"sqlite:///{tmp_path / 'var' / 'wachter.db'}")
    yield database
    database.dispose()


def json_line(number: int, **fields) -> str:
    document = {"@timestamp": f"2025-06-01T10:00:{number:02d}Z", "message": f"line {number}"}
    return json.dumps({**document, **fields}) + "\n"


def events(database: Database) -> list[dict]:
    with database.snapshot() as session:
        return [event.data for event in session.scalars(select(Event).order_by(Event.id))]


def test_parse_prints_ecs_events_and_stores_nothing(tmp_path, env):
    log = tmp_path / "app.jsonl"
    log.write_text(json_line(1) + json_line(2, user={"name": "alice"}))

    result = run_wachter("parse", str(log), cwd=tmp_path, env=env)

    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["message"] for event in printed] == ["line 1", "line 2"]
    assert printed[1]["user"] == {"name": "alice"}
    assert printed[0]["@timestamp"] == "2025-06-01T10:00:01Z"
    assert "ingested" in printed[0]["event"]
    assert not (tmp_path / "var").exists()  # no data directory, no database


def test_parse_reports_each_rejected_record_and_exits_1(tmp_path, env):
    log = tmp_path / "app.jsonl"
    log.write_text(json_line(1) + '{"broken"\n' + "[1, 2]\n")

    result = run_wachter("parse", str(log), cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1
    errors = result.stderr.strip().splitlines()
    second, third = len(json_line(1)), len(json_line(1)) + len('{"broken"\n')
    assert errors[0].startswith(f"{log} (byte {second}): not valid JSON")
    assert errors[1] == f"{log} (byte {third}): expected a JSON object on each line"


def test_an_unknown_format_is_refused_with_the_choices(tmp_path, env):
    log = tmp_path / "x.log"
    log.write_text("anything\n")

    result = run_wachter("parse", str(log), "--format", "nope", cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "Unknown format \u201cnope\u201d; choose from" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_file_of_no_known_format_asks_for_format(tmp_path, env):
    log = tmp_path / "mystery.bin"
    log.write_bytes(b"\x00\x01 nothing like a log \x02\n" * 5)

    result = run_wachter("parse", str(log), cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert "Cannot tell the format of mystery.bin; name it with --format" in result.stderr


def test_ingest_stores_and_a_rerun_stores_nothing_twice(tmp_path, env, migrated):
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json_line(n) for n in range(5)))

    first = run_wachter("ingest", str(log), cwd=tmp_path, env=env)
    again = run_wachter("ingest", str(log), cwd=tmp_path, env=env)

    assert first.returncode == 0, first.stderr
    assert "5 events stored, 0 already there, 0 rejected (format json-lines" in first.stdout
    assert "already ingested" in again.stdout
    assert len(events(migrated)) == 5


def test_ingest_resumes_a_grown_file_with_only_the_new_lines(tmp_path, env, migrated):
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json_line(n) for n in range(3)))
    run_wachter("ingest", str(log), cwd=tmp_path, env=env)
    with log.open("a") as handle:
        handle.write(json_line(3) + json_line(4))

    result = run_wachter("ingest", str(log), cwd=tmp_path, env=env)

    assert "2 events stored, 0 already there" in result.stdout
    assert [event["message"] for event in events(migrated)] == [f"line {n}" for n in range(5)]


def test_without_its_checkpoint_a_file_read_again_is_all_duplicates(tmp_path, env, migrated):
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json_line(n) for n in range(4)))
    run_wachter("ingest", str(log), cwd=tmp_path, env=env)
    with migrated.unit_of_work() as session:
        session.execute(delete(FileCheckpoint))

    result = run_wachter("ingest", str(log), cwd=tmp_path, env=env)

    assert "0 events stored, 4 already there" in result.stdout
    assert len(events(migrated)) == 4


def test_two_identical_lines_in_one_file_are_two_events(tmp_path, env, migrated):
    log = tmp_path / "app.jsonl"
    log.write_text(json_line(1) * 2)

    run_wachter("ingest", str(log), cwd=tmp_path, env=env)

    assert len(events(migrated)) == 2


def test_bad_lines_go_to_the_dead_letters_and_the_rest_is_stored(tmp_path, env, migrated):
    log = tmp_path / "app.jsonl"
    oversize = json.dumps({"message": "x" * (70 * 1024)}) + "\n"
    log.write_bytes(
        json_line(1).encode() + b'{"name": "\xff"}\n' + oversize.encode() + b"not json\n"
    )

    result = run_wachter("ingest", str(log), cwd=tmp_path, env=env)

    assert "2 events stored, 0 already there, 2 rejected" in result.stdout
    assert "dead letters" in result.stderr
    stored = events(migrated)
    assert stored[1]["name"] == "\ufffd"  # JSON cannot carry the byte: replaced, flagged
    assert "invalid_utf8" in stored[1]["wachter"]["flags"]
    with migrated.snapshot() as session:
        reasons = [letter.reason for letter in session.scalars(select(DeadLetter))]
    assert reasons[0].startswith("line longer than 64 KiB")
    assert reasons[1].startswith("not valid JSON")


def test_ingest_needs_a_migrated_database(tmp_path, env):
    log = tmp_path / "app.jsonl"
    log.write_text(json_line(1))

    result = run_wachter("ingest", str(log), cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert "run `wachter db upgrade` first" in result.stderr


def test_on_a_terminal_ingest_shows_a_progress_bar_with_rate(tmp_path, env, migrated):
    log = tmp_path / "app.jsonl"
    log.write_text("".join(json_line(n % 60, event={"id": str(n)}) for n in range(5000)))
    controller, terminal = pty.openpty()
    # A terminal 100 columns wide (a fresh pty has 0, where tqdm draws nothing).
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    process = subprocess.Popen(
        [str(WACHTER), "ingest", str(log)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    process.wait(60)
    os.close(controller)

    assert process.returncode == 0
    assert b"app.jsonl: 100%|" in shown
    assert b"B/s, events=5000]" in shown


def test_the_labelled_sshd_sample_is_ingested_whole(tmp_path, env, migrated):
    log = shared_data("logs/loghub/OpenSSH_2k.log")

    result = run_wachter("ingest", str(log), cwd=tmp_path, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    assert "2000 events stored, 0 already there, 0 rejected (format linux-auth" in result.stdout
    stored = events(migrated)
    failures = [e for e in stored if e["event"].get("outcome") == "failure"]
    assert failures
    assert all(e["event"]["category"] == ["authentication"] for e in failures)
