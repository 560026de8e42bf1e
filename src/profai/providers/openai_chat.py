"""Chat completions from any OpenAI-compatible server (OpenAI, Groq, Ollama, vLLM).

Every failure reaches the caller as ModelUnavailable, so a caller has one thing to catch before
falling back to the extractive backend.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Generator, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import BaseModel, ValidationError

from profai.errors import ProfAIError
from profai.providers.http_retry import (
    LazyClient,
    MalformedResponse,
    ProviderError,
    ProviderUnavailable,
    RetryPolicy,
    open_stream,
    post_json,
)
from profai.providers.ratelimit import RateLimiter

if TYPE_CHECKING:
    from profai.settings import Settings

Message = dict[str, str]  # one chat message: role and content
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
# Generation is slow and costly: fewer, longer attempts than for embeddings.
CHAT_POLICY = RetryPolicy(max_attempts=4, timeout=120.0)


class ModelUnavailable(ProfAIError):
    """No usable answer from the language model (down, too slow, refusing, or off-schema)."""

    status_code = 503
    code = "model_unavailable"


class ChatClient:
    """Plain, schema-validated and streamed completions with retries, a rate limit and deadlines."""

    def __init__(self, base_url: str, model: str, api_key: str | None = None, *, limiter: RateLimiter | None = None,
                 retry: RetryPolicy = CHAT_POLICY, validation_retries: int = 2):
        self.base_url, self.model, self.api_key = base_url.rstrip("/"), model, api_key
        self.limiter, self.retry = limiter, retry
        self.validation_retries = validation_retries
        # Flipped off the first time the server rejects response_format json_schema.
        self.json_schema_supported = True
        self._http = LazyClient(api_key)

    @classmethod
    def from_settings(cls, s: Settings) -> ChatClient:
        """The client for LLM_BASE_URL / LLM_MODEL, rate-limited like the other hosted calls."""
        from profai.providers.ratelimit import build_rate_limiter

        if not (s.llm_base_url and s.llm_model):
            raise ModelUnavailable("LLM_BASE_URL and LLM_MODEL must be set to use a language model")
        key = s.llm_api_key or (s.groq_api_key if "groq" in s.llm_base_url else s.openai_api_key)
        return cls(s.llm_base_url, s.llm_model, key, limiter=build_rate_limiter(s, "llm"),
                   retry=replace(CHAT_POLICY, timeout=s.llm_timeout_seconds))

    def __getstate__(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("base_url", "model", "api_key", "limiter", "retry",
                                                "validation_retries")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        type(self).__init__(self, **state)

    def _post(self, payload: dict[str, Any], deadline: float | None) -> str:
        return post_json(self._http.get(), f"{self.base_url}/chat/completions", payload, parse=_content,
                         what=f"chat ({self.model})", deadline=deadline, limiter=self.limiter, policy=self.retry)

    def complete(self, messages: list[Message], *, schema: type[BaseModel] | None = None,
                 temperature: float = 0.2, max_tokens: int | None = None,
                 deadline: float | None = None) -> str | BaseModel:
        """The reply text, or an instance of `schema` parsed from it; raises ModelUnavailable.

        An answer that does not fit the schema is sent back with the error, up to
        `validation_retries` more times. `deadline` is a time.monotonic() value.
        """
        payload: dict[str, Any] = {"model": self.model, "messages": list(messages), "temperature": temperature}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        try:
            if schema is None:
                return self._post(payload, deadline)
            return self._complete_json(payload, schema, deadline)
        except (ProviderUnavailable, ProviderError) as exc:
            raise ModelUnavailable(f"language model unavailable: {exc}") from exc

    def _complete_json(self, payload: dict[str, Any], schema: type[BaseModel], deadline: float | None) -> BaseModel:
        spec = schema.model_json_schema()
        # json_object mode needs the word JSON in the prompt, and weaker servers need the schema spelled out.
        payload["messages"] = [{"role": "system", "content": "Answer with only a JSON object matching this "
                                f"JSON schema:\n{json.dumps(spec)}"}, *payload["messages"]]
        problem = ""
        for _ in range(1 + self.validation_retries):
            text = self._post_with_format(payload, schema.__name__, spec, deadline)
            try:
                return schema.model_validate_json(_strip_fence(text))
            except ValidationError as exc:
                problem = _describe(exc)
            payload["messages"] = [*payload["messages"], {"role": "assistant", "content": text},
                                   {"role": "user", "content": f"That answer was not valid: {problem}. Reply "
                                    "again with only a JSON object that matches the schema."}]
        raise ModelUnavailable(f"language model gave no valid {schema.__name__} after "
                               f"{1 + self.validation_retries} tries; last problem: {problem}")

    def _post_with_format(self, payload: dict[str, Any], name: str, spec: dict[str, Any],
                          deadline: float | None) -> str:
        if self.json_schema_supported:
            fmt = {"type": "json_schema", "json_schema": {"name": name, "schema": spec}}
            try:
                return self._post({**payload, "response_format": fmt}, deadline)
            except ProviderError as exc:
                if exc.http_status != 400:
                    raise
                self.json_schema_supported = False
        return self._post({**payload, "response_format": {"type": "json_object"}}, deadline)

    def stream(self, messages: list[Message], *, temperature: float = 0.2, max_tokens: int | None = None,
               deadline: float | None = None) -> Generator[str, None, None]:
        """Yield the reply's text pieces as they arrive; raises ModelUnavailable, also mid-stream.
        A generator, so a caller that stops early can close() it and release the connection."""
        payload: dict[str, Any] = {"model": self.model, "messages": list(messages), "temperature": temperature,
                                   "stream": True}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        try:
            response = open_stream(self._http.get(), f"{self.base_url}/chat/completions", payload,
                                   what=f"chat stream ({self.model})", deadline=deadline, limiter=self.limiter,
                                   policy=self.retry)
        except (ProviderUnavailable, ProviderError) as exc:
            raise ModelUnavailable(f"language model unavailable: {exc}") from exc
        try:
            yield from _sse_tokens(response, deadline)
        except (httpx.HTTPError, MalformedResponse) as exc:
            # Tokens already went out, so a retry would repeat them: the caller decides.
            raise ModelUnavailable(f"language model stream broke off: {exc}") from exc
        finally:
            response.close()


def _sse_tokens(response: httpx.Response, deadline: float | None) -> Iterator[str]:
    for line in response.iter_lines():
        if deadline is not None and time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline reached during the stream")
        if not line.startswith("data:"):
            continue  # blank separators, comments and event names
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            choices = json.loads(data).get("choices") or []
            piece = choices[0].get("delta", {}).get("content") if choices else None
        except (ValueError, AttributeError, IndexError) as exc:
            raise MalformedResponse(f"bad stream chunk: {data[:100]!r}") from exc
        if piece:
            yield piece
    raise MalformedResponse("stream ended without [DONE]")


def _content(body: Any) -> str:
    try:
        content = body["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise MalformedResponse("no choices[0].message.content in the answer") from None
    if not isinstance(content, str):
        raise MalformedResponse("choices[0].message.content is not text")
    return content


def _strip_fence(text: str) -> str:
    """Models often wrap JSON in a Markdown code fence despite being told not to."""
    match = _FENCE.match(text.strip())
    return match.group(1) if match else text


def _describe(exc: ValidationError) -> str:
    errors = exc.errors()[:3]
    parts = [f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in errors]
    return "; ".join(parts) + (f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else "")
