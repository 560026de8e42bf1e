"""Rate limiters on real Redis, and two worker processes sharing one limit against one real server."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
import redis

from fakes.openai_server import FakeOpenAI, fake_embedding, max_in_window
from profai.errors import Retryable
from profai.providers import ratelimit
from profai.providers.http_retry import ProviderUnavailable
from profai.providers.ratelimit import LocalRateLimiter, RedisRateLimiter, build_rate_limiter
from support import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.fixture
def key():
    name = f"test:ratelimit:{uuid.uuid4().hex[:8]}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


NOW = 100.0


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Time stands still at NOW for the limiters; the sleeps they ask for are recorded, not slept."""
    asked: list[float] = []
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(monotonic=lambda: NOW, sleep=asked.append))
    return asked


def hammer(limiter, threads: int, per_thread: int) -> None:
    """Acquire from several threads at once."""

    def run():
        for _ in range(per_thread):
            limiter.acquire()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_permits_are_spaced_evenly_across_threads_local(waits):
    limiter = LocalRateLimiter(40)
    hammer(limiter, threads=4, per_thread=12)
    # Time stands still, so each wait is how far ahead its caller's slot lay: one slot per permit, each a
    # spacing (26 ms, 40 a second) after the one before; neither bursty nor slower than the limit allows.
    assert sorted(waits) == pytest.approx([n * limiter.spacing for n in range(1, 48)])  # the first needs no wait


def test_permits_are_spaced_evenly_across_threads_redis(key, waits):
    limiter = RedisRateLimiter(REDIS_URL, key, 40)
    client = redis.Redis.from_url(REDIS_URL)
    seconds, micros = client.time()
    first = seconds * 1_000_000 + micros + 5_000_000  # the next free slot 5 s ahead, so every caller waits
    client.set(key, first)
    hammer(limiter, threads=4, per_thread=12)
    # Redis's clock runs on, so check the slots it handed out: the next free one moved a spacing per permit.
    assert len(waits) == 48 and int(client.get(key)) == first + 48 * int(limiter.spacing * 1e6)


@pytest.mark.parametrize("kind", ["local", "redis"])
def test_a_slot_past_the_deadline_raises_at_once_and_is_not_taken(kind, key, waits):
    limiter = LocalRateLimiter(2) if kind == "local" else RedisRateLimiter(REDIS_URL, key, 2)
    limiter.acquire()
    with pytest.raises(ProviderUnavailable, match="past the deadline"):
        limiter.acquire(deadline=NOW + 0.2)  # the next slot is a spacing (0.525 s) away
    assert waits == []  # refused without waiting
    # The refused caller did not reserve a slot: the next one waits one spacing, not two.
    limiter.acquire()
    assert waits == [pytest.approx(limiter.spacing, rel=0.5)]


def test_redis_limiter_pickles_and_its_key_expires(key):
    limiter = pickle.loads(pickle.dumps(RedisRateLimiter(REDIS_URL, key, 50)))
    limiter.acquire()
    ttl = redis.Redis.from_url(REDIS_URL).pttl(key)
    assert 0 < ttl <= 1100


def test_unreachable_redis_is_a_retryable_error():
    limiter = RedisRateLimiter("redis://:secret@127.0.0.1:1/0", "k", 5)
    with pytest.raises(ProviderUnavailable, match="unreachable") as err:
        limiter.acquire()
    assert "secret" not in str(err.value)
    copy = pickle.loads(pickle.dumps(err.value))  # it crosses process and Celery boundaries
    assert isinstance(copy, Retryable) and copy.code == "provider_unavailable" and str(copy) == str(err.value)


def test_build_rate_limiter_uses_redis_when_configured(tmp_path):
    local = build_rate_limiter(make_settings(tmp_path), "openai")
    assert isinstance(local, LocalRateLimiter) and local.rate == 5
    shared = build_rate_limiter(make_settings(tmp_path, REDIS_URL="redis://10.0.0.5:6380/2"), "openai", rate=7)
    assert isinstance(shared, RedisRateLimiter)
    assert (shared.redis_url, shared.key, shared.rate) == ("redis://10.0.0.5:6380/2", "profai:ratelimit:openai", 7)
    celery = build_rate_limiter(make_settings(tmp_path, JOB_RUNNER="celery", DATABASE_URL="postgresql://x/y",
                                              REDIS_HOST="cache"), "llm")
    assert isinstance(celery, RedisRateLimiter) and celery.redis_url == "redis://cache:6379/0"


CHILD = """
import json, sys, time
from profai.providers.http_retry import RetryPolicy
from profai.providers.openai_embedder import OpenAIEmbedder
from profai.providers.ratelimit import LocalRateLimiter, RedisRateLimiter
url, redis_url, key, rate, count, tag, start_at, out = sys.argv[1:]
rate = float(rate)
limiter = RedisRateLimiter(redis_url, key, rate) if redis_url else LocalRateLimiter(rate)
retry = RetryPolicy(max_attempts=10, backoff_cap=1.0, timeout=2)
embedder = OpenAIEmbedder(url, limiter=limiter, batch_size=5, concurrency=4, retry=retry)
time.sleep(max(0, float(start_at) - time.time()))  # both children start together
texts = [f"{tag} text number {i}" for i in range(int(count))]
open(out, "w").write(json.dumps(embedder.embed(texts)))
"""


def run_children(api: FakeOpenAI, tmp_path: Path, redis_key: str | None, rate: float, count: int) -> None:
    start_at = time.time() + 1.2  # children need ~0.6 s to import
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = []
    for tag in ("alpha", "beta"):
        out = tmp_path / f"{tag}.json"
        args = [api.url, REDIS_URL if redis_key else "", redis_key or "", str(rate), str(count), tag,
                str(start_at), str(out)]
        procs.append((tag, out, subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env)))
    for tag, out, proc in procs:
        assert proc.wait(timeout=60) == 0, f"child {tag} failed"
        vectors = json.loads(out.read_text())
        expected = [fake_embedding(f"{tag} text number {i}") for i in range(count)]
        assert len(vectors) == count
        assert all(abs(a - b) < 1e-5 for v, e in zip(vectors, expected) for a, b in zip(v, e))


def test_two_processes_sharing_a_redis_limiter_stay_under_the_limit_together(key, tmp_path):
    with FakeOpenAI(p429=0.05, p500=0.05, retry_after=0.2, seed=3) as api:
        run_children(api, tmp_path, key, rate=20, count=150)  # 30+ requests each
        arrivals = sorted((t, body["input"][0].split()[0]) for t, body in api.received)
    assert len(arrivals) == len(api.requests)
    assert len(arrivals) >= 60
    # The two processes really ran at the same time...
    alpha = [t for t, tag in arrivals if tag == "alpha"]
    beta = [t for t, tag in arrivals if tag == "beta"]
    assert max(alpha[0], beta[0]) < min(alpha[-1], beta[-1])
    # ...and together kept to 20 requests in every 1-second window.
    assert max_in_window([t for t, _ in arrivals]) <= 20


def test_per_process_limiters_alone_would_exceed_it(tmp_path):
    """The control for the test above: without Redis each process spends the whole budget."""
    with FakeOpenAI() as api:
        run_children(api, tmp_path, None, rate=20, count=150)
    assert api.max_in_window() > 30
