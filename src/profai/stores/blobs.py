"""Uploaded files. Keys are generated, never taken from user input, so an upload's name can
never become a path."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path
from typing import BinaryIO

from profai.errors import PayloadTooLarge

COPY_BUFFER = 1024 * 1024


class LocalBlobStore:
    """Files under one folder (a shared volume when several machines run workers)."""

    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def new_key(self, prefix: str, suffix: str = "") -> str:
        return f"{prefix}/{uuid.uuid4().hex}{suffix}"

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"blob key escapes the store: {key!r}")
        return path

    def save_stream(self, key: str, stream: BinaryIO, max_bytes: int, *, too_large_message: str) -> tuple[int, str]:
        """Copy a stream to the key in buffered pieces, stopping past max_bytes; returns size, sha256."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        try:
            with path.open("wb") as out:
                while piece := stream.read(COPY_BUFFER):
                    size += len(piece)
                    if size > max_bytes:
                        raise PayloadTooLarge(too_large_message)
                    digest.update(piece)
                    out.write(piece)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return size, digest.hexdigest()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)
