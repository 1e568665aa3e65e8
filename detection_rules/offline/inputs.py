"""Events for ``wachter detect``, streamed from files: JSON Lines, JSON arrays and .evtx.

A file's format is known by its first bytes, never by its name: ``ElfFile`` is EVTX, gzip is
unwrapped first, and then ``[`` opens a JSON array and anything else is JSON Lines. Every
format is streamed, so memory stays the same whatever the size of the file: a line (or an
array element) is at most ``MAX_EVENT_BYTES``, and no more than a read chunk is held beside it.

A record that cannot be read is reported to ``report`` as a ``BadRecord`` (file, line or
record number, reason) and skipped; reading goes on with the next one. Only where nothing
after the fault can be told apart is the rest of the file given up, and that is reported too:
a gzip stream that breaks off, and a JSON array with a syntax error (JSON has no line
structure to resynchronise on, and guessing where the next element starts could invent
events). ``progress`` is told how many bytes were read from disk (compressed bytes for gzip),
once per read chunk rather than per event.

The standard library's ``json.JSONDecoder.raw_decode`` frames array elements: no streaming
JSON parser (ijson and the like) is a dependency, and ``raw_decode`` on a sliding text buffer
does the job with memory bounded by the largest element. JSON Lines go through orjson.

A parallel run reads with ``read_chunks``: the same formats, the same bounds and the same
bad records in the same order, but JSON Lines are cut into blocks of whole lines and left
unparsed (``block_events`` parses a block in a worker process), and the events of JSON arrays
and .evtx files, parsed here, are batched. Skipped records travel in the chunks.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from detection_rules.offline.evtx import EVTX_MAGIC, read_evtx
from detection_rules.offline.records import (
    BadRecord,
    Chunk,
    Event,
    EventBatch,
    LineBlock,
    Progress,
    Report,
)

GZIP_MAGIC: Final = b"\x1f\x8b"
UTF8_BOM: Final = b"\xef\xbb\xbf"
# Reads of a quarter MiB: few calls, and a progress bar that moves smoothly.
READ_CHUNK: Final = 256 * 1024
# One Windows event is a few kilobytes; 16 MiB leaves room for huge script blocks and stops
# a file without line breaks from being read into memory whole.
MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
# A parallel run's chunks: a MiB of JSON lines (some 700 Windows events) or 1,000 events
# parsed here; big enough that handing one over costs little beside matching it.
LINE_BLOCK_BYTES: Final = 1024 * 1024
BATCH_EVENTS: Final = 1000
_READ_ERRORS: Final = (OSError, EOFError, zlib.error)
_SPACE: Final = re.compile(r"[ \t\r\n]*")
_SKIPPED: Final = object()


class _CountingReader(io.RawIOBase):
    """A file that tells ``progress`` how many bytes each read returned (no per-event cost)."""

    def __init__(self, file: io.FileIO, progress: Progress | None) -> None:
        super().__init__()
        self._file = file
        self._progress = progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def readinto(self, buffer: Any) -> int:
        count = self._file.readinto(buffer)
        if count and self._progress is not None:
            self._progress(count)
        return int(count or 0)


def read_events(path: Path, *, report: Report, progress: Progress | None = None) -> Iterator[Event]:
    """The events of the file at ``path``, in file order; bad records go to ``report``.

    Raises ``OSError`` only when the file cannot be opened at all.
    """
    name = str(path)
    with path.open("rb", buffering=0) as file:
        stream = io.BufferedReader(_CountingReader(file, progress), buffer_size=READ_CHUNK)
        head = stream.peek(len(EVTX_MAGIC))[: len(EVTX_MAGIC)]
        if head.startswith(EVTX_MAGIC):
            yield from read_evtx(stream, name, report)
        elif head.startswith(GZIP_MAGIC):
            yield from _read_text(gzip.GzipFile(fileobj=stream, mode="rb"), name, report)
        else:
            yield from _read_text(stream, name, report)


def read_chunks(path: Path, *, progress: Progress | None = None) -> Iterator[Chunk]:
    """The file at ``path`` as chunks for worker processes, in file order (see above).

    Raises ``OSError`` only when the file cannot be opened at all.
    """
    name = str(path)
    with path.open("rb", buffering=0) as file:
        stream = io.BufferedReader(_CountingReader(file, progress), buffer_size=READ_CHUNK)
        head = stream.peek(len(EVTX_MAGIC))[: len(EVTX_MAGIC)]
        if head.startswith(EVTX_MAGIC):
            yield from _batched(name, lambda report: read_evtx(stream, name, report))
            return
        text = gzip.GzipFile(fileobj=stream, mode="rb") if head.startswith(GZIP_MAGIC) else stream
        bad: list[BadRecord] = []
        kind = _text_kind(text, name, bad.append)
        yield from bad
        if kind == "array":
            yield from _batched(name, lambda report: _JsonArray(text, name, report).events())
        elif kind == "lines":
            yield from _line_blocks(text, name)


def _read_text(stream: io.BufferedIOBase, name: str, report: Report) -> Iterator[Event]:
    kind = _text_kind(stream, name, report)
    if kind == "array":
        yield from _JsonArray(stream, name, report).events()
    elif kind == "lines":
        yield from _json_lines(stream, name, report)


def _text_kind(stream: io.BufferedIOBase, name: str, report: Report) -> str | None:
    """JSON Lines or a JSON array, by the first character that is not white space."""
    try:
        head = _first_bytes(stream)
    except _READ_ERRORS as error:
        report(BadRecord(name, None, f"cannot be read: {_reason(error)}"))
        return None
    if head.startswith(EVTX_MAGIC):
        report(BadRecord(name, None, "a compressed .evtx file; decompress it first"))
        return None
    return "array" if head.lstrip(UTF8_BOM + b" \t\r\n").startswith(b"[") else "lines"


def _first_bytes(stream: io.BufferedIOBase) -> bytes:
    """What is buffered already (a read chunk at most), without consuming it."""
    peek: Callable[[int], bytes] | None = getattr(stream, "peek", None)
    return peek(len(EVTX_MAGIC)) if peek is not None else b""


def _json_lines(stream: io.BufferedIOBase, name: str, report: Report) -> Iterator[Event]:
    loads, readline, limit = orjson.loads, stream.readline, MAX_EVENT_BYTES
    number = 0
    try:
        while line := readline(limit + 1):
            number += 1
            if len(line) > limit and not line.endswith(b"\n"):
                while (rest := readline(READ_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # the rest of the over-long line is dropped, chunk by chunk
                report(BadRecord(name, number, f"longer than {limit} bytes; skipped"))
                continue
            try:
                event = loads(line)
            except orjson.JSONDecodeError as error:
                event = _refused_line(line, error, name=name, number=number, report=report)
                if event is _SKIPPED:
                    continue
            if type(event) is dict:
                yield event
            else:
                report(BadRecord(name, number, f"a JSON {_kind(event)}, not an object"))
    except _READ_ERRORS as error:
        report(BadRecord(name, number + 1, _cut_off(error)))


def _line_blocks(stream: io.BufferedIOBase, name: str) -> Iterator[Chunk]:
    """JSON Lines as ``LineBlock``s of whole lines; what ``_json_lines`` skips, skipped."""
    first, pending = 1, b""  # the number of the first line in ``pending``
    while True:
        block, error = _read_block(stream)
        if not block and error is None:
            break
        data = pending + block
        cut = data.rfind(b"\n") + 1
        if cut:
            yield LineBlock(name, first, data[:cut])
            first += data.count(b"\n", 0, cut)
        pending = data[cut:]
        if error is None and len(pending) > MAX_EVENT_BYTES:
            yield BadRecord(name, first, f"longer than {MAX_EVENT_BYTES} bytes; skipped")
            first += 1
            pending, error = _rest_after_line(stream)
        if error is not None:  # the line read in part is lost, as _json_lines loses it
            yield BadRecord(name, first, _cut_off(error))
            return
    if pending:
        yield LineBlock(name, first, pending)


def _read_block(stream: io.BufferedIOBase) -> tuple[bytes, BaseException | None]:
    """About ``LINE_BLOCK_BYTES`` (less at the end), and the error that stopped reading.

    What was read before an error is returned with it: the lines before the fault count.
    """
    parts: list[bytes] = []
    size = 0
    try:
        while size < LINE_BLOCK_BYTES and (part := stream.read1(LINE_BLOCK_BYTES)):
            parts.append(part)
            size += len(part)
    except _READ_ERRORS as error:
        return b"".join(parts), error
    return b"".join(parts), None


def _rest_after_line(stream: io.BufferedIOBase) -> tuple[bytes, BaseException | None]:
    """Reads past the end of the current line; what follows its line break."""
    try:
        while part := stream.read1(READ_CHUNK):
            end = part.find(b"\n")
            if end >= 0:
                return part[end + 1 :], None
    except _READ_ERRORS as error:
        return b"", error
    return b"", None


def block_events(block: LineBlock, report: Report) -> Iterator[Event]:
    """The events of a block of JSON lines; bad lines to ``report`` as ``_json_lines`` does."""
    loads, limit, name = orjson.loads, MAX_EVENT_BYTES, block.path
    lines = block.data.split(b"\n")
    last = len(lines) - 1  # the one line without its line break (empty after the last)
    for index, line in enumerate(lines):
        number = block.first_line + index
        if len(line) > limit:  # the line break is not counted, as readline's limit has it
            report(BadRecord(name, number, f"longer than {limit} bytes; skipped"))
            continue
        try:
            event = loads(line)
        except orjson.JSONDecodeError:
            # Read again as readline gives it, line break and all: the same error message.
            whole = line + b"\n" if index < last else line
            event = _parsed_again(whole, name=name, number=number, report=report)
            if event is _SKIPPED:
                continue
        if type(event) is dict:
            yield event
        else:
            report(BadRecord(name, number, f"a JSON {_kind(event)}, not an object"))


def _parsed_again(line: bytes, *, name: str, number: int, report: Report) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as error:
        return _refused_line(line, error, name=name, number=number, report=report)


def _batched(name: str, read: Callable[[Report], Iterator[Event]]) -> Iterator[EventBatch]:
    """Events in ``EventBatch``es, each skipped record in the batch where it was found."""
    items: list[Event | BadRecord] = []

    def report(bad: BadRecord) -> None:
        items.append(bad)

    for event in read(report):
        items.append(event)
        if len(items) >= BATCH_EVENTS:
            yield EventBatch(name, items)
            items = []
    if items:
        yield EventBatch(name, items)


def _refused_line(
    line: bytes, error: orjson.JSONDecodeError, *, name: str, number: int, report: Report
) -> Any:
    """What a line orjson refused still is: blank (skipped), BOM-led, or bad (reported)."""
    if not line.strip():
        return _SKIPPED
    if number == 1 and line.startswith(UTF8_BOM):
        try:
            return orjson.loads(line[len(UTF8_BOM) :])
        except orjson.JSONDecodeError as second:
            error = second
    report(BadRecord(name, number, f"not JSON ({error})"))
    return _SKIPPED


def _kind(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


def _cut_off(error: BaseException) -> str:
    return f"the file cannot be read beyond this line ({_reason(error)}); rest skipped"


class _Stop(Exception):
    """The rest of a JSON array cannot be read; ``line`` and ``reason`` say why."""

    def __init__(self, line: int, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.reason = reason


class _JsonArray:
    """One JSON array, element by element, from a text buffer that slides over the file."""

    def __init__(self, stream: io.BufferedIOBase, name: str, report: Report) -> None:
        self.stream, self.name, self.report = stream, name, report
        self.utf8 = codecs.getincrementaldecoder("utf-8-sig")()
        self.decoder = json.JSONDecoder()
        self.text = ""
        self.at = 0  # where reading stands in ``text``
        self.line = 1  # the line of ``text[at]`` in the file
        self.ended = False

    def events(self) -> Iterator[Event]:
        try:
            yield from self._elements()
        except _Stop as stop:
            self.report(BadRecord(self.name, stop.line, stop.reason))
        except _READ_ERRORS as error:
            self.report(BadRecord(self.name, self.line, _cut_off(error)))

    def _elements(self) -> Iterator[Event]:
        self._expect("[", "a JSON array starts with [")
        first = True
        while True:
            character = self._next_character()
            if character == "]":
                self.at += 1
                break
            if not first:
                self._expect(",", "expected , or ] after an array element")
            line, value = self._value()
            first = False
            if type(value) is dict:
                yield value
            else:
                self.report(BadRecord(self.name, line, f"a JSON {_kind(value)}, not an object"))
        if self._next_character() is not None:
            raise _Stop(self.line, "text after the end of the JSON array")

    def _expect(self, character: str, reason: str) -> None:
        if self._next_character() != character:
            raise _Stop(self.line, f"{reason}; the rest of the file is skipped")
        self.at += 1

    def _next_character(self) -> str | None:
        """The next character that is not white space (lines counted); None at the end."""
        while True:
            match = _SPACE.match(self.text, self.at)
            end = match.end() if match else self.at
            self.line += self.text.count("\n", self.at, end)
            self.at = end
            if self.at < len(self.text):
                return self.text[self.at]
            if not self._read_more():
                return None

    def _value(self) -> tuple[int, Any]:
        self._next_character()  # raw_decode does not skip white space before a value
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.at)
            except (json.JSONDecodeError, RecursionError) as error:
                # Usually the element goes on in the next chunk; read on, within the bound.
                if len(self.text) - self.at <= MAX_EVENT_BYTES and self._read_more():
                    continue
                raise self._syntax_error(error) from None
            if end == len(self.text) and self._read_more():
                continue  # a number cut at the chunk's end would read short
            line = self.line
            self.line += self.text.count("\n", self.at, end)
            self.at = end
            return line, value

    def _syntax_error(self, error: Exception) -> _Stop:
        if isinstance(error, json.JSONDecodeError):
            line = self.line + self.text.count("\n", self.at, error.pos)
            return _Stop(line, f"not JSON ({error.msg}); the rest of the file is skipped")
        return _Stop(self.line, "nested too deeply; the rest of the file is skipped")

    def _read_more(self) -> bool:
        if self.ended:
            return False
        data = self.stream.read(READ_CHUNK)
        self.ended = not data
        try:
            more = self.utf8.decode(data, final=self.ended)
        except UnicodeDecodeError as error:
            raise _Stop(self.line, f"not UTF-8 text ({error.reason}); rest skipped") from None
        if self.ended:
            return False  # the text stays as it is: error positions point into it
        self.text = self.text[self.at :] + more
        self.at = 0
        return True
