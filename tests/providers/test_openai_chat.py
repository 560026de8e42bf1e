"""ChatClient against a real local OpenAI-format server: JSON schemas, corrections, faults, streaming."""

from __future__ import annotations

import json
import pickle
import time

import pytest
from pydantic import BaseModel

from fakes.openai_server import FakeOpenAI, split_tokens
from profai.providers.http_retry import RetryPolicy
from profai.providers.openai_chat import ChatClient, ModelUnavailable
from profai.providers.ratelimit import LocalRateLimiter
from support import make_settings, record_timeouts

ASK = [{"role": "user", "content": "Summarise the lesson."}]
VALID = '{"title": "Vectors", "points": ["a list of numbers", "has a length"]}'


class Summary(BaseModel):
    title: str
    points: list[str]


@pytest.fixture
def api():
    with FakeOpenAI(retry_after=0.2) as server:
        yield server


def client(api: FakeOpenAI, **kw) -> ChatClient:
    return ChatClient(api.url, "fake-model", "sk-test", **kw)


def test_plain_completion(api):
    api.reply = "Vectors are lists of numbers."
    assert client(api).complete(ASK, temperature=0.0, max_tokens=50) == "Vectors are lists of numbers."
    body = api.bodies[0]
    assert body["model"] == "fake-model" and body["messages"] == ASK
    assert body["temperature"] == 0.0 and body["max_tokens"] == 50 and "response_format" not in body


def test_schema_answer_is_validated_and_corrected_once(api):
    api.reply = ["Sure! Here it is: {title: Vectors}", VALID]
    summary = client(api).complete(ASK, schema=Summary)
    assert summary == Summary(title="Vectors", points=["a list of numbers", "has a length"])
    first, second = api.bodies
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"] == Summary.model_json_schema()
    # The retry shows the model its bad answer and what was wrong with it.
    assert second["messages"][-2] == {"role": "assistant", "content": "Sure! Here it is: {title: Vectors}"}
    assert second["messages"][-1]["role"] == "user" and "not valid" in second["messages"][-1]["content"]


def test_schema_mismatch_names_the_missing_field(api):
    api.reply = ['{"title": "Vectors"}', "```json\n" + VALID + "\n```"]  # the fence is stripped
    assert client(api).complete(ASK, schema=Summary).title == "Vectors"
    assert "points" in api.bodies[1]["messages"][-1]["content"]


def test_persistent_invalid_output_is_model_unavailable(api):
    api.reply = "I cannot answer in JSON."
    with pytest.raises(ModelUnavailable, match="no valid Summary after 3 tries") as err:
        client(api).complete(ASK, schema=Summary)
    assert err.value.code == "model_unavailable"
    assert len(api.requests) == 3


def test_a_server_without_json_schema_gets_json_object(api):
    api.reject_json_schema = True
    api.reply = VALID
    chat = client(api)
    assert chat.complete(ASK, schema=Summary).title == "Vectors"
    assert [b["response_format"]["type"] for b in api.bodies] == ["json_schema", "json_object"]
    chat.complete(ASK, schema=Summary)  # remembered: no second rejected request
    assert api.bodies[-1]["response_format"]["type"] == "json_object" and len(api.requests) == 3


def test_timeout_is_model_unavailable(monkeypatch):
    sent = record_timeouts(monkeypatch)
    with FakeOpenAI(slow_seconds=5) as api:
        api.script("slow", "slow")
        with pytest.raises(ModelUnavailable, match="gave up after 2 attempts; last: timed out"):
            client(api, retry=RetryPolicy(max_attempts=2, timeout=0.3)).complete(ASK)
    assert [t["read"] for t in sent] == [0.3, 0.3]  # each attempt cut off by its own timeout, not the 5 s answer


def test_deadline_is_model_unavailable(monkeypatch):
    sent = record_timeouts(monkeypatch)
    with FakeOpenAI(slow_seconds=5) as api:
        api.script("slow", "slow", "slow")
        with pytest.raises(ModelUnavailable, match="last: timed out"):
            client(api).complete(ASK, deadline=time.monotonic() + 0.6)
    # The attempt waited for the time left before the deadline, not CHAT_POLICY's 120 s.
    assert len(sent) == 1 and sent[0]["read"] <= 0.6


def test_429_then_success(api):
    api.script("429_retry_after")
    assert client(api, limiter=LocalRateLimiter(10)).complete(ASK) == "Hello from the fake."
    assert [status for _, _, status in api.requests] == [429, 200]


def test_bad_key_is_model_unavailable_without_retries():
    with FakeOpenAI(api_key="sk-right") as api:
        with pytest.raises(ModelUnavailable, match="invalid API key"):
            client(api).complete(ASK)
        assert len(api.requests) == 1


def test_stream_yields_tokens_in_order(api):
    api.reply = "Vectors have a direction and a length, and embeddings are vectors."
    api.script("500")  # establishing the stream is retried like any call
    pieces = list(client(api).stream(ASK, max_tokens=40))
    assert pieces == split_tokens(api.reply) and len(pieces) > 5
    assert "".join(pieces) == api.reply
    assert api.bodies[-1]["stream"] is True
    assert [status for _, _, status in api.requests] == [500, 200]


def test_stream_failure_is_model_unavailable():
    with FakeOpenAI(api_key="sk-right") as api, pytest.raises(ModelUnavailable, match="invalid API key"):
        list(client(api).stream(ASK))


def test_pickles_and_builds_from_settings(api, tmp_path):
    copy = pickle.loads(pickle.dumps(client(api, limiter=LocalRateLimiter(7))))
    assert copy.complete(ASK) == "Hello from the fake." and copy.limiter.rate == 7
    s = make_settings(tmp_path, LLM_BASE_URL=api.url, LLM_MODEL="m", LLM_API_KEY="k", LLM_TIMEOUT_SECONDS=9)
    chat = ChatClient.from_settings(s)
    assert (chat.model, chat.api_key, chat.retry.timeout) == ("m", "k", 9)
    api.reply = lambda body: json.dumps({"title": body["model"], "points": []})
    assert chat.complete(ASK, schema=Summary).title == "m"
    with pytest.raises(ModelUnavailable, match="LLM_BASE_URL"):
        ChatClient.from_settings(make_settings(tmp_path))
