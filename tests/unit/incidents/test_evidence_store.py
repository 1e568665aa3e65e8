"""The write-once evidence store on a real directory: hashes, limits, names, modes."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import uuid

import pytest

from incidents.evidence import store


@pytest.fixture
def directory(tmp_path):
    return store.store_directory(tmp_path / "data")


def mode_of(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_directory_is_private(tmp_path):
    directory = store.store_directory(tmp_path / "data")
    assert directory == tmp_path / "data" / "evidence"
    assert mode_of(directory) == 0o700


def test_a_too_open_store_directory_is_closed_again(tmp_path):
    (tmp_path / "data" / "evidence").mkdir(parents=True, mode=0o755)
    (tmp_path / "data" / "evidence").chmod(0o755)
    assert mode_of(store.store_directory(tmp_path / "data")) == 0o700


def test_the_hash_on_arrival_equals_hashlibs(directory):
    content = os.urandom(300_000)  # several chunks
    received = store.receive(directory, io.BytesIO(content), max_bytes=1_000_000)
    assert received.sha256 == hashlib.sha256(content).hexdigest()
    assert received.size == len(content)
    assert received.path.read_bytes() == content
    assert received.path.parent == directory


def test_a_file_of_exactly_the_limit_is_accepted(directory):
    received = store.receive(directory, io.BytesIO(b"x" * 1000), max_bytes=1000)
    assert received.size == 1000


def test_a_file_over_the_limit_stops_and_leaves_nothing(directory):
    class Endless(io.RawIOBase):
        """A stream that never ends: only the limit stops the copy."""

        read_bytes = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            buffer[:] = b"a" * len(buffer)
            self.read_bytes += len(buffer)
            return len(buffer)

    stream = Endless()
    with pytest.raises(store.FileTooLarge):
        store.receive(directory, stream, max_bytes=200_000)
    assert list(directory.iterdir()) == []
    assert stream.read_bytes < 200_000 + 2 * store.CHUNK_BYTES  # stopped at the limit


def test_a_kept_file_is_read_only_under_a_generated_name(directory):
    received = store.receive(directory, io.BytesIO(b"evidence"), max_bytes=100)
    name = store.keep(directory, received)
    assert len(name) == 32
    assert int(name, 16) >= 0
    kept = directory / name
    assert kept.read_bytes() == b"evidence"
    assert mode_of(kept) == 0o400
    assert [path.name for path in directory.iterdir()] == [name]  # the temporary one is gone
    if os.geteuid() != 0:  # root ignores file modes; the mode above is what protects it
        with pytest.raises(PermissionError):
            kept.open("r+b")


def test_keeping_never_replaces_an_existing_file(directory, monkeypatch):
    first = store.keep(directory, store.receive(directory, io.BytesIO(b"first"), max_bytes=100))
    second_name = uuid.uuid4()
    drawn = iter([uuid.UUID(hex=first), second_name])
    monkeypatch.setattr(store.uuid, "uuid4", lambda: next(drawn))
    second = store.keep(directory, store.receive(directory, io.BytesIO(b"second"), max_bytes=100))
    assert second == second_name.hex
    assert (directory / first).read_bytes() == b"first"
    assert (directory / second).read_bytes() == b"second"


def test_without_hard_links_the_name_is_still_claimed_exclusively(directory, monkeypatch):
    def no_links(source, target):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(store.os, "link", no_links)
    existing = store.keep(directory, store.receive(directory, io.BytesIO(b"one"), max_bytes=100))
    drawn = iter([uuid.UUID(hex=existing), uuid.uuid4()])
    monkeypatch.setattr(store.uuid, "uuid4", lambda: next(drawn))
    name = store.keep(directory, store.receive(directory, io.BytesIO(b"two"), max_bytes=100))
    assert (directory / existing).read_bytes() == b"one"
    assert (directory / name).read_bytes() == b"two"
    assert mode_of(directory / name) == 0o400


def test_rereading_a_stored_file_detects_a_change(directory):
    content = b"original bytes"
    name = store.keep(directory, store.receive(directory, io.BytesIO(content), max_bytes=100))
    with store.open_stored(directory, name) as handle:
        assert store.sha256_of(handle) == hashlib.sha256(content).hexdigest()
        assert handle.read() == content  # left at the start for the download
    path = directory / name
    path.chmod(0o600)
    path.write_bytes(b"altered bytes!")
    with store.open_stored(directory, name) as handle:
        assert store.sha256_of(handle) != hashlib.sha256(content).hexdigest()


@pytest.mark.parametrize("name", ["../secret_key", "/etc/passwd", "ABCDEF" * 6, "a" * 31, ""])
def test_only_generated_names_are_ever_opened(directory, name):
    with pytest.raises(ValueError, match="not a stored evidence name"):
        store.open_stored(directory, name)


def test_a_missing_stored_file_is_reported_as_missing(directory):
    with pytest.raises(FileNotFoundError):
        store.open_stored(directory, uuid.uuid4().hex)
