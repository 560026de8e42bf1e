"""Shared by the benchmarks: peak memory of a process tree, percentiles, saving results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("results")
R_MANUALS = Path("/usr/share/R/doc/manual")


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(c) for c in (task / "children").read_text().split()]
    return out


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
        stack += _children(p)
    return total / 1024


class PeakRss:
    """Samples a process tree's RSS in the background; `.peak_mb` is the highest seen."""

    def __init__(self, pid: int | None = None, every: float = 0.1):
        self.pid, self.every, self.peak_mb = pid or os.getpid(), every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, tree_rss_mb(self.pid))
            time.sleep(self.every)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def previous(name: str, derived: tuple[str, ...] = ()) -> dict:
    """The figures last saved under NAME, for a run that measures only some parts again; what
    save() adds and the `derived` keys (recomputed from the rest) are left out."""
    path = RESULTS / f"{name}.json"
    figures = json.loads(path.read_text()) if path.exists() else {}
    return {k: v for k, v in figures.items() if k not in ("benchmark", "at", "machine", *derived)}


def save(name: str, figures: dict) -> Path:
    """Print the figures and write them to bench/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    record = {"benchmark": name, "at": datetime.now(UTC).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, **figures}
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return path
