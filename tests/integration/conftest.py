"""Fixtures the scale-out integration tests share (each module defines its ``backend``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from storage.search import SearchBackend
from tests.support.search_backends import drop_prefix


@pytest.fixture
def prefix(backend: SearchBackend) -> Iterator[str]:
    """A prefix of this test's own; its indices and template are removed by exact name."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    drop_prefix(backend, name)
