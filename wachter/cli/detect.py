"""Offline hunting from the command line: ``wachter detect --rules PATH… --events FILE…``.

Sigma rules (files, folders, .zip) run over event files (JSON Lines plain or gzip, JSON
arrays, .evtx) with the same engine as the service; every detection is one JSON line on
stdout or in ``--output`` (the format is in ``detection_rules.offline.run``). Needs no
database. Bad rules and unreadable event records are reported on stderr as ``path:line:
message`` and the run goes on without them; a summary ends the run on stderr. A progress bar
(bytes read, with rate) is drawn on stderr when it is a terminal.

``--jobs N`` matches on N processes forked after the rules are compiled (Linux; elsewhere one
process is used), ``--jobs 1`` in this process alone; the output is the same either way
(``detection_rules.offline.parallel`` says how).

Exit codes: 0 every event was read (with or without detections); 1 the run finished, but some
records could not be read (reported; the detections of the rest are all written); 2 the
command cannot run: a usage error, an unknown pipeline, no usable rule, or a worker process
that failed.
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import BinaryIO, Final

import click
from sigma.processing.pipeline import ProcessingPipeline
from tqdm import tqdm

from core import InvalidInput, Settings
from detection_rules.engine import DetectionEngine
from detection_rules.loading import count_rule_files
from detection_rules.matcher import OfficeHours, derived_fields
from detection_rules.offline import (
    AlertWriter,
    BadRecord,
    Chunk,
    Event,
    OfflineRules,
    WorkerFailed,
    Workers,
    can_fork,
    compile_rules,
    detect,
    read_chunks,
    read_events,
    read_rules,
    usable_cpus,
)
from detection_rules.pipelines import DEFAULT_PIPELINES, PIPELINE_NAMES, build_pipeline
from wachter.cli.base import cli
from wachter.logs import configure_logging

EXIT_BAD_RECORDS: Final = 1
EXIT_CANNOT_RUN: Final = 2
# Bad records beyond this many are counted in the summary but not printed one by one.
MAX_SHOWN_BAD_RECORDS: Final = 1000
OUTPUT_BUFFER: Final = 1024 * 1024
LEVELS: Final = ("critical", "high", "medium", "low", "informational", "none")
# Options that take several values at once: ``--events a.jsonl b.jsonl`` (a shell glob).
_MULTI_VALUE_OPTIONS: Final = frozenset({"--rules", "--events", "--pipeline"})


class NoUsableRules(click.ClickException):
    exit_code = EXIT_CANNOT_RUN


class CannotFinish(click.ClickException):
    exit_code = EXIT_CANNOT_RUN


class _MultiValueCommand(click.Command):
    """Lets ``--rules``/``--events``/``--pipeline`` take every value up to the next option.

    Click options take one value each (``--events a --events b``); a shell glob after
    ``--events`` gives several. They are spread over repeated options before click parses.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, spread_values(args))


def spread_values(args: Sequence[str]) -> list[str]:
    """``--events a b --output o`` → ``--events a --events b --output o``."""
    spread: list[str] = []
    option: str | None = None  # the multi-value option whose values are being read
    first = True
    for index, arg in enumerate(args):
        if arg == "--":  # everything after it is left as it is
            spread.extend(args[index:])
            break
        if arg.startswith("-") and arg != "-":
            option = arg if arg in _MULTI_VALUE_OPTIONS else None
            first = True
            spread.append(arg)
            continue
        if option is not None and not first:
            spread.append(option)
        spread.append(arg)
        first = False
    return spread


@cli.command("detect", cls=_MultiValueCommand)
@click.option(
    "--rules",
    "rule_paths",
    metavar="PATH...",
    multiple=True,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Sigma rule files, folders (searched recursively) and .zip archives.",
)
@click.option(
    "--events",
    "event_paths",
    metavar="FILE...",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Event files: JSON Lines (plain or gzip), JSON arrays, .evtx; known by content.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the detections (JSON lines) to FILE instead of stdout.",
)
@click.option(
    "--pipeline",
    "pipelines",
    metavar="NAME...",
    multiple=True,
    type=click.Choice(list(PIPELINE_NAMES), case_sensitive=False),
    help=f"Processing pipelines [default: {' '.join(DEFAULT_PIPELINES)}].",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    metavar="N",
    help="Match on N processes [default: the usable CPUs]; 1: in this process alone. "
    "Several need Linux (fork); elsewhere 1 is used.",
)
@click.option("--no-progress", is_flag=True, help="No progress bar (none is drawn off a terminal).")
def detect_command(
    *,
    rule_paths: tuple[Path, ...],
    event_paths: tuple[Path, ...],
    output: Path | None,
    pipelines: tuple[str, ...],
    jobs: int | None,
    no_progress: bool,
) -> None:
    """Run Sigma rules over event files and write each detection as a JSON line."""
    settings = Settings.from_env()  # no database: only the time zone and office hours
    configure_logging(settings.log_level)
    try:
        pipeline = build_pipeline(pipelines or DEFAULT_PIPELINES)
    except InvalidInput as error:
        raise click.BadParameter(error.message, param_hint="'--pipeline'") from None
    progress: bool | None = False if no_progress else None  # None: only on a terminal
    with _output(output) as stream:
        rules = _load_rules(rule_paths, pipeline, progress)
        opens, closes = settings.office_hours
        hours = OfficeHours(timezone=settings.timezone, opens=opens, closes=closes)
        engine = DetectionEngine(rules.rule_set, derived=derived_fields(hours))
        writer = AlertWriter(stream, rules.rule_set)
        inputs = _Inputs(event_paths)
        started = time.monotonic()
        # The workers are forked before the progress bar starts its thread.
        with (
            _workers(engine, jobs) as workers,
            _bar(progress, total=inputs.size, unit="B", description="Events") as bar,
        ):
            count = _detect(engine, workers, inputs, bar, writer)
        elapsed = time.monotonic() - started
    _summarise_events(count, inputs, elapsed)
    _summarise_detections(writer)
    # Python's last collection at exit would walk every object the run built (the compiled
    # rules are cyclic: seconds with all SigmaHQ rules) to free memory that ends with the
    # process anyway; frozen, they are left alone.
    gc.freeze()
    if inputs.bad:
        raise SystemExit(EXIT_BAD_RECORDS)


def _workers(engine: DetectionEngine, jobs: int | None) -> AbstractContextManager[Workers | None]:
    """Worker processes for ``--jobs`` (default: one per usable CPU), or None: match here."""
    count = usable_cpus() if jobs is None else jobs
    if count <= 1 or not can_fork():
        return nullcontext()
    return Workers(engine, count)


def _detect(
    engine: DetectionEngine,
    workers: Workers | None,
    inputs: _Inputs,
    bar: tqdm,
    writer: AlertWriter,
) -> int:
    if workers is None:
        return detect(engine, inputs.events(bar), writer)
    try:
        return workers.detect(inputs.chunks(bar), writer, report=inputs.report)
    except WorkerFailed as error:
        raise CannotFinish(error.message) from None


def _load_rules(
    paths: Sequence[Path], pipeline: ProcessingPipeline, progress: bool | None
) -> OfflineRules:
    started = time.monotonic()
    total = count_rule_files(paths)
    with _without_collection():
        with _bar(progress, total=total, unit=" files", description="Rules") as bar:
            parsed, problems = read_rules(paths, on_source=bar.update)
        if not bar.disable:  # compiling thousands of rules takes seconds: say what is going on
            count = sum(len(source.loaded) for source in parsed)
            click.echo(f"Compiling {_plural(count, 'rule')}…", err=True)
        rules = compile_rules(parsed, pipeline=pipeline, problems=problems)
    for problem in rules.problems:
        click.echo(str(problem), err=True)
    loaded = len(rules.rule_set)
    click.echo(
        f"Rules: {loaded:,} loaded from {_plural(rules.sources, 'file')}, "
        f"{rules.rejected:,} rejected ({time.monotonic() - started:.1f} s).",
        err=True,
    )
    if not loaded:
        raise NoUsableRules(
            f"no usable rule: {_plural(rules.sources, 'rule file')} read, "
            f"{rules.rejected:,} rejected"
        )
    return rules


@contextmanager
def _without_collection() -> Iterator[None]:
    """Python's cyclic garbage collector off while the rules load; what they built, frozen.

    Loading builds millions of objects that live as long as the run, and each full collection
    walks them all again: with all SigmaHQ Windows rules that was 40 % of the loading time.
    Frozen (``gc.freeze``), they are not walked by the collections of the matching either.
    The cyclic garbage loading leaves (some 75 MiB) stays allocated; collecting it would not
    give the memory back to the system anyway (it stays in Python's arenas, fragmented).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


class _Inputs:
    """The event files one after another; bad records printed (up to a limit) and counted."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = paths
        self.size = sum(path.stat().st_size for path in paths)
        self.bad = 0

    def report(self, bad: BadRecord) -> None:
        self.bad += 1
        if self.bad <= MAX_SHOWN_BAD_RECORDS:
            tqdm.write(str(bad), file=sys.stderr)
        elif self.bad == MAX_SHOWN_BAD_RECORDS + 1:
            tqdm.write("More bad records follow: counted, not shown.", file=sys.stderr)

    def events(self, bar: tqdm) -> Iterator[Event]:
        for path in self.paths:
            bar.set_description_str(path.name, refresh=False)
            try:
                yield from read_events(path, report=self.report, progress=bar.update)
            except OSError as error:
                self.report(BadRecord(str(path), None, f"cannot be read: {error.strerror}"))

    def chunks(self, bar: tqdm) -> Iterator[Chunk]:
        """The files as chunks for worker processes; bad records among them, in order."""
        for path in self.paths:
            bar.set_description_str(path.name, refresh=False)
            try:
                yield from read_chunks(path, progress=bar.update)
            except OSError as error:
                yield BadRecord(str(path), None, f"cannot be read: {error.strerror}")


@contextmanager
def _bar(
    progress: bool | None, *, total: int | None, unit: str, description: str
) -> Iterator[tqdm]:
    disable = None if progress is None else not progress
    with tqdm(
        total=total,
        unit=unit,
        unit_scale=unit == "B",
        unit_divisor=1024 if unit == "B" else 1000,
        desc=description,
        disable=disable,
        file=sys.stderr,
    ) as bar:
        yield bar


@contextmanager
def _output(path: Path | None) -> Iterator[BinaryIO]:
    """The output file, or stdout; a reader that goes away (``| head``) ends the run quietly."""
    try:
        if path is None:
            yield sys.stdout.buffer
            sys.stdout.buffer.flush()
            return
        try:
            file = path.open("wb", buffering=OUTPUT_BUFFER)
        except OSError as error:
            raise click.FileError(str(path), hint=error.strerror or str(error)) from None
        with file:
            yield file
    except BrokenPipeError:
        # Python would complain again when flushing stdout at exit; point it at nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(EXIT_BAD_RECORDS) from None


def _summarise_events(count: int, inputs: _Inputs, elapsed: float) -> None:
    rate = count / elapsed if elapsed > 0 else 0.0
    click.echo(
        f"Events: {count:,} from {_plural(len(inputs.paths), 'file')}, "
        f"{_plural(inputs.bad, 'bad record')}, in {elapsed:.1f} s ({rate:,.0f} events/s).",
        err=True,
    )


def _summarise_detections(writer: AlertWriter) -> None:
    levels = [
        f"{level} {writer.by_level[level]:,}" for level in LEVELS if writer.by_level.get(level)
    ]
    detail = f" ({', '.join(levels)})" if levels else ""
    click.echo(f"Detections: {writer.total:,}{detail}.", err=True)


def _plural(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
