"""A real `chroma run` server that a test may kill and start again on the same port and data."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from procs import free_port, kill_group, start_process, wait_http

CHROMA = str(Path(sys.executable).parent / "chroma")


class ChromaServer:
    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.starts = 0
        root.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        log = self.root / f"chroma-{self.starts}.log"
        self.starts += 1
        self.proc = start_process([CHROMA, "run", "--host", "127.0.0.1", "--port", str(self.port),
                                   "--path", str(self.root / "db")], {}, log)
        wait_http(f"{self.url}/api/v2/heartbeat", self.proc, log)

    def kill(self) -> None:
        """Kill it outright, as a crash would."""
        if self.proc is not None:
            kill_group(self.proc, signal.SIGKILL)
            self.proc = None
