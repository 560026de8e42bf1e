"""Uploaded files. Keys are generated, never taken from user input, so an upload's name can
never become a path."""

from __future__ import annotations

import logging
import queue
import shutil
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from profai.errors import PayloadTooLarge

log = logging.getLogger(__name__)

Check = Callable[[Path], dict[str, Any]]  # judges a stored file by its content; raises to refuse it


class Scan(Protocol):
    """Judges a file from the pieces written to it, on the disk thread, so judging it costs no
    second read (a CSV's header, encoding, hash and line count); facts() raises to refuse it.
    Only uploads that need one have one: each scanned piece costs the disk thread waits for the
    GIL, and a PDF is checked by opening it and hashed where it is read."""

    def feed(self, piece: bytes) -> None: ...

    def facts(self) -> dict[str, Any]: ...


@dataclass
class StoredBlob:
    """A file saved under a key, with what its scan and check found (a PDF's page count, a
    CSV's header and sha256)."""

    key: str
    size: int
    facts: dict[str, Any] = field(default_factory=dict)


def key_parts(key: str) -> list[str]:
    """The folders and name of a key under its store's root. Keys are checked by their form rather
    than resolved on disk (a dozen system calls per upload): relative, with no empty, "." or ".."
    part; ValueError otherwise."""
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts) or "\\" in key or "\x00" in key:
        raise ValueError(f"blob key escapes the store: {key!r}")
    return parts


class LocalBlobStore:
    """Files under one folder (a shared volume when several machines run workers)."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root.resolve()

    def new_key(self, prefix: str, suffix: str = "") -> str:
        return f"{prefix}/{uuid.uuid4().hex}{suffix}"

    def path(self, key: str) -> Path:
        """The file of a key."""
        return self.root.joinpath(*key_parts(key))

    def writer(self, key: str, max_bytes: int, *, too_large_message: str, scan: Scan | None = None) -> BlobWriter:
        """A file at the key written piece by piece (counting, refusing past max_bytes), each
        piece also fed to `scan` once written."""
        return BlobWriter(key, self.path(key), max_bytes, too_large_message, scan)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        shutil.rmtree(self.path(prefix), ignore_errors=True)


class _DiskThread:
    """One thread per process that writes the pieces of every BlobWriter, in order. Writing
    releases the GIL, so it runs on another core while the event loop parses the next
    request instead of on it. The queue is bounded: a disk slower than the network pauses the
    writer rather than filling memory."""

    def __init__(self, max_pieces: int = 256) -> None:
        self._queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=max_pieces)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, work: Callable[[], None]) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="blob-writer", daemon=True)
                    self._thread.start()
        self._queue.put(work)

    def _run(self) -> None:
        while True:
            work = self._queue.get()
            try:
                work()
            except Exception:  # the writers report their own errors; this thread must not die
                log.exception("blob writer")


_DISK = _DiskThread()


class BlobWriter:
    """Counts and refuses past max_bytes at once, on the caller's thread; the file's creation,
    writing and scanning happen on the disk thread, then finish() or discard() say when the file
    is done with."""

    def __init__(self, key: str, path: Path, max_bytes: int, too_large_message: str,
                 scan: Scan | None = None) -> None:
        self.key, self.path, self.max_bytes, self.too_large_message = key, path, max_bytes, too_large_message
        self.size = 0
        self._scan = scan
        self._out: BinaryIO | None = None
        self._error: BaseException | None = None

    def write(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self.max_bytes:
            raise PayloadTooLarge(self.too_large_message)
        _DISK.submit(partial(self._write, piece))

    def finish(self, check: Check | None = None) -> Future[StoredBlob]:
        """The stored file once its queued writes are done, with what its scan and then `check`
        found in it (run on the disk thread too: opening a PDF releases the GIL as well). If a
        write, the scan or the check fails the file is removed and the future carries the error."""
        done: Future[StoredBlob] = Future()
        _DISK.submit(partial(self._finish, check, done))
        return done

    def discard(self) -> Future[None]:
        """Remove the file once its queued writes are done (after finish(), too: an upload refused
        later keeps none of its files)."""
        done: Future[None] = Future()
        _DISK.submit(partial(self._discard, done))
        return done

    def _file(self) -> BinaryIO:
        if self._out is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = self.path.open("wb")
        return self._out

    def _write(self, piece: bytes) -> None:
        if self._error is None:
            try:
                self._file().write(piece)
                if self._scan is not None:
                    self._scan.feed(piece)
            except BaseException as exc:  # reported by finish(), where the caller is waiting
                self._error = exc

    def _finish(self, check: Check | None, done: Future[StoredBlob]) -> None:
        # A waiter that gave up (its request was cancelled) may have cancelled the future: then
        # nobody takes the file, and setting a result would raise here instead of reaching anyone.
        if not done.set_running_or_notify_cancel():
            self._remove()
            return
        try:
            self._file().close()
            if self._error is not None:
                raise self._error
            facts = self._scan.facts() if self._scan is not None else {}
            facts |= check(self.path) if check else {}
            done.set_result(StoredBlob(self.key, self.size, facts))
        except BaseException as exc:
            self._remove()
            done.set_exception(exc)

    def _discard(self, done: Future[None]) -> None:
        self._remove()
        if done.set_running_or_notify_cancel():
            done.set_result(None)

    def _remove(self) -> None:
        try:
            if self._out is not None:
                self._out.close()
            self.path.unlink(missing_ok=True)
        except OSError:
            pass  # nothing was written there, or it cannot be: either way no file is kept
