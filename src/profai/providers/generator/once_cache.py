"""An LRU cache that computes each value once, however many threads ask for it at the same time.

functools.lru_cache lets concurrent callers with the same arguments each do the work: a class
whose first quizzes arrive together on a fresh API process made every request read the whole
course and embed its terms again (seconds each; bench/load.py saw a 9 s p95)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def once_cache(maxsize: int) -> Callable[[Callable[..., T]], Callable[..., T]]:
    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        cached = functools.lru_cache(maxsize=maxsize)(fn)
        guard = threading.Lock()
        computing: dict[tuple[Any, ...], threading.Lock] = {}

        @functools.wraps(fn)
        def wrapper(*args: Any) -> T:
            with guard:
                lock = computing.setdefault(args, threading.Lock())
            with lock:  # the first caller computes; the others wait, then read the cache
                try:
                    return cached(*args)
                finally:
                    with guard:
                        computing.pop(args, None)

        wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        wrapper.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return wrapper

    return decorate
