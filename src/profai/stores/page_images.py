"""Rendered pages of uploaded PDFs on disk: each page at each width is drawn once, then served
from its file. A PDF's images share one folder, named after its blob key, so they go with it.
Past PAGE_CACHE_MB the least recently seen pages go (a 2,000-page manual at every width would
otherwise take gigabytes); they are drawn again when asked for."""

from __future__ import annotations

import functools
import hashlib
import shutil
import threading
from pathlib import Path

from profai.stores import lru
from profai.stores.files import write_atomic

# The cache is scanned for what to evict after every this much of its budget is written by one
# process, not after each image: a scan stats every file, an image takes ~30 ms to draw.
_SCAN_EVERY = 1 / 20


class PageImages:
    """PNG files under `directory` (normally `<data_dir>/page-images/`), one folder per uploaded PDF."""

    def __init__(self, directory: Path, max_bytes: int | None = None) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        # Scan at the first write: what earlier runs and other processes left counts too.
        self._unscanned = max_bytes * _SCAN_EVERY if max_bytes is not None else 0.0

    def folder(self, blob_key: str) -> Path:
        # A hash of the key, not the key: no upload's storage layout shows in the cache's.
        return self.directory / hashlib.sha256(blob_key.encode()).hexdigest()[:32]

    def path(self, blob_key: str, page: int, width: int) -> Path:
        return self.folder(blob_key) / f"{page}-{width}.png"

    def get(self, blob_key: str, page: int, width: int) -> Path | None:
        """The cached image's file, or None when it has not been drawn yet."""
        path = self.path(blob_key, page, width)
        if not path.is_file():
            return None
        lru.touch(path)
        return path

    def put(self, blob_key: str, page: int, width: int, png: bytes) -> Path:
        """Store an image: written to a temp file and renamed, so a reader in any thread or process
        sees a whole image or none; two requests drawing the same page at once both succeed."""
        path = self.path(blob_key, page, width)
        write_atomic(path, png)
        if self.max_bytes is not None and self._scan_due(len(png)):
            self.evict()
        return path

    def _scan_due(self, written: int) -> bool:
        """Count `written` bytes; True when a scan is due (and the count starts again)."""
        assert self.max_bytes is not None
        with self._lock:
            self._unscanned += written
            if self._unscanned < self.max_bytes * _SCAN_EVERY:
                return False
            self._unscanned = 0.0
            return True

    def evict(self) -> int:
        """Remove the least recently seen images until the cache fits its budget; the bytes it takes."""
        assert self.max_bytes is not None
        return lru.evict({p: (p,) for p in self.directory.glob("*/*.png")}, self.max_bytes)

    def forget(self, blob_key: str) -> None:
        """Remove every image of the PDF (its course was deleted, or its job failed)."""
        shutil.rmtree(self.folder(blob_key), ignore_errors=True)


@functools.cache
def page_images(data_dir: Path, max_mb: float | None = None) -> PageImages:
    """The cache of a deployment's data directory (the server, the worker cleaning up a job): one
    per process, so what it has written since its last scan is counted across requests."""
    return PageImages(data_dir / "page-images", None if max_mb is None else int(max_mb * 1024 * 1024))
