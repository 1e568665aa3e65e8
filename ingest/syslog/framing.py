"""RFC 6587 framing: the bytes of one TCP (or TLS) connection cut into syslog messages.

Two framings exist and senders do not say which they use, so the first byte of a
connection decides (RFC 6587 §3.4): a digit means octet counting (``LEN SP MSG``, what
rsyslog and syslog-ng send with ``octet-counted``/``rfc5425``), anything else means
non-transparent framing, one message per line (``LF``; a ``CR`` or ``NUL`` before it is
accepted and removed). Octet counting is the safer choice for senders: a message may then
hold newlines, which LF framing would cut into two.

Memory stays bounded whatever the sender does: a message over ``MAX_MESSAGE`` is not
collected but skipped (to the next newline, or exactly the announced length) while its
first ``MAX_RAW`` bytes are kept for the dead-letter entry; an octet-count header that is
not a number ends the connection, because the stream can no longer be cut reliably.

Hand-written: no maintained library does RFC 6587 framing (the syslog libraries on PyPI
parse single messages or send them).
"""

from __future__ import annotations

import re

from ingest.dead_letters import MAX_RAW, Rejection

MAX_MESSAGE = 64 * 1024
# The longest MSG-LEN we read: nine digits (just under 1 GB). Longer is not a length.
_MAX_HEADER_DIGITS = 9
_HEADER = re.compile(rb"[1-9][0-9]{0,8}")
# Whitespace a sender may leave between octet-counted frames (some append a newline).
_BETWEEN_FRAMES = b"\r\n\x00 "
_TRAILER = b"\r\x00"


def oversize(size: int, head: bytes) -> Rejection:
    """The dead-letter entry for a message of ``size`` bytes that starts with ``head``."""
    return Rejection(
        reason=f"message of {size} bytes is larger than the {MAX_MESSAGE // 1024} KiB limit",
        raw=head[:MAX_RAW],
    )


def strip_trailer(message: bytes) -> bytes:
    """A message without the line end its sender added (LF, CRLF, a NUL before it)."""
    if message.endswith(b"\n"):
        message = message[:-1]
    return message.rstrip(_TRAILER)


class StreamFramer:
    """Cuts one connection's bytes into messages; ``feed`` each read, ``finish`` at the end.

    Both return a list of messages (``bytes``, framing removed, never empty) and
    rejections (``Rejection``), in the order they came. After a broken octet-count header
    ``failed`` is True: the caller must close the connection.
    """

    def __init__(self, *, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self.failed = False
        self._octet_counting: bool | None = None  # decided by the first byte
        self._buffer = b""
        # Skipping an oversize message: its first bytes, its size so far, and (octet
        # counting) how many bytes of it are still to come.
        self._skip_head: bytes | None = None
        self._skip_size = 0
        self._skip_left = 0

    @property
    def buffered(self) -> int:
        """Bytes held for an incomplete message (bounded by ``max_message`` plus one read)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes | Rejection]:
        if self.failed or not data:
            return []
        if self._octet_counting is None:
            self._octet_counting = data[:1].isdigit()
        if self._octet_counting:
            return self._feed_counted(data)
        return self._feed_lines(data)

    def finish(self, *, at_end_of_stream: bool = True) -> list[bytes | Rejection]:
        """What is left when the connection ends. A last line without its newline is a
        message at the sender's end of stream, and incomplete when we cut the connection."""
        entries: list[bytes | Rejection] = []
        if self._skip_head is not None:
            entries.append(oversize(self._skip_size, self._skip_head))
        elif self._buffer.strip(_BETWEEN_FRAMES):
            if self._octet_counting or not at_end_of_stream:
                entries.append(Rejection("connection ended inside a message", self._buffer))
            else:
                entries.extend(self._feed_lines(b"\n"))
        self._buffer, self._skip_head = b"", None
        return entries

    # Non-transparent framing: one message per line.

    def _feed_lines(self, data: bytes) -> list[bytes | Rejection]:
        entries: list[bytes | Rejection] = []
        if self._skip_head is not None:
            end = data.find(b"\n")
            if end < 0:
                self._skip_size += len(data)
                return entries
            self._skip_size += end
            entries.append(oversize(self._skip_size, self._skip_head))
            self._skip_head, data = None, data[end + 1 :]
        lines = (self._buffer + data).split(b"\n") if self._buffer else data.split(b"\n")
        self._buffer = lines.pop()
        limit = self.max_message
        for line in lines:
            message = line.rstrip(_TRAILER)
            if len(message) > limit:
                entries.append(oversize(len(message), message))
            elif message:
                entries.append(message)
        if len(self._buffer) > limit + len(_TRAILER):  # no newline in sight: skip the rest
            self._skip_head, self._skip_size = self._buffer[:MAX_RAW], len(self._buffer)
            self._buffer = b""
        return entries

    # Octet counting: LEN SP MSG.

    def _feed_counted(self, data: bytes) -> list[bytes | Rejection]:
        entries: list[bytes | Rejection] = []
        if self._skip_left:
            data = self._skip(data, entries)
        buffer = self._buffer + data if self._buffer else data
        position, end = 0, len(buffer)
        while position < end:
            while position < end and buffer[position] in _BETWEEN_FRAMES:
                position += 1
            space = buffer.find(b" ", position, position + _MAX_HEADER_DIGITS + 1)
            if space < 0:
                if end - position > _MAX_HEADER_DIGITS:
                    return self._fail(entries, buffer[position:])
                break  # the header is not complete yet
            if not _HEADER.fullmatch(buffer, position, space):
                return self._fail(entries, buffer[position:])
            length = int(buffer[position:space])
            start = space + 1
            if length > self.max_message:
                self._skip_head, self._skip_size, self._skip_left = b"", length, length
                self._buffer = b""
                return [*entries, *self._feed_counted_after_skip(buffer[start:])]
            if end - start < length:
                break  # the message is not complete yet
            message = strip_trailer(buffer[start : start + length])
            if message:
                entries.append(message)
            position = start + length
        self._buffer = buffer[position:]
        return entries

    def _feed_counted_after_skip(self, data: bytes) -> list[bytes | Rejection]:
        entries: list[bytes | Rejection] = []
        rest = self._skip(data, entries)
        return [*entries, *self._feed_counted(rest)] if rest else entries

    def _skip(self, data: bytes, entries: list[bytes | Rejection]) -> bytes:
        """Consume up to ``_skip_left`` bytes of an oversize message; return what follows."""
        assert self._skip_head is not None
        taken = data[: self._skip_left]
        if len(self._skip_head) < MAX_RAW:
            self._skip_head += taken[: MAX_RAW - len(self._skip_head)]
        self._skip_left -= len(taken)
        if self._skip_left:
            return b""
        entries.append(oversize(self._skip_size, self._skip_head))
        self._skip_head = None
        return data[len(taken) :]

    def _fail(self, entries: list[bytes | Rejection], rest: bytes) -> list[bytes | Rejection]:
        self.failed = True
        self._buffer = b""
        reason = "octet-counting frame without a valid length; connection closed"
        return [*entries, Rejection(reason, rest[:64])]
