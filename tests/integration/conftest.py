"""Fixtures the scale-out integration tests share; a module may define its own ``backend``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from storage.search import SearchBackend
from tests.support.search_backends import backend_of, drop_prefix
from tests.support.search_nodes import SearchNode


@pytest.fixture
def prefix(backend: SearchBackend) -> Iterator[str]:
    """A prefix of this test's own; its indices and template are removed by exact name."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    drop_prefix(backend, name)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def node(request: pytest.FixtureRequest) -> tuple[str, SearchNode]:
    """Each real node kind and its running node."""
    found: SearchNode = request.getfixturevalue(f"{request.param}_node")
    return request.param, found


@pytest.fixture
def backend(node: tuple[str, SearchNode]) -> SearchBackend:
    """Wachter's backend for each real node."""
    kind, server = node
    return backend_of(kind, server.url)
