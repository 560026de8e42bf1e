"""Embedded Chroma in a child process of its own.

Chroma's Python bindings hold the GIL while they write (they release it for reads only): about
1 ms per vector here, so a 32-passage batch froze every other thread of the process, the API's
event loop included, for 35-50 ms, and three jobs writing at once kept uploads, status reads and
chat waiting. In its own process the store's writes cost the API nothing but the hand-off.
One child owns the store, so its files still have a single writer; calls run one at a time in it.
"""

from __future__ import annotations

import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from profai.stores.vectors import ChromaVectorStore

_store: ChromaVectorStore | None = None  # in the child


def _open(path: str) -> None:
    global _store
    _store = ChromaVectorStore.embedded(Path(path))


def _run(method: str, args: tuple, kwargs: dict) -> Any:
    return getattr(_store, method)(*args, **kwargs)


def _forward(method: str):
    def call(self: VectorStoreProcess, *args: Any, **kwargs: Any) -> Any:
        return self._call(method, args, kwargs)

    call.__name__ = method
    call.__doc__ = f"ChromaVectorStore.{method}, run in the store's process."
    return call


class VectorStoreProcess:
    """A VectorStore (see stores.vectors) kept in a spawned child, started on first use and
    started again, with the call repeated once, if it dies (every call is safe to repeat)."""

    def __init__(self, path: Path):
        self.path = path
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    upsert = _forward("upsert")
    query = _forward("query")
    get = _forward("get")
    all = _forward("all")
    count = _forward("count")
    delete = _forward("delete")
    drop = _forward("drop")
    ping = _forward("ping")

    def _call(self, method: str, args: tuple, kwargs: dict) -> Any:
        pool = self._executor()
        try:
            return pool.submit(_run, method, args, kwargs).result()
        except BrokenProcessPool:
            self._reset(pool)
        return self._executor().submit(_run, method, args, kwargs).result()  # once more, in a new child

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_open, initargs=(str(self.path),),
                )
            return self._pool

    def _reset(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
