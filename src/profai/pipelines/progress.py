"""What a pipeline sees of whoever runs it: a place to report progress and a way to learn that it
must stop. A job's handle is one; a CLI progress bar or a test can be another."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def progress(self, percent: float, message: str) -> None:
        """Record progress (0-100) and a human message; raises when the work must stop."""
        ...

    def check(self) -> None:
        """Raise if the work must stop (cancelled, shutting down, past its time limit)."""
        ...

    @property
    def deadline(self) -> float | None:
        """A time.monotonic() value no call may run past, or None."""
        ...
