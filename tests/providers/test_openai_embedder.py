"""OpenAIEmbedder and the shared retry helper against a real local server that misbehaves on purpose."""

from __future__ import annotations

import email.utils
import pickle
import time

import httpx
import numpy as np
import pytest

from fakes.openai_server import FakeOpenAI, fake_embedding
from profai.providers import http_retry
from profai.providers.http_retry import ProviderError, ProviderUnavailable, RetryPolicy, retry_after
from profai.providers.openai_embedder import OpenAIEmbedder
from profai.providers.ratelimit import LocalRateLimiter
from profai.providers.registry import build_embedder
from support import make_settings, record_sleeps, record_timeouts


@pytest.fixture
def api():
    with FakeOpenAI(retry_after=0.3) as server:
        yield server


def texts(n: int, tag: str = "chunk") -> list[str]:
    return [f"{tag} {i} about topic {i % 7} and word {i % 13}" for i in range(n)]


def assert_embedded(vectors: list[list[float]], inputs: list[str]) -> None:
    assert len(vectors) == len(inputs)
    np.testing.assert_allclose(np.array(vectors), np.array([fake_embedding(t) for t in inputs]), atol=1e-5)


def test_2000_texts_survive_every_kind_of_fault_within_the_rate_limit():
    faults = {"p429": 0.15, "p429_retry_after": 0.5, "retry_after": 0.3, "p500": 0.10, "p_slow": 0.03, "slow_seconds": 3,
                  "p_malformed": 0.04}
    with FakeOpenAI(seed=7, **faults) as api:
        # One of each fault first, so every path runs whatever the dice say.
        api.script("429_retry_after", "429", "500", "slow", "bad_json", "wrong_count", "missing_fields")
        # The production backoff cap (20 s) would make the last batch's unlucky streaks dominate the run time.
        retry = RetryPolicy(max_attempts=10, backoff_cap=1.0, timeout=0.5)
        embedder = OpenAIEmbedder(api.url, limiter=LocalRateLimiter(20), batch_size=100, concurrency=6, retry=retry)
        inputs = texts(2000)
        vectors = embedder.embed(inputs, deadline=time.monotonic() + 60)
    assert_embedded(vectors, inputs)
    assert api.count(status=429) >= 2 and api.count(status=500) >= 1
    assert len(api.requests) >= 27  # 20 batches plus at least the 7 scripted faults
    assert api.max_in_window(1.0) <= 20


def test_at_5_per_second_a_rate_limited_server_never_says_429():
    with FakeOpenAI(rate_limit=5) as api:
        embedder = OpenAIEmbedder(api.url, limiter=LocalRateLimiter(5), batch_size=20, concurrency=4)
        inputs = texts(240)
        vectors = embedder.embed(inputs)
    assert_embedded(vectors, inputs)
    assert len(api.requests) == 12
    assert api.count(status=429) == 0
    assert api.max_in_window(1.0) <= 5


def test_order_dimension_and_similarity(api):
    embedder = OpenAIEmbedder(api.url, model="text-embedding-3-small", batch_size=3)
    assert embedder.name == "openai:text-embedding-3-small" and embedder.dimension == 1536  # a guess until asked
    vectors = embedder.embed(["the cat sat on the mat", "the cat sat on a rug", "stock markets fell sharply", "x"] * 2)
    assert embedder.dimension == 64  # learned from the answer
    a, b, c = np.array(vectors[:3])
    assert a @ b > a @ c + 0.3
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert embedder.embed([]) == []


def test_configured_dimension_is_requested_and_enforced(api):
    embedder = OpenAIEmbedder(api.url, dimension=32)
    assert len(embedder.embed(["hello"])[0]) == 32
    assert api.bodies[-1]["dimensions"] == 32


def test_retry_after_is_honoured(monkeypatch):
    slept = record_sleeps(monkeypatch, http_retry)
    with FakeOpenAI(retry_after=1.0) as api:
        api.script("429_retry_after")
        assert_embedded(OpenAIEmbedder(api.url).embed(["hello"]), ["hello"])
    assert [status for _, _, status in api.requests] == [429, 200]
    assert slept == [1.0]  # the server's Retry-After, not a backoff of our own


def test_retry_after_formats():
    assert retry_after(httpx.Headers({"Retry-After": "2.5"})) == 2.5
    assert retry_after(httpx.Headers({"retry-after-ms": "150", "Retry-After": "1"})) == 0.15
    later = email.utils.formatdate(time.time() + 3, usegmt=True)
    assert 1.5 < retry_after(httpx.Headers({"Retry-After": later})) <= 3
    assert retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    assert retry_after(httpx.Headers({})) is None


def test_a_retry_after_past_the_deadline_raises_at_once(monkeypatch):
    slept = record_sleeps(monkeypatch, http_retry)
    with FakeOpenAI(retry_after=30) as api:
        api.script("429_retry_after")
        with pytest.raises(ProviderUnavailable, match=r"deadline .* leaves no time to retry \(would wait 30.0 s\)"):
            OpenAIEmbedder(api.url).embed(["hello"], deadline=time.monotonic() + 2)
    assert slept == [] and len(api.requests) == 1  # one round trip, no waiting for the 2 s deadline


def test_a_slow_server_cannot_hold_a_call_past_its_deadline(monkeypatch):
    sent = record_timeouts(monkeypatch)
    with FakeOpenAI(slow_seconds=5) as api:
        api.script("slow", "slow", "slow")
        embedder = OpenAIEmbedder(api.url, retry=RetryPolicy(timeout=60))  # the deadline must cut it short
        with pytest.raises(ProviderUnavailable, match="last: timed out"):
            embedder.embed(["hello"], deadline=time.monotonic() + 0.8)
    # The attempt waited for the time left before the deadline, not the policy's 60 s.
    assert len(sent) == 1 and sent[0]["read"] <= 0.8


def test_persistent_malformed_answers_give_up_after_max_attempts(api):
    api.script(*["wrong_count"] * 3)
    with pytest.raises(ProviderUnavailable, match="gave up after 3 attempts; last: malformed"):
        OpenAIEmbedder(api.url, retry=RetryPolicy(max_attempts=3)).embed(["a", "b"])


def test_a_bad_api_key_fails_at_once_without_retries():
    with FakeOpenAI(api_key="sk-right") as api:
        with pytest.raises(ProviderError, match="invalid API key") as err:
            OpenAIEmbedder(api.url, api_key="sk-wrong").embed(["hello"])
        assert err.value.http_status == 401 and len(api.requests) == 1
        assert OpenAIEmbedder(api.url, api_key="sk-right").embed(["hello"])
    copy = pickle.loads(pickle.dumps(err.value))
    assert copy.http_status == 401 and copy.code == "provider_error"


def test_pickles_after_use_and_keeps_what_it_learned(api):
    embedder = OpenAIEmbedder(api.url, api_key="k", limiter=LocalRateLimiter(50))
    embedder.embed(["warm up the client"])
    copy = pickle.loads(pickle.dumps(embedder))
    assert copy.dimension == 64 and copy.limiter.rate == 50
    assert_embedded(copy.embed(["after pickling"]), ["after pickling"])


def test_wiring_builds_it_from_settings(api, tmp_path):
    s = make_settings(tmp_path, EMBEDDER="openai", EMBEDDING_BASE_URL=api.url, OPENAI_API_KEY="k",
                      HTTP_TIMEOUT_SECONDS=5, OPENAI_RATE_LIMIT=50)
    embedder = build_embedder(s)
    assert isinstance(embedder, OpenAIEmbedder) and embedder.retry.timeout == 5
    assert isinstance(embedder.limiter, LocalRateLimiter) and embedder.limiter.rate == 50
    assert_embedded(embedder.embed(["from settings"]), ["from settings"])
