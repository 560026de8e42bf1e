"""Request limits (api/limits.py): the body cap, the rate limit per identity (in process and shared
through a real Redis), and the TokenBucket for WebSocket messages. Clocks are injected: no sleeps."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI, Request, WebSocket
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse

from procs import free_port
from profai.api import create_app, errors, limits
from profai.api.limits import RequestLimits, TokenBucket, ws_message_bucket
from profai.settings import Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMIT = 64 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def tiny_app(calls: list[str]) -> FastAPI:
    """Routes like the real app's: JSON bodies, a raw body, a status poll, the exempt paths, a WebSocket."""
    app = FastAPI()
    errors.install(app)

    @app.post("/echo")
    async def echo(body: dict[str, Any]) -> dict[str, Any]:
        calls.append("echo")
        return {"body": body}

    @app.post("/raw")
    async def raw(request: Request) -> dict[str, int]:
        calls.append("raw")
        return {"size": len(await request.body())}

    @app.get("/api/jobs/{job_id}")
    def job(job_id: str) -> dict[str, str]:
        calls.append("job")
        return {"job_id": job_id, "status": "running"}

    for path in ("/", "/health", "/api/v1/health", "/static/{path:path}"):
        app.add_api_route(path, lambda: {"ok": True}, methods=["GET"])

    @app.websocket("/ws/chat")
    async def chat(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json({"type": "hello"})
        await websocket.close()

    return app


def limited(calls: list[str], **options: Any) -> FastAPI:
    app = tiny_app(calls)
    app.add_middleware(RequestLimits, **options)
    return app


@pytest.fixture
def prefix() -> Iterator[str]:
    """A Redis key prefix of the test's own; its keys are deleted afterwards."""
    name = f"profai:test-limits:{uuid.uuid4().hex}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=name + "*"))
    if keys:
        client.delete(*keys)
    client.close()


def assert_error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == code and body["message"] and body["detail"] == body["message"]
    return body


def assert_limited(resp: Any) -> int:
    body = assert_error(resp, 429, "rate_limited")
    retry_after = int(resp.headers["Retry-After"])
    assert retry_after >= 1 and body["retry_after"] == retry_after
    return retry_after


# --- raw ASGI, to see exactly what the middleware reads --------------------------------------------


def http_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
            "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
            "headers": [(b"host", b"testserver"), *headers], "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80)}


def call_asgi(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, bytes, int]:
    """Send `chunks` as the request body; returns the status, the response body, and how many chunks
    the app pulled."""
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, pulled


def json_chunks(size: int, chunk: int) -> list[bytes]:
    """A JSON object of about `size` bytes, cut into pieces of `chunk` bytes."""
    data = json.dumps({"question": "x" * size}).encode()
    return [data[i:i + chunk] for i in range(0, len(data), chunk)]


# --- body cap --------------------------------------------------------------------------------------


def test_json_body_over_the_cap_by_content_length_is_refused_unread() -> None:
    calls: list[str] = []
    app = limited(calls, max_body_bytes=LIMIT, rate=0)
    chunks = json_chunks(LIMIT, 16 * 1024)
    size = sum(map(len, chunks))
    scope = http_scope("/echo", [(b"content-type", b"application/json"), (b"content-length", str(size).encode())])
    status, body, pulled = call_asgi(app, scope, chunks)
    assert status == 413 and json.loads(body)["code"] == "body_too_large"
    assert pulled == 0 and calls == []  # not a byte read, the handler never ran

    with TestClient(app) as client:
        for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON",
                             "application/merge-patch+json", "text/plain"):
            resp = client.post("/echo", content=b"x" * (LIMIT + 1), headers={"content-type": content_type})
            body_ = assert_error(resp, 413, "body_too_large")
            assert str(LIMIT) in body_["message"]
            assert resp.headers["connection"] == "close"
        assert calls == []
        # At the limit exactly, and a normal question, pass.
        question = {"question": "q" * 2000}
        assert client.post("/echo", json=question).json() == {"body": question}
        exact = json.dumps({"q": "y" * (LIMIT - 9)}).encode()
        assert len(exact) == LIMIT
        assert client.post("/echo", content=exact, headers={"content-type": "application/json"}).status_code == 200
        assert calls == ["echo", "echo"]


def test_chunked_json_body_over_the_cap_is_refused_after_one_chunk_past_it() -> None:
    calls: list[str] = []
    app = limited(calls, max_body_bytes=LIMIT, rate=0)
    chunks = json_chunks(10 * LIMIT, 16 * 1024)
    scope = http_scope("/echo", [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")])
    status, body, pulled = call_asgi(app, scope, chunks)
    assert status == 413 and json.loads(body)["code"] == "body_too_large"
    assert pulled == LIMIT // (16 * 1024) + 1  # the limit, plus the one chunk that passed it
    assert calls == []


def test_chunked_json_body_within_the_cap_reaches_the_handler_whole() -> None:
    calls: list[str] = []
    app = limited(calls, max_body_bytes=LIMIT, rate=0)
    chunks = json_chunks(LIMIT - 100, 1000)
    scope = http_scope("/echo", [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")])
    status, body, pulled = call_asgi(app, scope, chunks)
    assert status == 200 and pulled == len(chunks)
    assert json.loads(body) == {"body": json.loads(b"".join(chunks))}
    assert calls == ["echo"]


def test_multipart_bodies_are_left_to_the_upload_limits() -> None:
    calls: list[str] = []
    app = limited(calls, max_body_bytes=LIMIT, rate=0)
    with TestClient(app) as client:
        resp = client.post("/raw", content=b"z" * (4 * LIMIT),
                           headers={"content-type": "multipart/form-data; boundary=xyz"})
        assert resp.status_code == 200 and resp.json() == {"size": 4 * LIMIT}
    chunks = [b"z" * 16 * 1024] * 16
    scope = http_scope("/raw", [(b"content-type", b"multipart/form-data; boundary=xyz"),
                                (b"transfer-encoding", b"chunked")])
    status, body, pulled = call_asgi(app, scope, chunks)
    assert status == 200 and json.loads(body) == {"size": 16 * 16 * 1024}
    assert calls == ["raw", "raw"]


# --- rate limit, in process --------------------------------------------------------------------------


def test_a_burst_past_the_limit_gets_429_with_retry_after_and_others_are_unaffected() -> None:
    calls: list[str] = []
    clock = FakeClock()
    app = limited(calls, rate=1, burst=3, clock=clock)
    with TestClient(app) as client:
        for _ in range(3):
            assert client.get("/api/jobs/j1").status_code == 200
        assert assert_limited(client.get("/api/jobs/j1")) == 1
        assert assert_limited(client.post("/echo", json={})) == 1  # every route spends the same budget
        assert calls == ["job"] * 3

        # Other identities have buckets of their own: API keys (either header), sessions, addresses.
        for headers in ({"Authorization": "Bearer pk_alice"}, {"X-API-Key": "pk_bob"},
                        {"Cookie": "theme=dark; profai_session=s3ss10n"}):
            for _ in range(3):
                assert client.get("/api/jobs/j1", headers=headers).status_code == 200
            assert_limited(client.get("/api/jobs/j1", headers=headers))
        # The same key by the other header is the same identity.
        assert_limited(client.get("/api/jobs/j1", headers={"X-API-Key": "pk_alice"}))
        assert_limited(client.get("/api/jobs/j1", headers={"authorization": "bearer pk_bob"}))
        with TestClient(app, client=("10.0.0.7", 1234)) as elsewhere:
            assert elsewhere.get("/api/jobs/j1").status_code == 200

        # Exempt paths never count and are never refused.
        for path in ("/", "/health", "/api/v1/health", "/static/app.js", "/static/js/chat.js"):
            for _ in range(20):
                assert client.get(path).status_code == 200

        # Tokens come back at the rate, and no more than the burst is saved up.
        clock.advance(1)
        assert client.get("/api/jobs/j1").status_code == 200
        assert_limited(client.get("/api/jobs/j1"))
        clock.advance(3600)
        for _ in range(3):
            assert client.get("/api/jobs/j1").status_code == 200
        assert_limited(client.get("/api/jobs/j1"))


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    clock = FakeClock()
    with TestClient(limited([], rate=4, burst=1, clock=clock)) as client:
        assert client.get("/api/jobs/j").status_code == 200
        assert assert_limited(client.get("/api/jobs/j")) == 1  # 0.25 s away
        clock.advance(0.25)
        assert client.get("/api/jobs/j").status_code == 200
    with TestClient(limited([], rate=0.1, burst=1, clock=clock)) as client:
        assert client.get("/api/jobs/j").status_code == 200
        clock.advance(0.5)
        assert assert_limited(client.get("/api/jobs/j")) == 10  # 9.5 s away, rounded up


def test_websocket_handshakes_count_as_requests() -> None:
    clock = FakeClock()
    with TestClient(limited([], rate=1, burst=2, clock=clock)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            assert ws.receive_json() == {"type": "hello"}
        assert client.get("/api/jobs/j").status_code == 200
        with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/ws/chat"):
            pass
        assert refused.value.status_code == 429 and int(refused.value.headers["retry-after"]) >= 1
        assert refused.value.json()["code"] == "rate_limited"


def test_a_rate_of_zero_turns_the_limit_off() -> None:
    with TestClient(limited([], rate=0, burst=1, max_body_bytes=LIMIT)) as client:
        for _ in range(300):
            assert client.get("/api/jobs/j").status_code == 200
        assert_error(client.post("/echo", content=b"x" * (LIMIT + 1), headers={"content-type": "application/json"}),
                     413, "body_too_large")


def test_ipv6_clients_are_counted_by_their_64() -> None:
    clock = FakeClock()
    app = limited([], rate=1, burst=2, clock=clock)
    with TestClient(app, client=("2001:db8::1", 1)) as one, TestClient(app, client=("2001:db8::2", 1)) as two, \
            TestClient(app, client=("2001:db8:0:1::1", 1)) as other:
        assert one.get("/api/jobs/j").status_code == 200
        assert two.get("/api/jobs/j").status_code == 200
        assert_limited(one.get("/api/jobs/j"))
        assert other.get("/api/jobs/j").status_code == 200
    assert limits._address("::ffff:192.0.2.9") == "192.0.2.9"
    assert limits._address("192.0.2.9") == "192.0.2.9"


# --- rate limit, shared through Redis ----------------------------------------------------------------


def test_two_app_instances_on_one_redis_share_one_budget(prefix: str) -> None:
    # 0.001/s: the budget refills once in 1000 s, so nothing comes back while the test runs.
    options: dict[str, Any] = {"rate": 0.001, "burst": 3, "redis_url": REDIS_URL, "key_prefix": prefix}
    with TestClient(limited([], **options)) as a, TestClient(limited([], **options)) as b:
        assert a.get("/api/jobs/j").status_code == 200
        assert b.get("/api/jobs/j").status_code == 200
        assert a.get("/api/jobs/j").status_code == 200
        assert assert_limited(b.get("/api/jobs/j")) > 900
        assert_limited(a.get("/api/jobs/j"))
        for path in ("/", "/health", "/api/v1/health", "/static/app.css"):
            assert b.get(path).status_code == 200

        key = {"Authorization": "Bearer pk_shared"}
        for client in (a, b, a):
            assert client.get("/api/jobs/j", headers=key).status_code == 200
        assert_limited(b.get("/api/jobs/j", headers={"X-API-Key": "pk_shared"}))

    # One key per identity (a key's is named by the digest the accounts tables store), expiring on its own.
    store = redis.Redis.from_url(REDIS_URL)
    digest = hashlib.sha256(b"pk_shared").hexdigest()
    assert set(store.scan_iter(match=prefix + "*")) == {f"{prefix}ip:testclient".encode(),
                                                         f"{prefix}key:{digest}".encode()}
    assert store.pttl(f"{prefix}key:{digest}") > 0
    store.close()


def test_concurrent_requests_batched_into_one_round_trip_are_each_counted_once(prefix: str) -> None:
    """Checks waiting together go to Redis in one pipeline: each answer must reach its own request,
    and a Redis that does not know the script yet (here: a name it never saw) gets it loaded."""
    app = RequestLimits(tiny_app([]), rate=0.001, burst=10, redis_url=REDIS_URL, key_prefix=prefix)
    assert app._redis is not None
    app._redis._sha = "0" * 40
    batches: list[int] = []
    reserve = app._redis._reserve

    async def counting_reserve(keys: list[str], *, load: bool = True) -> list[Any]:
        batches.append(len(keys))
        return await reserve(keys, load=load)

    app._redis._reserve = counting_reserve  # type: ignore[method-assign]

    alice = [(b"authorization", b"Bearer pk_alice")]
    bob = [(b"cookie", b"profai_session=bob")]
    scopes = [http_scope("/api/jobs/j", who, method="GET") for who in (alice, bob) for _ in range(15)]

    async def one(scope: dict[str, Any]) -> int:
        statuses: list[int] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        await app(scope, receive, send)
        return statuses[0]

    async def all_at_once() -> list[int]:
        return list(await asyncio.gather(*(one(scope) for scope in scopes)))

    statuses = asyncio.run(all_at_once())
    assert statuses[:15].count(200) == 10 and statuses[:15].count(429) == 5
    assert statuses[15:].count(200) == 10 and statuses[15:].count(429) == 5
    assert app._redis._sha != "0" * 40
    assert batches == [30, 30]  # one pipeline, sent again once the script was loaded


def test_requests_pass_when_redis_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    down = f"redis://:secret@127.0.0.1:{free_port()}/0"  # nothing listens there
    app = RequestLimits(tiny_app([]), rate=0.001, burst=1, redis_url=down, clock=clock)
    assert app._redis is not None
    asked: list[str] = []
    take = app._redis.take

    async def counting_take(identity: str) -> float:
        asked.append(identity)
        return await take(identity)

    app._redis.take = counting_take  # type: ignore[method-assign]
    caplog.set_level(logging.WARNING, logger="profai.api.limits")

    def warnings() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "profai.api.limits"]

    with TestClient(app) as client:
        for _ in range(5):
            assert client.get("/api/jobs/j").status_code == 200
        assert len(asked) == 1  # then Redis is left alone for a while
        assert len(warnings()) == 1 and "secret" not in warnings()[0]
        assert f"127.0.0.1:{app._redis.url.rsplit(':', 1)[-1]}" in warnings()[0]

        clock.advance(limits.REDIS_RETRY_SECONDS)
        assert client.get("/api/jobs/j").status_code == 200
        assert len(asked) == 2 and len(warnings()) == 1  # asked again; no second warning within the minute

        clock.advance(limits.WARN_EVERY_SECONDS)
        assert client.get("/api/jobs/j").status_code == 200
        assert len(asked) == 3 and len(warnings()) == 2


# --- the real app --------------------------------------------------------------------------------------


def test_the_real_app_with_its_settings(settings: Settings, ctx: Any) -> None:
    app = create_app(ctx=ctx)
    limits.install(app, settings.model_copy(update={"rate_limit_per_second": 0.001, "rate_limit_burst": 3}))
    with TestClient(app) as client:
        for path in ("/", "/static/app.js", "/health", "/api/v1/health"):
            for _ in range(5):
                assert client.get(path).status_code != 429, path
        for _ in range(3):
            assert client.get("/api/jobs/no-such-job").status_code != 429
        assert_limited(client.get("/api/jobs/no-such-job"))
        big = {"course_id": "c", "question": "x" * (settings.max_json_bytes + 1)}
        assert_error(client.post("/api/chat", json=big, headers={"X-API-Key": "pk_someone"}), 413, "body_too_large")


# --- TokenBucket and the settings -----------------------------------------------------------------------


def test_token_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, 5, clock=clock)
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    assert bucket.take() == pytest.approx(0.5)
    assert bucket.take() == pytest.approx(0.5)  # a refused take spends nothing
    clock.advance(0.5)
    assert bucket.take() == 0.0
    assert bucket.take() == pytest.approx(0.5)
    clock.advance(0.2)
    assert bucket.take() == pytest.approx(0.3)
    clock.advance(3600)  # saves up no more than the burst
    assert [bucket.take() for _ in range(6)] == [0.0] * 5 + [pytest.approx(0.5)]

    unlimited = TokenBucket(0, 1, clock=clock)
    assert all(unlimited.take() == 0.0 for _ in range(1000))
    with pytest.raises(ValueError):
        TokenBucket(-1, 5)
    with pytest.raises(ValueError):
        TokenBucket(1, 0)


def test_settings() -> None:
    s = Settings(_env_file=None)
    assert (s.max_json_bytes, s.rate_limit_per_second, s.rate_limit_burst) == (65536, 20, 100)
    assert (s.ws_messages_per_second, s.ws_message_burst) == (2, 5)
    s = Settings(_env_file=None, MAX_JSON_BYTES=1000, RATE_LIMIT_PER_SECOND=0, RATE_LIMIT_BURST=7,
                 WS_MESSAGES_PER_SECOND=1, WS_MESSAGE_BURST=3)
    assert (s.max_json_bytes, s.rate_limit_per_second, s.rate_limit_burst) == (1000, 0, 7)
    clock = FakeClock()
    bucket = ws_message_bucket(s, clock=clock)
    assert [bucket.take() for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(1.0)]
