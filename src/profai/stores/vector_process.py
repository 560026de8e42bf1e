"""Embedded Chroma in a child process of its own.

Chroma's Python bindings hold the GIL while they write (they release it for reads only): about
1 ms per vector here, so a 32-passage batch froze every other thread of the process, the API's
event loop included, for 35-50 ms, and three jobs writing at once kept uploads, status reads and
chat waiting. In its own process the store's writes cost the API nothing but the hand-off.
One child owns the store, so its files still have a single writer. It is a multiprocessing
manager: each calling thread gets its own connection and a thread in the child, so the reads of
many students run side by side there as they did here.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from multiprocessing.managers import BaseManager
from pathlib import Path
from typing import Any

from profai.orphans import exit_when_parent_exits
from profai.stores.vectors import ChromaVectorStore

_store: ChromaVectorStore | None = None  # in the child


def _open(path: str) -> ChromaVectorStore:
    global _store
    if _store is None:
        _store = ChromaVectorStore.embedded(Path(path))
    return _store


class _StoreManager(BaseManager):
    # Made by register() below: a proxy to the child's ChromaVectorStore.
    store: Callable[[str], Any]


_StoreManager.register("store", callable=_open)


def _forward(method: str) -> Callable[..., Any]:
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
        self._manager: _StoreManager | None = None
        self._remote: Any = None
        self._lock = threading.Lock()

    upsert = _forward("upsert")
    query = _forward("query")
    get = _forward("get")
    all = _forward("all")
    count = _forward("count")
    find = _forward("find")
    delete = _forward("delete")
    drop = _forward("drop")
    collections = _forward("collections")
    ping = _forward("ping")

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        remote = self._store()
        try:
            return getattr(remote, method)(*args, **kwargs)
        except (EOFError, ConnectionError):  # the child died
            self._reset(remote)
        return getattr(self._store(), method)(*args, **kwargs)

    def _store(self) -> Any:
        with self._lock:
            if self._remote is None:
                manager = _StoreManager(ctx=multiprocessing.get_context("spawn"))
                manager.start(initializer=exit_when_parent_exits)
                self._manager, self._remote = manager, manager.store(str(self.path))
            return self._remote

    def _reset(self, broken: Any) -> None:
        with self._lock:
            if self._remote is broken:
                self._stop()

    def _stop(self) -> None:
        manager, self._manager, self._remote = self._manager, None, None
        if manager is not None:
            with contextlib.suppress(EOFError, OSError):  # already gone
                manager.shutdown()

    def close(self) -> None:
        with self._lock:
            self._stop()
