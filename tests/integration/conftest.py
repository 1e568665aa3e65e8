"""Fixtures the scale-out integration tests share; a module may define its own ``backend``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import Settings
from storage.search import SearchBackend, backend_for
from tests.support.search_backends import drop_prefix
from tests.support.search_nodes import SearchNode


@pytest.fixture
def prefix(backend: SearchBackend) -> Iterator[str]:
    """A prefix of this test's own; its indices and template are removed by exact name."""
    name = f"t{uuid.uuid4().hex[:10]}"
    yield name
    drop_prefix(backend, name)


@pytest.fixture(params=["elasticsearch", "opensearch"])
def backend(request: pytest.FixtureRequest) -> SearchBackend:
    """Wachter's backend for each real node, as the service builds it from its settings."""
    node: SearchNode = request.getfixturevalue(f"{request.param}_node")
    settings = Settings(
        data_dir=Path("/nonexistent"),
        database_url="sqlite://",
        elasticsearch_url=node.url,
        elasticsearch_kind=request.param,
    )
    return backend_for(settings)
