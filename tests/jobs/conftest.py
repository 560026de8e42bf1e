"""Fixtures of the job tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chroma_server import ChromaServer


@pytest.fixture
def chroma(tmp_path) -> Iterator[ChromaServer]:
    """A `chroma run` server of the test's own, which it may kill and start again."""
    server = ChromaServer(tmp_path / "chroma")
    server.start()
    yield server
    server.kill()
