"""Disk caches that keep to a budget: the least recently used entries go first. An entry is one
or more files; its first file's modification time says when it was last used (a reader touches
it), and that file goes first, so a reader who finds it finds the rest too."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# An entry used this recently is never removed: a response may still be sending its file.
IN_USE_SECONDS = 300


def touch(path: Path) -> None:
    """Mark an entry as just used (its first file); one removed this instant is no error."""
    with contextlib.suppress(OSError):
        os.utime(path)


def evict(entries: Mapping[Path, Sequence[Path]], max_bytes: int) -> int:
    """Remove least recently used entries ({first file: all its files}) until the rest fit in
    `max_bytes`; the bytes they now take. Entries whose files vanish meanwhile (another process
    evicting, a write not finished) are skipped."""
    sizes: dict[Path, int] = {}
    used: dict[Path, float] = {}
    for first, files in entries.items():
        try:
            sizes[first] = sum(f.stat().st_size for f in files)
            used[first] = first.stat().st_mtime
        except OSError:
            continue
    total = sum(sizes.values())
    recent = time.time() - IN_USE_SECONDS
    for first in sorted(used, key=used.__getitem__):
        if total <= max_bytes or used[first] > recent:
            break
        for f in sorted(entries[first], key=lambda f: f != first):  # the first file first: then a miss
            f.unlink(missing_ok=True)
        total -= sizes[first]
    return total
