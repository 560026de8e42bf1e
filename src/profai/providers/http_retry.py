"""Calls to hosted APIs, written once: rate-limit permits, deadlines, retries with backoff.

Deadlines are absolute `time.monotonic()` values (a job's `started + soft_timeout`); no attempt
and no sleep may run past one.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from profai.errors import ProfAIError, Retryable
from profai.observability import metrics

if TYPE_CHECKING:
    from profai.providers.ratelimit import RateLimiter

T = TypeVar("T")
log = logging.getLogger(__name__)

# Statuses worth another try; any other 4xx means the request itself is wrong.
RETRY_STATUSES = frozenset({408, 409, 429})
_READABLE = {401: "invalid API key", 403: "access denied", 404: "not found (check the base URL and model name)",
             413: "request too large", 422: "request rejected as invalid"}


class ProviderUnavailable(Retryable, ProfAIError):
    """Transient failures outlasted the attempts or the deadline; the job may be retried later."""

    status_code = 503
    code = "provider_unavailable"


class ProviderError(ProfAIError):
    """The API refused the request (bad key, bad model, bad input): retrying will not help."""

    status_code = 502
    code = "provider_error"

    def __init__(self, message: str, *, http_status: int | None = None, code: str | None = None,
                 status_code: int | None = None):
        super().__init__(message, code=code, status_code=status_code)
        self.http_status = http_status

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_provider_error, (type(self), self.message, self.http_status, self.code, self.status_code))


def _rebuild_provider_error(cls: type[ProviderError], message: str, http_status: int | None, code: str | None,
                            status_code: int | None) -> ProviderError:
    return cls(message, http_status=http_status, code=code, status_code=status_code)


class LazyClient:
    """A hosted provider's HTTP client, made on first use with its bearer key. Providers pickle as
    their settings (clients and locks do not), so each worker process opens its own connections."""

    def __init__(self, api_key: str | None, max_connections: int | None = None):
        self.api_key, self.max_connections = api_key, max_connections
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                n = self.max_connections
                limits = httpx.Limits(max_connections=n, max_keepalive_connections=n) if n else httpx.Limits()
                self._client = httpx.Client(headers=headers, limits=limits)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


class MalformedResponse(ValueError):
    """A 2xx answer that is not what the API promises; raised by parsers to ask for a retry."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts, full-jitter backoff, and per-attempt httpx timeouts (seconds)."""

    max_attempts: int = 8
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    timeout: float = 60.0  # read / write, per attempt
    connect_timeout: float = 10.0

    def backoff(self, attempt: int) -> float:
        """Full jitter: a uniform draw up to an exponentially growing cap, so clients spread out."""
        return random.uniform(0, min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1)))

    def timeouts(self, deadline: float | None) -> httpx.Timeout:
        """httpx timeouts for one attempt, shortened so it cannot outlast the deadline."""
        timeout, connect = self.timeout, self.connect_timeout
        left = time_left(deadline)
        if left is not None:
            timeout, connect = min(timeout, left), min(connect, left)
        return httpx.Timeout(timeout, connect=connect, pool=connect)


DEFAULT_POLICY = RetryPolicy()


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.reason, self.retry_after, self.status = reason, retry_after, status


def time_left(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds the server asked us to wait (`retry-after-ms`, `Retry-After` seconds or HTTP date)."""
    if ms := headers.get("retry-after-ms"):
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def error_detail(body: bytes) -> str:
    """The server's own message (OpenAI puts it in error.message), else the start of the body."""
    try:
        err = json.loads(body).get("error")
        detail = err.get("message") if isinstance(err, dict) else err
    except (ValueError, AttributeError):
        detail = None
    return str(detail or body[:200].decode("utf-8", "replace")).strip()


def check_status(response: httpx.Response, body: bytes, what: str) -> None:
    """Raise _Transient for a status worth retrying, ProviderError for any other failure."""
    status = response.status_code
    if status < 400:
        return
    detail = error_detail(body)
    if status in RETRY_STATUSES or status >= 500:
        raise _Transient(f"HTTP {status}: {detail}", retry_after(response.headers), status)
    label = _READABLE.get(status, "request rejected")
    raise ProviderError(f"{what}: {label} (HTTP {status}: {detail})", http_status=status)


def call_with_retries(attempt: Callable[[httpx.Timeout], T], *, what: str, deadline: float | None = None,
                      limiter: RateLimiter | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """Run `attempt(timeouts)` until it succeeds, each try taking a rate-limit permit first.

    `attempt` raises _Transient (via check_status), MalformedResponse or an httpx transport error to
    ask for another try. Raises ProviderUnavailable when the attempts or the deadline run out, and
    lets ProviderError through at once.
    """
    last = "no attempt made"
    api = metrics.hosted_api(what)
    for n in range(1, policy.max_attempts + 1):
        if limiter is not None:
            limiter.acquire(deadline)
        left = time_left(deadline)
        if left is not None and left <= 0:
            break
        wait: float | None = None
        metrics.HOSTED_REQUESTS.labels(api).inc()
        sent = time.monotonic()
        try:
            return attempt(policy.timeouts(deadline))
        except _Transient as exc:
            last, wait = exc.reason, exc.retry_after
            if exc.status == 429:
                metrics.HOSTED_RATE_LIMITED.labels(api).inc()
        except MalformedResponse as exc:
            last = f"malformed answer: {exc}"
        except httpx.TimeoutException:
            last = "timed out"
        except httpx.TransportError as exc:
            # The library's words go to the log; job errors and responses carry only ours.
            log.warning("%s: attempt %d: connection failed: %s: %s", what, n, type(exc).__name__, exc)
            last = "connection failed"
        finally:
            metrics.HOSTED_SECONDS.labels(api).observe(time.monotonic() - sent)
        if n == policy.max_attempts:
            raise ProviderUnavailable(f"{what}: gave up after {n} attempts; last: {last}")
        wait = policy.backoff(n) if wait is None else wait
        left = time_left(deadline)
        if left is not None and wait >= left:
            raise ProviderUnavailable(f"{what}: deadline in {max(left, 0):.1f} s leaves no time to retry "
                                      f"(would wait {wait:.1f} s); last: {last}")
        log.info("%s: attempt %d failed (%s); retrying in %.2f s", what, n, last, wait)
        metrics.HOSTED_RETRIES.labels(api).inc()
        time.sleep(wait)
    raise ProviderUnavailable(f"{what}: deadline reached; last: {last}")


def read_body(response: httpx.Response, deadline: float | None) -> bytes:
    """Read a streamed body, stopping at the deadline even if the server trickles bytes."""
    chunks = []
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        if deadline is not None and time.monotonic() > deadline:
            raise httpx.ReadTimeout("deadline reached while reading the answer")
    return b"".join(chunks)


def post(client: httpx.Client, url: str, payload: dict[str, Any], *, parse: Callable[[bytes], T], what: str,
         deadline: float | None = None, limiter: RateLimiter | None = None, policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """POST JSON and return `parse(body)`; a parser raising MalformedResponse triggers a retry."""

    def attempt(timeouts: httpx.Timeout) -> T:
        request = client.build_request("POST", url, json=payload, timeout=timeouts)
        response = client.send(request, stream=True)
        try:
            body = read_body(response, deadline)
        finally:
            response.close()
        check_status(response, body, what)
        return parse(body)

    return call_with_retries(attempt, what=what, deadline=deadline, limiter=limiter, policy=policy)


def post_json(client: httpx.Client, url: str, payload: dict[str, Any], *, parse: Callable[[Any], T], what: str,
              deadline: float | None = None, limiter: RateLimiter | None = None,
              policy: RetryPolicy = DEFAULT_POLICY) -> T:
    """POST JSON and return `parse(answer)` of the decoded JSON answer."""

    def decoded(body: bytes) -> T:
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise MalformedResponse(f"invalid JSON ({exc})") from None
        return parse(answer)

    return post(client, url, payload, parse=decoded, what=what, deadline=deadline, limiter=limiter, policy=policy)


def open_stream(client: httpx.Client, url: str, payload: dict[str, Any], *, what: str,
                deadline: float | None = None, limiter: RateLimiter | None = None,
                policy: RetryPolicy = DEFAULT_POLICY) -> httpx.Response:
    """POST and return the open streaming response once its status is 2xx; the caller closes it."""

    def attempt(timeouts: httpx.Timeout) -> httpx.Response:
        request = client.build_request("POST", url, json=payload, timeout=timeouts)
        response = client.send(request, stream=True)
        if response.status_code >= 400:
            try:
                body = read_body(response, deadline)
            finally:
                response.close()
            check_status(response, body, what)
        return response

    return call_with_retries(attempt, what=what, deadline=deadline, limiter=limiter, policy=policy)
