"""The cache of source pages drawn as PNG keeps to its budget: past it the least recently seen
images go (a page looked at again stays), images seen within the last minutes never go (a
response may still be sending one), and a process scans the folder only now and then, counting
what other processes and earlier runs left there too."""

from __future__ import annotations

import os
import time
from pathlib import Path

from profai.stores.lru import IN_USE_SECONDS
from profai.stores.page_images import PageImages

KB = 1024
PNG = b"\x89PNG" + b"\0" * (10 * KB - 4)  # 10 KB a page


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_past_its_budget_the_least_recently_seen_pages_go(tmp_path: Path):
    cache = PageImages(tmp_path, max_bytes=50 * KB)
    pages = [cache.put("course-a.pdf", page, 800, PNG) for page in range(1, 5)]  # 40 KB
    for n, path in enumerate(pages):  # seen long ago: page 1 first, page 4 last
        age(path, IN_USE_SECONDS + 1000 - n)
    assert cache.get("course-a.pdf", 1, 800) == pages[0]  # seen again now: the most recent

    # Another PDF's pages take the cache to 60 KB: page 2, the least recently seen, goes; page 1 stays.
    for page in (1, 2):
        cache.put("course-b.pdf", page, 800, PNG)
    assert cache.evict() <= 50 * KB
    assert [cache.get("course-a.pdf", p, 800) is not None for p in range(1, 5)] == [True, False, True, True]
    assert cache.get("course-b.pdf", 1, 800) and cache.get("course-b.pdf", 2, 800)


def test_pages_seen_in_the_last_minutes_stay_even_past_the_budget(tmp_path: Path):
    cache = PageImages(tmp_path, max_bytes=15 * KB)
    for page in range(1, 4):
        cache.put("course.pdf", page, 800, PNG)
    assert cache.evict() == 30 * KB
    assert all(cache.get("course.pdf", p, 800) for p in range(1, 4))


def test_the_first_write_scans_what_was_left_then_every_twentieth_of_the_budget(tmp_path: Path):
    other = PageImages(tmp_path)  # an earlier run, or another process: no budget of its own

    def left_over(pages: range) -> None:  # pages seen long ago, the lower the longer
        for page in pages:
            age(other.put("old.pdf", page, 800, PNG), IN_USE_SECONDS + 1000 - page)

    def old_pages() -> int:  # counted without get(), which would mark them seen
        return sum(1 for _ in tmp_path.glob("*/*.png")) - sum(1 for p in range(1, 4) if cache.path("new.pdf", p, 800).exists())

    left_over(range(1, 51))  # 500 KB
    cache = PageImages(tmp_path, max_bytes=400 * KB)  # scans after each 20 KB it writes
    cache.put("new.pdf", 1, 800, PNG)  # the first write scans: 510 KB, the 11 oldest go
    assert old_pages() == 39 and not cache.path("old.pdf", 11, 800).exists()
    assert cache.path("old.pdf", 12, 800).exists()

    left_over(range(51, 56))  # 450 KB
    cache.put("new.pdf", 2, 800, PNG)  # 10 KB written since the scan: none yet
    assert old_pages() == 44
    cache.put("new.pdf", 3, 800, PNG)  # 20 KB: a scan, 470 KB, the 7 oldest go
    assert old_pages() == 37
