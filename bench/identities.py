"""Benchmarks run as real users: a teacher who uploads and students who joined, each with an API
key made through the API itself (the servers take the tests' admin key, see tests/procs.py)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from support import ADMIN_HEADERS  # noqa: E402

PASSWORD = "benchmark passphrase"
_n = itertools.count()


def user_key(base: str, role: str) -> str:
    """A new user of `role` and an API key of theirs (made by signing in, as a person would)."""
    email = f"{role}{next(_n)}@bench.example"
    made = httpx.post(f"{base}/api/users", json={"email": email, "password": PASSWORD, "role": role},
                      headers=ADMIN_HEADERS, timeout=30)
    made.raise_for_status()
    with httpx.Client(base_url=base, headers={"Origin": base}, timeout=30) as browser:
        browser.post("/api/auth/login", json={"email": email, "password": PASSWORD}).raise_for_status()
        key = browser.post("/api/keys", json={"name": "bench"})
        key.raise_for_status()
        return str(key.json()["key"])


def join(base: str, key: str, course_id: int, teacher_key: str) -> None:
    """The student of `key` joins the course (with the code its teacher sees)."""
    code = httpx.get(f"{base}/api/courses/{course_id}", headers={"X-API-Key": teacher_key}, timeout=30
                     ).json()["join_code"]
    httpx.post(f"{base}/api/join", json={"code": code}, headers={"X-API-Key": key}, timeout=30).raise_for_status()
