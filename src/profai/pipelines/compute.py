"""Where CPU-heavy steps run. In the embedded server a pool of spawned, niced processes keeps
PDF parsing, embedding and generation off the API's GIL; inside a Celery worker the task
process is already separate, so the same calls run inline. PDFs are read apart from the pool,
in processes that are watched and killed when a page runs away (pipelines/pdf_readers.py);
inline, only the limits checked between pages apply (and a Celery task's own time limit)."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from profai.domain import PdfDocument
from profai.errors import Retryable
from profai.ingest.chunking import Chunk
from profai.ingest.pdf_limits import PdfLimits
from profai.observability import logs
from profai.pipelines import heavy
from profai.pipelines.pdf_readers import PdfReaders
from profai.settings import Settings


class ComputePool:
    """call/imap run functions from profai.pipelines.heavy in worker processes, or inline (with
    `processes` 0) using the `inline` providers, which are the caller's own."""

    def __init__(self, settings: Settings, processes: int, inline: heavy.Providers | None = None):
        self.settings = settings
        self.processes = processes
        self.inline = inline
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._readers = PdfReaders(settings, processes)

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=heavy.init_process, initargs=(self.settings.model_dump_json(by_alias=False),),
                )
            return self._pool

    def start(self) -> list[Future[Any]]:
        """Start the processes now, beside start-up: each spends a second importing before it
        lowers its priority, which in the middle of the first job's traffic slowed the API. And
        each loads the local model, as the API process does, so the first job does not wait on it."""
        if not self.processes:
            return []
        executor = self._executor()
        task = heavy.warm if self.settings.embedder == "local" else os.getpid
        # No process is idle yet, so each submit starts one. Done once all are (bench/ingest_pdf.py
        # waits, as a server is up a while before its first upload).
        return [executor.submit(task) for _ in range(self.processes)]

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return next(self.imap(fn, [args]))

    def imap(self, fn: Callable[..., Any], arg_tuples: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """Results in submission order, each as soon as it (and those before it) are done."""
        if self.processes == 0:
            heavy.install(self.inline or heavy.Providers.from_settings(self.settings))
            for args in arg_tuples:
                yield fn(*args)
            return
        ids = logs.context()  # the job's log ids go with its work
        pool = self._executor()
        pending = iter(arg_tuples)
        # A few tasks in the pool at a time, not all of them: the pool serves first come, first
        # served, so a job that queued all its batches at once made every other job's work (its
        # first batch, its drafting) wait for the whole of it. Two per process keeps each busy.
        window: deque[Future[Any]] = deque()

        def submit_next() -> None:
            if (args := next(pending, None)) is not None:
                window.append(pool.submit(heavy.in_context, ids, fn, *args))

        try:
            for _ in range(2 * self.processes):
                submit_next()
            while window:
                result = window.popleft().result()
                submit_next()  # before yielding: the pool works on while the caller uses the result
                yield result
        except BrokenProcessPool:
            self._reset()
            raise Retryable("a compute process died (out of memory or killed)") from None
        finally:
            for fut in window:
                fut.cancel()

    def read_pdfs(self, files: list[tuple[str, str]], limits: PdfLimits
                  ) -> Iterator[tuple[PdfDocument, list[Chunk]]]:
        """Each (path, filename)'s document and passages, in order, as soon as it (and those
        before it) are read: up to `processes` at once in watched reader processes, else inline."""
        if self.processes == 0:
            for path, filename in files:
                yield heavy.extract_pdf(path, filename, limits)
            return
        # One thread per read in flight waits on its reader; leaving the `with` waits for reads
        # still running after an error, each bounded by its watchdog.
        with ThreadPoolExecutor(max_workers=min(self.processes, len(files)) or 1,
                                thread_name_prefix="pdf-read") as threads:
            futures = [threads.submit(self._readers.read, path, filename, limits) for path, filename in files]
            try:
                for fut in futures:
                    yield fut.result()
            finally:
                for fut in futures:
                    fut.cancel()

    def _reset(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def shutdown(self) -> None:
        self._readers.close()
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def default_processes(settings: Settings) -> int:
    return settings.compute_processes or max(1, min(os.cpu_count() or 1, settings.max_workers))
