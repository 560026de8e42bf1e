"""The identity cache: a checked key is trusted for its TTL; when it expires one caller checks it
again while the others keep the last answer, so a busy key never sends a herd to the database."""

from __future__ import annotations

from types import SimpleNamespace

from profai.domain import TEACHER, Principal
from profai.services import accounts


def test_an_expired_identity_is_checked_by_one_caller_while_the_others_keep_the_last_answer(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(accounts, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    cache, key, who = accounts.IdentityCache(), ("key", "h"), Principal(1, TEACHER)
    assert cache.get(key) == (False, None)  # never seen: ask the database
    cache.put(key, who, ttl=5)
    assert cache.get(key) == (True, who)
    clock[0] = 106.0
    assert cache.get(key) == (False, None)  # expired: this caller checks again...
    assert cache.get(key) == (True, who)  # ...and everyone else keeps the last answer meanwhile
    clock[0] += cache.REFRESH_GRACE + 0.1
    assert cache.get(key) == (False, None)  # that check never came back: the next caller tries
    cache.put(key, None, ttl=5)  # the key was revoked
    assert cache.get(key) == (True, None)
    cache.forget(key)
    assert cache.get(key) == (False, None)
