"""A real Chroma server of the test's own (see chroma_kit.py for what the tests do with it)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from procs import free_port, kill_group, start_process, wait_http


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    """A `chroma run` server on a free port, on a directory of this test's own."""
    port = free_port()
    chroma = str(Path(sys.executable).parent / "chroma")
    log = tmp_path / "chroma.log"
    proc = start_process([chroma, "run", "--host", "127.0.0.1", "--port", str(port), "--path",
                          str(tmp_path / "chroma-server")], {"RUST_LOG": "warn"}, log)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/api/v2/heartbeat", proc, log)
    yield url
    kill_group(proc, signal.SIGTERM)

