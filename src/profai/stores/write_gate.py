"""A lock file that lets a backup pause the writers of a directory (embedded Chroma) while it
copies it. Writers hold it shared, each write on a file descriptor of its own (flock locks belong
to the open file, so threads sharing one would release each other's); a snapshot holds it
exclusive, which waits for the writes in progress and holds up the next ones until it is done."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteGate:
    """Shared for writes, exclusive for a snapshot, across threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Held while one write runs; waits while a snapshot is being taken."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    @contextmanager
    def paused(self, timeout: float) -> Iterator[None]:
        """No write runs in the block. Raises TimeoutError if the writes in progress do not end
        within `timeout` seconds (polled: a blocking wait could be starved by overlapping writers)."""
        fd = self._open()
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TimeoutError(f"writers of {self.path.parent} did not pause in {timeout:g} s") from None
                    time.sleep(0.005)
            yield
        finally:
            os.close(fd)
