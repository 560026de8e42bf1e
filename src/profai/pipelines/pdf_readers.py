"""PDFs are read in processes of their own, watched from outside.

One PDFium call cannot be interrupted, and a crafted page can make one run for minutes or take
gigabytes: a 7 KB file drawing one form of text 10,000 times asks for ~7 GB. The limits checked
while reading (ingest/pdf_limits.py) stop most such files between pages; for the rest, each
read runs in a spawned process that reports every page it finishes. A read that goes longer
than PDF_PAGE_SECONDS without finishing a page, or whose process grows past PDF_MEMORY_MB, has
its process killed and fails with pdf_too_slow or pdf_too_large (a reader reports each page it
reads, and again as it cleans and chunks them, so a long document is never mistaken for a slow one). These processes are not the
compute pool's: killing one costs no other job its embeddings or generation, and the pool's
processes live on. A reader that finished a read, however it ended, serves the next one."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import Any

from profai.domain import PdfDocument
from profai.errors import ProfAIError, Retryable
from profai.ingest.chunking import Chunk
from profai.ingest.pdf_limits import PdfLimits, stalled, too_much_memory
from profai.pipelines import heavy
from profai.settings import Settings

MB = 1024 * 1024
START_SECONDS = 120.0  # for a new reader to import and say it is ready (not a page's time)
TICK = 0.05  # how often a read's time and memory are looked at
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class _Killed(Exception):
    """The reader has to be stopped from outside; `error` is what to report."""

    def __init__(self, error: ProfAIError) -> None:
        super().__init__(error.message)
        self.error = error


class _Reader:
    """One spawned reader process and the pipe to it."""

    def __init__(self, settings_json: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        conn, child = ctx.Pipe()
        self.conn: Connection = conn
        self.process: SpawnProcess = ctx.Process(target=heavy.serve_pdf_reads, args=(child, settings_json),
                                                 name="pdf-reader", daemon=True)
        self.process.start()
        child.close()
        if not self.conn.poll(START_SECONDS):
            self.stop()
            raise Retryable("a PDF reader process did not start")
        self.conn.recv()  # ("ready", pid)

    def read(self, path: str, filename: str, limits: PdfLimits, memory_bytes: int
             ) -> tuple[PdfDocument, list[Chunk]]:
        """The document and its chunks, or the reader's error; _Killed when it has to be stopped,
        EOFError when it died."""
        self.conn.send((path, filename, limits))
        page, deadline = 0, time.monotonic() + limits.page_seconds
        while True:
            if self.conn.poll(TICK):
                kind, value = self.conn.recv()
                if kind == "page":
                    page, deadline = value, time.monotonic() + limits.page_seconds
                    continue
                return self._outcome(kind, value)
            if time.monotonic() > deadline:
                raise _Killed(stalled(page, limits))
            if self._rss() > memory_bytes:
                raise _Killed(too_much_memory(memory_bytes / MB))

    @staticmethod
    def _outcome(kind: str, value: Any) -> tuple[PdfDocument, list[Chunk]]:
        if kind == "done":
            return value
        if kind == "error":
            raise value
        raise RuntimeError(value)  # "crash": the reader logged the details

    def _rss(self) -> int:
        """Resident bytes of the process (0 where /proc does not tell)."""
        try:
            with open(f"/proc/{self.process.pid}/statm", "rb") as statm:
                return int(statm.read().split()[1]) * _PAGE_BYTES
        except (OSError, IndexError, ValueError):
            return 0

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(timeout=10)


class PdfReaders:
    """At most `processes` reader processes reading at once (as many as the compute pool has, so
    reading PDFs for several jobs takes no more cores or memory than it did in the pool), each
    started on first use and kept, idle, for the next read."""

    def __init__(self, settings: Settings, processes: int) -> None:
        self._settings_json = settings.model_dump_json(by_alias=False)
        self.memory_bytes = int(settings.pdf_memory_mb * MB)
        self.keep = processes
        self._slots = threading.BoundedSemaphore(max(1, processes))
        self._idle: list[_Reader] = []
        self._lock = threading.Lock()
        self._closed = False

    def read(self, path: str, filename: str, limits: PdfLimits) -> tuple[PdfDocument, list[Chunk]]:
        with self._slots:
            return self._read(path, filename, limits)

    def _read(self, path: str, filename: str, limits: PdfLimits) -> tuple[PdfDocument, list[Chunk]]:
        reader = self._take()
        try:
            result = reader.read(path, filename, limits, self.memory_bytes)
        except ProfAIError:
            self._give_back(reader)  # the file was refused; the reader is fine
            raise
        except _Killed as stopped:
            reader.stop()
            raise stopped.error from None
        except (EOFError, OSError):
            reader.stop()
            raise Retryable("a PDF reader process died (out of memory or killed)") from None
        except BaseException:
            reader.stop()  # interrupted mid-read: its state is unknown
            raise
        self._give_back(reader)
        return result

    def _take(self) -> _Reader:
        while True:
            with self._lock:
                reader = self._idle.pop() if self._idle else None
            if reader is None:
                return _Reader(self._settings_json)
            if reader.process.is_alive():  # one that died idle (killed from outside) is replaced
                return reader
            reader.stop()

    def _give_back(self, reader: _Reader) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self.keep:
                self._idle.append(reader)
                return
        reader.stop()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for reader in idle:
            reader.stop()
