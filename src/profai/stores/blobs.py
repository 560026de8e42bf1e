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
        with self.writer(key, max_bytes, too_large_message=too_large_message) as out:
            while piece := stream.read(COPY_BUFFER):
                out.write(piece)
        return out.size, out.sha256

    def writer(self, key: str, max_bytes: int, *, too_large_message: str) -> BlobWriter:
        """A file at the key written piece by piece (hashing, counting, refusing past max_bytes);
        used as a context manager, it removes the file if the writing fails."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        return BlobWriter(key, path, max_bytes, too_large_message)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)


class BlobWriter:
    def __init__(self, key: str, path: Path, max_bytes: int, too_large_message: str):
        self.key, self.path, self.max_bytes, self.too_large_message = key, path, max_bytes, too_large_message
        self.size, self._digest, self._out = 0, hashlib.sha256(), path.open("wb")

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(self.too_large_message)
        self._digest.update(piece)
        self._out.write(piece)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def close(self) -> None:
        self._out.close()

    def abort(self) -> None:
        self._out.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type, *_) -> None:
        self.abort() if exc_type is not None else self.close()
