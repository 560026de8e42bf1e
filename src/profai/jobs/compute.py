"""Where CPU-heavy steps run. In the embedded server a pool of spawned, niced processes keeps
PDF parsing, embedding and generation off the API's GIL; inside a Celery worker the task
process is already separate, so the same calls run inline."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from profai.errors import Retryable
from profai.settings import Settings


class ComputePool:
    """call/imap run functions from profai.pipelines.heavy in worker processes (or inline)."""

    def __init__(self, settings: Settings, processes: int):
        self.settings = settings
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                from profai.pipelines import heavy

                self._pool = ProcessPoolExecutor(
                    max_workers=self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=heavy.init_process, initargs=(self.settings.model_dump_json(by_alias=False),),
                )
            return self._pool

    def start(self) -> None:
        """Start the processes now, beside start-up: each spends a second importing before it
        lowers its priority, which in the middle of the first job's traffic slowed the API."""
        if self.processes:
            executor = self._executor()
            for _ in range(self.processes):  # no process is idle yet, so each submit starts one
                executor.submit(os.getpid)

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return next(self.imap(fn, [args]))

    def imap(self, fn: Callable[..., Any], arg_tuples: Iterable[tuple]) -> Iterator[Any]:
        """Results in submission order, each as soon as it (and those before it) are done."""
        if self.processes == 0:
            from profai.pipelines import heavy

            heavy.ensure_settings(self.settings)
            for args in arg_tuples:
                yield fn(*args)
            return
        futures: list[Future] = [self._executor().submit(fn, *args) for args in arg_tuples]
        try:
            for fut in futures:
                yield fut.result()
        except BrokenProcessPool:
            self._reset()
            raise Retryable("a compute process died (out of memory or killed)") from None
        finally:
            for fut in futures:
                fut.cancel()

    def _reset(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None

    def shutdown(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def default_processes(settings: Settings) -> int:
    return settings.compute_processes or max(1, min(os.cpu_count() or 1, settings.max_workers))
