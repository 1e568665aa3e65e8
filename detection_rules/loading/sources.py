"""Where rule texts come from: YAML files, folders of them, and .zip archives.

A source is the bytes of one YAML file and the name it is reported under. Folders are
walked recursively in sorted order (hidden folders such as ``.git`` and ``.github`` are
skipped: their YAML is not Sigma). Archives are read in memory and never extracted, so a
member name can never write outside anything; they are refused before any rule is read
when they exceed the limits below, which exist against zip bombs (a few kilobytes that
inflate to gigabytes) and against archives built to exhaust memory with members.
"""

from __future__ import annotations

import os
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from core.i18n import N_
from detection_rules.errors import DetectionRuleError, RuleArchiveError

YAML_SUFFIXES: Final = (".yml", ".yaml")
# A Sigma rule is a few kilobytes (SigmaHQ's largest is under 100 KiB); 4 MiB leaves room
# for a big multi-document file and stops a multi-gigabyte "rule" from being read whole.
MAX_RULE_FILE_BYTES: Final = 4 * 1024 * 1024
_READ_CHUNK: Final = 64 * 1024
# Deflate's ratio is at most about 1:1032; bzip2 and LZMA decompress a whole chunk in one
# call with no output bound, so a tiny member could fill memory before any limit is seen.
_ALLOWED_COMPRESSION: Final = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})


@dataclass(frozen=True)
class ArchiveLimits:
    """How much a rule archive may hold; the SigmaHQ repository as a zip fits well inside."""

    max_members: int = 20_000
    max_member_bytes: int = MAX_RULE_FILE_BYTES
    max_total_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        if min(self.max_members, self.max_member_bytes, self.max_total_bytes) < 1:
            raise ValueError("archive limits must be positive")


@dataclass(frozen=True)
class RuleSource:
    """The bytes of one YAML file; ``path`` names it in reports (``pack.zip!rules/a.yml``)."""

    path: str
    data: bytes


def read_rule_sources(
    paths: Iterable[str | Path], *, limits: ArchiveLimits | None = None
) -> Iterator[RuleSource]:
    """Every YAML source under ``paths``, in the order given (folders sorted).

    Raises ``RuleArchiveError`` for an archive over the limits or holding another archive,
    and ``DetectionRuleError`` for a path that does not exist or a file that is too large.
    """
    archive_limits = limits or ArchiveLimits()
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for file_path in _walk_yaml(path):
                yield _read_file(file_path)
        elif path.is_file() and path.suffix.lower() == ".zip":
            yield from _read_archive(path, archive_limits)
        elif path.is_file():
            yield _read_file(path)
        else:
            raise DetectionRuleError(N_("%(path)s: no such file or folder"), path=str(path))


def count_rule_files(paths: Iterable[str | Path]) -> int | None:
    """How many sources ``read_rule_sources`` will yield, for a progress bar (cheap: no reads).

    ``None`` when an archive or a missing path makes the count unknown before reading.
    """
    total = 0
    for given in paths:
        path = Path(given)
        if path.is_dir():
            total += sum(1 for _ in _walk_yaml(path))
        elif path.is_file() and path.suffix.lower() != ".zip":
            total += 1
        else:
            return None
    return total


def _walk_yaml(folder: Path) -> Iterator[Path]:
    for root, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in sorted(files):
            if name.lower().endswith(YAML_SUFFIXES) and not name.startswith("."):
                yield Path(root, name)


def _read_file(path: Path) -> RuleSource:
    with path.open("rb") as stream:
        data = stream.read(MAX_RULE_FILE_BYTES + 1)
    if len(data) > MAX_RULE_FILE_BYTES:
        raise DetectionRuleError(
            N_("%(path)s: larger than %(limit)s bytes; a Sigma rule file is far smaller"),
            path=str(path),
            limit=MAX_RULE_FILE_BYTES,
        )
    return RuleSource(path=str(path), data=data)


def _read_archive(path: Path, limits: ArchiveLimits) -> Iterator[RuleSource]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise RuleArchiveError(
            N_("%(path)s: not a readable zip archive (%(reason)s)"),
            path=str(path),
            reason=str(error),
        ) from None
    with archive:
        members = _check_archive(path, archive, limits)
        total = 0
        for member in members:
            data = _read_member(path, archive, member, limits)
            total += len(data)
            if total > limits.max_total_bytes:
                raise _too_large(path, limits.max_total_bytes)
            yield RuleSource(path=f"{path}!{member.filename}", data=data)


def _check_archive(
    path: Path, archive: zipfile.ZipFile, limits: ArchiveLimits
) -> list[zipfile.ZipInfo]:
    """The YAML members, sorted; refuses the archive first when its directory breaks a limit.

    The sizes in the directory are what the archive claims; ``_read_member`` counts what
    actually comes out, so a lying directory is caught too.
    """
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise RuleArchiveError(
            N_("%(path)s: %(count)s members, more than the %(limit)s a rule archive may hold"),
            path=str(path),
            count=len(members),
            limit=limits.max_members,
        )
    yaml_members = []
    claimed_total = 0
    for member in members:
        name = member.filename
        if name.lower().endswith(".zip"):
            raise RuleArchiveError(
                N_("%(path)s: holds another archive (%(member)s); unpack nested archives first"),
                path=str(path),
                member=name,
            )
        if member.is_dir() or not name.lower().endswith(YAML_SUFFIXES):
            continue
        if member.compress_type not in _ALLOWED_COMPRESSION:
            raise RuleArchiveError(
                N_("%(path)s: %(member)s uses a compression other than deflate or none"),
                path=str(path),
                member=name,
            )
        if member.file_size > limits.max_member_bytes:
            raise _member_too_large(path, name, limits.max_member_bytes)
        claimed_total += member.file_size
        yaml_members.append(member)
    if claimed_total > limits.max_total_bytes:
        raise _too_large(path, limits.max_total_bytes)
    return sorted(yaml_members, key=lambda member: member.filename)


def _read_member(
    path: Path, archive: zipfile.ZipFile, member: zipfile.ZipInfo, limits: ArchiveLimits
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    try:
        with archive.open(member) as stream:
            while chunk := stream.read(_READ_CHUNK):
                size += len(chunk)
                if size > limits.max_member_bytes:
                    raise _member_too_large(path, member.filename, limits.max_member_bytes)
                chunks.append(chunk)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as error:
        # BadZipFile: a CRC mismatch (sizes that lied); zlib.error: corrupt deflate data;
        # RuntimeError: an encrypted member.
        raise RuleArchiveError(
            N_("%(path)s: cannot read %(member)s (%(reason)s)"),
            path=str(path),
            member=member.filename,
            reason=str(error),
        ) from None
    return b"".join(chunks)


def _member_too_large(path: Path, member: str, limit: int) -> RuleArchiveError:
    return RuleArchiveError(
        N_("%(path)s: %(member)s inflates to more than %(limit)s bytes; refused (zip bomb?)"),
        path=str(path),
        member=member,
        limit=limit,
    )


def _too_large(path: Path, limit: int) -> RuleArchiveError:
    return RuleArchiveError(
        N_("%(path)s: the rules inflate to more than %(limit)s bytes in all; refused (zip bomb?)"),
        path=str(path),
        limit=limit,
    )
