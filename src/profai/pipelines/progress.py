"""What a pipeline sees of whoever runs it: a place to report progress and a way to learn that it
must stop. A job's handle is one; a CLI progress bar or a test can be another."""

from __future__ import annotations

from typing import Protocol

Step = tuple[str, int]  # the step under way and its own progress, 0-100


class Progress(Protocol):
    def progress(self, percent: float, message: str, step: Step | None = None) -> None:
        """Record progress (0-100), a human message and the step under way; raises when the work
        must stop."""
        ...

    def check(self) -> None:
        """Raise if the work must stop (cancelled, shutting down, past its time limit)."""
        ...

    @property
    def deadline(self) -> float | None:
        """A time.monotonic() value no call may run past, or None."""
        ...


class Stage:
    """One step of a longer run: reports its own 0-100 as the step's progress and as its share
    [start, end] of the whole."""

    def __init__(self, outer: Progress, name: str, start: float, end: float) -> None:
        self.outer, self.name, self.start, self.end = outer, name, start, end

    def progress(self, percent: float, message: str, step: Step | None = None) -> None:
        percent = max(0.0, min(100.0, percent))
        self.outer.progress(self.start + (self.end - self.start) * percent / 100, message, (self.name, int(percent)))

    def check(self) -> None:
        self.outer.check()

    @property
    def deadline(self) -> float | None:
        return self.outer.deadline
