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
from detection_rules.offline.records import BadRecord, Event, Progress, Report

GZIP_MAGIC: Final = b"\x1f\x8b"
UTF8_BOM: Final = b"\xef\xbb\xbf"
# Reads of a quarter MiB: few calls, and a progress bar that moves smoothly.
READ_CHUNK: Final = 256 * 1024
# One Windows event is a few kilobytes; 16 MiB leaves room for huge script blocks and stops
# a file without line breaks from being read into memory whole.
MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
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


def _read_text(stream: io.BufferedIOBase, name: str, report: Report) -> Iterator[Event]:
    """JSON Lines or a JSON array, by the first character that is not white space."""
    try:
        head = _first_bytes(stream)
    except (OSError, EOFError, zlib.error) as error:
        report(BadRecord(name, None, f"cannot be read: {_reason(error)}"))
        return
    if head.startswith(EVTX_MAGIC):
        report(BadRecord(name, None, "a compressed .evtx file; decompress it first"))
    elif head.lstrip(UTF8_BOM + b" \t\r\n").startswith(b"["):
        yield from _JsonArray(stream, name, report).events()
    else:
        yield from _json_lines(stream, name, report)


def _first_bytes(stream: io.BufferedIOBase) -> bytes:
    """What is buffered already (a read chunk at most), without consuming it."""
    peek: Callable[[int], bytes] | None = getattr(stream, "peek", None)
    return peek(len(EVTX_MAGIC)) if peek is not None else b""


def _json_lines(stream: io.BufferedIOBase, name: str, report: Report) -> Iterator[Event]:
    loads, readline = orjson.loads, stream.readline
    number = 0
    try:
        while line := readline(MAX_EVENT_BYTES + 1):
            number += 1
            try:
                event = loads(line)
            except orjson.JSONDecodeError as error:
                event = _retry_line(stream, line, error, name=name, number=number, report=report)
                if event is _SKIPPED:
                    continue
            if type(event) is dict:
                yield event
            else:
                report(BadRecord(name, number, f"a JSON {_kind(event)}, not an object"))
    except (OSError, EOFError, zlib.error) as error:
        reason = f"the file cannot be read beyond this line ({_reason(error)}); rest skipped"
        report(BadRecord(name, number + 1, reason))


def _retry_line(
    stream: io.BufferedIOBase,
    line: bytes,
    error: orjson.JSONDecodeError,
    *,
    name: str,
    number: int,
    report: Report,
) -> Any:
    """What a line orjson refused still is: blank (skipped), BOM-led, too long, or bad."""
    if not line.strip():
        return _SKIPPED
    if number == 1 and line.startswith(UTF8_BOM):
        try:
            return orjson.loads(line[len(UTF8_BOM) :])
        except orjson.JSONDecodeError as second:
            error = second
    if len(line) > MAX_EVENT_BYTES and not line.endswith(b"\n"):
        while (rest := stream.readline(READ_CHUNK)) and not rest.endswith(b"\n"):
            pass  # the rest of the over-long line is dropped, chunk by chunk
        report(BadRecord(name, number, f"longer than {MAX_EVENT_BYTES} bytes; skipped"))
        return _SKIPPED
    report(BadRecord(name, number, f"not JSON ({error})"))
    return _SKIPPED


def _kind(value: Any) -> str:
    names = {list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _reason(error: BaseException) -> str:
    return str(error) or type(error).__name__


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
        except (OSError, EOFError, zlib.error) as error:
            reason = f"the file cannot be read beyond this line ({_reason(error)}); rest skipped"
            self.report(BadRecord(self.name, self.line, reason))

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
