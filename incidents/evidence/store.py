"""The evidence store: files under ``<data dir>/evidence/``, written once, never overwritten.

A file arrives as a stream and is written to a temporary file in the store's own directory
(mode 0600), with its SHA-256 and size computed on the way and the size limit enforced
while reading: at the limit, writing stops and the partial file is deleted. Once its type
is accepted, the file gets a generated name (``uuid4().hex``) that is created exclusively
(a hard link: an existing name is never replaced), is made read-only (0400) and the
directory entry is fsynced. Names always come from here, never from input; ``open_stored``
refuses anything that is not such a name.

Nothing here trusts that a stored file stayed as it was: ``sha256_of`` reads it again, so
a download can verify it first (``incidents.evidence.service``). The directory is 0700:
only the service account reads evidence, and only through Wachter.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

DIRECTORY_NAME = "evidence"
CHUNK_BYTES = 64 * 1024
READ_ONLY = 0o400
_STORED_NAME = re.compile(r"[0-9a-f]{32}")
_TEMPORARY_PREFIX = ".incoming-"


class FileTooLarge(Exception):  # an internal signal: the service words it
    """The stream went past ``max_bytes``; the partial file is already deleted."""


@dataclass(frozen=True)
class ReceivedFile:
    """A file written to a temporary name in the store, not yet kept."""

    path: Path
    size: int
    sha256: str


def store_directory(data_dir: Path) -> Path:
    """``<data dir>/evidence``, created 0700 on first use."""
    directory = data_dir / DIRECTORY_NAME
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    return directory


def receive(directory: Path, stream: IO[bytes], *, max_bytes: int) -> ReceivedFile:
    """Copy ``stream`` into a temporary file in ``directory``, at most ``max_bytes``."""
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=_TEMPORARY_PREFIX)
    path = Path(temporary)
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(descriptor, "wb") as handle:
            while chunk := stream.read(CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLarge()
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        discard(path)
        raise
    return ReceivedFile(path=path, size=size, sha256=digest.hexdigest())


def keep(directory: Path, received: ReceivedFile) -> str:
    """Give a received file its final, generated, read-only name; returns that name."""
    received.path.chmod(READ_ONLY)
    while True:
        name = uuid.uuid4().hex
        try:
            _create_exclusively(received.path, directory / name)
        except FileExistsError:  # 122 random bits collided: draw again, never replace
            continue
        break
    discard(received.path)
    _sync_directory(directory)
    return name


def discard(path: Path) -> None:
    """Remove a temporary file (or a kept one whose record was rolled back)."""
    path.unlink(missing_ok=True)


def stored_path(directory: Path, stored_name: str) -> Path:
    if not _STORED_NAME.fullmatch(stored_name):
        raise ValueError("not a stored evidence name")  # names never come from input
    return directory / stored_name


def open_stored(directory: Path, stored_name: str) -> BinaryIO:
    """The stored file, open for reading; ``FileNotFoundError`` when it is gone."""
    return stored_path(directory, stored_name).open("rb")


def sha256_of(handle: BinaryIO) -> str:
    """The SHA-256 of an open file read from the start; leaves it at the start again."""
    handle.seek(0)
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK_BYTES):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def _create_exclusively(source: Path, target: Path) -> None:
    try:
        os.link(source, target)  # fails with FileExistsError rather than replace
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: claim the name exclusively first, then put the
        # file over that empty claim of our own.
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, READ_ONLY))
        os.replace(source, target)


def _sync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
