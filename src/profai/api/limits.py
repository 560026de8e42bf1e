"""Request limits, as one pure ASGI middleware: a cap on request bodies and a rate limit per identity.

Body cap. FastAPI reads a JSON body (and any other non-form body sent to a JSON route) whole into
memory before validating it, so every request body but a multipart upload (limited, piece by
piece, in multipart.py) is refused past MAX_JSON_BYTES with 413: at once when Content-Length says
so, and for a chunked body by reading it (at most the limit plus one chunk) before the handler
runs. Requests with a Content-Length within the limit, and bodiless requests, pass untouched.

Rate limit. The identity is the credential a request carries (sha256 of its API key, from
`Authorization: Bearer` or `X-API-Key`, else of its `profai_session` cookie; the same digest the
accounts tables store), else the client's address (an IPv6 client's /64, which one host holds
whole). Each identity has a token bucket of RATE_LIMIT_BURST tokens refilled at
RATE_LIMIT_PER_SECOND, kept as GCRA: one number per identity (the time its bucket will be full
again), updated in O(1) with no timer. A token bucket rather than a window, because a page load or
a quiz submission fires a burst of requests that must pass while the sustained rate stays capped;
a fixed window lets through twice the limit across a window edge, and a sliding log costs memory
per request. With Redis configured the bucket lives in Redis and every API process shares it (the
Lua script of providers.ratelimit, which reserves GCRA slots atomically on Redis's clock; checks
arriving together share one pipelined round trip); if Redis fails, requests pass (a warning at
most once a minute) and Redis is not asked again for a few seconds, so an outage delays a request
by one failed attempt (under a second) at most. Health checks and the web app's own files are exempt.

The credential is not checked here (that needs the database): a client inventing keys gets a
fresh bucket per key, and the accounts layer rejects each of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from profai.api.errors import error_response
from profai.providers.ratelimit import RESERVE_SCRIPT

if TYPE_CHECKING:
    from fastapi import FastAPI

    from profai.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]

SESSION_COOKIE = b"profai_session"
EXEMPT_PATHS = frozenset({"/", "/health", "/api/v1/health"})
EXEMPT_PREFIXES = ("/static/",)
KEY_PREFIX = "profai:limit:"
# After a Redis failure requests pass without asking Redis for this long; a warning at most this often.
REDIS_RETRY_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0
REDIS_TIMEOUT_SECONDS = 0.5


class TokenBucket:
    """`burst` tokens, refilled at `rate` a second; `take()` spends one. For one caller in one
    thread or event loop (e.g. one WebSocket's messages): it holds no lock. A rate of 0 never limits.

    Kept as GCRA: the time at which the bucket will be full again (`_full_at`), so a take is a
    comparison and an addition."""

    __slots__ = ("_clock", "_full_at", "_interval", "_slack", "burst", "rate")

    def __init__(self, rate: float, burst: int, *, clock: Clock = time.monotonic) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("a token bucket needs rate >= 0 and burst >= 1")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._interval = 1 / rate if rate else 0.0
        self._slack = (burst - 1) * self._interval  # how far ahead of now the full-time may run
        self._full_at = -math.inf

    def take(self) -> float:
        """0.0 if a token was taken, else the seconds until one will be there (nothing is taken)."""
        if not self.rate:
            return 0.0
        now = self._clock()
        full_at = max(self._full_at, now)
        wait = full_at - now - self._slack
        if wait > 0:
            return wait
        self._full_at = full_at + self._interval
        return 0.0


def ws_message_bucket(s: Settings, *, clock: Clock = time.monotonic) -> TokenBucket:
    """The bucket for one chat WebSocket's messages (WS_MESSAGES_PER_SECOND, WS_MESSAGE_BURST)."""
    return TokenBucket(s.ws_messages_per_second, s.ws_message_burst, clock=clock)


class _LocalBuckets:
    """One TokenBucket's worth of state per identity, in this process: identity -> full-at time.
    Identities whose bucket is full again are dropped in sweeps whose cost is amortised O(1)."""

    def __init__(self, rate: float, burst: int, clock: Clock) -> None:
        self._interval = 1 / rate
        self._slack = (burst - 1) * self._interval
        self._clock = clock
        self._full_at: dict[str, float] = {}
        self._sweep_at = 1024

    def take(self, identity: str) -> float:
        now = self._clock()
        full_at = max(self._full_at.get(identity, now), now)
        wait = full_at - now - self._slack
        if wait > 0:
            return wait
        self._full_at[identity] = full_at + self._interval
        if len(self._full_at) > self._sweep_at:
            self._full_at = {k: v for k, v in self._full_at.items() if v > now}
            self._sweep_at = max(1024, 2 * len(self._full_at))
        return 0.0


class _RedisBuckets:
    """The same buckets in Redis, shared by every process using the same Redis and key prefix.

    providers.ratelimit's script reserves the next slot `spacing` after the stored one unless that
    is more than `max_wait` ahead of now: with spacing 1/rate and max_wait (burst - 1)/rate that is
    exactly the GCRA above, on Redis's clock. Keys expire once their bucket is full again.

    Checks waiting at once share one round trip: while one pipeline is out, the next gathers, so a
    busy process sends a few pipelines of many checks rather than a command per request (redis-py
    spends ~100 µs of CPU on a lone command, a fraction of that on a pipelined one), and an idle one
    waits for no timer. A client per event loop (asyncio connections belong to the loop that opened them).
    """

    def __init__(self, url: str, rate: float, burst: int, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self._spacing_us = max(1, round(1e6 / rate))
        self._max_wait_us = (burst - 1) * self._spacing_us
        self._sha = hashlib.sha1(RESERVE_SCRIPT.encode()).hexdigest()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._pending: list[tuple[str, asyncio.Future[float]]] = []
        self._sender: asyncio.Task[None] | None = None

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # One immediate retry, on a new connection, covers a pooled connection Redis has closed.
        self._client = aioredis.Redis.from_url(
            self.url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1))
        self._loop, self._pending, self._sender = loop, [], None

    async def take(self, identity: str) -> float:
        """As TokenBucket.take, for `identity`'s bucket; raises if Redis fails."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._bind(loop)
        future: asyncio.Future[float] = loop.create_future()
        self._pending.append((self.prefix + identity, future))
        if self._sender is None:
            self._sender = loop.create_task(self._send())
        return await future

    async def _send(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._reserve([key for key, _ in batch])
                except Exception as exc:  # each waiting request decides what a failure means
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results):
                    if future.done():  # the request was cancelled meanwhile
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        reserved, wait_us = result
                        future.set_result(0.0 if int(reserved) else (int(wait_us) - self._max_wait_us) / 1e6)
        finally:
            self._sender = None

    async def _reserve(self, keys: list[str], *, load: bool = True) -> list[Any]:
        """The script's answer (or a per-command error) for each key, in one pipeline."""
        from redis.exceptions import NoScriptError

        results: list[Any]
        if len(keys) == 1:  # a pipeline of one costs more than the command alone
            try:
                results = [await self._client.evalsha(self._sha, 1, keys[0], self._spacing_us, self._max_wait_us)]
            except NoScriptError as exc:
                results = [exc]
        else:
            pipe = self._client.pipeline(transaction=False)
            for key in keys:
                pipe.evalsha(self._sha, 1, key, self._spacing_us, self._max_wait_us)
            results = await pipe.execute(raise_on_error=False)
        missing = [i for i, result in enumerate(results) if isinstance(result, NoScriptError)]
        if missing and load:  # a new or restarted Redis: those did not run; load the script, run them again
            self._sha = await self._client.script_load(RESERVE_SCRIPT)
            again = await self._reserve([keys[i] for i in missing], load=False)
            for i, result in zip(missing, again):
                results[i] = result
        return results

    async def close(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()


def _identity(auth: bytes | None, api_key: bytes | None, cookies: list[bytes], scope: Scope) -> str:
    token = b""
    if auth is not None and auth[:7].lower() == b"bearer ":
        token = auth[7:].strip()
    if not token and api_key is not None:
        token = api_key.strip()
    if token:
        return "key:" + hashlib.sha256(token).hexdigest()
    for header in cookies:
        if SESSION_COOKIE in header:
            for part in header.split(b";"):
                name, _, value = part.partition(b"=")
                if name.strip() == SESSION_COOKIE and value.strip():
                    return "session:" + hashlib.sha256(value.strip().strip(b'"')).hexdigest()
    client = scope.get("client")
    return "ip:" + _address(client[0]) if client else "ip:unknown"


def _address(host: str) -> str:
    """An IPv4 address as it is; an IPv6 one as its /64, since one host commonly holds the whole /64."""
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


_Headers = tuple[bytes | None, bytes | None, list[bytes], bytes | None, bytes | None, bytes | None]


def _headers(scope: Scope) -> _Headers:
    """(authorization, x-api-key, cookies, content-type, content-length, transfer-encoding), in one
    pass over the raw headers (no Headers object: this runs on every request)."""
    auth = api_key = content_type = length = chunked = None
    cookies: list[bytes] = []
    for name, value in scope["headers"]:
        if name == b"authorization":
            auth = value
        elif name == b"x-api-key":
            api_key = value
        elif name == b"cookie":
            cookies.append(value)
        elif name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
        elif name == b"transfer-encoding":
            chunked = value
    return auth, api_key, cookies, content_type, length, chunked


class RequestLimits:
    """The middleware; `install(app, settings)` adds it with the settings' values.

    max_body_bytes: cap on non-multipart request bodies. rate (per second, 0: no rate limit) and
    burst: each identity's bucket. redis_url: share the buckets through Redis (else per process),
    under `key_prefix`. clock: for the in-process buckets and the Redis back-off (tests inject one).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int = 64 * 1024, rate: float = 20.0, burst: int = 100,
                 redis_url: str | None = None, key_prefix: str = KEY_PREFIX,
                 clock: Clock = time.monotonic) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.rate, self.burst = rate, burst
        self.clock = clock
        self._local = _LocalBuckets(rate, burst, clock) if rate and not redis_url else None
        self._redis = _RedisBuckets(redis_url, rate, burst, key_prefix) if rate and redis_url else None
        self._redis_down_until = -math.inf
        self._warned_at = -math.inf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan" and self._redis is not None:
            await self.app(scope, self._closing_on_shutdown(receive), send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        auth, api_key, cookies, content_type, length, chunked = _headers(scope)
        if self._local is not None or self._redis is not None:
            wait = await self._take(scope, auth, api_key, cookies)
            if wait:
                await self._refuse_rate(wait)(scope, receive, send)
                return

        if (length is not None or chunked is not None) and not (
                content_type is not None and content_type.lstrip()[:10].lower() == b"multipart/"):
            if chunked is None and length is not None:
                try:
                    too_large = int(length) > self.max_body_bytes
                except ValueError:  # the server refuses a malformed Content-Length itself
                    too_large = False
                if too_large:
                    await self._refuse_body()(scope, receive, send)
                    return
            else:
                messages = await self._read_body(receive)
                if messages is None:
                    await self._refuse_body()(scope, receive, send)
                    return
                receive = _replay(messages, receive)
        await self.app(scope, receive, send)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket handshake counts as one request of its identity."""
        if self._local is not None or self._redis is not None:
            auth, api_key, cookies, *_ = _headers(scope)
            wait = await self._take(scope, auth, api_key, cookies)
            if wait:
                message = await receive()  # websocket.connect: answer it with the refusal
                if message["type"] != "websocket.connect":
                    return
                refusal = self._refuse_rate(wait)
                if "websocket.http.response" in scope.get("extensions", {}):
                    await send({"type": "websocket.http.response.start", "status": refusal.status_code,
                                "headers": refusal.raw_headers})
                    await send({"type": "websocket.http.response.body", "body": refusal.body})
                else:  # the server shows the client a 403
                    await send({"type": "websocket.close", "code": 1008, "reason": "rate limited"})
                return
        await self.app(scope, receive, send)

    async def _take(self, scope: Scope, auth: bytes | None, api_key: bytes | None, cookies: list[bytes]) -> float:
        path = scope["path"]
        if path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES):
            return 0.0
        identity = _identity(auth, api_key, cookies, scope)
        if self._local is not None:
            return self._local.take(identity)
        assert self._redis is not None
        if self.clock() < self._redis_down_until:
            return 0.0
        try:
            return await self._redis.take(identity)
        except Exception as exc:  # redis.RedisError, or OSError from a socket: fail open
            now = self.clock()
            self._redis_down_until = now + REDIS_RETRY_SECONDS
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                where = self._redis.url.rsplit("@", 1)[-1]  # no password in the log
                log.warning("request rate limit off: Redis at %s failed (%s: %s); requests pass until it answers",
                            where, type(exc).__name__, exc)
            return 0.0

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """A chunked body's messages, or None once it passes the cap (having read one chunk past it)."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":  # http.disconnect: the app will see it too
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    def _refuse_rate(self, wait: float) -> JSONResponse:
        seconds = max(1, math.ceil(wait))
        response = error_response(
            429, "rate_limited",
            f"Too many requests: at most {self.rate:g} a second (bursts of {self.burst}); try again in {seconds} s",
            retry_after=seconds)
        response.headers["Retry-After"] = str(seconds)
        return response

    def _refuse_body(self) -> JSONResponse:
        response = error_response(
            413, "body_too_large", f"The request body is over the limit of {self.max_body_bytes} bytes")
        # The rest of the body is not read: the connection cannot carry another request.
        response.headers["Connection"] = "close"
        return response

    def _closing_on_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown" and self._redis is not None:
                try:
                    await self._redis.close()
                except Exception as exc:  # shutting down anyway
                    log.debug("closing the rate limit's Redis client: %s", exc)
            return message

        return wrapped


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that hands out the messages already read, then the server's own."""
    pending = iter(messages)

    async def replay() -> Message:
        message = next(pending, None)
        return message if message is not None else await receive()

    return replay


def install(app: FastAPI, s: Settings) -> None:
    """Add the limits to `app`, from settings; Redis-shared when Redis is configured
    (REDIS_URL set or JOB_RUNNER=celery), as for providers.ratelimit."""
    shared = bool(s.redis_url) or s.job_runner == "celery"
    app.add_middleware(RequestLimits, max_body_bytes=s.max_json_bytes, rate=s.rate_limit_per_second,
                       burst=s.rate_limit_burst, redis_url=s.broker_url if shared else None)
