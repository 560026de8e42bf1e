"""Rendered pages of uploaded PDFs on disk: each page at each width is drawn once, then served
from its file. A PDF's images share one folder, named after its blob key, so they go with it."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from profai.stores.files import write_atomic


class PageImages:
    """PNG files under `directory` (normally `<data_dir>/page-images/`), one folder per uploaded PDF."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def folder(self, blob_key: str) -> Path:
        # A hash of the key, not the key: no upload's storage layout shows in the cache's.
        return self.directory / hashlib.sha256(blob_key.encode()).hexdigest()[:32]

    def path(self, blob_key: str, page: int, width: int) -> Path:
        return self.folder(blob_key) / f"{page}-{width}.png"

    def get(self, blob_key: str, page: int, width: int) -> Path | None:
        """The cached image's file, or None when it has not been drawn yet."""
        path = self.path(blob_key, page, width)
        return path if path.is_file() else None

    def put(self, blob_key: str, page: int, width: int, png: bytes) -> Path:
        """Store an image: written to a temp file and renamed, so a reader in any thread or process
        sees a whole image or none; two requests drawing the same page at once both succeed."""
        path = self.path(blob_key, page, width)
        write_atomic(path, png)
        return path

    def forget(self, blob_key: str) -> None:
        """Remove every image of the PDF (its course was deleted, or its job failed)."""
        shutil.rmtree(self.folder(blob_key), ignore_errors=True)


def page_images(data_dir: Path) -> PageImages:
    """The cache of a deployment's data directory (the server, the worker cleaning up a job)."""
    return PageImages(data_dir / "page-images")
